// Membership: the SWIM protocol with the Lifeguard refinements, as a pure state machine. It owns
// no socket, thread or clock: the driver (UDP and real time, or the simulator and virtual time)
// hands it packets and the time, and carries out what it returns in an Output — packets to send
// and events to report — then calls tick() again at next_timer().
//
//   failure detection  randomised round-robin probes; indirect probes through
//                      Config::indirect_checks members; suspicion before death; incarnations
//                      let a wrongly suspected member refute
//   dissemination      updates piggybacked on every packet, each sent a limited number of times
//                      (BroadcastQueue); periodic full-state exchange (push-pull)
//   Lifeguard          local health (Awareness) stretches this node's own timeouts; suspicion
//                      timeouts shrink with independent confirmations (Suspicion); indirect
//                      probers nack; a suspected member hears of it through the piggybacked
//                      suspect message and refutes at once
//   direct answers     beyond memberlist: an accused member answers its accuser with its alive
//                      message; a member that hears a suspicion or death older than its own word
//                      answers the sender with that word; a suspicion is put to the suspect once,
//                      a probe interval before its verdict. A refutation that gossip missed no
//                      longer makes a live member dead (chaos suite, pause-short).
//   joining            through seed addresses, retried with backoff until one answers; alone
//                      meanwhile (and again whenever every other member is gone)
//   restarts           a member's incarnation carries its run (member.hpp): a new run of a live
//                      member is reported restarted, not updated, and told of the detector; a
//                      new run meets members its seeds do not know through their pings
//                      (on_ping) and their accusations of its earlier run (receive)
//
// Thread-compatible: one thread drives it (the driver serialises calls).
#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <map>
#include <optional>
#include <random>
#include <set>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "membership/awareness.hpp"
#include "membership/broadcast_queue.hpp"
#include "membership/config.hpp"
#include "membership/member_table.hpp"
#include "membership/messages.hpp"
#include "membership/suspicion.hpp"

namespace pulsing::membership {

struct Outgoing {
  std::string to;  // an address ("host:port")
  Packet packet;
};

// A probe the driver should also make over a reliable channel (memberlist pings over TCP; our
// driver over the node's ZeroMQ connection): packet loss alone then causes no suspicion. When
// `target` answers there, the driver hands the state machine an Ack{seq} as if it came from it.
struct FallbackProbe {
  std::string address;
  std::string target;
  std::uint32_t seq = 0;
};

// What one call produced. The driver sends the packets and reports the events, in order.
struct Output {
  std::vector<Outgoing> packets;
  std::vector<MemberEvent> events;
  std::vector<FallbackProbe> fallback_probes;
};

// Counters for operators and tests.
struct Stats {
  std::uint64_t packets_received = 0;
  std::uint64_t foreign_packets = 0;    // another cluster's: ignored
  std::uint64_t stale_messages = 0;     // older than what is known: ignored
  std::uint64_t misdirected_pings = 0;  // for another member (an address changed hands)
  std::uint64_t probes = 0;
  std::uint64_t failed_probes = 0;      // ended in a suspicion
  std::uint64_t indirect_probes = 0;    // asked of others
  std::uint64_t nacks_received = 0;
  std::uint64_t unreachable = 0;        // ICMP reports that nothing listens at a probed address
  std::uint64_t refutations = 0;        // suspicions (or deaths) about this node it denied
  // Gossip that names an incarnation no honest member can have reached (far ahead of this
  // node's clock): forged, and refused (Membership::credible).
  std::uint64_t incredible_incarnations = 0;
  // Packets that accused an earlier run of this node (it restarted), answered with this run's
  // alive message straight to their sender.
  std::uint64_t earlier_run_answers = 0;
  // Packets that said this node (this run) is suspect or dead, answered with its alive message
  // straight to their sender.
  std::uint64_t accusations_answered = 0;
  // Packets that spread a suspicion or death of a member older than this node's word that it is
  // alive (their sender missed a refutation), answered with that word straight to the sender.
  std::uint64_t stale_news_answered = 0;
  // Suspicions this node put to the suspect itself, a probe interval before their verdict.
  std::uint64_t suspicions_challenged = 0;
  // Pings from an address no known member has, answered with a full-state exchange (on_ping).
  std::uint64_t strangers_met = 0;
  std::uint64_t push_pulls = 0;         // full-state exchanges started
  std::uint64_t join_attempts = 0;
  // Updates not gossiped because they would not fit in any packet (BroadcastQueue::push): about
  // a member whose name, address or metadata is larger than this node's packets allow (a peer
  // configured with larger limits, or a forged one). The member is still known and probed.
  std::uint64_t oversized_updates = 0;
};

// Throws std::invalid_argument, naming the size and the limit, when a node of `config` may not
// announce `meta`: its size_bound() exceeds Options::max_meta_bytes, or the node's alive message
// carrying it (with config.name and config.address) would not fit in a packet
// (max_packet_bytes, less the packet's overhead) beside a ping (of a name as long as the
// node's; an ack is smaller). Stateless; safe from any thread.
void check_meta(const Config& config, const Metadata& meta);

class Membership {
 public:
  // Throws std::invalid_argument when config.name or config.address is empty, or when
  // check_meta() refuses config.meta: a node does not start with metadata it could not gossip.
  explicit Membership(Config config);

