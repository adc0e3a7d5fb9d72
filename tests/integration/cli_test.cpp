// The `pulsing` command against a real cluster: three `pulsing node` processes on 127.0.0.1,
// and each client command run as its own process, as an operator would run it. What is checked
// is what the operator sees: the output, the exit code, the error message.
#include <doctest/doctest.h>

#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "integration_support.hpp"
#include "messaging/json.hpp"

#ifndef PULSING_CLI_PATH
#error "define PULSING_CLI_PATH: the path of the pulsing executable"
#endif

namespace pulsing::integration {
namespace {

struct Output {
  int status = -1;
  std::string text;  // stdout and stderr
};

Output pulsing(std::vector<std::string> args) {
  auto [status, text] = NodeProcess::run_program(PULSING_CLI_PATH, std::move(args), 30s);
  return {status, text};
}

// Runs the command until `holds` accepts its output, at most `limit`; the last output.
template <typename Holds>
Output until(std::vector<std::string> args, Holds holds, std::chrono::milliseconds limit = 20s) {
  auto deadline = std::chrono::steady_clock::now() + limit;
  for (;;) {
    Output out = pulsing(args);
    if (holds(out) || std::chrono::steady_clock::now() > deadline) return out;
    std::this_thread::sleep_for(100ms);  // a process per poll: no need to spin faster
  }
}

std::string address_of(const NodeProcess& node) { return node.endpoint().substr(6); }

// The state of `member` in `members --json` output ("" if absent or unreadable).
std::string state_of(const Output& out, const std::string& member) {
  if (out.status != 0) return "";
  Value rows = parse_json(out.text);
  for (const Value& row : rows.as_list()) {
    if (row.find("name")->as_text() == member) return row.find("state")->as_text();
  }
  return "";
}

struct Cluster {
  Cluster() {
    first.emplace(start({"--services", "service=calculator,tokens,kv"}));
    const std::string seed = address_of(*first);
    second.emplace(start({"--seeds", seed, "--services", "echo"}));
    third.emplace(start({"--seeds", seed, "--kinds", "counter"}));
    for (const NodeProcess* node : nodes()) {
      auto out = pulsing({"members", "--node", address_of(*node), "--expect", "3", "--wait", "20s"});
      REQUIRE_MESSAGE(out.status == 0, out.text);
    }
  }

  static NodeProcess start(std::vector<std::string> args) {
    args.insert(args.begin(), {"node", "--listen", "127.0.0.1:0", "--workers", "2"});
    return NodeProcess::start_program(PULSING_CLI_PATH, args);
  }

  std::vector<const NodeProcess*> nodes() const { return {&*first, &*second, &*third}; }

