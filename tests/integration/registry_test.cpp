// The cluster-wide name registry across real node processes on 127.0.0.1: a name spawned on one
// node resolves from another and answers; once its node is killed it stops resolving; spawned
// again on another node, it resolves there; a resolve that waits sees a name that appears later.
// A reference that follows the name reaches the respawned service; a pool of one name on three
// nodes is spread by resolve (round robin, random, local first, resolve_all). The test
// process's node is a member of the cluster and resolves from there.
#include <signal.h>

#include <doctest/doctest.h>

#include <atomic>
#include <exception>
#include <functional>
#include <memory>
#include <optional>
#include <set>
#include <thread>
#include <vector>

#include "integration_support.hpp"

namespace pulsing::integration {
namespace {

std::size_t alive(const Node& node) {
  std::size_t n = 0;
  for (const auto& m : node.members()) n += m.state == membership::MemberState::kAlive;
  return n;
}

// What resolving `name` from `node` gives now: the reference, or the kind of the RuntimeError.
struct Resolved {
  std::optional<ActorRef<Calculator>> ref;
  std::optional<RuntimeErrorKind> error;
};
Resolved resolve_now(Node& node, const std::string& name) {
  try {
    return {node.resolve<Calculator>(name).get(), std::nullopt};
  } catch (const RuntimeError& e) {
    return {std::nullopt, e.kind()};
  }
}

// The cluster once all four see each other.
struct Cluster : ThreeNodeCluster {
  Cluster() { REQUIRE(eventually([&] { return alive(node) == 4; }, 15s)); }
};

}  // namespace

TEST_CASE("resolve(\"service\") from another node, its node killed, it stops resolving, respawned elsewhere, it resolves there") {
  Cluster cluster;
  auto& [a, b, c, node] = cluster;

  resolve<Launcher>(node, a, "launcher").ask(&Launcher::spawn_calculator, std::string("service"), 100).get();
  Resolved found;
  REQUIRE(eventually([&] { return (found = resolve_now(node, "service")).ref.has_value(); }, 10s));
  CHECK(found.ref->address().endpoint == a.endpoint());
  CHECK(found.ref->ask(&Calculator::add, 5).get() == 105);
  const ActorRef<Calculator> pinned = found.ref->with_timeout(5s);
  auto following = node.follow<Calculator>("service");
  CHECK(following.ask(&Calculator::add, 6).get() == 111);
  // A name nobody serves is not found, naming it.
  CHECK(resolve_now(node, "nobody").error == RuntimeErrorKind::kActorNotFound);

  a.kill();
  CHECK(eventually([&] { return resolve_now(node, "service").error == RuntimeErrorKind::kActorNotFound; }, 30s));
  CHECK_THROWS_AS(following.ask(&Calculator::add, 1).get(), RuntimeError);

  resolve<Launcher>(node, b, "launcher").ask(&Launcher::spawn_calculator, std::string("service"), 7).get();
  REQUIRE(eventually([&] { return (found = resolve_now(node, "service")).ref.has_value(); }, 10s));
  CHECK(found.ref->address().endpoint == b.endpoint());
  CHECK(found.ref->ask(&Calculator::add, 1).get() == 8);
  // The reference that follows the name reaches the new instance; the pinned one stays with
  // the instance it was given, which is gone.
  CHECK(following.ask(&Calculator::add, 2).get() == 10);
  CHECK_THROWS_AS(pinned.ask(&Calculator::add, 1).get(), Error);

  // Services start in any order: a resolve that waits completes when the name appears.
  auto later = node.resolve<Calculator>("later", 20s);
  resolve<Launcher>(node, c, "launcher").ask(&Launcher::spawn_calculator, std::string("later"), 1).get();
  CHECK(later.get().ask(&Calculator::add, 1).get() == 2);
}

TEST_CASE("a name served on three nodes is spread over them by resolve") {
  Cluster cluster;
  auto& [a, b, c, node] = cluster;
  for (NodeProcess* child : {&a, &b, &c}) {
    resolve<Launcher>(node, *child, "launcher").ask(&Launcher::spawn_calculator, std::string("pool"), 0).get();
  }
  std::set<std::string> endpoints;
  // Once the lookups see all three, round robin visits each.
  REQUIRE(eventually(
      [&] {
        endpoints.clear();
        for (int i = 0; i < 6; ++i) {
          auto r = resolve_now(node, "pool");
          if (r.ref) endpoints.insert(r.ref->address().endpoint);
        }
        return endpoints.size() == 3;
      },
      15s));

  // Random picks reach more than one of them (all 30 on one: a chance of 3 in 3^30).
  endpoints.clear();
  for (int i = 0; i < 30; ++i) {
    endpoints.insert(node.resolve<Calculator>("pool", ResolveOptions{.pick = Pick::kRandom}).get().address().endpoint);
  }
  CHECK(endpoints.size() > 1);

  // With an instance of its own, local first stays on this node; resolve_all lists that one
  // first, then the three others.
  auto own = node.spawn<Calculator>({.name = "pool"}, 0).get();
  for (int i = 0; i < 5; ++i) {
    CHECK(node.resolve<Calculator>("pool", ResolveOptions{.pick = Pick::kLocalFirst}).get() == own);
  }
  std::vector<AnyRef> all;
  REQUIRE(eventually([&] { return (all = node.resolve_all("pool").get()).size() == 4; }, 15s));
  CHECK(all.front() == AnyRef(own));
  endpoints.clear();
  for (const auto& instance : all) endpoints.insert(instance.address().endpoint);
  CHECK(endpoints == std::set<std::string>{node.endpoint(), a.endpoint(), b.endpoint(), c.endpoint()});
}

TEST_CASE("the seed's quick reference across nodes: Class::resolve(\"service\") on the default node") {
  auto a = NodeProcess::start({"--member", "a"});
  NodeConfig config = test_process_config();
  config.seeds = {gossip_address(a)};
  config.membership.name = "client";
  pulsing::init(config);
  resolve<Launcher>(default_node(), a, "launcher")
      .ask(&Launcher::spawn_calculator, std::string("service"), 40)
      .get();
  // proxy = await MyService.resolve("service"); result = await proxy.process(...)
  auto proxy = Calculator::resolve("service", 10s).get();
  CHECK(proxy.ask(&Calculator::add, 2).get() == 42);
  CHECK(proxy.address().endpoint == a.endpoint());
  pulsing::shutdown();
}

TEST_CASE("names spawned while nodes join all reach every owner, with no resync to repair a loss") {
  auto config_of = [](const std::string& member) {
    NodeConfig config = test_process_config();
    config.membership.name = member;
    config.registry.resync_interval = std::chrono::hours(1);
    return config;
  };
  Node a(config_of("a"));
  constexpr std::uint64_t kNames = 3'000;
  std::thread spawner([&] {
    for (std::uint64_t i = 0; i < kNames; ++i) a.spawn<Calculator>({.name = "n-" + std::to_string(i)}, 0).get();
  });
  std::vector<std::unique_ptr<Node>> others;
  for (const char* member : {"b", "c"}) {
    auto config = config_of(member);
    config.seeds = {a.endpoint().substr(std::string("tcp://").size())};
    others.push_back(std::make_unique<Node>(config));
  }
  spawner.join();
  // Three replicas on three nodes: every node owns every name.
  CHECK(eventually(
      [&] {
        return a.registry_stats().entries == kNames && others[0]->registry_stats().entries == kNames &&
               others[1]->registry_stats().entries == kNames;
      },
      30s));
}

// A node stalls (SIGSTOP) while this process spawns names that it owns, then resumes. With no
// periodic resync, every name must still reach it: through the repair of an owner that missed
// updates once its connection is back, or, when membership declared it dead meanwhile, through
// the announces to a member that comes back.
struct Stall {
  std::unique_ptr<Node> a;
  std::optional<NodeProcess> b;
  std::optional<ActorRef<Launcher>> b_launcher;

