// Entities on the simulator: 100 nodes host one kind, and calls reach 100,000 keys through
// crashes, restarts, joins and a partition. Each node decides with its EntityTable
// (registry/entity_table.hpp), fed by its own membership view; a call goes to the owner in the
// caller's view and on from there as the tables say (forward, activate after a release by the
// previous owner, refuse). Passivation is instant here (the runtime's takes the actor's time).
// Checked: once membership has converged, no key is active on two nodes, and every active key is
// on its owner; during a partition a key is active at most once per side, and the duplicates
// are gone once the partition heals. Each test prints its seed (PULSING_SIM_SEED replays it).
#include <doctest/doctest.h>

#include <map>
#include <memory>
#include <random>
#include <set>
#include <string>
#include <unordered_map>
#include <vector>

#include "registry/entity_table.hpp"
#include "sim/cluster.hpp"

namespace pulsing::sim {
namespace {

using Action = registry::EntityTable::Action;
using Release = registry::EntityTable::Release;

constexpr std::size_t kNodes = 100;
constexpr int kKeys = 100'000;
constexpr const char* kKind = "Cart";

std::string key_of(int k) { return "cart-" + std::to_string(k); }
std::size_t index_of(const std::string& member) { return std::stoul(member.substr(member.rfind('-') + 1)); }

enum class Outcome { kDelivered, kRefused, kUnreachable, kNoHost };

// The cluster, an EntityTable on each running node, and where each key is active.
class EntityCluster {
 public:
  explicit EntityCluster(std::uint64_t seed) : cluster_(seed, kNodes, Config{}), tables_(kNodes) {
    cluster_.set_observer([this](std::size_t node, Clock::time_point, const membership::MemberEvent&) { refresh(node); });
  }

  SimCluster& cluster() { return cluster_; }

  void start_converged() {
    cluster_.start_converged();
    for (std::size_t i = 0; i < kNodes; ++i) refresh(i);
  }
  void start(std::size_t i, const std::vector<std::size_t>& seeds) {
    cluster_.start(i, seeds);
    refresh(i);
  }
  void crash(std::size_t i) {
    cluster_.crash(i);
    tables_[i].reset();  // its activations die with it
    for (auto& [key, nodes] : active_) nodes.erase(i);
  }

  // A call to `key` from node `from`, as the runtime routes it.
  Outcome call(std::size_t from, const std::string& key) {
    const auto now = cluster_.now();
    std::string target = tables_[from]->owner(kKind, key);
    if (target.empty()) return Outcome::kNoHost;
    std::size_t at = from;
    for (int hops = 0;; ++hops) {
      std::size_t t = index_of(target);
      if (!cluster_.reachable(at, t) || !tables_[t]) return Outcome::kUnreachable;
      auto arrival = tables_[t]->arrive(kKind, key, hops, now);
      switch (arrival.action) {
        case Action::kDeliver:
        case Action::kHold: return Outcome::kDelivered;
        case Action::kRefuse: return Outcome::kRefused;
        case Action::kNoHost: return Outcome::kNoHost;
        case Action::kForward:
          at = t;
          target = arrival.member;
          continue;
        case Action::kActivate:
          if (!release(t, arrival.member, key)) {
            tables_[t]->passivated(kKind, key);
            return Outcome::kRefused;
          }
          tables_[t]->activated(kKind, key);
          active_[key].insert(t);
          return Outcome::kDelivered;
      }
    }
  }

  // Keys active on more than one node, and on the most nodes at once.
  std::size_t duplicated() const {
    std::size_t n = 0;
    for (const auto& [key, nodes] : active_) n += nodes.size() > 1;
    return n;
  }
  std::size_t most_copies() const {
    std::size_t most = 0;
    for (const auto& [key, nodes] : active_) most = std::max(most, nodes.size());
    return most;
  }
  // Active keys that are not on their owner as `observer` sees it.
  std::size_t misplaced(std::size_t observer) const {
    std::size_t n = 0;
    for (const auto& [key, nodes] : active_) {
      for (std::size_t node : nodes) n += SimCluster::name(node) != tables_[observer]->owner(kKind, key);
    }
    return n;
  }

 private:
  // The hosts as node i sees them now: its live members. A key another host owns now is
  // passivated at once.
  void refresh(std::size_t i) {
    if (!cluster_.running(i)) return;
    if (!tables_[i]) tables_[i] = std::make_unique<registry::EntityTable>(registry::EntityTable::Config{SimCluster::name(i)});
    std::vector<std::string> hosts;
    for (const auto& m : cluster_.node(i).members()) {
      if (membership::is_live(m.state)) hosts.push_back(m.name);
    }
    for (const auto& key : tables_[i]->set_hosts(kKind, std::move(hosts), cluster_.now())) passivate(i, key);
  }
  void passivate(std::size_t i, const std::string& key) {
    tables_[i]->passivated(kKind, key);  // the requesters it names are answered: release() waits for nothing here
    if (auto it = active_.find(key); it != active_.end()) it->second.erase(i);
  }
  // Node t asks `previous` to release `key` before activating it: false if refused. An
  // unreachable previous owner is not waited for.
  bool release(std::size_t t, const std::string& previous, const std::string& key) {
    if (previous.empty()) return true;
    std::size_t p = index_of(previous);
    if (!cluster_.reachable(t, p) || !tables_[p]) return true;
    switch (tables_[p]->release(kKind, key, SimCluster::name(t))) {
      case Release::kRefused: return false;
      case Release::kPassivate:
      case Release::kPassivating: passivate(p, key); return true;
      case Release::kReleased: return true;
    }
    return true;
  }

