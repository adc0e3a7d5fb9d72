#include "membership/membership.hpp"

#include <doctest/doctest.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <optional>
#include <set>
#include <stdexcept>
#include <string>
#include <utility>
#include <variant>
#include <vector>

namespace pulsing::membership {
namespace {

using std::chrono::milliseconds;
using namespace std::chrono_literals;

const Clock::time_point kEpoch = Clock::time_point{} + std::chrono::hours(1);

std::string name_of(int i) { return "node-" + std::to_string(i); }
std::string address_of(int i) { return "10.0.0." + std::to_string(i) + ":7946"; }

// Fast timers so that a scenario spans a few virtual seconds; the rest are the defaults.
Config test_config(int i) {
  Config c;
  c.name = name_of(i);
  c.address = address_of(i);
  c.cluster = "test";
  c.random_seed = 1'000 + static_cast<std::uint64_t>(i);
  c.probe_interval = 100ms;
  c.probe_timeout = 20ms;
  c.gossip_interval = 20ms;
  c.push_pull_interval = 1s;
  c.gossip_to_the_dead = 1s;
  c.reap_after = 3s;
  c.join_retry_min = 50ms;
  c.join_retry_max = 800ms;
  return c;
}

// Bounds derived from the config, the way the protocol documents its timers.
//
// A suspicion lasts between suspicion_mult × max(1, log10 n) × probe_interval and
// suspicion_max_multiplier times that.
milliseconds suspicion_min(const Config& c, std::size_t n) {
  double scale = std::max(1.0, std::log10(static_cast<double>(n)));
  return milliseconds(static_cast<long long>(c.suspicion_mult * scale * static_cast<double>(c.probe_interval.count())));
}
milliseconds suspicion_max(const Config& c, std::size_t n) { return suspicion_min(c, n) * c.suspicion_max_multiplier; }
// Randomised round-robin: a member is probed within any two consecutive rounds of n − 1 probes,
// and a probe fails at the end of its interval; intervals stretch by up to the awareness maximum.
milliseconds detection_bound(const Config& c, std::size_t n) {
  return c.probe_interval * c.awareness_max_multiplier * static_cast<long long>(2 * (n - 1) + 1);
}

struct Seen {
  Clock::time_point at;
  EventKind kind;
  Member member;
};

// A few Membership instances wired together: packets are delivered in order by address with no
// delay, and virtual time jumps from one due timer to the next.
class Harness {
 public:
  Clock::time_point now = kEpoch;
  // A packet on its way, and the address it comes from.
  struct Sent : Outgoing {
    std::string from;
  };
  // Packets for which this returns true are lost (besides those of silenced nodes); it sees
  // every packet sent.
  std::function<bool(const Sent&)> lose;

  // Starts a node now, replacing any earlier one of the same name (a restart).
  void start(Config config, std::vector<std::string> seeds = {}) {
    auto it = std::find_if(nodes_.begin(), nodes_.end(), [&](const Node& n) { return n.m->self().name == config.name; });
    if (it == nodes_.end()) it = nodes_.insert(nodes_.end(), Node{});
    it->m = std::make_unique<Membership>(std::move(config));
    it->events.clear();
    Output out;
    it->m->start(now, std::move(seeds), out);
    absorb(*it, out);
    drain();
  }

  Membership& node(int i) { return *at(i).m; }

  // Everything to or from a silenced address is lost, as with a crash or a partition.
  void silence(int i) { silenced_.insert(address_of(i)); }
  void restore(int i) { silenced_.erase(address_of(i)); }
  // Node i's process is gone but its host runs: whoever sends to it hears "port unreachable".
  void refuse(int i) { refusing_.insert(address_of(i)); }

  // Calls into node i (leave, update_meta) and carries out what it returns.
  template <typename F>
  void act(int i, F&& f) {
    Output out;
    f(*at(i).m, out);
    absorb(at(i), out);
    drain();
  }

  // Hands node i a hand-made packet as if it came from `from`; returns what the node produced.
  Output inject(int i, Packet packet, const std::string& from) {
    Output out;
    at(i).m->receive(packet, from, now, out);
    Output produced = out;
    absorb(at(i), out);
    drain();
    return produced;
  }

