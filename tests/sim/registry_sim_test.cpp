// The name registry on the simulator: 100 nodes serving 100,000 names, through crashes,
// restarts and a partition. After each disturbance settles (membership converged, then one
// second), every live name resolves from every node to exactly its live instances, and no name
// resolves to a dead node once membership has declared it dead. Each test prints its seed
// (PULSING_SIM_SEED=<seed> replays it).
#include <doctest/doctest.h>

#include <map>
#include <set>

#include "sim/registry_cluster.hpp"

namespace pulsing::sim {
namespace {

using std::chrono::seconds;

constexpr std::size_t kNodes = 100;
constexpr int kNamesPerNode = 1'000;  // 100,000 in all
constexpr int kPools = 100;           // names served on three nodes each

std::string own_name(std::size_t node, int k) { return "svc-" + std::to_string(node) + "-" + std::to_string(k); }
std::string pool_name(int k) { return "pool-" + std::to_string(k); }
std::vector<std::size_t> pool_nodes(int k) {
  auto k_ = static_cast<std::size_t>(k);
  return {k_ % kNodes, (k_ * 7 + 1) % kNodes, (k_ * 13 + 2) % kNodes};
}

// What the test spawned: name → the nodes serving it.
using Expected = std::map<std::string, std::set<std::size_t>>;

void spawn_names(SimRegistryCluster& c, std::size_t node, Expected& expected) {
  for (int k = 0; k < kNamesPerNode; ++k) {
    REQUIRE(c.add(node, own_name(node, k), static_cast<std::uint64_t>(k + 1)));
    expected[own_name(node, k)].insert(node);
  }
  for (int k = 0; k < kPools; ++k) {
    for (std::size_t n : pool_nodes(k)) {
      if (n == node && c.add(node, pool_name(k), 1'000'000)) expected[pool_name(k)].insert(node);
    }
  }
}

void forget_node(Expected& expected, std::size_t node) {
  for (auto& [name, nodes] : expected) nodes.erase(node);
}

std::set<std::size_t> serving(const std::vector<registry::Instance>& found) {
  std::set<std::size_t> out;
  for (const auto& i : found) out.insert(static_cast<std::size_t>(std::stoul(i.member.substr(i.member.rfind('-') + 1))));
  return out;
}

// Every running node sees the same members (membership converged), so a lookup from any of
// them asks the same owners in the same order: what the first owner that knows a name answers
// is what every node resolves. Checks that for every name, then resolves a sample of names
// through real lookups from every node.
void check_every_name_resolves_everywhere(SimRegistryCluster& c, const Expected& expected, std::mt19937_64& random) {
  std::size_t reference = 0;
  while (!c.running(reference)) ++reference;
  const auto& members = c.registry(reference).placement().members();
  for (std::size_t i = 0; i < c.size(); ++i) {
    if (c.running(i)) REQUIRE(c.registry(i).placement().members() == members);
  }
  std::size_t wrong = 0;
  for (const auto& [name, nodes] : expected) {
    std::set<std::size_t> found;
    for (const auto& owner : c.registry(reference).placement().owners(name, 3)) {
      std::size_t o = static_cast<std::size_t>(std::stoul(owner.substr(owner.rfind('-') + 1)));
      found = serving(c.registry(o).answer(registry::Lookup{0, name}).instances);
      if (!found.empty()) break;
    }
    if (found != nodes && ++wrong <= 5) CHECK_MESSAGE(found == nodes, "name ", name);
  }
  CHECK(wrong == 0);
  std::vector<const std::string*> names;
  for (const auto& [name, nodes] : expected) names.push_back(&name);
  for (std::size_t i = 0; i < c.size(); ++i) {
    if (!c.running(i)) continue;
    for (int s = 0; s < 10; ++s) {
      const std::string& name = *names[random() % names.size()];
      CHECK_MESSAGE(serving(c.resolve(i, name)) == expected.at(name), "node ", i, " name ", name);
    }
  }
}

bool all_running_see(SimRegistryCluster& c) { return c.cluster().converged(); }

}  // namespace

TEST_CASE("100 nodes, 100,000 names: resolvable everywhere through crashes, restarts and a partition") {
  auto seed = sim_seed(51);
  INFO("seed ", seed, " (PULSING_SIM_SEED replays it)");
  std::mt19937_64 random(seed);
  SimRegistryCluster c(seed, kNodes, Config{}, NetworkModel{}, registry::Config{});
  // Node 0 founds the cluster, the others join through it within a second.
  c.start(0, {});
  for (std::size_t i = 1; i < kNodes; ++i) {
    c.run_for(milliseconds(10));
    c.start(i, {0});
  }
  REQUIRE(c.cluster().run_until([&] { return c.cluster().converged(); }, milliseconds(60'000)));
  Expected expected;
  for (std::size_t i = 0; i < kNodes; ++i) spawn_names(c, i, expected);
  c.run_for(milliseconds(1'000));
  check_every_name_resolves_everywhere(c, expected, random);

  SUBCASE("crashes: the names of the dead stop resolving, the others keep resolving") {
    std::vector<std::size_t> victims{3, 17, 42, 64, 99};
    for (std::size_t v : victims) {
      c.crash(v);
      forget_node(expected, v);
    }
    REQUIRE(c.cluster().run_until([&] { return all_running_see(c); }, milliseconds(60'000)));
    // Detected: no node resolves a name to a victim, cached or not.
    for (std::size_t i = 0; i < kNodes; ++i) {
      if (!c.running(i)) continue;
      for (std::size_t v : victims) {
        CHECK(c.resolve(i, own_name(v, 0)).empty());
        for (int k = 0; k < kPools; ++k) CHECK(!serving(c.resolve(i, pool_name(k))).contains(v));
      }
    }
    c.run_for(milliseconds(1'000));
    for (auto it = expected.begin(); it != expected.end();) it = it->second.empty() ? expected.erase(it) : std::next(it);
    check_every_name_resolves_everywhere(c, expected, random);

    // Restarted (new runs, which spawn their names again): everything resolves everywhere.
    for (std::size_t v : victims) {
      c.start(v, {0});
      spawn_names(c, v, expected);
    }
    REQUIRE(c.cluster().run_until([&] { return all_running_see(c); }, milliseconds(60'000)));
    c.run_for(milliseconds(1'000));
    check_every_name_resolves_everywhere(c, expected, random);
  }

  SUBCASE("fast restarts: owners back before anyone declared them dead get their share at once") {
    // Each comes back as a new run with an empty shard and names of its own to spawn again;
    // the others hear of the new run (membership::EventKind::kRestarted) and swap names with it.
    // The check comes long before most nodes' next resync (30 s).
    std::vector<std::size_t> restarted{5, 23, 77};
    for (std::size_t v : restarted) {
      c.crash(v);
      c.start(v, {0});
      spawn_names(c, v, expected);
    }
    auto new_runs_known = [&] {
      for (std::size_t i = 0; i < kNodes; ++i) {
        for (std::size_t v : restarted) {
          if (i == v) continue;
          auto m = c.cluster().node(i).find(SimCluster::name(v));
          if (!m || m->incarnation != c.cluster().node(v).self().incarnation) return false;
        }
      }
      return true;
    };
    REQUIRE(c.cluster().run_until([&] { return all_running_see(c) && new_runs_known(); }, milliseconds(10'000)));
    c.run_for(milliseconds(1'000));
    check_every_name_resolves_everywhere(c, expected, random);
  }

  SUBCASE("a partition: each side resolves its own names; healed, everything resolves everywhere") {
    std::vector<int> groups(kNodes);
    for (std::size_t i = 0; i < kNodes; ++i) groups[i] = i < kNodes / 2 ? 0 : 1;
    c.cluster().partition(groups);
    auto split = [&] {
      for (std::size_t i = 0; i < kNodes; ++i) {
        std::size_t other = i < kNodes / 2 ? kNodes - 1 : 0;
        auto state = c.cluster().view(i, other);
        if (state && *state != membership::MemberState::kDead) return false;
      }
      return true;
    };
    REQUIRE(c.cluster().run_until(split, milliseconds(120'000)));
    c.run_for(milliseconds(1'000));
    CHECK(serving(c.resolve(0, own_name(1, 5))) == std::set<std::size_t>{1});
    CHECK(c.resolve(0, own_name(kNodes - 1, 5)).empty());
    CHECK(serving(c.resolve(kNodes - 1, own_name(kNodes - 2, 5))) == std::set<std::size_t>{kNodes - 2});

    c.cluster().heal();
    REQUIRE(c.cluster().run_until([&] { return all_running_see(c); }, milliseconds(120'000)));
    c.run_for(milliseconds(1'000));
    check_every_name_resolves_everywhere(c, expected, random);
  }
}

TEST_CASE("updates lost with broken connections reach every owner, with no resync to repair them") {
  auto seed = sim_seed(52);
  INFO("seed ", seed, " (PULSING_SIM_SEED replays it)");
  constexpr std::size_t kSmall = 20;
  registry::Config base;
  base.resync_interval = std::chrono::hours(100);  // never, in this test
  SimRegistryCluster c(seed, kSmall, Config{}, NetworkModel{}, base);
  c.start(0, {});
  for (std::size_t i = 1; i < kSmall; ++i) c.start(i, {0});
  REQUIRE(c.cluster().run_until([&] { return c.cluster().converged(); }, milliseconds(60'000)));
  c.run_for(milliseconds(1'000));

  // One update in ten is lost on the way, repairs included; names come, some go, some come back.
  c.lose_updates(0.1);
  std::map<std::string, std::pair<std::size_t, std::uint64_t>> expected;  // name -> node, actor
  for (std::size_t i = 0; i < kSmall; ++i) {
    for (int k = 0; k < 100; ++k) {
      std::string name = own_name(i, k);
      REQUIRE(c.add(i, name, 1));
      expected[name] = {i, 1};
    }
    for (int k = 0; k < 100; k += 3) {
      c.remove(i, own_name(i, k), 1);
      expected.erase(own_name(i, k));
    }
    for (int k = 0; k < 100; k += 9) {
      REQUIRE(c.add(i, own_name(i, k), 2));
      expected[own_name(i, k)] = {i, 2};
    }
    c.run_for(milliseconds(50));
  }
  c.run_for(milliseconds(5'000));
  c.lose_updates(0.0);
  c.run_for(milliseconds(3'000));  // the last repairs' backoff (2 s at most)
  CHECK(c.updates_lost() > 100);

  // Every owner (as every node sees them) knows exactly the live names it owns.
  std::uint64_t repairs = 0;
  for (std::size_t i = 0; i < kSmall; ++i) repairs += c.registry(i).stats().repairs;
  CHECK(repairs > 0);
  std::size_t wrong = 0;
  for (std::size_t node = 0; node < kSmall; ++node) {
    for (int k = 0; k < 100; ++k) {
      std::string name = own_name(node, k);
      auto it = expected.find(name);
      for (const auto& owner : c.registry(0).placement().owners(name, 3)) {
        std::size_t o = static_cast<std::size_t>(std::stoul(owner.substr(owner.rfind('-') + 1)));
        auto found = c.registry(o).answer(registry::Lookup{0, name}).instances;
        bool right = it == expected.end() ? found.empty()
                                          : found.size() == 1 && found.front().actor_id == it->second.second &&
                                                found.front().member == SimCluster::name(node);
        if (!right && ++wrong <= 5) CHECK_MESSAGE(right, "name ", name, " at owner ", owner);
      }
    }
  }
  CHECK(wrong == 0);
  for (std::size_t i = 0; i < kSmall; ++i) {
    CHECK(c.registry(i).repairs_pending() == 0);
    CHECK(c.registry(i).unanswered_updates() == 0);
  }
}

}  // namespace pulsing::sim