  SimCluster cluster_;
  std::vector<std::unique_ptr<registry::EntityTable>> tables_;
  std::unordered_map<std::string, std::set<std::size_t>> active_;
};

// Calls every key once from a random running node; how many were delivered.
int call_every_key(EntityCluster& c, std::mt19937_64& random) {
  int delivered = 0;
  for (int k = 0; k < kKeys; ++k) {
    std::size_t from = random() % kNodes;
    while (!c.cluster().running(from)) from = (from + 1) % kNodes;
    delivered += c.call(from, key_of(k)) == Outcome::kDelivered;
  }
  return delivered;
}

// Spreads `calls` calls to random keys over `span` of virtual time.
void call_meanwhile(EntityCluster& c, std::mt19937_64& random, int calls, milliseconds span) {
  const auto step = span / calls;
  for (int i = 0; i < calls; ++i) {
    std::size_t from = random() % kNodes;
    if (c.cluster().running(from)) c.call(from, key_of(static_cast<int>(random() % kKeys)));
    c.cluster().run_for(std::max(step, milliseconds(1)));
  }
}

std::size_t first_running(EntityCluster& c) {
  std::size_t i = 0;
  while (!c.cluster().running(i)) ++i;
  return i;
}

}  // namespace

TEST_CASE("100 nodes, 100,000 entities: one activation each through churn, and after a partition heals") {
  auto seed = sim_seed(71);
  INFO("seed ", seed, " (PULSING_SIM_SEED replays it)");
  std::mt19937_64 random(seed);
  EntityCluster c(seed);
  c.start_converged();
  CHECK(call_every_key(c, random) == kKeys);
  CHECK(c.duplicated() == 0);
  CHECK(c.misplaced(0) == 0);

  SUBCASE("churn: crashes, restarts and joins while calls go on") {
    std::vector<std::size_t> down;
    for (int round = 0; round < 6; ++round) {
      std::size_t victim = random() % kNodes;
      if (c.cluster().running(victim)) {
        c.crash(victim);
        down.push_back(victim);
      }
      if (round % 2 == 1 && !down.empty()) {  // an earlier victim comes back as a new run
        c.start(down.front(), {first_running(c)});
        down.erase(down.begin());
      }
      call_meanwhile(c, random, 2'000, milliseconds(3'000));
    }
    REQUIRE(c.cluster().run_until([&] { return c.cluster().converged(); }, milliseconds(120'000)));
    CHECK(c.duplicated() == 0);
    CHECK(call_every_key(c, random) == kKeys);
    CHECK(c.duplicated() == 0);
    CHECK(c.misplaced(first_running(c)) == 0);
  }

  SUBCASE("a partition: a key is active at most once per side; healed, once") {
    std::vector<int> groups(kNodes);
    for (std::size_t i = 0; i < kNodes; ++i) groups[i] = i < 60 ? 0 : 1;
    c.cluster().partition(groups);
    // Split: every node has declared every node of the other side dead.
    auto split = [&] {
      for (std::size_t i = 0; i < kNodes; ++i) {
        for (std::size_t j = 0; j < kNodes; ++j) {
          if (groups[i] == groups[j]) continue;
          auto state = c.cluster().view(i, j);
          if (state && *state != membership::MemberState::kDead) return false;
        }
      }
      return true;
    };
    for (int waited = 0; !split(); ++waited) {
      REQUIRE(waited < 1'200);  // two virtual minutes
      c.cluster().run_for(milliseconds(100));
    }
    // Each side serves every key, activating there the keys whose owner is on the other side.
    CHECK(call_every_key(c, random) == kKeys);
    CHECK(c.most_copies() <= 2);
    const std::size_t during = c.duplicated();
    MESSAGE("keys active on both sides of the partition: ", during);
    CHECK(during > 0);

    c.cluster().heal();
    REQUIRE(c.cluster().run_until([&] { return c.cluster().converged(); }, milliseconds(120'000)));
    CHECK(c.duplicated() == 0);
    CHECK(call_every_key(c, random) == kKeys);
    CHECK(c.duplicated() == 0);
    CHECK(c.misplaced(0) == 0);
  }
}

}  // namespace pulsing::sim
