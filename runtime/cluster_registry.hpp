// ClusterRegistry: this node's part of the cluster-wide name registry at work. It drives the
// registry state machine (registry/registry.hpp) with the node's membership events and the
// spawns and stops of its named actors, carries the machine's messages over the node's
// RemoteLink (kRegistry updates and kLookup, both as requests: an update's reply says whether
// its owner applied it, and a failed one has the machine repair that owner), runs its timer on
// the node's TimerService, and turns what a lookup finds into references.
//
// resolve(name) picks among a name's instances by policy (round robin, random, local first);
// the instances come from the cache (fresh for Config::cache_ttl) or from one lookup at an
// owner. This node's own instance is always among them, even before its owners know it.
//
// Thread-safety: every member may be called from any thread; the state machine sits behind one
// mutex, never held while a message is sent or a future completed; messages leave in the order
// the machine made them.
#pragma once

#include <atomic>
#include <chrono>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <random>
#include <string>
#include <unordered_map>
#include <vector>

#include "membership/member.hpp"
#include "messaging/value.hpp"
#include "registry/registry.hpp"
#include "runtime/actor_ref.hpp"
#include "runtime/future.hpp"
#include "runtime/named_ref.hpp"
#include "runtime/timer_service.hpp"

namespace pulsing::detail {

class NodeCore;

class ClusterRegistry {
 public:
  // REQUIRES: `node` has its network (remote()) and outlives this.
  ClusterRegistry(NodeCore& node, registry::Config config);

  void on_member_event(const membership::MemberEvent& event);
  // A named actor of this node started for the first time, or stopped for good.
  void add_local(const std::string& name, ActorId id, const std::string& class_name);
  void remove_local(const std::string& name, ActorId id);

  // The actor named `name` anywhere in the cluster, one instance picked by `options.pick`;
  // waits up to `options.wait` for the name to appear. Fails with kActorNotFound, or
  // TimeoutError when it waited.
  Future<AnyRef> resolve(const std::string& name, const ResolveOptions& options);
  // Every instance of `name` (this node's first), failing as resolve() does when there is none.
  Future<std::vector<AnyRef>> resolve_all(const std::string& name, std::chrono::milliseconds wait);
  // A caller found this instance gone: the cache stops offering it.
  void forget(const std::string& name, const ActorAddress& instance);

  // Inbound, from the I/O thread: a registry update from the node at endpoint `from` (as its
  // connection says), and the answer its sender is owed (a kProtocol failure when unreadable:
  // counted and dropped; refused when it speaks for another member); the answer to a lookup of
  // `name`.
  Result<Value> receive_update(const Value& payload, std::string_view from);
  void reject_update(std::string_view why);  // one whose payload did not even decode
  Value answer_lookup(const std::string& name);
  // The connection to `endpoint` is up again (after it was lost): owners there that missed
  // updates are repaired now.
  void reachable(const std::string& endpoint);

  // Fails the resolves still waiting, and every later one, with kShutdown; nothing is sent
  // afterwards. Idempotent.
  void stop();

  registry::Stats stats() const;
  std::uint64_t unreadable_updates() const { return unreadable_.load(); }

 private:
  using Instances = std::vector<registry::Instance>;
  // The live instances of `name` (cached, else looked up, waiting up to `wait`), this node's
  // own first; fails as resolve() does when there is none.
  Future<Instances> find(const std::string& name, std::chrono::milliseconds wait);
  // Which of `instances` (> 0) a resolve takes. REQUIRES: mutex_ held.
  std::size_t pick_locked(const std::string& name, std::size_t instances, Pick how);
  // Every call into the machine: runs f(now, out) under the mutex, then carries out `out`. The
  // machine's messages go out in the order it produced them (a complete announce, which
  // replaces, must never overtake an incremental one made after it): they are queued before
  // the mutex is let go, and one thread at a time drains the queue.
  template <typename F>
  void feed(F&& f);
  void queue_locked(registry::Output& out);  // REQUIRES: mutex_ held
  // Sends what is queued and completes what the machine finished. REQUIRES: mutex_ not held.
  void carry_out(registry::Output& out);
  void drain();
  void send(registry::Outgoing& message);
  void arm_timer();
  void tick();
  AnyRef reference(const std::string& name, const registry::Instance& instance);

  NodeCore& node_;
  const registry::Config config_;
  mutable std::mutex mutex_;
  registry::Registry machine_;                                                   // guarded by mutex_
  std::map<std::uint64_t, std::shared_ptr<Promise<Instances>>> lookups_;        // guarded by mutex_
  std::unordered_map<std::string, std::uint64_t> next_instance_;                // guarded by mutex_
  std::minstd_rand random_;                                                      // guarded by mutex_
  std::deque<registry::Outgoing> outbox_;                                        // guarded by mutex_
  bool draining_ = false;                                                        // guarded by mutex_
  Clock::time_point timer_at_ = Clock::time_point::max();                        // guarded by mutex_
  std::atomic<bool> stopped_{false};
  std::atomic<std::uint64_t> unreadable_{0};
};

}  // namespace pulsing::detail
