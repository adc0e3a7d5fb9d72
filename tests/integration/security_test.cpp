// Security against real processes: `pulsing node` processes on 127.0.0.1 with and without a
// cluster key, and the test process playing the outsider — a node without the key, a datagram
// captured off the wire and sent again, a flipped bit, a forged incarnation. What is checked is
// what an operator sees: who is a member (`pulsing members`), and the refusals /metrics counts.
#include <doctest/doctest.h>

#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>

#include <atomic>
#include <optional>
#include <thread>
#include <string>
#include <vector>

#include "membership/codec.hpp"
#include "security/cluster_key.hpp"
#include "security/key_file.hpp"
#include "security_support.hpp"

namespace pulsing::integration {
namespace {

std::uint64_t refused(const NodeProcess& node, const std::string& reason) {
  auto metrics = admin_get(node, "/metrics");
  REQUIRE(metrics.status == 200);
  return metric_value(metrics.body, "pulsing_gossip_refused_total{reason=\"" + reason + "\"}");
}

// A UDP socket of the test's own on 127.0.0.1: the outsider.
class Udp {
 public:
  Udp() : fd_(::socket(AF_INET, SOCK_DGRAM, 0)) {
    REQUIRE(fd_ >= 0);
    sockaddr_in self = loopback(0);
    REQUIRE(::bind(fd_, reinterpret_cast<sockaddr*>(&self), sizeof self) == 0);
    socklen_t size = sizeof self;
    REQUIRE(::getsockname(fd_, reinterpret_cast<sockaddr*>(&self), &size) == 0);
    port_ = ntohs(self.sin_port);
  }
  ~Udp() { ::close(fd_); }
  std::string address() const { return "127.0.0.1:" + std::to_string(port_); }