  std::optional<NodeProcess> first, second, third;
};

TEST_CASE("cli: every node sees three members alive, and members prints a table or JSON") {
  Cluster cluster;
  for (const NodeProcess* node : cluster.nodes()) {
    auto out = pulsing({"members", "--node", address_of(*node), "--json"});
    REQUIRE(out.status == 0);
    for (const NodeProcess* other : cluster.nodes()) CHECK(state_of(out, address_of(*other)) == "alive");
  }
  auto table = pulsing({"members", "--node", address_of(*cluster.second)});
  CHECK(table.status == 0);
  CHECK(table.text.find("NAME") != std::string::npos);
  CHECK(table.text.find(address_of(*cluster.second) + " *") != std::string::npos);  // the node asked
}

TEST_CASE("cli: resolve, ask, tell and stream reach a service from every node") {
  Cluster cluster;
  for (const NodeProcess* node : cluster.nodes()) {
    auto resolved = pulsing({"resolve", "service", "--node", address_of(*node), "--json"});
    REQUIRE_MESSAGE(resolved.status == 0, resolved.text);
    Value rows = parse_json(resolved.text);
    REQUIRE(rows.as_list().size() == 1);
    CHECK(rows.as_list()[0].find("endpoint")->as_text() == cluster.first->endpoint());
    CHECK(rows.as_list()[0].find("class")->as_text() == "Calculator");
  }
  const std::string via = address_of(*cluster.third);
  auto added = pulsing({"ask", "service", "add", "5", "--node", via});
  CHECK(added.status == 0);
  CHECK(added.text == "5\n");
  auto told = pulsing({"tell", "service", "add", "10", "--node", via});
  CHECK(told.status == 0);
  CHECK(told.text.find("sent service.add") != std::string::npos);
  auto total = until({"ask", "service", "get", "--node", via}, [](const Output& o) { return o.text == "15\n"; });
  CHECK(total.text == "15\n");

  auto streamed = pulsing({"stream", "tokens", "generate", "\"tell me\"", "4", "--node", address_of(*cluster.second)});
  CHECK(streamed.status == 0);
  CHECK(streamed.text == "Actors\n keep\n their\n state\n");
  auto as_json = pulsing({"stream", "tokens", "generate", "\"x\"", "2", "--json", "--node", via});
  CHECK(as_json.text == "\"Actors\"\n\" keep\"\n");

  auto stored = pulsing({"ask", "kv", "put", "\"color\"", "{\"r\":1}", "--node", via});
  CHECK(stored.text == "null\n");
  CHECK(pulsing({"ask", "kv", "get", "\"color\"", "--node", via}).text == "{\"r\":1}\n");
}

TEST_CASE("cli: actors lists a node's actors, and stop stops a name everywhere") {
  Cluster cluster;
  auto listed = pulsing({"actors", "--node", address_of(*cluster.first), "--json"});
  REQUIRE(listed.status == 0);
  Value rows = parse_json(listed.text);
  std::vector<std::string> names;
  for (const Value& row : rows.as_list()) names.push_back(row.find("name")->as_text());
  CHECK(names == std::vector<std::string>{"kv", "pulsing.node", "pulsing.placement", "service", "tokens"});

  auto stopped = pulsing({"stop", "echo", "--node", address_of(*cluster.first)});
  CHECK(stopped.status == 0);
  CHECK(stopped.text.find("stopped 'echo' (Echo") != std::string::npos);
  for (const NodeProcess* node : cluster.nodes()) {
    auto gone = until({"resolve", "echo", "--node", address_of(*node)}, [](const Output& o) { return o.status == 3; });
    CHECK(gone.status == 3);
  }
}

TEST_CASE("cli: failures exit with a code that says which, and a message that says what") {
  Cluster cluster;
  const std::string via = address_of(*cluster.second);

  auto no_node = pulsing({"members", "--node", "127.0.0.1:1", "--timeout", "2s"});
  CHECK(no_node.status == 4);
  CHECK(no_node.text.find("cannot reach 127.0.0.1:1") != std::string::npos);

  auto no_name = pulsing({"ask", "nosuch", "get", "--node", via});
  CHECK(no_name.status == 3);
  CHECK(no_name.text.find("no actor named 'nosuch'") != std::string::npos);

  auto bad_json = pulsing({"ask", "service", "add", "{five", "--node", via});
  CHECK(bad_json.status == 2);
  CHECK(bad_json.text.find("argument 1 ('{five') is not JSON") != std::string::npos);

  auto arity = pulsing({"ask", "service", "add", "1", "2", "--node", via});
  CHECK(arity.status == 2);
  CHECK(arity.text.find("expected 1 argument, got 2") != std::string::npos);

  auto types = pulsing({"ask", "service", "add", "\"five\"", "--node", via});
  CHECK(types.status == 2);
  CHECK(types.text.find("bad_arguments") != std::string::npos);

  auto method = pulsing({"ask", "service", "divide", "--node", via});
  CHECK(method.status == 2);
  CHECK(method.text.find("has no method 'divide'") != std::string::npos);

  auto business = pulsing({"stream", "tokens", "generate", "\"x\"", "-1", "--node", via});
  CHECK(business.status == 1);
  CHECK(business.text.find("n must be at least 0") != std::string::npos);

  for (const char* command : {"tell", "stream", "stop", "resolve"}) {
    std::vector<std::string> args{command, "nosuch"};
    if (std::string(command) == "tell" || std::string(command) == "stream") args.push_back("get");
    args.insert(args.end(), {"--node", via});
    auto out = pulsing(args);
    CHECK_MESSAGE(out.status == 3, command);
    CHECK_MESSAGE(out.text.find("'nosuch'") != std::string::npos, command);
  }
  auto stream_method = pulsing({"stream", "tokens", "speak", "--node", via});
  CHECK(stream_method.status == 2);
  CHECK(stream_method.text.find("has no method 'speak'") != std::string::npos);
  CHECK(pulsing({"actors", "--node", "127.0.0.1:1", "--timeout", "2s"}).status == 4);

  auto missing = pulsing({"ask", "service", "--node", via});
  CHECK(missing.status == 2);
  auto flag = pulsing({"members", "--nodes", via});
  CHECK(flag.status == 2);
  auto command = pulsing({"memebrs"});
  CHECK(command.status == 2);
  CHECK(command.text.find("there is no command 'memebrs'") != std::string::npos);
  auto address = pulsing({"members", "--node", "localhost"});
  CHECK(address.status == 2);
  CHECK(address.text.find("'localhost' is not a node address") != std::string::npos);
}

TEST_CASE("cli: kinds lists what each member hosts, and spawn starts a kind where it is told") {
  Cluster cluster;
  const std::string via = address_of(*cluster.second);
  const std::string third = address_of(*cluster.third);
  auto kinds_of = [](const Output& out, const std::string& member) {
    std::vector<std::string> kinds;
    if (out.status != 0) return kinds;
    const Value rows = parse_json(out.text);
    for (const Value& row : rows.as_list()) {
      if (row.find("address")->as_text() != member) continue;
      for (const Value& kind : row.find("kinds")->as_list()) kinds.push_back(kind.as_text());
    }
    return kinds;
  };
  auto listed = until({"kinds", "--node", via, "--json"}, [&](const Output& out) {
    return kinds_of(out, third).size() == 1 && kinds_of(out, address_of(*cluster.first)).size() == 6;
  });
  CHECK(kinds_of(listed, third) == std::vector<std::string>{"counter"});
  CHECK(kinds_of(listed, via) == std::vector<std::string>{"calculator", "cart", "counter", "echo", "kv", "tokens"});
  auto table = pulsing({"kinds", "--node", via});
  CHECK(table.status == 0);
  CHECK(table.text.find("calculator, cart, counter, echo, kv, tokens") != std::string::npos);

  auto endpoint_of = [](const Output& out) {
    return out.status == 0 ? parse_json(out.text).find("endpoint")->as_text() : "failed: " + out.text;
  };
  // On the node asked, with a constructor argument; the name then answers from anywhere.
  auto summer = pulsing({"spawn", "calculator", "100", "--name", "summer", "--node", via, "--json"});
  CHECK(endpoint_of(summer) == cluster.second->endpoint());
  auto sum = until({"ask", "summer", "add", "5", "--node", address_of(*cluster.first)},
                   [](const Output& out) { return out.status == 0; });
  CHECK(sum.text == "105\n");
  // On a named member, on any, on the least loaded, on a key's owner (the same for one key).
  CHECK(endpoint_of(pulsing({"spawn", "counter", "--on", third, "--node", via, "--json"})) == cluster.third->endpoint());
  CHECK(pulsing({"spawn", "counter", "--on", "any", "--node", via}).status == 0);
  CHECK(pulsing({"spawn", "echo", "--on", "least-loaded", "--node", via}).status == 0);
  auto keyed = endpoint_of(pulsing({"spawn", "kv", "--key", "cart-7", "--node", via, "--json"}));
  CHECK(keyed.starts_with("tcp://"));
  CHECK(endpoint_of(pulsing({"spawn", "kv", "--key", "cart-7", "--node", address_of(*cluster.first), "--json"})) ==
        keyed);
  auto plain = pulsing({"spawn", "echo", "--node", via});
  CHECK(plain.status == 0);
  CHECK(plain.text.find("spawned Echo (#") != std::string::npos);

  // A node that does not host the kind refuses; a kind nobody hosts has no host; the
  // constructor's arguments are checked.
  auto refused = pulsing({"spawn", "calculator", "--on", third, "--node", via});
  CHECK(refused.status == 1);
  CHECK(refused.text.find("does not host kind 'calculator'") != std::string::npos);
  auto nobody = pulsing({"spawn", "abacus", "--on", "any", "--node", via});
  CHECK(nobody.status == 3);
  CHECK(nobody.text.find("no live member hosts kind 'abacus'") != std::string::npos);
  auto bad = pulsing({"spawn", "calculator", "\"lots\"", "--node", via});
  CHECK(bad.status == 2);
  CHECK(bad.text.find("calculator(") != std::string::npos);
  CHECK(bad.text.find("argument 1: expected") != std::string::npos);
  auto both = pulsing({"spawn", "kv", "--key", "k", "--on", "any", "--node", via});
  CHECK(both.status == 2);
}

TEST_CASE("cli: ask and tell --entity reach an entity from any node, activating it where it belongs") {
  Cluster cluster;
  const std::string via = address_of(*cluster.second);
  // The nodes agree on the owner once each sees both hosts of cart (the first and the second).
  auto cart_hosts = [](const Output& out) {
    int n = 0;
    if (out.status != 0) return n;
    const Value rows = parse_json(out.text);
    for (const Value& row : rows.as_list()) {
      for (const Value& kind : row.find("kinds")->as_list()) n += kind.as_text() == "cart";
    }
    return n;
  };
  for (const NodeProcess* node : {&*cluster.first, &*cluster.second}) {
    REQUIRE(cart_hosts(until({"kinds", "--node", address_of(*node), "--json"},
                             [&](const Output& out) { return cart_hosts(out) == 2; })) == 2);
  }
  REQUIRE(until({"ask", "--entity", "cart/c-1", "add_item", "\"tea\"", "--node", via},
                [](const Output& out) { return out.status == 0; })
              .text == "1\n");
  auto items = pulsing({"ask", "--entity", "cart/c-1", "items", "--node", address_of(*cluster.first)});
  CHECK(items.text == "[\"tea\"]\n");
  CHECK(pulsing({"tell", "--entity", "cart/c-1", "clear", "--node", via}).status == 0);
  CHECK(until({"ask", "--entity", "cart/c-1", "items", "--node", via},
              [](const Output& out) { return out.text == "[]\n"; })
            .text == "[]\n");
  auto bad = pulsing({"ask", "--entity", "cart", "items", "--node", via});
  CHECK(bad.status == 2);
  CHECK(bad.text.find("--entity takes KIND/KEY") != std::string::npos);
  auto nobody = pulsing({"ask", "--entity", "shoe/s-1", "size", "--node", via});
  CHECK(nobody.status == 3);
  CHECK(nobody.text.find("no live member hosts entity kind 'shoe'") != std::string::npos);
}

TEST_CASE("cli: the admin endpoint serves health, readiness, metrics, members and actors") {
  Cluster cluster;
  auto health = admin_get(*cluster.first, "/health");
  CHECK(health.status == 200);
  CHECK(health.body == "ok\n");
  CHECK(admin_get(*cluster.third, "/ready").status == 200);
  CHECK(admin_get(*cluster.first, "/nowhere").status == 404);

  pulsing({"ask", "service", "add", "1", "--node", address_of(*cluster.second)});
  auto metrics = admin_get(*cluster.first, "/metrics");
  CHECK(metrics.status == 200);
  CHECK(metrics.content_type.find("version=0.0.4") != std::string::npos);
  for (const char* line : {"pulsing_members{state=\"alive\"} 3\n", "# TYPE pulsing_messages_handled_total counter\n",
                           "pulsing_actors 5\n", "pulsing_handler_errors_total{category=\"business\"} 0\n",
                           "pulsing_dead_letters_total 0\n", "pulsing_restarts_total 0\n"}) {
    CHECK_MESSAGE(metrics.body.find(line) != std::string::npos, line);
  }
  // The ask above crossed the network into the first node.
  CHECK(metrics.body.find("pulsing_remote_calls_total{direction=\"in\",kind=\"ask\"} 0\n") == std::string::npos);
  CHECK(metrics.body.find("pulsing_gossip_bytes_total{direction=\"in\"} 0\n") == std::string::npos);

  Value members = parse_json(admin_get(*cluster.second, "/members").body);
  CHECK(members.as_list().size() == 3);
  Value actors = parse_json(admin_get(*cluster.first, "/actors").body);
  bool found = false;
  for (const Value& row : actors.as_list()) found |= row.find("name")->as_text() == "service";
  CHECK(found);
  CHECK(pulsing({"health", "--admin", admin::join_host_port(admin_of(*cluster.first).host,
                                                           admin_of(*cluster.first).port)})
            .status == 0);
}

TEST_CASE("cli: a node stopped by SIGTERM is seen as left by the others, not dead") {
  Cluster cluster;
  const std::string leaving = address_of(*cluster.third);
  CHECK(cluster.third->terminate() == 0);
  for (const NodeProcess* node : {&*cluster.first, &*cluster.second}) {
    auto out = until({"members", "--node", address_of(*node), "--json"},
                     [&](const Output& o) { return state_of(o, leaving) == "left"; });
    CHECK(state_of(out, leaving) == "left");
  }
}

TEST_CASE("cli: inspect shows a node's counters, members and actors") {
  Cluster cluster;
  auto out = pulsing({"inspect", "--count", "2", "--interval", "100ms", "--node", address_of(*cluster.first)});
  CHECK(out.status == 0);
  CHECK(out.text.find("messages handled") != std::string::npos);
  CHECK(out.text.find("pulsing.node") != std::string::npos);
  CHECK(out.text.find("service") != std::string::npos);
}

TEST_CASE("cli: pulsing node takes its settings from a config file and refuses bad ones") {
  char path[] = "/tmp/pulsing-cli-test-XXXXXX";
  int fd = ::mkstemp(path);
  REQUIRE(fd >= 0);
  ::close(fd);
  {
    std::ofstream file(path);
    file << "# a node of its own\nlisten = \"127.0.0.1:0\"\nservices = counter\n";
  }
  auto node = NodeProcess::start_program(PULSING_CLI_PATH, {"node", "--config", path});
  auto counted = pulsing({"ask", "counter", "increment", "--node", node.endpoint().substr(6)});
  CHECK(counted.text == "1\n");
  node.terminate();
  {
    std::ofstream file(path);
    file << "listen = 127.0.0.1:0\nseedz = 127.0.0.1:1\n";
  }
  auto refused = pulsing({"node", "--config", path});
  CHECK(refused.status == 2);
  CHECK(refused.text.find(":2: unknown setting 'seedz'") != std::string::npos);
  std::remove(path);

  auto kind = pulsing({"node", "--listen", "127.0.0.1:0", "--services", "llm"});
  CHECK(kind.status == 2);
  CHECK(kind.text.find("unknown service kind 'llm'") != std::string::npos);
  auto listen = pulsing({"node", "--listen", "nowhere"});
  CHECK(listen.status == 2);
  CHECK(listen.text.find("--listen takes HOST:PORT") != std::string::npos);
  auto wildcard = pulsing({"node", "--listen", "0.0.0.0:0"});
  CHECK(wildcard.status == 2);
  CHECK(wildcard.text.find("set --advertise HOST:PORT") != std::string::npos);
}

}  // namespace
}  // namespace pulsing::integration

