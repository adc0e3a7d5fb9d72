// Registry: this node's part of the cluster-wide name registry, as a pure state machine (like
// membership/membership.hpp: no socket, thread or clock; the runtime or the simulator drives it
// and carries out its Output).
//
//   placement    the owners of a name are the top `replicas` live members by rendezvous hashing
//                (placement.hpp), as this node sees the members
//   hosting      this node is the source of truth for its own named actors: it announces them
//                to their owners, withdraws them when they stop, announces them to new owners
//                when the members change, and re-announces everything every `resync_interval`
//   returning    a member back before its names here were missed for long (a restart before it
//                was declared dead, or a false death it refuted) swaps names with this node at
//                once: a complete announce of ours it owns, asking for its own in reply
//                (Announce::reply). Without it, a false death left the member's names dropped by
//                its owners until its next resync (30 s), and a restarted owner empty until the
//                hosts' next resync
//   delivery     every Announce and Withdraw to another node is answered (UpdateAck). An owner
//                whose answer does not come (the update was lost with a connection, the owner
//                stalled, or did not know this node yet) is repaired: one complete announce of
//                the names it owns, at once when its connection is back (reachable()), else
//                after a backoff. The periodic resync is the last line of defence, not the repair
//   owning       owners keep what hosting nodes announced (the shard), answer lookups and
//                updates, and drop the entries of members that die or leave
//   resolving    fresh cache, else ask the owners in order until one knows the name; a wait
//                asks again until its deadline. Instances on members this node does not see
//                live are never returned
//
// Bounds (eventual consistency): once this node marks a member dead, no resolve here returns
// its instances; a name announced reaches its owners within one message, and a member's view
// change re-announces within one message of the event, so a live name resolves everywhere once
// membership has converged (see registry tests and the R benchmarks for measured times). An
// update lost on the way costs the time until its owner is reachable again (a reconnection),
// or `update_timeout` when nothing says it was lost — never `resync_interval`.
//
// Thread-compatible: one thread drives it (the driver serialises calls).
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "common/address.hpp"
#include "registry/messages.hpp"
#include "registry/placement.hpp"