  void send(std::uint16_t port, const std::vector<std::byte>& bytes) {
    sockaddr_in to = loopback(port);
    REQUIRE(::sendto(fd_, bytes.data(), bytes.size(), 0, reinterpret_cast<sockaddr*>(&to), sizeof to) ==
            static_cast<ssize_t>(bytes.size()));
  }
  // The next datagram, waiting up to `limit`.
  std::optional<std::vector<std::byte>> receive(std::chrono::milliseconds limit) {
    pollfd p{fd_, POLLIN, 0};
    if (::poll(&p, 1, static_cast<int>(limit.count())) != 1) return std::nullopt;
    std::vector<std::byte> bytes(65'536);
    ssize_t n = ::recv(fd_, bytes.data(), bytes.size(), 0);
    if (n < 0) return std::nullopt;
    bytes.resize(static_cast<std::size_t>(n));
    return bytes;
  }

 private:
  static sockaddr_in loopback(std::uint16_t port) {
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    return a;
  }
  int fd_;
  std::uint16_t port_ = 0;
};

TEST_CASE("security: a node without the cluster key, or with another, never becomes a member, and is counted") {
  KeyFiles keys;
  const std::string key = keys.make("cluster.key");
  const std::string other = keys.make("other.key");
  auto a = start_node({"--name", "a", "--cluster-key-file", key});
  auto b = start_node({"--name", "b", "--cluster-key-file", key, "--seeds", address_of(a)});
  auto joined = pulsing({"members", "--node", address_of(a), "--expect", "2", "--wait", "20s", "--key-file", key});
  REQUIRE_MESSAGE(joined.first == 0, joined.second);

  auto keyless = start_node({"--name", "keyless", "--seeds", address_of(a)});
  auto stranger = start_node({"--name", "stranger", "--cluster-key-file", other, "--seeds", address_of(a)});
  // Their join attempts reach `a`, which refuses them unread...
  REQUIRE(eventually([&] { return refused(a, "unsealed") > 0 && refused(a, "unknown_key") > 0; }, 20s));
  // ... and they are members nowhere, nor is anyone a member of theirs. (`a`'s answers to them
  // are sealed: refused there too.)
  const std::map<std::string, std::string> cluster{{"a", "alive"}, {"b", "alive"}};
  CHECK(members_seen_by(a, key) == cluster);
  CHECK(members_seen_by(b, key) == cluster);
  CHECK(members_seen_by(keyless) == std::map<std::string, std::string>{{"keyless", "alive"}});
  CHECK(members_seen_by(stranger, other) == std::map<std::string, std::string>{{"stranger", "alive"}});
}

TEST_CASE("security: a gossip datagram captured off the wire is heard once, and a copy flipped or sent again is refused") {
  KeyFiles keys;
  const std::string key = keys.make("cluster.key");
  auto a = start_node({"--name", "a", "--cluster-key-file", key, "--replay-window", "5s"});
  // `b` takes the test for its seed: its join request, sealed, is the capture.
  Udp outsider;
  auto b = start_node({"--name", "b", "--cluster-key-file", key, "--seeds", outsider.address()});
  auto captured = outsider.receive(10s);
  const auto captured_at = std::chrono::steady_clock::now();
  REQUIRE(captured.has_value());
  CHECK(captured->at(0) == membership::kSealedEncoding);

  // Sent on to `a` as it was (a real join request, which `a` hears: `b` joins), at once a second
  // time, and flipped: all within the window (5 s; the clock is stamped in whole seconds, and
  // a sanitized build is slow, so no wait on anything else comes between).
  outsider.send(port_of(a), *captured);
  outsider.send(port_of(a), *captured);
  auto flipped = *captured;
  flipped[flipped.size() / 2] ^= std::byte{0x20};
  outsider.send(port_of(a), flipped);
  CHECK(eventually([&] { return refused(a, "replayed") == 1 && refused(a, "forged") == 1; }, 10s));
  CHECK(eventually([&] { return members_seen_by(a, key).contains("b"); }, 20s));

  // Once the window has passed, the capture is refused for its age.
  REQUIRE(eventually([&] { return std::chrono::steady_clock::now() > captured_at + 6s; }, 20s));
  outsider.send(port_of(a), *captured);
  CHECK(eventually([&] { return refused(a, "stale") == 1; }, 10s));
  CHECK(refused(a, "replayed") == 1);
  CHECK(members_seen_by(a, key) == std::map<std::string, std::string>{{"a", "alive"}, {"b", "alive"}});
}

// The ids of the keys a node uses, the primary first, as /metrics shows them.
std::vector<std::string> key_ids(const NodeProcess& node) {
  auto metrics = admin_get(node, "/metrics");
  REQUIRE(metrics.status == 200);
  std::vector<std::string> ids(3);
  const std::string prefix = "pulsing_cluster_key{id=\"";
  for (std::size_t at = metrics.body.find(prefix); at != std::string::npos; at = metrics.body.find(prefix, at + 1)) {
    const std::string id = metrics.body.substr(at + prefix.size(), 8);
    const std::size_t place = std::stoul(metrics.body.substr(metrics.body.find(' ', at) + 1));
    if (place < ids.size()) ids[place] = id;
  }
  while (!ids.empty() && ids.back().empty()) ids.pop_back();
  return ids;
}

TEST_CASE("security: a rolling key rotation over three nodes under traffic: no suspicion, no failed call") {
  KeyFiles keys;
  const std::string file = keys.make("cluster.key");
  const std::string old_key = KeyFiles::keys_in(file).at(0);
  const std::string new_key = KeyFiles::keys_in(keys.make("next.key")).at(0);
  std::vector<NodeProcess> nodes;
  nodes.push_back(start_node({"--name", "a", "--cluster-key-file", file, "--services", "ca=counter"}));
  for (const char* name : {"b", "c"}) {
    nodes.push_back(start_node({"--name", name, "--cluster-key-file", file, "--seeds", address_of(nodes[0]),
                                "--services", std::string("c") + name + "=counter"}));
  }
  for (const auto& node : nodes) {
    auto out = pulsing({"members", "--node", address_of(node), "--expect", "3", "--wait", "20s", "--key-file", file});
    REQUIRE_MESSAGE(out.first == 0, out.second);
  }
  const std::vector<std::string> old_ids = key_ids(nodes[0]);
  REQUIRE(old_ids.size() == 1);

  // Traffic: asks to a counter on every node, from the test's own node, all through the rotation.
  NodeConfig config = test_process_config();
  config.gossip = false;
  config.cluster_keys = std::make_shared<const security::Keyring>(security::read_key_file(file));
  Node client(config);
  std::vector<AnyRef> counters;
  for (std::size_t i = 0; i < nodes.size(); ++i) {
    counters.push_back(client.resolve_at(nodes[i].endpoint(), std::string("c") + "abc"[i]).get());
  }
  std::atomic<bool> rotating{true};
  std::atomic<int> answered{0}, failed{0};
  std::thread traffic([&] {
    for (std::size_t i = 0; rotating.load(); ++i) {
      auto answer = counters[i % counters.size()].ask("add", {Value(1)}).result();
      (answer.ok() ? answered : failed).fetch_add(1);
    }
  });

  // The three steps, each on one node after another, each node seen to take it.
  auto id_of = [](const std::string& key) { return security::ClusterKey::parse(key).id(); };
  auto step = [&](const std::vector<std::string>& ring) {
    KeyFiles::write(file, ring);
    std::vector<std::string> ids;
    for (const auto& key : ring) ids.push_back(id_of(key));
    for (auto& node : nodes) {
      node.hang_up();
      REQUIRE(eventually([&] { return key_ids(node) == ids; }, 10s));
    }
  };
  CHECK(old_ids == std::vector<std::string>{id_of(old_key)});
  step({old_key, new_key});  // 1: the new key as a secondary everywhere
  step({new_key, old_key});  // 2: the new key primary everywhere
  step({new_key});           // 3: the old key removed

  // Gossip goes on under the new key alone: every node hears the others after the last step.
  for (const auto& node : nodes) {
    const auto before = metric(node, "pulsing_gossip_datagrams_total{direction=\"in\"}");
    CHECK(eventually([&] { return metric(node, "pulsing_gossip_datagrams_total{direction=\"in\"}") > before + 10; }, 10s));
  }
  rotating = false;
  traffic.join();
  CHECK(answered.load() > 0);
  CHECK(failed.load() == 0);
  // A node keeps the CURVE server key of the key it started with until it restarts: a client
  // that reaches it holds the old key as a secondary (its connections present the new one).
  const std::string client_file = keys.path("client.key");
  KeyFiles::write(client_file, {new_key, old_key});
  ::chmod(client_file.c_str(), 0600);
  const std::map<std::string, std::string> all_alive{{"a", "alive"}, {"b", "alive"}, {"c", "alive"}};
  for (const auto& node : nodes) {
    CHECK(members_seen_by(node, client_file) == all_alive);
    CHECK(metric(node, "pulsing_gossip_failed_probes_total") == 0);  // nobody was ever suspected
    CHECK(refused(node, "unknown_key") == 0);
    CHECK(refused(node, "forged") == 0);
  }
}

TEST_CASE("security: pulsing node refuses a key file that others may read, or none at all, saying why") {
  KeyFiles keys;
  const std::string key = keys.make("cluster.key");
  REQUIRE(::chmod(key.c_str(), 0644) == 0);
  auto [status, text] = pulsing({"node", "--listen", "127.0.0.1:0", "--cluster-key-file", key});
  CHECK(status == 2);
  CHECK(text.find("chmod 600") != std::string::npos);
  auto [missing, why] = pulsing({"node", "--listen", "127.0.0.1:0", "--cluster-key-file", key + ".none"});
  CHECK(missing == 2);
  CHECK(why.find("--cluster-key-file") != std::string::npos);
  auto [window, said] = pulsing({"node", "--listen", "127.0.0.1:0", "--replay-window", "soon"});
  CHECK(window == 2);
  CHECK(said.find("--replay-window takes a duration") != std::string::npos);
}

TEST_CASE("security: with a token, the admin endpoint answers 401 to what is not a probe without it") {
  KeyFiles keys;
  const std::string token_file = keys.make("admin.token");  // 64 hex digits serve as a token too
  const std::string token = KeyFiles::keys_in(token_file).at(0);
  auto a = start_node({"--name", "a", "--admin-token-file", token_file});
  for (const char* path : {"/metrics", "/members", "/actors", "/"}) {
    INFO(path);
    CHECK(admin_get(a, path).status == 401);
    CHECK(admin_get(a, path, "not-the-token-but-long-enough").status == 401);
    CHECK(admin_get(a, path, token).status == 200);
  }
  CHECK(admin_get(a, "/health").status == 200);
  CHECK(admin_get(a, "/ready").status == 200);
  CHECK(admin_get(a, "/metrics", token).body.find("pulsing_insecure 1") != std::string::npos);  // no cluster key
}

TEST_CASE("security: a node other machines can reach refuses to start unprotected, unless --insecure") {
  // Refused before anything is bound: nothing listens beyond loopback.
  auto [listen_status, listen_why] =
      pulsing({"node", "--listen", "0.0.0.0:0", "--advertise", "127.0.0.1:7999", "--admin", "off"});
  CHECK(listen_status == 2);
  CHECK(listen_why.find("--cluster-key-file") != std::string::npos);
  CHECK(listen_why.find("--insecure") != std::string::npos);
  auto [admin_status, admin_why] = pulsing({"node", "--listen", "127.0.0.1:0", "--admin", "0.0.0.0:0"});
  CHECK(admin_status == 2);
  CHECK(admin_why.find("--admin-token-file") != std::string::npos);

  // --insecure starts it, in a network namespace of its own (only its own loopback, down): an
  // address on every interface there reaches no other machine.
  if (NodeProcess::run_program("/usr/bin/unshare", {"-n", "true"}, 10s).first != 0) {
    MESSAGE("unshare -n is not permitted here (not root): the --insecure start is not tried");
    return;
  }
  auto insecure = NodeProcess::start_program(
      "/usr/bin/unshare", {"-n", "--", PULSING_CLI_PATH, "node", "--listen", "0.0.0.0:0", "--advertise",
                           "127.0.0.1:7999", "--admin", "0.0.0.0:0", "--insecure"});
  CHECK(insecure.running());
  CHECK(insecure.terminate() == 0);
}

TEST_CASE("security: a forged death at incarnation 2^64-1 is refused, and its member stays alive") {
  // Without a key (loopback developer mode), where an outsider can speak the protocol at all:
  // the forgery that would have made every node mark `c` gone for good.
  auto a = start_node({"--name", "a"});
  auto b = start_node({"--name", "b", "--seeds", address_of(a)});
  auto c = start_node({"--name", "c", "--seeds", address_of(a)});
  for (const NodeProcess* node : {&a, &b, &c}) {
    auto out = pulsing({"members", "--node", address_of(*node), "--expect", "3", "--wait", "20s"});
    REQUIRE_MESSAGE(out.first == 0, out.second);
  }
  using namespace membership;
  const auto forged = encode(Packet{"pulsing", {Dead{"c", UINT64_MAX, "c"}, Dead{"c", UINT64_MAX, "a"}}});
  Udp outsider;
  for (const NodeProcess* node : {&a, &b, &c}) outsider.send(port_of(*node), forged);
  const std::string counted = "pulsing_gossip_incredible_incarnations_total";
  for (const NodeProcess* node : {&a, &b, &c}) {
    CHECK(eventually([&] { return metric(*node, counted) == 2; }, 10s));
  }
  const std::map<std::string, std::string> all_alive{{"a", "alive"}, {"b", "alive"}, {"c", "alive"}};
  for (const NodeProcess* node : {&a, &b, &c}) CHECK(members_seen_by(*node) == all_alive);
}

}  // namespace
}  // namespace pulsing::integration