  // Starts at `now`, alive and alone, joining through `seeds` (addresses; this node's own is
  // skipped). With no seeds this node founds a cluster that others join.
  void start(Clock::time_point now, std::vector<std::string> seeds, Output& out);
  // One packet arrived from `from` (the address it came from).
  void receive(const Packet& packet, const std::string& from, Clock::time_point now, Output& out);
  // The network reports that nothing listens at `address` (an ICMP port unreachable in answer to
  // a packet sent there): a probe of that address fails at once instead of at its timeout, and a
  // relay's target sends its nack at once. A crashed process whose host still runs is then
  // suspected within the probe that first reaches it; a silent host still takes the timeouts.
  void unreachable(const std::string& address, Clock::time_point now, Output& out);
  // Runs whatever is due at `now`. Call it at next_timer() (earlier is harmless).
  void tick(Clock::time_point now, Output& out);
  Clock::time_point next_timer() const;

  // Leaves gracefully: tells a few members now and gossips it; keep driving the state machine
  // for a few gossip intervals before stopping, so that the word spreads. Then it only answers.
  void leave(Clock::time_point now, Output& out);
  // Announces new metadata (a new incarnation carries it). Throws std::invalid_argument when
  // check_meta() refuses `meta`, and then changes nothing: the old metadata stays announced.
  void update_meta(Metadata meta, Clock::time_point now, Output& out);
  // check_meta(config, meta) with this node's config. Reads only the configuration: safe from
  // any thread, even while another drives the machine (a driver checks before handing
  // update_meta to its own thread).
  void check_meta(const Metadata& meta) const;

  // Every member known, this node included, dead and left ones until they are reaped.
  std::vector<Member> members() const;
  std::optional<Member> find(std::string_view name) const;
  // What find(name)->state says, without the copy.
  std::optional<MemberState> state_of(std::string_view name) const;
  // Alive or suspect members, this node included.
  std::size_t live_count() const { return live_ + 1; }
  // True once a seed answered (or when there were no seeds), until every other member is gone.
  bool joined() const { return joined_; }
  const Member& self() const { return self_; }
  Stats stats() const {
    Stats s = stats_;
    s.oversized_updates = broadcasts_.oversized();
    return s;
  }
  int health_score() const { return awareness_.score(); }

 private:
  using Record = MemberTable::Record;
  // The probe in progress, if any.
  struct Probe {
    std::uint32_t seq = 0;
    std::string target;
    std::uint64_t incarnation = 0;  // the target's when probed: what a failure accuses
    Clock::time_point indirect_at;  // no ack by then: ask others (and the fallback probe)
    Clock::time_point fail_at;      // no ack by then: suspect the target
    bool indirect_sent = false;
    int expected_nacks = 0;
    int nacks = 0;
  };
  // A probe run on another member's behalf.
  struct Relay {
    std::string target_address;
    std::string requester_address;
    std::uint32_t requester_seq = 0;
    bool want_nack = false;
    Clock::time_point nack_at;
  };

  // Incoming messages.
  void on_ping(const Packet& p, const Ping& m, const std::string& from, Clock::time_point now, Output& out);
  void on_indirect_ping(const IndirectPing& m, const std::string& from, Clock::time_point now, Output& out);
  void on_ack(const Ack& m, Clock::time_point now, Output& out);
  void on_nack(const Nack& m, Clock::time_point now);
  // How an alive message reached this node, which decides whether it is gossiped on.
  enum class Heard {
    kGossip,      // news is gossiped on; so is news that this node had quietly (Record::quiet)
    kStateSync,   // news is gossiped on
    kJoinAnswer,  // news to this node only: kept quiet
  };
  void on_alive(const Alive& m, Heard heard, Clock::time_point now, Output& out);
  void on_suspect(const Suspect& m, Clock::time_point now, Output& out);
  void on_dead(const Dead& m, Clock::time_point now, Output& out);
  void on_state(const StateSync& m, const std::string& from, Clock::time_point now, Output& out);

