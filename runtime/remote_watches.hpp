// The watches that cross the network, one class per side.
//   WatchedActors   on the watched node: which callers wait for which local actor's stop.
//   WatchingActors  on the watcher's node: one request per (node, actor), however many watch.
// Either side's memory is bounded by what is alive: a watch is forgotten when the actor stops,
// when the caller's connection closes, or when the watcher's node is declared dead, and a
// caller repeating a watch adds no local watch, only its correlation (at most
// `max_per_caller` watches per caller, beyond which a watch is refused and counted).
// Thread-safety: every member may be called from any thread; no lock is held while a callback
// or a reply runs.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "messaging/transport.hpp"
#include "messaging/value.hpp"
#include "runtime/actor_cell.hpp"
#include "runtime/future.hpp"

namespace pulsing::detail {

class ReplySlot;

// A stop notice on the wire: {address, name, reason, error (a failure, or null)}.
Value stop_notice_to_value(const StopNotice& notice);
// Throws (ConversionError, std::invalid_argument) on a value of another shape.
StopNotice stop_notice_from_value(const Value& value);

class WatchedActors : public std::enable_shared_from_this<WatchedActors> {
 public:
  // How a watcher learns the outcome: the reply to its request `correlation`, sent to `caller`.
  using Reply = std::function<void(Transport::Peer& caller, std::uint64_t correlation, Result<Value> notice)>;
  // Turns a stop notice (or the failure of the local watch) into the reply's payload.
  using Encode = std::function<Result<Value>(Result<StopNotice>)>;
  WatchedActors(std::size_t max_per_caller, Reply reply, Encode encode)
      : max_per_caller_(max_per_caller), reply_(std::move(reply)), encode_(std::move(encode)) {}

  std::size_t max_per_caller() const { return max_per_caller_; }
  // `caller` (its connection) waits for `cell` to stop, as request `correlation`. False (and
  // counted) when the caller holds max_per_caller() watches already: refuse the request.
  bool add(const std::shared_ptr<ActorCell>& cell, std::shared_ptr<Transport::Peer> caller, std::uint64_t correlation);
  // The connection of the caller `identity` closed: its watches go, unanswered.
  void caller_gone(const std::string& identity);
  // The node at `endpoint` was declared dead: the watches of its callers go.
  void node_dead(const std::string& endpoint);
  // Watches held, all callers together; watches refused so far.
  std::size_t size() const;
  std::uint64_t refused() const { return refused_.load(std::memory_order_relaxed); }

 private:
  struct Watcher {
    std::shared_ptr<Transport::Peer> caller;
    std::uint64_t correlation;
  };
  void stopped(std::uint64_t actor, const Result<StopNotice>& notice);
  // REQUIRES: mutex_ held. Takes `w` off its caller's count and the total.
  void forget_locked(const Watcher& w);
  // REQUIRES: mutex_ held. Drops the watchers whose caller `drop` selects.
  template <typename Drop>
  void erase_locked(Drop drop);

  const std::size_t max_per_caller_;
  const Reply reply_;
  const Encode encode_;
  std::atomic<std::uint64_t> refused_{0};
  mutable std::mutex mutex_;
  // Every actor with a local watch armed (until it stops), and who waits for it.
  std::unordered_map<std::uint64_t, std::vector<Watcher>> by_actor_;  // guarded by mutex_
  std::unordered_map<std::string, std::size_t> per_caller_;           // guarded by mutex_
  std::size_t size_ = 0;                                              // guarded by mutex_
};

class WatchingActors {
 public:
  // Sends the one request for a (node, actor) pair: its outcome goes to `fan_out`.
  using Send = std::function<void(std::shared_ptr<ReplySlot> fan_out)>;

  // `slot` gets the stop notice of actor `actor` at `endpoint`. The first watcher of the pair
  // sends the request (`send`); later ones wait for its answer.
  void add(const std::string& endpoint, std::uint64_t actor, std::shared_ptr<ReplySlot> slot, const Send& send);
  // Pairs watched (requests outstanding).
  std::size_t size() const;

 private:
  class FanOut;
  using Key = std::pair<std::string, std::uint64_t>;
  void deliver(const Key& key, const Result<Value>& outcome);

  mutable std::mutex mutex_;
  std::map<Key, std::vector<std::shared_ptr<ReplySlot>>> waiting_;  // guarded by mutex_
};

}  // namespace pulsing::detail
