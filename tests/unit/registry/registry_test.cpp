#include "registry/registry.hpp"

#include <doctest/doctest.h>

#include <algorithm>
#include <deque>
#include <memory>
#include <set>
#include <string>

namespace pulsing::registry {
namespace {

using namespace std::chrono_literals;

const Clock::time_point kEpoch = Clock::time_point{} + std::chrono::hours(1);

std::string member_of(int i) { return "node-" + std::to_string(i); }
std::string endpoint_of(int i) { return "tcp://10.0.0." + std::to_string(i) + ":7000"; }
int index_of_member(const std::string& member) { return std::stoi(member.substr(member.rfind('-') + 1)); }

Config config_of(int i, std::uint64_t run = 1) {
  Config c;
  c.member = member_of(i);
  c.endpoint = endpoint_of(i);
  c.node_id = 1'000 * run + static_cast<std::uint64_t>(i);
  return c;
}

// A few registries whose messages are delivered at once, in order; each sees the members the
// test says it sees. Time moves only when the test moves it.
class Cluster {
 public:
  Clock::time_point now = kEpoch;
  // Messages to these members are not delivered (and reported undeliverable, as by a transport).
  std::set<std::string> unreachable;
  // Messages to these members are lost with no word (an owner stalled, or behind a partition).
  std::set<std::string> silent;
  std::uint64_t dropped = 0;

  explicit Cluster(int n, Config (*config)(int, std::uint64_t) = config_of) {
    for (int i = 0; i < n; ++i) nodes_.push_back(std::make_unique<Registry>(config(i, 1)));
    for (int i = 0; i < n; ++i) {
      for (int j = 0; j < n; ++j) {
        if (i != j) act(i, [&](Registry& r, Output& out) { r.member_up(member_of(j), endpoint_of(j), now, out); });
      }
    }
  }

  Registry& node(int i) { return *nodes_.at(static_cast<std::size_t>(i)); }

  // Replaces node i by a new run of it (a restart), which sees every other node.
  void restart(int i, std::uint64_t run) {
    nodes_[static_cast<std::size_t>(i)] = std::make_unique<Registry>(config_of(i, run));
    for (std::size_t j = 0; j < nodes_.size(); ++j) {
      if (static_cast<int>(j) != i) {
        act(i, [&](Registry& r, Output& out) { r.member_up(member_of(static_cast<int>(j)), endpoint_of(static_cast<int>(j)), now, out); });
      }
    }
  }

  template <typename F>
  void act(int i, F&& f) {
    Output out;
    f(node(i), out);
    carry_out(i, out);
  }

  // Every node's view: `member` is gone.
  void down(const std::string& member) {
    for (std::size_t i = 0; i < nodes_.size(); ++i) {
      if (member_of(static_cast<int>(i)) == member) continue;
      act(static_cast<int>(i), [&](Registry& r, Output& out) { r.member_down(member, now, out); });
    }
  }

  // Resolves `name` from node i: the instances found (waiting up to `wait`, in virtual time).
  std::optional<std::vector<Instance>> resolve(int i, const std::string& name, Clock::duration wait = {}) {
    if (const auto* hit = node(i).cached(name, now)) return *hit;
    std::uint64_t id = 0;
    act(i, [&](Registry& r, Output& out) { id = r.lookup(name, now + wait, now, out); });
    auto deadline = now + wait + 10s;
    while (!done_.contains(id)) {
      if (now > deadline) return std::nullopt;  // never completed: a bug
      advance();
    }
    auto result = done_[id];
    done_.erase(id);
    return result;
  }

  // How lookup `id` completed, if it has.
  std::optional<std::vector<Instance>> completion(std::uint64_t id) const {
    auto it = done_.find(id);
    return it == done_.end() ? std::nullopt : std::optional(it->second);
  }