namespace pulsing::integration {
namespace {

TEST_CASE("cli: keygen writes a new private key file, and never replaces one") {
  char dir_template[] = "/tmp/pulsing-keygen-XXXXXX";
  REQUIRE(::mkdtemp(dir_template) != nullptr);
  const std::string dir = dir_template;
  const std::string file = dir + "/cluster.key";

  auto made = pulsing({"keygen", file});
  REQUIRE_MESSAGE(made.status == 0, made.text);
  CHECK(made.text.find("wrote cluster key ") != std::string::npos);
  struct stat st {};
  REQUIRE(::stat(file.c_str(), &st) == 0);
  CHECK((st.st_mode & 07777) == 0600);
  std::ifstream in(file);
  std::string comment, key;
  std::getline(in, comment);
  std::getline(in, key);
  CHECK(comment.rfind("# pulsing cluster key ", 0) == 0);
  CHECK(key.size() == 64);
  // The id printed is the one the file's comment names.
  const std::string id = made.text.substr(std::string("wrote cluster key ").size(), 8);
  CHECK(comment.find(id) != std::string::npos);

  auto again = pulsing({"keygen", file});
  CHECK(again.status == 1);
  CHECK(again.text.find("exists already") != std::string::npos);
  std::ifstream still(file);
  std::string unchanged;
  std::getline(still, unchanged);
  std::getline(still, unchanged);
  CHECK(unchanged == key);

  CHECK(pulsing({"keygen"}).status == 2);  // FILE is required
  auto nowhere = pulsing({"keygen", dir + "/no/such/dir/k"});
  CHECK(nowhere.status == 1);
  CHECK(nowhere.text.find("cannot create key file") != std::string::npos);

  std::remove(file.c_str());
  ::rmdir(dir.c_str());
}

}  // namespace
}  // namespace pulsing::integration
