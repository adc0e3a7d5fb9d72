// PendingRequests: the requests a node sent to others that wait for their answer (asks,
// resolves, pings, watches, stream opens), by correlation id, each with its deadline.
//
// Every request added leaves exactly once, through the member that finds its end: take() (its
// answer came), expire() (its deadline passed), take_peer() (its node was lost) or close() (the
// node shuts down). The caller gets the request back and delivers its reply slot itself, outside
// any lock: a slot's continuation may send, or ask again.
//
// Time is the caller's: expire() is given `now`, and the one Alarm this table keeps is set to the
// earliest deadline (one timer for all requests — most are answered long before their deadline,
// and a timer per request would cost more than the request). So the table is tested on virtual
// time with an alarm that only records what it was set to.
//
// Memory: a request answered early leaves its deadline behind in the heap, to be skipped when it
// surfaces; such entries are swept once they outnumber the live ones, so the heap stays within
// twice the live requests (plus a small constant).
// Thread-safety: every member may be called from any thread. The alarm is set and cleared under
// the table's lock. REQUIRES: Alarm::set and Alarm::clear never call back into the table.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "messaging/transport.hpp"
#include "runtime/future.hpp"

namespace pulsing::detail {

class RemoteActor;

// Where the reply to a request sent to another node goes. Delivered exactly once: the reply, its
// error, a timeout, or why the request could not be answered.
class ReplySlot {
 public:
  virtual ~ReplySlot() = default;
  virtual void deliver(Result<Value> reply) = 0;
};

// What a TimeoutError names: "ask <actor>.<what>" when `actor` is set, else `what` itself.
// Formatted only if the request times out (formatting per ask would cost more than the ask).
struct RequestOperation {
  std::shared_ptr<const RemoteActor> actor;
  std::string what;
};

class PendingRequests {
 public:
  // The one timer of the table: at the time it was last set to, the owner calls expire().
  class Alarm {
   public:
    virtual ~Alarm() = default;
    // Replaces the time set before, if any.
    virtual void set(Clock::time_point when) = 0;
    virtual void clear() = 0;
  };

  struct Request {
    std::shared_ptr<ReplySlot> reply;
    const Transport::Peer* peer = nullptr;  // REQUIRES: outlives the table (peers live as long as the transport)
    std::chrono::milliseconds timeout{0};
    RequestOperation operation;
  };

  // REQUIRES: `alarm` outlives the table.
  explicit PendingRequests(Alarm& alarm) : alarm_(alarm) {}

  // Keeps `request` under `correlation` until `deadline`; moves the alarm earlier if it is due
  // first. After close(), keeps nothing and returns the request back (the caller fails it).
  // REQUIRES: `correlation` is not pending already.
  std::optional<Request> add(std::uint64_t correlation, Request request, Clock::time_point deadline);
  // The request answered by `correlation`, if it is still pending.
  std::optional<Request> take(std::uint64_t correlation);
  // The same for an answer that came from `answered_by` (an envelope's sender_endpoint): taken
  // only if the request was sent to that peer. An answer from anyone else (a forgery for a
  // guessed correlation id) leaves the request pending and sets `*foreign`.
  std::optional<Request> take_answer(std::uint64_t correlation, std::string_view answered_by, bool* foreign);
  // The requests whose deadline is `now` or earlier; the alarm moves to the next deadline.
  std::vector<Request> expire(Clock::time_point now);
  // The requests sent to the node at `endpoint`.
  std::vector<Request> take_peer(const std::string& endpoint);
  // Every pending request; from now on add() keeps nothing and the alarm stays clear. Idempotent.
  std::vector<Request> close();

  std::size_t size() const;
  // Deadlines kept in the heap, live or left behind (see Memory above).
  std::size_t deadlines_kept() const;

 private:
  using Deadline = std::pair<Clock::time_point, std::uint64_t>;  // deadline, correlation
  // REQUIRES: mutex_ held.
  void arm(Clock::time_point when);
  void sweep();

  Alarm& alarm_;
  mutable std::mutex mutex_;
  std::unordered_map<std::uint64_t, Request> pending_;  // guarded by mutex_
  std::vector<Deadline> deadlines_;                     // guarded by mutex_: a min-heap
  std::optional<Clock::time_point> armed_;              // guarded by mutex_: what the alarm is set to
  bool closed_ = false;                                 // guarded by mutex_
};

}  // namespace pulsing::detail