  // Runs every node's timers up to `d` from now.
  void run_for(Clock::duration d) {
    auto until = now + d;
    while (true) {
      auto next = Clock::time_point::max();
      for (auto& n : nodes_) next = std::min(next, n->next_timer());
      if (next > until) break;
      now = std::max(now, next);
      tick_all();
    }
    now = until;
  }

 private:
  void advance() {
    auto next = Clock::time_point::max();
    for (auto& n : nodes_) next = std::min(next, n->next_timer());
    now = std::max(now, std::min(next, now + 1s));
    tick_all();
  }

  void tick_all() {
    for (std::size_t i = 0; i < nodes_.size(); ++i) {
      if (nodes_[i]->next_timer() <= now) act(static_cast<int>(i), [&](Registry& r, Output& out) { r.tick(now, out); });
    }
  }

  int index_of(const std::string& member) {
    for (std::size_t i = 0; i < nodes_.size(); ++i) {
      if (member_of(static_cast<int>(i)) == member) return static_cast<int>(i);
    }
    return -1;
  }

  void carry_out(int from, Output& out) {
    for (auto& c : out.completions) done_[c.lookup] = c.instances;
    for (auto& m : out.messages) {
      int to = index_of(m.to);
      if (silent.contains(m.to)) {
        ++dropped;
        continue;
      }
      if (to < 0 || unreachable.contains(m.to)) {
        ++dropped;
        if (const auto* lookup = std::get_if<Lookup>(&m.message)) {
          std::uint64_t id = lookup->id;
          std::string owner = m.to;
          act(from, [&](Registry& r, Output& o) { r.undeliverable(id, owner, now, o); });
        } else if (const auto* a = std::get_if<Announce>(&m.message)) {
          node(from).undelivered(a->id, now);
        } else if (const auto* w = std::get_if<Withdraw>(&m.message)) {
          node(from).undelivered(w->id, now);
        }
        continue;
      }
      if (const auto* lookup = std::get_if<Lookup>(&m.message)) {
        LookupAnswer answer = node(to).answer(*lookup);
        act(from, [&](Registry& r, Output& o) { r.receive(answer, endpoint_of(to), now, o); });
      } else {
        Message message = m.message;
        std::optional<UpdateAck> ack;
        act(to, [&](Registry& r, Output& o) { ack = r.receive(message, endpoint_of(from), now, o); });
        if (ack) act(from, [&](Registry& r, Output& o) { r.receive(*ack, endpoint_of(to), now, o); });
      }
    }
  }

