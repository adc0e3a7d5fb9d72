// Membership across real node processes on 127.0.0.1: nodes that join through a seed see each
// other, a node killed with SIGKILL is declared dead by every survivor, the same node restarted
// is alive again everywhere, and garbage on the gossip port changes nothing. The test process's
// own node is a member too, and watches the events.
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <doctest/doctest.h>

#include <algorithm>
#include <mutex>

#include "integration_support.hpp"
#include "membership/codec.hpp"

namespace pulsing::integration {
namespace {

using membership::EventKind;

// "tcp://127.0.0.1:40213" → "127.0.0.1:40213"
std::vector<std::string> members_of(Node& node, const NodeProcess& child) {
  return resolve<Launcher>(node, child, "launcher").ask(&Launcher::members).get();
}

bool sees(const std::vector<std::string>& members, const std::string& entry) {
  return std::find(members.begin(), members.end(), entry) != members.end();
}

// The test process's node, a member of the cluster of `seed`, recording its membership events.
class Observer {
 public:
  explicit Observer(const std::string& seed) {
    NodeConfig config = test_process_config();
    config.seeds = {seed};
    config.membership.name = "observer";
    node_ = std::make_unique<Node>(config);
    node_->on_member_event([this](const membership::MemberEvent& e) {
      std::lock_guard lock(mutex_);
      events_.emplace_back(e.kind, e.member.name);
    });
  }
  Node& node() { return *node_; }
  std::size_t count(EventKind kind, const std::string& member) {
    std::lock_guard lock(mutex_);
    return static_cast<std::size_t>(std::count(events_.begin(), events_.end(), std::make_pair(kind, member)));
  }
  std::size_t alive() const {
    std::size_t n = 0;
    for (const auto& m : node_->members()) n += m.state == membership::MemberState::kAlive;
    return n;
  }

 private:
  std::mutex mutex_;
  std::vector<std::pair<EventKind, std::string>> events_;
  // Last, so it is destroyed first: its gossip thread calls the event callback, which uses the
  // members above, until the node is gone.
  std::unique_ptr<Node> node_;
};

void send_datagram(std::uint16_t port, const void* data, std::size_t size) {
  int fd = ::socket(AF_INET, SOCK_DGRAM, 0);
  REQUIRE(fd >= 0);
  sockaddr_in to{};
  to.sin_family = AF_INET;
  to.sin_port = htons(port);
  to.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ::sendto(fd, data, size, 0, reinterpret_cast<const sockaddr*>(&to), sizeof(to));
  ::close(fd);
}

}  // namespace

TEST_CASE("nodes joining through a seed see each other, a killed node is dead everywhere, then alive again") {
  auto first = NodeProcess::start({"--member", "n0"});
  const std::string seed = gossip_address(first);
  auto second = NodeProcess::start({"--member", "n1", "--seed", seed});
  auto third = NodeProcess::start({"--member", "n2", "--seed", seed});
  Observer observer(seed);
  Node& node = observer.node();

  auto everyone_sees = [&](const std::string& entry) {
    return sees(members_of(node, first), entry) && sees(members_of(node, second), entry);
  };
  CHECK(eventually([&] { return observer.alive() == 4; }, 15s));
  CHECK(eventually([&] { return members_of(node, third).size() == 4 && everyone_sees("n2=alive"); }, 15s));

  const std::string third_endpoint = third.endpoint();
  third.kill();
  // Detection: a probe round, then the suspicion timeout (seconds with the default timing).
  CHECK(eventually([&] { return everyone_sees("n2=dead") && observer.count(EventKind::kDead, "n2") == 1; }, 40s));
  CHECK(observer.count(EventKind::kDead, "n0") == 0);
  CHECK(observer.count(EventKind::kDead, "n1") == 0);

  // The same node (name and address) restarted: a new run, alive again everywhere, and a join
  // to the observer. (Its first join may have come before the observer's handler was set: the
  // node gossips from its constructor on. So the count is taken from here.)
  const auto joins = observer.count(EventKind::kJoined, "n2");
  auto again = NodeProcess::start_at(third_endpoint, {"--member", "n2", "--seed", seed});
  CHECK(eventually([&] { return everyone_sees("n2=alive") && observer.alive() == 4; }, 20s));
  CHECK(eventually([&] { return observer.count(EventKind::kJoined, "n2") == joins + 1; }, 5s));
}

TEST_CASE("garbage and another cluster's packets on the gossip port change nothing") {
  auto first = NodeProcess::start({"--member", "n0"});
  const std::string seed = gossip_address(first);
  auto second = NodeProcess::start({"--member", "n1", "--seed", seed});
  Observer observer(seed);
  Node& node = observer.node();
  REQUIRE(eventually([&] { return observer.alive() == 3; }, 15s));

  auto port = static_cast<std::uint16_t>(std::stoi(seed.substr(seed.rfind(':') + 1)));
  std::vector<std::byte> junk(200);
  for (int i = 0; i < 500; ++i) {
    for (std::size_t b = 0; b < junk.size(); ++b) junk[b] = static_cast<std::byte>((b * 31 + static_cast<std::size_t>(i) * 7) & 0xff);
    send_datagram(port, junk.data(), static_cast<std::size_t>(i) % junk.size() + 1);
  }
  // A well-formed packet of another cluster that declares n1 dead: ignored.
  membership::Packet foreign{"another-cluster", {membership::Dead{"n1", ~0ull >> 1, "intruder"}}};
  auto bytes = membership::encode(foreign);
  for (int i = 0; i < 10; ++i) send_datagram(port, bytes.data(), bytes.size());

  // Still serving, and nobody was declared dead.
  CHECK(resolve<Calculator>(node, first, "calc").ask(&Calculator::add, 2).get() == 2);
  CHECK(eventually([&] { return sees(members_of(node, first), "n1=alive") && observer.alive() == 3; }, 5s));
  CHECK(observer.count(EventKind::kDead, "n1") == 0);
}

}  // namespace pulsing::integration