  // Advances to the next due timer, if it is not past `limit` (else to `limit`).
  bool step(Clock::time_point limit) {
    drain();
    auto next = Clock::time_point::max();
    for (const auto& n : nodes_) next = std::min(next, n.m->next_timer());
    if (next > limit) {
      now = std::max(now, limit);
      return false;
    }
    if (next <= now) {
      // A timer that stays due after tick() would spin forever.
      if (++steps_at_now_ > 10'000) FAIL("a timer does not advance");
    } else {
      steps_at_now_ = 0;
      now = next;
    }
    for (auto& n : nodes_) {
      if (n.m->next_timer() > now) continue;
      Output out;
      n.m->tick(now, out);
      absorb(n, out);
    }
    drain();
    return true;
  }

  void run_for(Clock::duration d) {
    auto until = now + d;
    while (step(until)) {
    }
  }

  // Runs until `done` holds or `within` has passed; true if it held.
  template <typename Done>
  bool run_until(Done done, Clock::duration within) {
    auto until = now + within;
    while (!done()) {
      if (!step(until)) return done();
    }
    return true;
  }

  void clear_events() {
    for (auto& n : nodes_) n.events.clear();
  }
  const std::vector<Seen>& events(int i) { return at(i).events; }
  // What node `observer` reported about node `subject`, in order.
  std::vector<EventKind> kinds_about(int observer, int subject) {
    std::vector<EventKind> kinds;
    for (const auto& e : at(observer).events) {
      if (e.member.name == name_of(subject)) kinds.push_back(e.kind);
    }
    return kinds;
  }
  std::optional<Clock::time_point> when(int observer, int subject, EventKind kind) {
    for (const auto& e : at(observer).events) {
      if (e.member.name == name_of(subject) && e.kind == kind) return e.at;
    }
    return std::nullopt;
  }
  std::optional<MemberState> state(int observer, int subject) {
    return at(observer).m->state_of(name_of(subject));
  }

 private:
  struct Node {
    std::unique_ptr<Membership> m;
    std::vector<Seen> events;
  };

  Node& at(int i) {
    auto it = std::find_if(nodes_.begin(), nodes_.end(), [&](const Node& n) { return n.m->self().name == name_of(i); });
    if (it == nodes_.end()) FAIL("no node ", name_of(i));
    return *it;
  }

  void absorb(Node& n, Output& out) {
    for (auto& e : out.events) n.events.push_back({now, e.kind, e.member});
    for (auto& p : out.packets) in_flight_.push_back({std::move(p), n.m->self().address});
  }

  void drain() {
    int delivered = 0;
    while (!in_flight_.empty()) {
      if (++delivered > 100'000) FAIL("packets keep bouncing");
      Sent o = std::move(in_flight_.front());
      in_flight_.pop_front();
      if (lose && lose(o)) continue;
      if (silenced_.contains(o.to) || silenced_.contains(o.from)) continue;
      if (refusing_.contains(o.to)) {
        auto sender = std::find_if(nodes_.begin(), nodes_.end(), [&](const Node& n) { return n.m->self().address == o.from; });
        if (sender == nodes_.end()) continue;
        Output out;
        sender->m->unreachable(o.to, now, out);
        absorb(*sender, out);
        continue;
      }
      auto it = std::find_if(nodes_.begin(), nodes_.end(), [&](const Node& n) { return n.m->self().address == o.to; });
      if (it == nodes_.end()) continue;  // nobody there
      Output out;
      it->m->receive(o.packet, o.from, now, out);
      absorb(*it, out);
    }
  }

  std::vector<Node> nodes_;
  std::deque<Sent> in_flight_;
  std::set<std::string> silenced_;
  std::set<std::string> refusing_;
  int steps_at_now_ = 0;
};

bool all_alive(Harness& h, int n) {
  for (int i = 0; i < n; ++i) {
    if (h.node(i).live_count() != static_cast<std::size_t>(n)) return false;
    for (int j = 0; j < n; ++j) {
      if (h.state(i, j) != MemberState::kAlive) return false;
    }
  }
  return true;
}

// Joining completes at the first exchange with the seed; the others hear of the newcomer by
// gossip, or at the latest by push-pull.
Clock::duration join_bound(const Config& c) { return c.join_retry_max + 2 * c.push_pull_interval; }

// Node 0 founds the cluster; nodes 1..n-1 join through it. Events so far are forgotten.
void form_cluster(Harness& h, int n, Config (*config)(int) = test_config) {
  h.start(config(0));
  for (int i = 1; i < n; ++i) h.start(config(i), {address_of(0)});
  REQUIRE(h.run_until([&] { return all_alive(h, n); }, join_bound(config(0))));
  h.clear_events();
}

// A packet of the harness's cluster.
Packet test_packet(std::vector<Message> messages) { return Packet{"test", std::move(messages)}; }

}  // namespace

TEST_CASE("nodes joining through a seed all see each other alive") {
  Harness h;
  h.start(test_config(0));
  h.start(test_config(1), {address_of(0)});
  h.start(test_config(2), {address_of(0)});

  REQUIRE(h.run_until([&] { return all_alive(h, 3); }, join_bound(test_config(0))));
  for (int i = 0; i < 3; ++i) {
    CAPTURE(i);
    CHECK(h.node(i).joined());
    CHECK(h.node(i).live_count() == 3);
    CHECK(h.node(i).members().size() == 3);
    for (int j = 0; j < 3; ++j) {
      CAPTURE(j);
      // Exactly one joined event for each other member, and nothing else in a healthy cluster.
      CHECK(h.kinds_about(i, j) == (i == j ? std::vector<EventKind>{} : std::vector<EventKind>{EventKind::kJoined}));
    }
  }
  // The joined event carries what the newcomer announced.
  auto joined = h.events(1);
  auto it = std::find_if(joined.begin(), joined.end(), [](const Seen& e) { return e.member.name == name_of(2); });
  REQUIRE(it != joined.end());
  CHECK(it->member.address == address_of(2));
  CHECK(it->member.state == MemberState::kAlive);
}

TEST_CASE("a joiner repeats neither its seed's answer nor its own news, which its seed spreads") {
  // Packets of two or three members: the seed's answer comes in parts.
  auto config = [](int i) {
    Config c = test_config(i);
    c.max_packet_bytes = 400;
    return c;
  };
  Harness h;
  form_cluster(h, 3, +config);
  h.run_for(test_config(0).gossip_interval * 50);  // the join's news has run out everywhere
  std::set<std::string> gossiped;  // the members node 3 sent alive messages about
  h.lose = [&](const Harness::Sent& o) {
    if (o.from == address_of(3)) {
      for (const auto& m : o.packet.messages) {
        if (const auto* a = std::get_if<Alive>(&m)) gossiped.insert(a->who->name);
      }
    }
    return false;
  };
  h.start(config(3), {address_of(0)});
  REQUIRE(h.run_until([&] { return all_alive(h, 4); }, join_bound(config(0))));
  h.run_for(config(0).gossip_interval * 50);
  CHECK(gossiped.empty());
}

TEST_CASE("a joiner that gossip missed learns of the nodes that joined with it by one more exchange") {
  auto config = [](int i) {
    Config c = test_config(i);
    c.push_pull_interval = std::chrono::minutes(1);  // out of the way
    c.join_sync_after = 100ms;
    return c;
  };
  Harness h;
  form_cluster(h, 3, +config);
  // Node 3 hears of node 4 by no gossip, only by exchanges of full state.
  h.lose = [](const Harness::Sent& o) {
    if (o.to != address_of(3)) return false;
    return std::any_of(o.packet.messages.begin(), o.packet.messages.end(), [](const Message& m) {
      const auto* a = std::get_if<Alive>(&m);
      return a != nullptr && a->who->name == name_of(4);
    });
  };
  h.start(config(3), {address_of(0)});
  h.start(config(4), {address_of(0)});
  CHECK(h.run_until([&] { return h.state(3, 4) == MemberState::kAlive; }, 2 * config(0).join_sync_after));
  CHECK(h.run_until([&] { return all_alive(h, 5); }, join_bound(config(0))));
}

TEST_CASE("a node that stops answering is suspected, then declared dead, by every survivor") {
  Harness h;
  form_cluster(h, 3);
  auto crash = h.now;
  h.silence(2);

  Config c = test_config(0);
  auto bound = detection_bound(c, 3) + suspicion_max(c, 3) + 2 * c.gossip_interval;
  CHECK(h.run_until([&] { return h.state(0, 2) == MemberState::kDead && h.state(1, 2) == MemberState::kDead; },
                    bound));
  for (int i : {0, 1}) {
    CAPTURE(i);
    CHECK(h.kinds_about(i, 2) == std::vector<EventKind>{EventKind::kSuspect, EventKind::kDead});
    CHECK(h.kinds_about(i, 1 - i).empty());  // the survivors do not accuse each other
    CHECK(h.node(i).live_count() == 2);
    CHECK(h.node(i).joined());
    auto suspected = h.when(i, 2, EventKind::kSuspect);
    REQUIRE(suspected.has_value());
    CHECK(*suspected - crash <= detection_bound(c, 3));
  }
}

TEST_CASE("every survivor's own failed probe confirms the suspicion, well before the longest timeout") {
  // Lifeguard: independent suspicions shorten the timeout. Four nodes expect one confirmation;
  // each survivor probes the crashed node itself, so each has one once its probe fails.
  auto config = [](int i) {
    Config c = test_config(i);
    c.awareness_max_multiplier = 1;  // no stretching: keeps the detection bound tight
    c.suspicion_max_multiplier = 10;
    c.push_pull_interval = 1min;  // a push-pull would confirm as well: keep it out of the window
    c.retransmit_mult = 4;        // and gossip reaches everyone: what is measured is the confirming
    return c;
  };
  Harness h;
  form_cluster(h, 4, +config);
  auto crash = h.now;
  h.silence(3);

  Config c = config(0);
  // All three survivors' probes have failed by the detection bound; the confirmations they
  // gossip bring every timeout down to the minimum.
  auto bound = detection_bound(c, 4) + suspicion_min(c, 4) + 3 * c.gossip_interval;
  REQUIRE(bound < suspicion_max(c, 4));
  h.run_until([&] { return h.state(0, 3) == MemberState::kDead && h.state(1, 3) == MemberState::kDead &&
                           h.state(2, 3) == MemberState::kDead; },
              suspicion_max(c, 4) + detection_bound(c, 4));
  for (int i : {0, 1, 2}) {
    CAPTURE(i);
    auto dead = h.when(i, 3, EventKind::kDead);
    REQUIRE(dead.has_value());
    CHECK(*dead - crash <= bound);
  }
}

// Node 2 of 3 goes silent (`refusing`: its host answers "port unreachable") at now; returns
// how long after the first ping to it one of the others suspected it.
Clock::duration first_ping_to_suspicion(Harness& h, bool refusing) {
  std::optional<Clock::time_point> first_ping;
  h.lose = [&](const Harness::Sent& o) {
    bool ping = o.to == address_of(2) && std::any_of(o.packet.messages.begin(), o.packet.messages.end(),
                                                     [](const Message& m) { return std::holds_alternative<Ping>(m); });
    if (ping && !first_ping) first_ping = h.now;
    return false;
  };
  refusing ? h.refuse(2) : h.silence(2);
  REQUIRE(h.run_until([&] { return h.state(0, 2) == MemberState::kSuspect || h.state(1, 2) == MemberState::kSuspect; },
                      detection_bound(test_config(0), 3)));
  h.lose = nullptr;
  REQUIRE(first_ping.has_value());
  return h.now - *first_ping;
}

TEST_CASE("a probe fails as soon as every member asked has nacked, before the end of its interval") {
  Harness h;
  form_cluster(h, 3);
  // Ping, no ack within the probe timeout, an indirect probe whose nack comes one more timeout
  // later: the interval (100 ms) is not waited out.
  CHECK(first_ping_to_suspicion(h, false) <= 2 * test_config(0).probe_timeout);
  CHECK(h.node(0).stats().nacks_received + h.node(1).stats().nacks_received >= 1);
}

TEST_CASE("a crashed process whose host refuses its packets is suspected within the probe that reaches it") {
  Harness h;
  form_cluster(h, 3);
  // The refusal starts the indirect probe at once, the relay nacks at once: only the fallback
  // probe's timeout is waited for.
  CHECK(first_ping_to_suspicion(h, true) == test_config(0).probe_timeout);
  CHECK(h.node(0).stats().unreachable + h.node(1).stats().unreachable >= 2);
  // And then dead everywhere, as after any failed probe.
  Config c = test_config(0);
  CHECK(h.run_until([&] { return h.state(0, 2) == MemberState::kDead && h.state(1, 2) == MemberState::kDead; },
                    suspicion_max(c, 3) + 2 * c.gossip_interval));
}

TEST_CASE("a refusal from an address nobody probes changes nothing") {
  Harness h;
  form_cluster(h, 3);
  h.act(0, [&](Membership& m, Output& out) {
    m.unreachable("10.9.9.9:1", h.now, out);
    m.unreachable(address_of(1), h.now, out);  // not the target of a probe under way
  });
  h.run_for(test_config(0).probe_interval * 10);
  CHECK(all_alive(h, 3));
}

TEST_CASE("a lost ping does not accuse a member heard from at a newer incarnation since") {
  // Two nodes, so that no indirect probe can save the ping.
  Harness h;
  form_cluster(h, 2);
  bool lost = false;
  h.lose = [&](const Harness::Sent& o) {
    bool ping = o.to == address_of(1) &&
                std::any_of(o.packet.messages.begin(), o.packet.messages.end(),
                            [](const Message& m) { return std::holds_alternative<Ping>(m); });
    if (lost || !ping) return false;
    lost = true;  // only this one
    return true;
  };
  Config c = test_config(0);
  REQUIRE(h.run_until([&] { return lost; }, detection_bound(c, 2)));

  // While node 0 waits for that ack, node 1 announces new metadata, and node 0 hears of it.
  h.act(1, [&](Membership& m, Output& out) { m.update_meta({{"role", "worker"}}, h.now, out); });
  REQUIRE(h.run_until([&] { return h.node(0).find(name_of(1))->incarnation == 1; }, c.probe_interval / 2));
  REQUIRE(h.state(0, 1) == MemberState::kAlive);  // the probe has not timed out yet

  // The probe asked about incarnation 0; incarnation 1 is newer news of life.
  h.run_for(detection_bound(c, 2) + suspicion_max(c, 2));
  CHECK(h.kinds_about(0, 1) == std::vector<EventKind>{EventKind::kUpdated});
  CHECK(h.node(1).stats().refutations == 0);
  CHECK(h.node(1).self().incarnation == 1);
}

TEST_CASE("a wrongly suspected node refutes and is never declared dead") {
  Harness h;
  form_cluster(h, 3);
  std::uint64_t before = h.node(2).self().incarnation;
  // Both others hear a suspicion about node 2 at its current incarnation, as after a lost ack.
  h.inject(0, test_packet({Suspect{name_of(2), before, name_of(1)}}), address_of(1));
  h.inject(1, test_packet({Suspect{name_of(2), before, name_of(0)}}), address_of(0));
  CHECK(h.state(0, 2) == MemberState::kSuspect);
  CHECK(h.state(1, 2) == MemberState::kSuspect);

  Config c = test_config(0);
  CHECK(h.run_until([&] { return h.state(0, 2) == MemberState::kAlive && h.state(1, 2) == MemberState::kAlive; },
                    suspicion_min(c, 3)));
  CHECK(h.node(2).self().incarnation > before);
  CHECK(h.node(2).stats().refutations >= 1);
  for (int i : {0, 1}) {
    CAPTURE(i);
    CHECK(h.kinds_about(i, 2) == std::vector<EventKind>{EventKind::kSuspect, EventKind::kAlive});
    CHECK(h.node(i).find(name_of(2))->incarnation == h.node(2).self().incarnation);
  }

  // Long past every suspicion timeout: still nobody has declared it dead.
  h.run_for(detection_bound(c, 3) + suspicion_max(c, 3));
  for (int i : {0, 1}) {
    CAPTURE(i);
    CHECK(h.kinds_about(i, 2) == std::vector<EventKind>{EventKind::kSuspect, EventKind::kAlive});
    CHECK(h.state(i, 2) == MemberState::kAlive);
  }
}

TEST_CASE("a node that leaves is reported left, not dead, even once it is gone") {
  Harness h;
  form_cluster(h, 3);
  h.act(2, [&](Membership& m, Output& out) { m.leave(h.now, out); });
  CHECK(h.node(2).self().state == MemberState::kLeft);

  Config c = test_config(0);
  h.run_for(5 * c.gossip_interval);  // as a driver keeps the node running a little
  for (int i : {0, 1}) {
    CAPTURE(i);
    CHECK(h.kinds_about(i, 2) == std::vector<EventKind>{EventKind::kLeft});
    CHECK(h.state(i, 2) == MemberState::kLeft);
    CHECK(h.node(i).live_count() == 2);
  }

  // Then it stops. Long past any probe and suspicion timeout, the others still say it left.
  h.silence(2);
  h.run_for(detection_bound(c, 3) + suspicion_max(c, 3));
  for (int i : {0, 1}) {
    CAPTURE(i);
    CHECK(h.kinds_about(i, 2) == std::vector<EventKind>{EventKind::kLeft});
    CHECK(h.kinds_about(i, 1 - i).empty());
    CHECK(h.node(i).live_count() == 2);
  }
}

TEST_CASE("the farewell goes once in each packet a leaving node sends") {
  // A second copy in the same packet tells the receiver nothing, and spends the gossip budget
  // meant for members the farewell has not reached yet.
  Harness h;
  form_cluster(h, 3);
  Output out;
  h.node(2).leave(h.now, out);
  REQUIRE_FALSE(out.packets.empty());
  for (const auto& o : out.packets) {
    CAPTURE(o.to);
    auto farewells = std::count_if(o.packet.messages.begin(), o.packet.messages.end(), [](const Message& m) {
      return std::holds_alternative<Dead>(m) && std::get<Dead>(m).name == name_of(2);
    });
    CHECK(farewells == 1);
  }
}

TEST_CASE("packets of another cluster are ignored and counted") {
  Harness h;
  form_cluster(h, 2);
  auto before = h.node(0).stats();
  Output out = h.inject(
      0,
      Packet{"elsewhere",
             {Alive{make_identity("stranger", "10.9.9.9:7946"), 5}, Ping{1, name_of(0)}}},
      "10.9.9.9:7946");

  CHECK(out.packets.empty());  // not even an ack
  CHECK(out.events.empty());
  CHECK(!h.node(0).find("stranger"));
  CHECK(h.node(0).live_count() == 2);
  CHECK(h.node(0).stats().foreign_packets == before.foreign_packets + 1);
  CHECK(h.node(0).stats().packets_received == before.packets_received + 1);
}

TEST_CASE("a ping for another member is not acked and is counted") {
  Harness h;
  form_cluster(h, 2);
  auto before = h.node(0).stats().misdirected_pings;
  Output out = h.inject(0, test_packet({Ping{77, "somebody-else"}}), address_of(1));
  for (const auto& o : out.packets) {
    for (const auto& m : o.packet.messages) CHECK_FALSE(std::holds_alternative<Ack>(m));
  }
  CHECK(h.node(0).stats().misdirected_pings == before + 1);
}

TEST_CASE("messages older than what is known are ignored and counted") {
  Harness h;
  form_cluster(h, 3);
  Metadata fresh{{"endpoint", "tcp://10.0.0.1:7001"}};
  h.act(1, [&](Membership& m, Output& out) { m.update_meta(fresh, h.now, out); });
  REQUIRE(h.run_until([&] { return h.node(0).find(name_of(1))->incarnation == 1; }, join_bound(test_config(0))));
  h.clear_events();

  auto stale_before = h.node(0).stats().stale_messages;
  Output out = h.inject(0,
                        test_packet({Alive{make_identity(name_of(1), address_of(1)), 0}, Suspect{name_of(1), 0, name_of(2)},
                                        Dead{name_of(1), 0, name_of(2)}}),
                        address_of(2));

  CHECK(h.node(0).stats().stale_messages == stale_before + 3);
  CHECK(out.events.empty());
  auto m = h.node(0).find(name_of(1));
  REQUIRE(m.has_value());
  CHECK(m->state == MemberState::kAlive);
  CHECK(m->incarnation == 1);
  CHECK(m->meta == fresh);
}

TEST_CASE("gossip at an incarnation far beyond any honest one is refused and counted, and its member stays alive") {
  // The forgery an outsider could send: node 2 is dead (or left) at incarnation 2^64-1, which no
  // refutation could outrank. It, and a suspicion or an alive at 2^64-1, change nothing.
  Harness h;
  form_cluster(h, 3);
  h.clear_events();
  const Member before = *h.node(0).find(name_of(2));
  const auto refused_before = h.node(0).stats().incredible_incarnations;
  constexpr std::uint64_t kTop = UINT64_MAX;
  Output out = h.inject(0,
                        test_packet({Dead{name_of(2), kTop, name_of(2)}, Dead{name_of(2), kTop, name_of(1)},
                                     Suspect{name_of(2), kTop, name_of(1)},
                                     Alive{make_identity(name_of(2), "10.6.6.6:7946"), kTop}}),
                        address_of(1));
  CHECK(out.events.empty());
  CHECK(*h.node(0).find(name_of(2)) == before);
  CHECK(h.node(0).stats().incredible_incarnations == refused_before + 4);

  // Said about node 2 to node 2 itself: no refutation to 2^64-1 + 1 = 0.
  const auto self_before = h.node(2).self().incarnation;
  h.inject(2, test_packet({Dead{name_of(2), kTop, name_of(1)}}), address_of(1));
  CHECK(h.node(2).self().incarnation == self_before);
  CHECK(h.node(2).stats().refutations == 0);
}

TEST_CASE("a refutation of the highest credible incarnation goes one higher") {
  Harness h;
  form_cluster(h, 2);
  const std::uint64_t high = (std::uint64_t{1} << 47);  // within the headroom: an honest word
  h.inject(1, test_packet({Suspect{name_of(1), high, name_of(0)}}), address_of(0));
  CHECK(h.node(1).self().incarnation == high + 1);
  CHECK(h.node(1).stats().incredible_incarnations == 0);
}

TEST_CASE("news repeated at the incarnation already known is ignored but not counted as stale") {
  // Gossip and push-pull repeat what everyone knows all the time; only older news is stale.
  Harness h;
  form_cluster(h, 3);
  const Member known = *h.node(0).find(name_of(1));
  auto stale_before = h.node(0).stats().stale_messages;
  Output out = h.inject(0, test_packet({Alive{make_identity(known.name, known.address, known.meta), known.incarnation}}),
                        address_of(2));
  CHECK(out.events.empty());
  CHECK(*h.node(0).find(name_of(1)) == known);
  CHECK(h.node(0).stats().stale_messages == stale_before);
}

TEST_CASE("a node restarted with a higher incarnation after being declared dead is alive again") {
  Harness h;
  form_cluster(h, 3);
  h.silence(2);
  Config c = test_config(0);
  REQUIRE(h.run_until([&] { return h.state(0, 2) == MemberState::kDead && h.state(1, 2) == MemberState::kDead; },
                      detection_bound(c, 3) + suspicion_max(c, 3)));
  h.clear_events();

  Config again = test_config(2);
  again.run = 1'000;  // the driver passes the wall clock: later than any earlier run
  again.random_seed = 77;
  h.start(again, {address_of(0)});
  h.restore(2);

  CHECK(h.run_until([&] { return all_alive(h, 3); }, join_bound(c)));
  for (int i : {0, 1}) {
    CAPTURE(i);
    CHECK(h.kinds_about(i, 2) == std::vector<EventKind>{EventKind::kJoined});
    CHECK(h.node(i).find(name_of(2))->incarnation == first_incarnation(1'000));
  }
  CHECK(h.node(2).self().incarnation == first_incarnation(1'000));  // nothing about the old run made it refute
}

TEST_CASE("a node back at a new address before anyone noticed is restarted, not rejoined") {
  Harness h;
  form_cluster(h, 3);
  Config moved = test_config(2);
  moved.address = "10.0.1.2:7946";
  moved.run = 1'000;
  h.start(moved, {address_of(0)});

  auto moved_at = [&](int i) { return h.node(i).find(name_of(2))->address == moved.address; };
  CHECK(h.run_until([&] { return moved_at(0) && moved_at(1); }, join_bound(moved)));
  h.run_for(detection_bound(moved, 3));  // probes now go to the new address, and are answered

  // The seed hears it first-hand. Node 1 may probe the old address before the news reaches it
  // and suspect the old run, which is fair; but nobody declares the node dead.
  CHECK(h.kinds_about(0, 2) == std::vector<EventKind>{EventKind::kRestarted});
  for (int i : {0, 1}) {
    CAPTURE(i);
    auto kinds = h.kinds_about(i, 2);
    CHECK(std::find(kinds.begin(), kinds.end(), EventKind::kDead) == kinds.end());
    CHECK(h.state(i, 2) == MemberState::kAlive);
    CHECK(h.node(i).find(name_of(2))->incarnation == first_incarnation(1'000));
  }
  CHECK(h.node(2).stats().refutations == 0);
}

// Timings under which nothing but the mechanism tested exchanges full state.
Config no_push_pull(int i) {
  Config c = test_config(i);
  c.push_pull_interval = std::chrono::hours(1);
  c.join_sync_after = std::chrono::hours(1);
  return c;
}

TEST_CASE("members that stayed up meet seeds that restarted together, at once, and report them restarted") {
  // A mass restart of the seeds: their new runs know only each other, and nothing the others
  // send says who they are but their pings.
  Harness h;
  form_cluster(h, 4, +no_push_pull);
  h.run_for(1s);  // the news of the joins has been gossiped out: only probes go between nodes
  for (int i : {0, 1}) {
    Config again = no_push_pull(i);
    again.run = 1'000;
    h.start(again, i == 0 ? std::vector<std::string>{} : std::vector<std::string>{address_of(0)});
  }
  REQUIRE(h.run_until([&] { return h.node(1).joined(); }, join_bound(no_push_pull(0))));

  const Config c = no_push_pull(0);
  auto new_runs_known = [&] {
    for (int i : {2, 3}) {
      for (int j : {0, 1}) {
        if (run_of(h.node(i).find(name_of(j))->incarnation) != 1'000) return false;
      }
    }
    return true;
  };
  CHECK(h.run_until([&] { return all_alive(h, 4) && new_runs_known(); }, detection_bound(c, 4)));
  CHECK(h.node(0).stats().strangers_met + h.node(1).stats().strangers_met > 0);
  for (int i : {2, 3}) {
    for (int j : {0, 1}) {
      CAPTURE(i);
      CAPTURE(j);
      CHECK(h.kinds_about(i, j) == std::vector<EventKind>{EventKind::kRestarted});
      CHECK(run_of(h.node(i).find(name_of(j))->incarnation) == 1'000);
    }
  }
}

TEST_CASE("a suspicion of a node's earlier run is answered with its new run, and the accuser tells it of itself") {
  Harness h;
  form_cluster(h, 3, +no_push_pull);
  const std::uint64_t earlier = h.node(2).self().incarnation;
  Config again = no_push_pull(2);
  again.run = 1'000;
  h.start(again);  // no seeds: it knows nobody

  Output answer = h.inject(2, test_packet({Suspect{name_of(2), earlier, name_of(0)}}), address_of(0));
  CHECK(h.node(2).stats().earlier_run_answers == 1);
  CHECK(h.node(2).stats().refutations == 0);  // nothing to refute: the accusation is of another run
  bool alive_sent = false;
  for (const auto& o : answer.packets) {
    for (const auto& m : o.packet.messages) {
      const auto* a = std::get_if<Alive>(&m);
      alive_sent |= o.to == address_of(0) && a != nullptr && a->who->name == name_of(2) &&
                    a->incarnation == first_incarnation(1'000);
    }
  }
  CHECK(alive_sent);
  // Node 0 heard of the restart and told the new run of itself.
  CHECK(h.kinds_about(0, 2) == std::vector<EventKind>{EventKind::kRestarted});
  CHECK(h.state(2, 0) == MemberState::kAlive);
  CHECK(h.run_until([&] { return all_alive(h, 3); }, detection_bound(no_push_pull(0), 3)));
}

// Whether `out` sends `to` an alive message of node `subject` at `incarnation`.
bool sends_alive(const Output& out, const std::string& to, int subject, std::uint64_t incarnation) {
  for (const auto& o : out.packets) {
    for (const auto& m : o.packet.messages) {
      const auto* a = std::get_if<Alive>(&m);
      if (o.to == to && a != nullptr && a->who->name == name_of(subject) && a->incarnation == incarnation) return true;
    }
  }
  return false;
}

TEST_CASE("an accused node answers its accuser straight away, also when it had refuted already") {
  Harness h;
  form_cluster(h, 3, +no_push_pull);
  const std::uint64_t before = h.node(2).self().incarnation;

  Output first = h.inject(2, test_packet({Suspect{name_of(2), before, name_of(0)}}), address_of(0));
  CHECK(h.node(2).self().incarnation == before + 1);
  CHECK(sends_alive(first, address_of(0), 2, before + 1));

  // The same suspicion again, from a member that missed the refutation: nothing to refute, but
  // the sender hears of it.
  Output again = h.inject(2, test_packet({Dead{name_of(2), before, name_of(0)}}), address_of(1));
  CHECK(h.node(2).self().incarnation == before + 1);
  CHECK(h.node(2).stats().refutations == 1);
  CHECK(sends_alive(again, address_of(1), 2, before + 1));
  CHECK(h.node(2).stats().accusations_answered == 2);
}

TEST_CASE("a suspicion or death older than what a node knows is answered with its newer word") {
  Harness h;
  form_cluster(h, 3, +no_push_pull);
  h.act(1, [&](Membership& m, Output& out) { m.update_meta({{"role", "b"}}, h.now, out); });
  const std::uint64_t now_at = h.node(1).self().incarnation;
  REQUIRE(h.run_until([&] { return h.node(0).find(name_of(1))->incarnation == now_at; }, join_bound(test_config(0))));

  Output out = h.inject(0, test_packet({Suspect{name_of(1), now_at - 1, name_of(2)}, Dead{name_of(1), now_at - 1, name_of(2)}}),
                        address_of(2));
  CHECK(sends_alive(out, address_of(2), 1, now_at));
  CHECK(h.node(0).stats().stale_news_answered == 1);  // one answer for the packet
  CHECK(h.state(0, 1) == MemberState::kAlive);

  // News at the incarnation known is news, not stale: no answer.
  Output fresh = h.inject(0, test_packet({Suspect{name_of(1), now_at, name_of(2)}}), address_of(2));
  CHECK_FALSE(sends_alive(fresh, address_of(2), 1, now_at));
  CHECK(h.node(0).stats().stale_news_answered == 1);
}

TEST_CASE("a suspicion is put to the suspect before its verdict, and a suspect that missed no word of it lives") {
  // Node 0 suspects node 2 and misses every word of node 2's refutation (gossip, acks, others'
  // answers) until it has put the suspicion to node 2 itself: node 2's answer to that is what
  // keeps it alive at node 0.
  Harness h;
  form_cluster(h, 3, +no_push_pull);
  auto carries_alive_of_2 = [](const Harness::Sent& s) {
    return std::any_of(s.packet.messages.begin(), s.packet.messages.end(), [](const Message& m) {
      const auto* a = std::get_if<Alive>(&m);
      return a != nullptr && a->who->name == name_of(2);
    });
  };
  h.lose = [&](const Harness::Sent& s) {
    return s.to == address_of(0) && carries_alive_of_2(s) && h.node(0).stats().suspicions_challenged == 0;
  };
  const std::uint64_t before = h.node(2).self().incarnation;
  h.inject(0, test_packet({Suspect{name_of(2), before, name_of(1)}}), address_of(1));
  REQUIRE(h.state(0, 2) == MemberState::kSuspect);

  const Config c = no_push_pull(0);
  CHECK(h.run_until([&] { return h.state(0, 2) == MemberState::kAlive; }, suspicion_max(c, 3)));
  CHECK(h.node(0).stats().suspicions_challenged == 1);
  CHECK(h.kinds_about(0, 2) == std::vector<EventKind>{EventKind::kSuspect, EventKind::kAlive});
  CHECK(h.node(0).find(name_of(2))->incarnation > before);
}

TEST_CASE("a suspicion that ends before its challenge is not put to the suspect") {
  Harness h;
  form_cluster(h, 3, +no_push_pull);
  const std::uint64_t before = h.node(2).self().incarnation;
  h.inject(0, test_packet({Suspect{name_of(2), before, name_of(1)}}), address_of(1));
  REQUIRE(h.run_until([&] { return h.state(0, 2) == MemberState::kAlive; }, suspicion_min(no_push_pull(0), 3)));
  h.run_for(suspicion_max(no_push_pull(0), 3));
  CHECK(h.node(0).stats().suspicions_challenged == 0);
}

TEST_CASE("a node whose seed is unreachable stays alone, retries with growing gaps, and joins when the seed appears") {
  Harness h;
  Config c = test_config(1);
  h.start(c, {address_of(0)});  // nobody at node 0's address yet

  std::vector<Clock::time_point> attempts{h.now};
  REQUIRE(h.node(1).stats().join_attempts == 1);
  auto until = h.now + 6 * c.join_retry_max;
  bool alone_throughout = true;
  while (h.step(until)) {
    if (h.node(1).stats().join_attempts > attempts.size()) attempts.push_back(h.now);
    alone_throughout = alone_throughout && !h.node(1).joined() && h.node(1).live_count() == 1;
  }
  CHECK(alone_throughout);
  CHECK(h.node(1).stats().join_attempts == attempts.size());
  REQUIRE(attempts.size() >= 7);
  // The wait doubles from join_retry_min and then stays at join_retry_max.
  Clock::duration expected = c.join_retry_min;
  for (std::size_t i = 1; i < attempts.size(); ++i) {
    CAPTURE(i);
    CHECK(attempts[i] - attempts[i - 1] == expected);
    expected = std::min<Clock::duration>(2 * expected, c.join_retry_max);
  }
  CHECK(attempts.back() - attempts[attempts.size() - 2] == c.join_retry_max);

  h.start(test_config(0));  // the seed comes up
  CHECK(h.run_until([&] { return h.node(1).joined(); }, c.join_retry_max));
  CHECK(h.run_until([&] { return all_alive(h, 2); }, join_bound(c)));
  CHECK(h.kinds_about(1, 0) == std::vector<EventKind>{EventKind::kJoined});
  CHECK(h.kinds_about(0, 1) == std::vector<EventKind>{EventKind::kJoined});
}

TEST_CASE("a node left alone by deaths looks for the cluster again through its seeds") {
  Harness h;
  form_cluster(h, 2);
  h.silence(0);
  Config c = test_config(1);
  REQUIRE(h.run_until([&] { return h.state(1, 0) == MemberState::kDead; },
                      detection_bound(c, 2) + suspicion_max(c, 2)));
  CHECK_FALSE(h.node(1).joined());
  auto attempts = h.node(1).stats().join_attempts;
  h.run_for(2 * c.join_retry_max);
  CHECK(h.node(1).stats().join_attempts > attempts);

  Config again = test_config(0);
  again.run = 1'000;
  h.start(again);
  h.restore(0);
  CHECK(h.run_until([&] { return all_alive(h, 2); }, join_bound(c)));
  CHECK(h.node(1).joined());
}

TEST_CASE("dead members are forgotten after reap_after, live ones stay") {
  Harness h;
  form_cluster(h, 3);
  h.silence(2);
  Config c = test_config(0);
  REQUIRE(h.run_until([&] { return h.state(0, 2) == MemberState::kDead && h.state(1, 2) == MemberState::kDead; },
                      detection_bound(c, 3) + suspicion_max(c, 3)));
  auto dead0 = *h.when(0, 2, EventKind::kDead);
  auto dead1 = *h.when(1, 2, EventKind::kDead);

  // Just before either could forget it, both still list it as dead.
  h.run_for(std::min(dead0, dead1) + c.reap_after - 1ms - h.now);
  for (int i : {0, 1}) {
    CAPTURE(i);
    CHECK(h.state(i, 2) == MemberState::kDead);
  }

  // Reaping runs with gossip: one interval after the deadline it is gone at both.
  h.run_for(std::max(dead0, dead1) + c.reap_after + c.gossip_interval - h.now);
  for (int i : {0, 1}) {
    CAPTURE(i);
    CHECK(!h.node(i).find(name_of(2)));
    CHECK(h.node(i).members().size() == 2);
    CHECK(h.state(i, 1 - i) == MemberState::kAlive);
  }
}

TEST_CASE("new metadata spreads to every member as an update") {
  Harness h;
  form_cluster(h, 3);
  Metadata meta{{"endpoint", "tcp://10.0.0.1:7001"}, {"role", "worker"}};
  h.act(1, [&](Membership& m, Output& out) { m.update_meta(meta, h.now, out); });
  CHECK(h.node(1).self().meta == meta);

  auto seen = [&](int i) { return h.node(i).find(name_of(1))->meta == meta; };
  CHECK(h.run_until([&] { return seen(0) && seen(2); }, join_bound(test_config(0))));
  for (int i : {0, 2}) {
    CAPTURE(i);
    CHECK(h.kinds_about(i, 1) == std::vector<EventKind>{EventKind::kUpdated});
    auto events = h.events(i);
    auto update = std::find_if(events.begin(), events.end(), [](const Seen& e) { return e.member.name == name_of(1); });
    REQUIRE(update != events.end());
    CHECK(update->member.meta == meta);
    CHECK(update->member.incarnation == h.node(1).self().incarnation);
  }
}

namespace {

// `entries` tags of 40 characters: size_bound() is 16 + 88 per entry (456 bytes for 5, 544 for 6).
Metadata tags(int entries) {
  Metadata meta;
  for (int i = 0; i < entries; ++i) meta["tag-" + std::to_string(i)] = std::string(40, 'x');
  return meta;
}

}  // namespace

TEST_CASE("a node whose metadata could not be gossiped refuses to start") {
  Config c = test_config(0);
  REQUIRE(size_bound(tags(5)) == 456);
  c.meta = tags(5);
  CHECK_NOTHROW(Membership{c});

  c.meta = tags(6);
  CHECK_THROWS_WITH_AS(Membership{c}, "membership: metadata of 544 bytes exceeds the limit of 512 bytes (max_meta_bytes)",
                       std::invalid_argument);

  // A larger max_meta_bytes does not let the alive message outgrow a packet.
  c.max_meta_bytes = 4'096;
  c.meta = tags(20);
  CHECK_THROWS_WITH_AS(Membership{c}, doctest::Contains("(max_packet_bytes) leaves beside this node's name"),
                       std::invalid_argument);
  c.max_packet_bytes = 4'096;
  CHECK_NOTHROW(Membership{c});

  // Nor does a name so long that its alive message leaves no room for a ping beside it.
  c = test_config(0);
  c.name = std::string(1'200, 'n');
  CHECK_THROWS_WITH_AS(Membership{c}, doctest::Contains("name (1200 bytes) and address (13 bytes) leave no room"),
                       std::invalid_argument);
}

TEST_CASE("metadata too large to gossip is refused by update_meta, and the old metadata stays announced") {
  Harness h;
  form_cluster(h, 3);
  const Metadata meta{{"role", "worker"}};
  h.act(1, [&](Membership& m, Output& out) { m.update_meta(meta, h.now, out); });
  auto seen = [&](int i) { return h.node(i).find(name_of(1))->meta == meta; };
  REQUIRE(h.run_until([&] { return seen(0) && seen(2); }, join_bound(test_config(0))));
  const std::uint64_t incarnation = h.node(1).self().incarnation;
  h.clear_events();

  h.act(1, [&](Membership& m, Output& out) {
    CHECK_THROWS_WITH_AS(m.update_meta(tags(6), h.now, out), doctest::Contains("exceeds the limit of 512 bytes"),
                         std::invalid_argument);
    CHECK(out.packets.empty());
  });
  CHECK(h.node(1).self().meta == meta);
  CHECK(h.node(1).self().incarnation == incarnation);

  // Gossip rounds and full-state exchanges go by: everyone still has the old metadata.
  h.run_for(2 * test_config(0).push_pull_interval);
  for (int i : {0, 2}) {
    CAPTURE(i);
    CHECK(h.node(i).find(name_of(1))->meta == meta);
    auto kinds = h.kinds_about(i, 1);
    CHECK(std::count(kinds.begin(), kinds.end(), EventKind::kUpdated) == 0);
  }
  CHECK(h.node(1).self().incarnation == incarnation);
}

TEST_CASE("news too large for this node's packets is not gossiped but counted, and its member is known") {
  Harness h;
  form_cluster(h, 2);
  // A peer with larger limits (or a forger) announces metadata that no packet here can carry.
  Alive news{make_identity(name_of(9), address_of(9), tags(20)), 1};
  REQUIRE(size_bound(Message{news}) > test_config(0).max_packet_bytes);
  h.inject(0, test_packet({news}), address_of(9));
  CHECK(h.state(0, 9) == MemberState::kAlive);
  CHECK(h.node(0).stats().oversized_updates == 1);
  CHECK(h.node(1).stats().oversized_updates == 0);
}

}  // namespace pulsing::membership