  std::vector<std::unique_ptr<Registry>> nodes_;
  std::map<std::uint64_t, std::vector<Instance>> done_;
};

std::set<std::string> members_serving(const std::optional<std::vector<Instance>>& found) {
  std::set<std::string> out;
  if (found) {
    for (const auto& i : *found) out.insert(i.member);
  }
  return out;
}

}  // namespace

TEST_CASE("a name spawned on one node resolves from every node, to that node's actor, then from the cache") {
  Cluster c(5);
  c.act(0, [&](Registry& r, Output& out) { CHECK(r.add_local("service", 42, "Service", c.now, out)); });
  for (int i = 0; i < 5; ++i) {
    CAPTURE(i);
    auto found = c.resolve(i, "service");
    REQUIRE(found.has_value());
    REQUIRE(found->size() == 1);
    CHECK(found->front() == Instance{member_of(0), endpoint_of(0), config_of(0).node_id, 42, "Service"});
  }
  // Owners hold it: exactly `replicas` of them.
  std::size_t holders = 0;
  for (int i = 0; i < 5; ++i) holders += c.node(i).shard_size();
  CHECK(holders == 3);
  CHECK(c.node(4).cached("service", c.now) != nullptr);
  CHECK(c.node(4).cached("service", c.now + 6s) == nullptr);  // cache_ttl: looked up again
}

TEST_CASE("an unknown name is not found, after every owner was asked") {
  Cluster c(5);
  auto found = c.resolve(2, "nobody");
  REQUIRE(found.has_value());
  CHECK(found->empty());
}

TEST_CASE("a resolve that waits completes when the name appears, or empty at its deadline") {
  Cluster c(4);
  std::uint64_t waiting = 0;
  std::uint64_t in_vain = 0;
  c.act(1, [&](Registry& r, Output& out) {
    waiting = r.lookup("late", c.now + 5s, c.now, out);
    in_vain = r.lookup("never", c.now + 2s, c.now, out);
  });
  c.run_for(1s);
  CHECK(!c.completion(waiting));
  c.act(3, [&](Registry& r, Output& out) { r.add_local("late", 7, "Service", c.now, out); });
  c.run_for(150ms);  // within one retry interval (100 ms) it asks again, and finds it
  REQUIRE(c.completion(waiting));
  CHECK(members_serving(c.completion(waiting)) == std::set<std::string>{member_of(3)});
  CHECK(!c.completion(in_vain));
  c.run_for(1s);
  REQUIRE(c.completion(in_vain));
  CHECK(c.completion(in_vain)->empty());
}

TEST_CASE("one name served on several nodes resolves to all of them, two on one node is refused") {
  Cluster c(5);
  for (int i : {0, 2, 4}) c.act(i, [&](Registry& r, Output& out) { CHECK(r.add_local("worker", 100 + i, "Service", c.now, out)); });
  c.act(2, [&](Registry& r, Output& out) { CHECK(!r.add_local("worker", 999, "Service", c.now, out)); });
  auto found = c.resolve(1, "worker");
  CHECK(members_serving(found) == std::set<std::string>{member_of(0), member_of(2), member_of(4)});
  for (const auto& i : *found) {
    if (i.member == member_of(2)) CHECK(i.actor_id == 102);  // the first one stays
  }
}

TEST_CASE("an instance a caller found gone leaves the cache, the last one gone, the name is looked up again") {
  Cluster c(5);
  for (int i : {0, 2}) c.act(i, [&](Registry& r, Output& out) { r.add_local("worker", 100 + i, "Service", c.now, out); });
  REQUIRE(c.resolve(1, "worker")->size() == 2);
  c.node(1).forget_cached("worker", config_of(2).node_id, 102);
  const auto* left = c.node(1).cached("worker", c.now);
  REQUIRE(left != nullptr);
  CHECK(members_serving(std::optional(*left)) == std::set<std::string>{member_of(0)});
  c.node(1).forget_cached("worker", config_of(0).node_id, 999);  // another actor: nothing changes
  CHECK(c.node(1).cached("worker", c.now)->size() == 1);
  c.node(1).forget_cached("worker", config_of(0).node_id, 100);
  CHECK(c.node(1).cached("worker", c.now) == nullptr);
  CHECK(c.resolve(1, "worker")->size() == 2);  // the owners still list both
}

TEST_CASE("expired cache entries are dropped at the next resync, so the cache stays bounded") {
  Cluster c(5);
  c.act(0, [&](Registry& r, Output& out) { r.add_local("service", 1, "Service", c.now, out); });
  int asker = 1;  // a node that owns no copy of the name, so that its resolve is cached
  while (c.node(asker).placement().owns(member_of(asker), "service", 3)) ++asker;
  REQUIRE(c.resolve(asker, "service")->size() == 1);
  CHECK(c.node(asker).cache_size() == 1);
  c.now += 31s;  // past cache_ttl and one resync_interval
  c.act(asker, [&](Registry& r, Output& out) { r.tick(c.now, out); });  // the first tick sets the phase
  c.now += 31s;
  c.act(asker, [&](Registry& r, Output& out) { r.tick(c.now, out); });
  CHECK(c.node(asker).cache_size() == 0);
  CHECK(c.resolve(asker, "service")->size() == 1);  // looked up again
}

TEST_CASE("names of a node that died stop resolving everywhere, cached or not") {
  Cluster c(5);
  c.act(0, [&](Registry& r, Output& out) { r.add_local("service", 1, "Service", c.now, out); });
  c.act(1, [&](Registry& r, Output& out) { r.add_local("pool", 1, "Service", c.now, out); });
  c.act(2, [&](Registry& r, Output& out) { r.add_local("pool", 2, "Service", c.now, out); });
  for (int i = 1; i < 5; ++i) REQUIRE(c.resolve(i, "service")->size() == 1);  // now cached
  c.down(member_of(0));
  c.down(member_of(1));
  for (int i = 2; i < 5; ++i) {
    CAPTURE(i);
    CHECK(c.node(i).cached("service", c.now) == nullptr);
    auto found = c.resolve(i, "service");
    REQUIRE(found.has_value());
    CHECK(found->empty());
    CHECK(members_serving(c.resolve(i, "pool")) == std::set<std::string>{member_of(2)});
  }
}

TEST_CASE("a stopped actor's name is withdrawn from its owners") {
  Cluster c(4);
  c.act(3, [&](Registry& r, Output& out) { r.add_local("job", 5, "Service", c.now, out); });
  REQUIRE(c.resolve(0, "job")->size() == 1);
  c.act(3, [&](Registry& r, Output& out) { r.remove_local("job", 5, c.now, out); });
  CHECK(c.resolve(1, "job")->empty());
  for (int i = 0; i < 4; ++i) CHECK(c.node(i).shard_size() == 0);
  CHECK(c.node(3).local_count() == 0);
}

TEST_CASE("an unreachable owner is passed over for the next") {
  Cluster c(5);
  c.act(4, [&](Registry& r, Output& out) { r.add_local("svc", 9, "Service", c.now, out); });
  auto owners = c.node(1).placement().owners("svc", 3);
  REQUIRE(owners.size() == 3);
  std::erase(owners, member_of(1));
  c.unreachable.insert(owners.front());  // the first owner node 1 would ask (not itself)
  CHECK(members_serving(c.resolve(1, "svc")) == std::set<std::string>{member_of(4)});
}

TEST_CASE("an owner that does not answer is passed over after the lookup timeout") {
  Cluster c(5);
  c.act(4, [&](Registry& r, Output& out) { r.add_local("svc", 9, "Service", c.now, out); });
  // Node 2 asks an owner that keeps silent: a lookup message that goes nowhere, no report.
  auto owners = c.node(2).placement().owners("svc", 3);
  std::erase(owners, member_of(2));
  Output out;
  std::uint64_t id = c.node(2).lookup("svc", c.now, c.now, out);
  REQUIRE(out.messages.size() == 1);
  CHECK(out.messages.front().to == owners.front());
  Output later;
  c.node(2).tick(c.now + 1s, later);  // lookup_timeout
  REQUIRE(later.messages.size() == 1);
  CHECK(later.messages.front().to == owners.at(1));
  CHECK(std::get<Lookup>(later.messages.front().message).id == id);
}

TEST_CASE("a member that joins becomes an owner and is told the names it now owns") {
  Cluster c(6);
  // Node 5 is not a member yet in anyone's view.
  c.down(member_of(5));
  for (int i = 0; i < 5; ++i) {
    for (int k = 0; k < 40; ++k) {
      c.act(i, [&](Registry& r, Output& out) { r.add_local("n" + std::to_string(i) + "-" + std::to_string(k), 1, "Service", c.now, out); });
    }
  }
  CHECK(c.node(5).shard_size() == 0);
  // Node 5 joins: node 5 sees everyone, everyone sees node 5.
  for (int i = 0; i < 5; ++i) {
    c.act(i, [&](Registry& r, Output& out) { r.member_up(member_of(5), endpoint_of(5), c.now, out); });
    c.act(5, [&](Registry& r, Output& out) { r.member_up(member_of(i), endpoint_of(i), c.now, out); });
  }
  CHECK(c.node(5).shard_size() > 0);
  // Every name resolves from the newcomer, which now asks itself first for the names it owns.
  for (int i = 0; i < 5; ++i) {
    for (int k = 0; k < 40; ++k) {
      CHECK(c.resolve(5, "n" + std::to_string(i) + "-" + std::to_string(k))->size() == 1);
    }
  }
  // After the handoff grace, owners that lost names to node 5 let them go; all still resolve.
  std::size_t before = 0;
  for (int i = 0; i < 6; ++i) before += c.node(i).shard_size();
  c.run_for(11s);
  std::size_t after = 0;
  for (int i = 0; i < 6; ++i) after += c.node(i).shard_size();
  CHECK(after == 200 * 3);  // each of the 200 names on its three owners only
  CHECK(after < before);
  CHECK(c.resolve(0, "n4-39")->size() == 1);
}

TEST_CASE("an announce from a member not known yet is held until it is, or dropped after a while") {
  Registry owner(config_of(0));
  Output out;
  Announce early{member_of(7), endpoint_of(7), 77, false, {{"svc", 1, "Service"}}};
  owner.receive(early, endpoint_of(7), kEpoch, out);
  CHECK(owner.shard_size() == 0);
  CHECK(owner.stats().held == 1);
  owner.member_up(member_of(7), endpoint_of(7), kEpoch + 1s, out);
  CHECK(owner.shard_size() == 1);
  CHECK(owner.answer(Lookup{1, "svc"}).instances.size() == 1);

  Registry other(config_of(0));
  other.receive(early, endpoint_of(7), kEpoch, out);
  other.tick(kEpoch + 6s, out);  // hold_unknown passed
  other.member_up(member_of(7), endpoint_of(7), kEpoch + 7s, out);
  CHECK(other.shard_size() == 0);
}

TEST_CASE("oversized batches and withdrawals for another run are refused and counted") {
  Registry owner(config_of(0));
  Output out;
  owner.member_up(member_of(1), endpoint_of(1), kEpoch, out);
  Announce big{member_of(1), endpoint_of(1), 11, false, {}};
  for (int i = 0; i < 4'097; ++i) big.names.push_back({"n" + std::to_string(i), 1, "Service"});
  owner.receive(big, endpoint_of(1), kEpoch, out);
  CHECK(owner.shard_size() == 0);
  CHECK(owner.stats().rejected == 1);

  owner.receive(Announce{member_of(1), endpoint_of(1), 11, false, {{"svc", 1, "Service"}}}, endpoint_of(1), kEpoch, out);
  owner.receive(Withdraw{member_of(1), 12, {{"svc", 1, {}}}}, endpoint_of(1), kEpoch, out);  // another run's word
  CHECK(owner.shard_size() == 1);
  CHECK(owner.stats().rejected == 2);
}

TEST_CASE("a member speaks for its own names only: announces and withdrawals about another member are refused") {
  Registry owner(config_of(0));
  Output out;
  owner.member_up(member_of(1), endpoint_of(1), kEpoch, out);
  owner.member_up(member_of(2), endpoint_of(2), kEpoch, out);
  owner.receive(Announce{member_of(1), endpoint_of(1), 11, false, {{"svc", 1, "Service"}}}, endpoint_of(1), kEpoch, out);
  REQUIRE(owner.answer(Lookup{1, "svc"}).instances.size() == 1);

  // Member 2 claims to be member 1 (at 1's endpoint, and at its own), and withdraws 1's name.
  auto ack = owner.receive(Announce{member_of(1), endpoint_of(1), 11, true, {{"svc", 9, "Fake"}}, 5}, endpoint_of(2),
                           kEpoch, out);
  REQUIRE(ack.has_value());
  CHECK(ack->result == UpdateResult::kRefused);
  owner.receive(Announce{member_of(1), endpoint_of(2), 11, true, {{"svc", 9, "Fake"}}}, endpoint_of(2), kEpoch, out);
  owner.receive(Withdraw{member_of(1), 11, {{"svc", 1, {}}}}, endpoint_of(2), kEpoch, out);
  // An announce held for a member not known yet, sent from another endpoint than the member's
  // when it joins, is dropped then.
  owner.receive(Announce{member_of(7), endpoint_of(2), 77, false, {{"other", 1, "Service"}}}, endpoint_of(2), kEpoch,
                out);
  owner.member_up(member_of(7), endpoint_of(7), kEpoch, out);

  auto svc = owner.answer(Lookup{2, "svc"}).instances;
  REQUIRE(svc.size() == 1);
  CHECK(svc[0].actor_id == 1);
  CHECK(svc[0].endpoint == endpoint_of(1));
  CHECK(owner.answer(Lookup{3, "other"}).instances.empty());
  CHECK(owner.stats().rejected == 4);
}

TEST_CASE("a restarted node's announces replace its earlier run's entries") {
  Cluster c(4);
  c.act(3, [&](Registry& r, Output& out) {
    r.add_local("old-only", 1, "Service", c.now, out);
    r.add_local("kept", 2, "Service", c.now, out);
  });
  c.restart(3, 2);
  c.act(3, [&](Registry& r, Output& out) { r.add_local("kept", 20, "Service", c.now, out); });
  auto kept = c.resolve(0, "kept");
  REQUIRE(kept->size() == 1);
  CHECK(kept->front().actor_id == 20);
  CHECK(kept->front().node_id == config_of(3, 2).node_id);
  // Owners of "kept" that also held "old-only" dropped it with the earlier run; the resync
  // clears it from the others.
  c.run_for(31s);
  CHECK(c.resolve(1, "old-only")->empty());
}

// The owners of "svc" as node 0 sees them, and a node that is not one of them.
struct Owners {
  std::vector<std::string> members;
  int outsider = 0;
};
Owners owners_of(Cluster& c, const std::string& name) {
  Owners o{c.node(0).placement().owners(name, 3), 0};
  while (std::find(o.members.begin(), o.members.end(), member_of(o.outsider)) != o.members.end()) ++o.outsider;
  return o;
}

Config no_resync(int i, std::uint64_t run) {
  Config c = config_of(i, run);
  c.resync_interval = std::chrono::hours(10);
  return c;
}

TEST_CASE("updates lost with their connection reach the owner as soon as it is reachable again, with no resync") {
  Cluster c(5, no_resync);
  c.run_for(2s);  // past every node's first resync (at a phase of its own, within a second here)
  auto owners = owners_of(c, "svc");
  for (const auto& o : owners.members) {
    if (o != member_of(1)) c.unreachable.insert(o);
  }
  // An announce, then a withdraw and an announce of a new actor: all lost for those owners.
  c.act(1, [&](Registry& r, Output& out) { r.add_local("svc", 3, "Service", c.now, out); });
  c.act(1, [&](Registry& r, Output& out) { r.remove_local("svc", 3, c.now, out); });
  c.act(1, [&](Registry& r, Output& out) { r.add_local("svc", 4, "Service", c.now, out); });
  CHECK(c.node(1).stats().unacknowledged > 0);
  CHECK(c.node(1).repairs_pending() == c.unreachable.size());
  c.unreachable.clear();
  // No time passes: the reconnection alone brings each owner the names it owns.
  for (const auto& o : owners.members) {
    int i = index_of_member(o);
    c.act(1, [&](Registry& r, Output& out) { r.reachable(endpoint_of(i), c.now, out); });
  }
  CHECK(c.node(1).repairs_pending() == 0);
  for (const auto& o : owners.members) {
    int i = index_of_member(o);
    auto found = c.node(i).answer(Lookup{0, "svc"}).instances;
    REQUIRE(found.size() == 1);
    CHECK(found.front().actor_id == 4);
  }
  CHECK(c.node(1).unanswered_updates() == 0);
}

TEST_CASE("with no news of the connection, a repair is tried again after a backoff that doubles up to its maximum") {
  Cluster c(4, no_resync);
  c.run_for(2s);
  auto owners = owners_of(c, "svc");
  const std::string& owner = owners.members.front() == member_of(0) ? owners.members[1] : owners.members.front();
  c.unreachable.insert(owner);
  c.act(0, [&](Registry& r, Output& out) { r.add_local("svc", 3, "Service", c.now, out); });
  const auto before = c.node(0).stats().repairs;
  // Repairs at 100, 300, 700, 1500, 3100, 5100 ms (backoff 100 ms doubling, at most 2 s).
  c.run_for(1'600ms);
  CHECK(c.node(0).stats().repairs - before == 4);
  c.run_for(4'000ms);
  CHECK(c.node(0).stats().repairs - before == 6);
  c.unreachable.clear();
  c.run_for(2s);
  CHECK(c.node(0).stats().repairs - before == 7);
  CHECK(c.node(0).repairs_pending() == 0);
  int i = index_of_member(owner);
  CHECK(c.node(i).answer(Lookup{0, "svc"}).instances.size() == 1);
  // Answered: the next loss is repaired after the shortest backoff again.
  c.unreachable.insert(owner);
  c.act(0, [&](Registry& r, Output& out) { r.add_local("svc2", 5, "Service", c.now, out); });
  c.unreachable.clear();
  c.run_for(150ms);
  CHECK(c.node(0).repairs_pending() == 0);
}

TEST_CASE("an update whose answer never comes (its owner stalled) is repaired after update_timeout") {
  Cluster c(4, no_resync);
  c.run_for(2s);
  auto owners = owners_of(c, "svc");
  for (const auto& o : owners.members) {
    if (o != member_of(0)) c.silent.insert(o);
  }
  c.act(0, [&](Registry& r, Output& out) { r.add_local("svc", 3, "Service", c.now, out); });
  c.silent.clear();
  const auto known = c.resolve(owners.outsider, "svc")->size();  // node 0's own shard, if an owner
  c.run_for(4s);
  CHECK(c.node(0).stats().repairs == 0);
  c.run_for(2s);  // update_timeout (5 s) passed, then the backoff
  CHECK(c.node(0).stats().repairs > 0);
  for (const auto& o : owners.members) {
    int i = index_of_member(o);
    CHECK(c.node(i).answer(Lookup{0, "svc"}).instances.size() == 1);
  }
  CHECK(known <= 1);
  CHECK(c.node(0).unanswered_updates() == 0);
}

TEST_CASE("an owner that does not know the sender yet holds its announce, and the sender repeats it until it does") {
  // Node 3 sees nobody (its view lags): the others announce to it, and it holds what they say.
  Cluster c(4, no_resync);
  c.run_for(2s);
  c.act(3, [&](Registry& r, Output& out) {
    for (int j = 0; j < 3; ++j) r.member_down(member_of(j), c.now, out);
  });
  for (int k = 0; k < 40; ++k) {
    c.act(1, [&](Registry& r, Output& out) { r.add_local("n" + std::to_string(k), 1, "Service", c.now, out); });
  }
  c.run_for(3s);  // the held announces expire (hold_unknown: 5 s) only later; repairs meanwhile
  CHECK(c.node(3).stats().held > 0);
  CHECK(c.node(1).stats().repairs > 0);
  CHECK(c.node(3).shard_size() == 0);
  c.run_for(10s);  // held ones expired: the repairs are what is left
  c.act(3, [&](Registry& r, Output& out) { r.member_up(member_of(1), endpoint_of(1), c.now, out); });
  std::size_t owned = 0;
  for (int k = 0; k < 40; ++k) owned += c.node(1).placement().owns(member_of(3), "n" + std::to_string(k), 3);
  CHECK(c.node(3).shard_size() == owned);
  c.run_for(3s);
  CHECK(c.node(3).shard_size() == owned);
  CHECK(c.node(1).repairs_pending() == 0);
}

Config answers_never_awaited(int i, std::uint64_t run) {
  Config c = config_of(i, run);
  c.update_timeout = std::chrono::hours(10);
  return c;
}

TEST_CASE("the periodic resync still repairs what nothing reported lost, as a last line of defence") {
  Cluster c(4, answers_never_awaited);
  auto owners = owners_of(c, "svc");
  for (const auto& o : owners.members) c.silent.insert(o);
  c.act(0, [&](Registry& r, Output& out) { r.add_local("svc", 3, "Service", c.now, out); });
  c.silent.clear();
  CHECK(c.resolve(owners.outsider, "svc")->size() <= 1);
  c.run_for(31s);
  CHECK(c.resolve(owners.outsider, "svc")->size() == 1);
}

TEST_CASE("a member gone needs no repair") {
  Cluster c(4, no_resync);
  c.run_for(2s);
  c.unreachable.insert(member_of(2));
  c.act(0, [&](Registry& r, Output& out) {
    for (int k = 0; k < 20; ++k) r.add_local("n" + std::to_string(k), 1, "Service", c.now, out);
  });
  CHECK(c.node(0).repairs_pending() == 1);
  c.down(member_of(2));
  CHECK(c.node(0).repairs_pending() == 0);
  const auto repairs = c.node(0).stats().repairs;
  c.run_for(10s);
  CHECK(c.node(0).stats().repairs == repairs);
  CHECK(c.node(0).unanswered_updates() == 0);
}

TEST_CASE("a member declared dead and back before it knew it gets its names back at its owners at once") {
  // A false death it refuted: the others dropped its names, and it has no event of its own.
  Cluster c(5, no_resync);
  c.act(4, [&](Registry& r, Output& out) { r.add_local("svc", 9, "Service", c.now, out); });
  REQUIRE(members_serving(c.resolve(0, "svc")) == std::set<std::string>{member_of(4)});
  for (int i = 0; i < 4; ++i) c.act(i, [&](Registry& r, Output& out) { r.member_down(member_of(4), c.now, out); });
  for (int i = 0; i < 4; ++i) CHECK(c.resolve(i, "svc")->empty());
  c.now += 5s;
  for (int i = 0; i < 4; ++i) {
    c.act(i, [&](Registry& r, Output& out) { r.member_up(member_of(4), endpoint_of(4), c.now, out); });
  }
  for (int i = 0; i < 4; ++i) {
    CAPTURE(i);
    CHECK(members_serving(c.resolve(i, "svc")) == std::set<std::string>{member_of(4)});
  }
}

TEST_CASE("an owner restarted before anyone declared it dead gets its share at once, and its old run's names go") {
  Cluster c(5, no_resync);
  c.act(4, [&](Registry& r, Output& out) { r.add_local("svc", 9, "Service", c.now, out); });
  const auto owners = c.node(0).placement().owners("svc", 3);
  std::string restarted = owners.front() == member_of(4) ? owners[1] : owners.front();
  const int o = index_of_member(restarted);
  c.act(o, [&](Registry& r, Output& out) { r.add_local("old-run", 1, "Service", c.now, out); });
  for (int i = 0; i < 5; ++i) REQUIRE(c.resolve(i, "old-run")->size() == 1);  // cached everywhere

  c.restart(o, 2);  // a new run, with an empty shard and no names
  CHECK(c.node(o).answer(Lookup{1, "svc"}).instances.empty());
  for (int i = 0; i < 5; ++i) {
    if (i == o) continue;
    c.act(i, [&](Registry& r, Output& out) { r.member_restarted(restarted, endpoint_of(o), c.now, out); });
  }
  CHECK(members_serving(c.node(o).answer(Lookup{1, "svc"}).instances) ==
        std::set<std::string>{member_of(4)});
  for (int i = 0; i < 5; ++i) {
    CAPTURE(i);
    CHECK(c.node(i).cached("old-run", c.now) == nullptr);
    CHECK(c.resolve(i, "old-run")->empty());
    CHECK(members_serving(c.resolve(i, "svc")) == std::set<std::string>{member_of(4)});
  }
}

}  // namespace pulsing::registry