  static NodeConfig with_name_a(NodeConfig config) {
    config.membership.name = "a";
    config.registry.resync_interval = std::chrono::hours(1);
    return config;
  }
  explicit Stall(const NodeConfig& config) : a(std::make_unique<Node>(with_name_a(config))) {
    b.emplace(NodeProcess::start({"--member", "b", "--seed", a->endpoint().substr(std::string("tcp://").size())}));
    REQUIRE(eventually([&] { return alive(*a) == 2; }, 15s));
    b_launcher.emplace(resolve<Launcher>(*a, *b, "launcher").with_timeout(30s));
  }
  // b's shard size; 0 while b cannot be asked (its connection coming back).
  std::uint64_t b_entries() {
    try {
      return b_launcher->ask(&Launcher::registry_entries).get();
    } catch (const Error&) {
      return 0;
    }
  }

  // Spawns `count` names on a, from another thread, while `stalled` runs here with b stopped.
  void spawn_while_stalled(int count, const std::function<void()>& stalled) {
    std::atomic<int> spawned{0};
    std::thread spawner([&] {
      for (int i = 0; i < count; ++i) {
        a->spawn<Calculator>({.name = "s-" + std::to_string(i)}, 0).get();
        spawned.fetch_add(1);
      }
    });
    CHECK(eventually([&] { return spawned.load() >= count / 4; }, 30s));
    b->pause();
    std::exception_ptr failed;
    try {
      stalled();
    } catch (...) {
      failed = std::current_exception();
    }
    b->resume();
    spawner.join();
    if (failed) std::rethrow_exception(failed);
  }
};

TEST_CASE("a node stalled until membership declares it dead fails the asks pending on it, then gets every name back") {
  NodeConfig config = test_process_config();
  config.ask_timeout = 60s;  // the ask below must fail by the verdict, not by its own timeout
  config.membership.probe_interval = 200ms;
  config.membership.probe_timeout = 100ms;
  config.membership.suspicion_max_multiplier = 1;
  Stall stall(config);
  constexpr int kNames = 600;
  auto calc = resolve<Calculator>(*stall.a, *stall.b, "calc");
  std::optional<Future<int>> pending;
  stall.spawn_while_stalled(kNames, [&] {
    pending.emplace(calc.ask(&Calculator::add, 1));
    CHECK(eventually(
        [&] {
          for (const auto& m : stall.a->members()) {
            if (m.name == "b") return m.state == membership::MemberState::kDead;
          }
          return false;
        },
        30s));
    CHECK(runtime_kind([&] { pending->get(); }) == RuntimeErrorKind::kNodeUnreachable);
  });
  CHECK(eventually([&] { return alive(*stall.a) == 2; }, 30s));  // b refuted
  CHECK(eventually([&] { return stall.a->registry_stats().entries >= kNames; }, 30s));
  CHECK(eventually([&] { return stall.b_entries() == stall.a->registry_stats().entries; }, 30s));
}

TEST_CASE("a node stalled past the heartbeat timeout, while membership keeps it alive, gets every name spawned meanwhile") {
  NodeConfig config = test_process_config();
  config.transport.heartbeat_interval = 200ms;
  config.transport.heartbeat_timeout = 1s;   // a's connection to b is declared lost in the stall
  config.membership.suspicion_mult = 60;     // while membership would wait a minute to call b dead
  Stall stall(config);
  constexpr int kNames = 600;
  stall.spawn_while_stalled(kNames, [&] {
    // Held past the heartbeat timeout: the connection is lost with updates on it.
    CHECK(eventually([&] { return stall.a->stats().transport.connections_lost > 0; }, 30s));
    CHECK(eventually([&] { return stall.a->registry_stats().unacknowledged > 0; }, 30s));
  });
  for (const auto& m : stall.a->members()) {
    if (m.name == "b") CHECK(m.state != membership::MemberState::kDead);
  }
  CHECK(eventually([&] { return stall.a->registry_stats().entries >= kNames; }, 30s));
  CHECK(eventually([&] { return stall.b_entries() == stall.a->registry_stats().entries; }, 30s));
  CHECK(stall.a->registry_stats().repairs > 0);
}

}  // namespace pulsing::integration