  // Timers.
  void try_join(Clock::time_point now, Output& out);
  void start_probe(Clock::time_point now, Output& out);
  void advance_probe(Clock::time_point now, Output& out);
  void expire_relays(Clock::time_point now, Output& out);
  void expire_suspicions(Clock::time_point now, Output& out);
  void gossip(Clock::time_point now, Output& out);
  void push_pull(Clock::time_point now, Output& out);
  void exchange_state(Output& out);  // with one random alive member
  void reap(Clock::time_point now);

  // Helpers.
  // False (and counted) for an incarnation beyond any honest one. Each run of a member starts
  // at first_incarnation(its wall clock in milliseconds) (Config::run) and a refutation adds
  // one, so an honest incarnation stays within kIncarnationHeadroom of first_incarnation(this
  // node's own clock). One forged 2^64-1 would otherwise outrank its member for good (its
  // refutation could not go higher): memberlist accepts it.
  bool credible(std::uint64_t incarnation, Clock::time_point now);
  // 2^58: clocks 2^38 ms (8.7 years) apart. Today's clock is about 2^61 as an incarnation, so
  // the ceiling stays below 2^64 until the year 2248.
  static constexpr std::uint64_t kIncarnationHeadroom = std::uint64_t{1} << 58;
  void refute(std::uint64_t claimed_incarnation, Output& out);
  // When a suspicion due at `deadline` is put to its suspect (expire_suspicions): a probe
  // interval before, so that the answer is back in time.
  Clock::time_point challenge_time(Clock::time_point deadline) const { return deadline - config_.probe_interval; }
  void set_state(Record& record, MemberState state, Clock::time_point now, EventKind event, Output& out);
  void suspect(Record& record, std::uint64_t incarnation, const std::string& from, Clock::time_point now, Output& out);
  Alive self_alive() const { return Alive{self_identity_, self_.incarnation}; }
  // Sends `messages` to `to`, filling the rest of the packet with pending gossip.
  void send(Output& out, const std::string& to, std::vector<Message> messages);
  void send_state(Output& out, const std::string& to, bool reply_wanted, bool join);
  int retransmit_limit() const;
  // A random span in [0, span): a timer's phase.
  std::chrono::milliseconds jitter(std::chrono::milliseconds span);
  std::chrono::milliseconds probe_interval() const { return awareness_.scale(config_.probe_interval); }
  std::chrono::milliseconds probe_timeout() const { return awareness_.scale(config_.probe_timeout); }
  // Up to `count` distinct other members chosen at random that satisfy `eligible`.
  template <typename Eligible>
  std::vector<const Record*> pick(std::size_t count, Eligible eligible);
  bool gossip_target(const Record& r, Clock::time_point now) const;
  void forget(const std::string& name);

  const Config config_;
  Member self_;
  IdentityPtr self_identity_;  // what self_alive() announces: self_'s name, address and meta
  bool leaving_ = false;
  Clock::time_point started_at_{};  // start(): this node's clock is Config::run since
  std::mt19937_64 random_;
  Awareness awareness_;
  BroadcastQueue broadcasts_;
  Stats stats_;

  MemberTable members_;  // every other member known
  std::unordered_map<std::string, Suspicion> suspicions_;  // of the suspect members
  std::size_t live_ = 0;  // alive or suspect among members_

  static constexpr std::uint32_t kForgotten = UINT32_MAX;
  std::vector<std::uint32_t> probe_order_;  // this round's order: numbers in members_, or kForgotten
  std::size_t probe_next_ = 0;
  std::optional<Probe> probe_;
  std::uint32_t next_seq_ = 1;
  std::map<std::uint32_t, Relay> relays_;  // by the seq of our own ping
  std::set<std::pair<Clock::time_point, std::string>> suspicion_deadlines_;
  // Suspicions not yet put to their suspect, by challenge_time() of their deadline.
  std::set<std::pair<Clock::time_point, std::string>> challenges_;
  std::deque<std::pair<Clock::time_point, std::string>> departed_;  // when they died or left

  std::vector<std::string> seeds_;
  bool joined_ = false;
  std::chrono::milliseconds join_backoff_{0};
  Clock::time_point next_join_;
  Clock::time_point next_probe_;
  Clock::time_point next_gossip_;
  Clock::time_point next_push_pull_;
  Clock::time_point next_join_sync_ = Clock::time_point::max();  // Config::join_sync_after
  Clock::time_point next_stranger_check_{};  // on_ping
};

}  // namespace pulsing::membership