namespace pulsing::registry {

using std::chrono::milliseconds;

// What a user chooses (NodeConfig::registry). Config adds what the node sets itself.
struct Options {
  // Owners per name: a name stays resolvable while fewer than `replicas` of its owners are
  // down at once. 3, at most the number of members.
  std::size_t replicas = 3;
  // An owner that has not answered a lookup within this is passed over for the next one.
  milliseconds lookup_timeout{1'000};
  // A resolve that waits for a name not found yet asks again this often.
  milliseconds retry_interval{100};
  // Every node re-announces all its names to their owners this often (a complete announce, so
  // an owner also drops what it no longer should have): the last line of defence for views that
  // differed; lost updates are repaired long before (update_timeout, repair_backoff_*). 30 s:
  // once per memberlist push-pull of a 100-node cluster.
  milliseconds resync_interval{30'000};
  // An owner answers each update. One unanswered this long counts as lost and its owner is
  // repaired. A lost connection reports its updates lost at once (undelivered()), so this only
  // covers a stalled owner whose connection stays up, and answers lost with it: what it stalled
  // on arrives anyway when it wakes. 5 s: longer than membership takes to declare a silent
  // member dead at its default timings (about 4 s under 10 nodes), whose names then move on.
  milliseconds update_timeout{5'000};
  // A repair (one complete announce to an owner) waits for the owner's connection to be back,
  // at most this backoff, which doubles from min to max while repairs go unanswered, and starts
  // again at min once one is answered. 100 ms: ZeroMQ's first reconnection attempt; 2 s: its
  // last interval between attempts.
  milliseconds repair_backoff_min{100};
  milliseconds repair_backoff_max{2'000};
  // A resolved name is answered from the cache this long before it is looked up again, so that
  // instances added to a pool elsewhere are seen. Entries on members gone go at once; expired
  // ones at the next resync, so the cache holds only names resolved in the last resync_interval.
  milliseconds cache_ttl{5'000};
  // An announce from a member this node does not know yet (the news of its join still on the
  // way) is held this long, waiting for the member, then dropped (its resync repeats it).
  milliseconds hold_unknown{5'000};
  // After the members change, entries of names this node no longer owns are kept this long
  // (resolvers whose view lags still ask here), then dropped.
  milliseconds handoff_grace{10'000};
  // Names per Announce or Withdraw: larger batches are refused (the sender splits its own).
  std::size_t max_batch = 4'096;
  // Held announces from unknown members, at most.
  std::size_t max_held = 256;
};

struct Config : Options {
  // This node: its membership name, where it is reached, and its run (NodeId).
  std::string member;
  std::string endpoint;
  std::uint64_t node_id = 0;
};

struct Stats {
  std::uint64_t announced = 0;   // names sent to owners
  std::uint64_t entries = 0;     // instances in this node's shard now
  std::uint64_t lookups = 0;     // started here
  std::uint64_t lookups_answered = 0;  // answered here as an owner
  std::uint64_t held = 0;        // announces held for a member not known yet
  std::uint64_t rejected = 0;    // messages refused: oversized, from a dead member, stale run,
                                 // about another member than the sender
  std::uint64_t unacknowledged = 0;  // updates sent whose owner did not answer "applied"
  std::uint64_t repairs = 0;         // complete announces sent to repair one owner
};

struct Outgoing {
  std::string to;        // a member
  std::string endpoint;  // where it is reached
  Message message;
};

// A lookup finished: the live instances of `name`, none when it was not found by its deadline.
struct Completion {
  std::uint64_t lookup = 0;
  std::string name;
  std::vector<Instance> instances;
};

struct Output {
  std::vector<Outgoing> messages;
  std::vector<Completion> completions;
};

class Registry {
 public:
  // REQUIRES: config.member and config.endpoint are not empty.
  explicit Registry(Config config);

  // Membership: `member` is live (alive or suspect) at `endpoint`, or gone (dead or left).
  void member_up(const std::string& member, const std::string& endpoint, Clock::time_point now, Output& out);
  void member_down(const std::string& member, Clock::time_point now, Output& out);
  // Membership: live `member` is back as a new run (it restarted before it was declared dead),
  // now at `endpoint`: its cached instances go, and it swaps names with this node.
  void member_restarted(const std::string& member, const std::string& endpoint, Clock::time_point now, Output& out);

  // This node's actors. False when `name` is already served on this node (nothing changes).
  bool add_local(const std::string& name, std::uint64_t actor_id, const std::string& class_name, Clock::time_point now,
                 Output& out);
  void remove_local(const std::string& name, std::uint64_t actor_id, Clock::time_point now, Output& out);

  // The cached live instances of `name` if fresh at `now`, else null. The pointer is valid
  // until the next non-const call.
  const std::vector<Instance>* cached(std::string_view name, Clock::time_point now) const;
  // A caller found this instance of `name` gone (its node unreachable, its actor stopped): the
  // cache stops offering it, so the next resolve looks the name up again if none is left.
  void forget_cached(std::string_view name, std::uint64_t node_id, std::uint64_t actor_id);
  // Starts a lookup of `name` (id returned); it completes in some Output's completions: with the
  // instances an owner knows, or with none at `deadline` (asked again every retry_interval
  // until then; a deadline of `now` asks each owner once).
  std::uint64_t lookup(const std::string& name, Clock::time_point deadline, Clock::time_point now, Output& out);
  // The owner `to` of lookup `lookup` cannot be reached: ask the next one now.
  void undeliverable(std::uint64_t lookup, const std::string& to, Clock::time_point now, Output& out);

  // A message from another node, which its connection says is the node at endpoint `from`. An
  // Announce or Withdraw returns the UpdateAck its sender is owed (when it carries an id); other
  // messages return nothing. Lookups are answered with answer() instead. A node speaks for its
  // own names only: an Announce whose endpoint is not `from`, or names a member at another
  // endpoint, and a Withdraw for a member not at `from`, are refused (kRefused; Stats::rejected).
  std::optional<UpdateAck> receive(const Message& message, std::string_view from, Clock::time_point now, Output& out);
  LookupAnswer answer(const Lookup& lookup);
  // Update `id` (an Announce or Withdraw this node sent) cannot have arrived: its connection
  // failed or the transport gave up on it. Its owner is repaired (see next_timer()).
  void undelivered(std::uint64_t id, Clock::time_point now);
  // The connection to `endpoint` is up again: owners there waiting for a repair get it now.
  void reachable(const std::string& endpoint, Clock::time_point now, Output& out);

  void tick(Clock::time_point now, Output& out);
  Clock::time_point next_timer() const;

  const Placement& placement() const { return placement_; }
  std::size_t local_count() const { return local_.size(); }
  std::size_t shard_size() const { return shard_.size(); }
  std::size_t cache_size() const { return cache_.size(); }
  std::size_t unanswered_updates() const { return unacked_.size(); }
  // Owners waiting for a repair.
  std::size_t repairs_pending() const;
  const Stats& stats() const { return stats_; }

 private:
  struct Host {  // a member that announced names here
    std::string endpoint;
    std::uint64_t node_id = 0;
  };
  struct Entry {
    std::uint32_t host;        // index in hosts_
    std::uint32_t class_name;  // index in class_names_
    std::uint64_t actor_id;
  };
  struct CacheEntry {
    std::vector<Instance> instances;
    Clock::time_point expires;
  };
  struct Pending {
    std::string name;
    Clock::time_point deadline;
    std::vector<std::string> owners;  // this round's, in order
    std::size_t next = 0;             // the owner asked now is owners[next - 1]
    Clock::time_point answer_by;      // then ask the next
    Clock::time_point retry_at = Clock::time_point::max();  // between rounds
  };
  struct Held {
    Announce announce;
    Clock::time_point until;
  };

  UpdateResult on_announce(const Announce& m, std::string_view from, Clock::time_point now);
  UpdateResult on_withdraw(const Withdraw& m, std::string_view from);
  void apply(const Announce& m);
  void apply(const Withdraw& m);
  // Delivery: records update `id` to `to` as awaiting its answer.
  std::uint64_t track(const std::string& to, Clock::time_point now);
  void on_ack(const UpdateAck& ack, Clock::time_point now);
  // An update to `owner` did not arrive, or may not have: schedules a repair.
  void lost(const std::string& owner, Clock::time_point now);
  // A complete announce of our names `owner` owns; `ask`: asking for its names we own in reply.
  void repair(const std::string& owner, Clock::time_point now, Output& out, bool ask = false);
  // Whether `member` went down here within the last resync_interval (and forgets it).
  bool returning(const std::string& member, Clock::time_point now);
  void run_repairs(Clock::time_point now, Output& out);
  void on_answer(const LookupAnswer& m, Clock::time_point now, Output& out);
  void ask_next(std::uint64_t id, Pending& p, Clock::time_point now, Output& out);
  void finish(std::uint64_t id, const std::string& name, std::vector<Instance> instances, Output& out);
  std::vector<Instance> live_instances(std::string_view name) const;
  // Announces every local name to its owners, completely (Config::resync_interval).
  void resync(Clock::time_point now, Output& out);
  struct Local;
  void refresh_owners(const std::string& name, Local& local) const;
  void send_names(const std::string& to, bool complete, std::vector<NamedActor> names, Clock::time_point now,
                  Output& out, bool ask = false);
  std::uint32_t host_index(const std::string& member);
  std::uint32_t class_index(const std::string& class_name);
  void drop_host(const std::string& member);
  // Drops `member`'s instances from the cache (and the names left with none).
  void uncache(const std::string& member);
  std::string endpoint_of(const std::string& member) const;

  const Config config_;
  Placement placement_;
  std::unordered_map<std::string, std::string> endpoints_;  // live members' endpoints
  Stats stats_;

  // Hosting: this node's names, and the owners each was last announced to.
  struct Local {
    std::uint64_t actor_id = 0;
    std::string class_name;
    std::vector<std::string> owners;  // as last announced
    Placement::Rank last;             // the rank of owners.back(): a newcomer above it is an owner
  };
  std::map<std::string, Local, std::less<>> local_;
  Clock::time_point next_resync_;

  // Delivery: updates awaiting their owner's answer, by id (ids and deadlines grow together),
  // and the owners due for a repair.
  struct Unacked {
    std::string owner;
    Clock::time_point deadline;
  };
  std::map<std::uint64_t, Unacked> unacked_;
  std::uint64_t next_update_ = 1;
  struct Repair {
    Clock::time_point at = Clock::time_point::max();  // max: none due
    unsigned failures = 0;                             // repairs since one was answered
  };
  std::unordered_map<std::string, Repair> repairs_;  // by owner
  // Members that went down here, and when, for resync_interval: one back sooner may not have
  // re-announced its names since (returning()). At most kMaxGone.
  std::unordered_map<std::string, Clock::time_point> gone_;
  static constexpr std::size_t kMaxGone = 4'096;

  // Owning.
  std::vector<Host> hosts_;  // by index; a member gone leaves its index free for reuse
  std::vector<std::string> host_names_;  // by index, empty when free
  std::vector<std::uint32_t> free_hosts_;
  std::unordered_map<std::string, std::uint32_t> host_by_name_;
  std::unordered_map<std::string, std::vector<Entry>> shard_;
  // Class names, each kept once (a shard holds many names of few classes).
  std::vector<std::string> class_names_;
  std::unordered_map<std::string, std::uint32_t> class_index_;
  std::deque<Held> held_;
  Clock::time_point prune_at_ = Clock::time_point::max();

  // Resolving.
  std::unordered_map<std::string, CacheEntry> cache_;
  std::map<std::uint64_t, Pending> pending_;
  std::uint64_t next_lookup_ = 1;
};

}  // namespace pulsing::registry
