// ActorCell: the runtime side of one actor — its mailboxes, its current instance, its
// supervisor, its suspended coroutine handlers and stream producers, and its watchers.
// The user's Actor object comes and goes (crash, restart); the cell, and so the actor's id, name
// and references, stays.
//
// Two mailboxes: `system` (resumptions of suspended handlers, stop, restart, stream steps) is
// always served first and even while a non-reentrant handler is suspended; `user` (asks, tells,
// stream starts) is served in FIFO order when the actor can take a new message.
//
// Back-pressure: when a user mailbox holds more than `capacity` messages, an actor that sends to
// it is muted (not scheduled again) after its current message, until the mailbox drains to half;
// a user's thread that sends to it waits (at most the ask timeout; the runtime's own threads
// never wait, common/thread_role.hpp). Senders on other nodes are
// muted likewise, through their RemoteLink (add_muted). Muted senders stay muted while the actor
// waits out a restart backoff; they are let go when a non-reentrant handler has been suspended
// for kSuspensionGrace (it may await one of them: a deadlock then costs that long). The hard bound: a mailbox holds at most kLimitFactor ×
// capacity messages; one posted past it is refused (rejected as kOverloaded) — an ask fails at
// once, a tell is a dead letter that says so. One exception: an actor not muted yet gets one
// message past the bound, and is muted by it (see admits_past_bound). So memory stays bounded
// however fast, or however many, senders are: by the bound plus one message per sending actor.
//
// Thread-safety: post*(), request_stop(), watch() and the accessors from any thread; the rest
// only inside the actor's turn, on the worker running it (marked REQUIRES: in turn).
#pragma once

#include <atomic>
#include <coroutine>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "common/spin_lock.hpp"
#include "messaging/error.hpp"
#include "runtime/actor.hpp"
#include "runtime/future.hpp"
#include "runtime/mailbox.hpp"
#include "runtime/mute_list.hpp"
#include "runtime/node_context.hpp"
#include "runtime/scheduler.hpp"
#include "runtime/task.hpp"
#include "supervision/supervisor.hpp"

namespace pulsing {

class MethodTable;

enum class StopReason : std::uint8_t {
  kStopped,   // stopped by request (ref.stop(), node.stop(name)) or by itself
  kCrashed,   // a crash, and the policy (or max_restarts) said no more restarts
  kShutdown,  // its node shut down
  kPassivated,  // an entity that went idle, or moved to another node (runtime/entity_host.hpp)
};
std::string_view to_string(StopReason reason);

// What a watcher learns when an actor stops for good.
struct StopNotice {
  ActorAddress address;
  std::string name;
  StopReason reason = StopReason::kStopped;
  std::optional<Failure> error;  // the crash, for kCrashed
};

namespace detail {

class ActorCell final : public Runnable,
                        public ResumeTarget,
                        public Muted,
                        public std::enable_shared_from_this<ActorCell> {
 public:
  using Factory = std::function<std::unique_ptr<Actor>()>;

  // REQUIRES: `first` is a freshly built instance from `factory`. The factory is kept only
  // under a restart policy (it rebuilds the instance).
  ActorCell(std::shared_ptr<NodeContext> node, ActorId id, std::string name, const MethodTable& methods,
            Factory factory, std::unique_ptr<Actor> first, const SpawnOptions& options);
  ~ActorCell();

  // A mailbox holds at most this many times its capacity (see above).
  static constexpr std::uint32_t kLimitFactor = 4;
  // How long a suspended non-reentrant handler keeps the senders it muted muted (see above). Long
  // against a handler's usual awaits (a reply, a short sleep: bench/README.md workload N1 awaits
  // 1 ms per message), short against an ask timeout.
  static constexpr std::chrono::milliseconds kSuspensionGrace{100};

  // --- any thread ---
  // Queues a user message, applying back-pressure (see above), or refuses it past the hard
  // bound. Takes ownership.
  void post(Message* message);
  // Queues a tell, as post() does; a burst of them may be pushed together. In an actor's turn,
  // the second and later tells in a row to one target are held back on the thread and pushed as
  // one chain (a single atomic exchange on the target's mailbox, instead of one per tell that
  // senders on other cores fight over): when the message being handled is done, when the actor
  // posts anything else, before it waits on a future, at kSendBatch tells, or with the next tell
  // once kSendHold has passed. Order per sender and target is kept. Takes ownership.
  void post_tell(Message* message);
  // Pushes the tells this thread holds back (see post_tell), if any.
  static void flush_sends();
  // Tells held back at most (see post_tell).
  static constexpr std::uint32_t kSendBatch = 64;
  // Queues every message of `chain` at once (leaving it empty), without waiting for room: for
  // the network's I/O thread, which checks the bound (room_for) and mutes its senders instead.
  // `on_pool`: if this schedules the actor, a pool worker runs it, even when the caller is a
  // guest (see Scheduler::schedule_on_pool).
  void post(MessageChain& chain, bool on_pool);
  // The user mailbox holds more than its capacity (approximate).
  bool over_capacity() const { return capacity_ != 0 && user_.depth() > capacity_; }
  // Whether `more` messages still fit under the hard bound (approximate).
  bool room_for(std::uint64_t more) const { return limit_ == 0 || user_.depth() + more <= limit_; }
  // Keeps `sender` muted until this mailbox drains to half (or the actor stops, or suspends a
  // non-reentrant handler): for senders on other nodes.
  void add_muted(std::shared_ptr<Muted> sender);
  // How mute_current() went.
  enum class Mute : std::uint8_t {
    kNoActor,       // no actor's turn runs on this thread: a thread must wait instead
    kMuted,         // the actor is muted now, on `receiver`'s list
    kAlreadyMuted,  // it was muted already in this turn (on this list or another): nothing done
  };
  // Mutes the actor whose turn runs on this thread until `receiver` lets it go: it is not
  // scheduled again after its current message.
  static Mute mute_current(MuteList& receiver);
  // The failures of a message this actor will not run: it has stopped / it is past its bound.
  Failure stopped_failure() const;
  Failure overloaded_failure() const;
  // User messages waiting (approximate).
  std::size_t queued() const { return user_.depth(); }
  // Queues a system message. Takes ownership.
  void post_system(Message* message);
  // Starts the actor (runs on_start); called once by the node after registering it.
  void start();
  // Stops the actor for good, whatever its policy; queued messages fail with ActorStopped.
  void request_stop(StopReason reason = StopReason::kStopped);
  // Completes when the actor stops for good.
  Future<StopNotice> watch();

  // --- entities (runtime/entity_host.hpp) ---
  // Makes the actor an entity: held (user messages wait) until activate(); the messages it has
  // not run when it stops go to `redirect`, which takes them, instead of failing.
  // REQUIRES: once, before anything is posted to it, instead of start().
  void make_entity(std::function<void(ActorCell&, Message*)> redirect);
  // Lets it run: on_start, then on_activate, then the messages that waited.
  void activate();
  // Once the messages queued before this request are handled: on_passivate, then it stops
  // (kPassivated). What comes later is redirected.
  void request_passivation();
  bool is_entity() const { return redirect_ != nullptr; }

  bool stopped() const { return stopped_.load(std::memory_order_acquire); }
  ActorAddress address() const { return {node_->node_id(), node_->endpoint(), id_}; }
  ActorId id() const { return id_; }
  const std::string& name() const { return name_; }
  const MethodTable& methods() const { return methods_; }
  NodeContext& node() const { return *node_; }
  const std::shared_ptr<NodeContext>& node_shared() const { return node_; }
  std::string describe() const;  // "actor 'calc' (Calculator #3)" for messages and logs

  // The cell whose turn runs on this thread, if any.
  static ActorCell* current();

  // --- REQUIRES: in turn ---
  Actor& instance() { return *instance_; }
  // Runs a coroutine handler; `done(result)` is called once it finishes. If the instance is
  // discarded first (crash, stop), `done` is destroyed uncalled (its promise then fails).
  template <typename T, typename Done>
  void start_handler(Task<T> task, Done done);
  // A handler failed: a SystemError crashes the instance once the current message is handled.
  void note_failure(const Failure& failure);
  // Actor::stop(): stop once the current message is handled.
  void stop_self() { stop_self_requested_ = true; }
  // Stream producers, like handlers, die with the instance: `destroy` is run then.
  std::uint64_t add_producer(std::function<void()> destroy);
  void remove_producer(std::uint64_t token);
  std::uint64_t generation() const { return generation_; }

  void run_turn() override;
  std::function<void()> resumer_for(std::coroutine_handle<> h) override;
  // Muted: the receiver this actor overfilled has room again.
  void unmute() override;

 private:
  enum class Phase : std::uint8_t { kRunning, kBackoff, kStopped };
  struct LiveHandler {
    std::coroutine_handle<> frame;
    std::uint64_t token;
  };

  void schedule_if_idle(bool on_pool = false);
  bool accepting_user() const;
  void finish_handler(std::uint64_t token);
  void after_message();
  void discard_instance();
  void crash(const Failure& failure);
  void stop_now(StopReason reason, std::optional<Failure> error);
  void restart();
  void back_pressure();
  // Pushes a chain of tells held back by post_tell(), applying the bound and back-pressure.
  void post_held(MessageChain& chain);
  // After a push by a thread that waits for room (post, post_held): schedules the actor, and
  // applies back-pressure if the mailbox, `pushed` messages in so far, is over capacity.
  void settle_push(std::uint64_t pushed);
  // Whether a message posted past the hard bound is taken anyway: see the .cpp.
  bool admits_past_bound() const;
  // Lets the muted senders go if the mailbox drained or the actor lets senders go (see above).
  void release_if_due();
  // REQUIRES: in turn. Marks the current suspension overdue after kSuspensionGrace, unless it
  // ended by then.
  void arm_suspension_grace();
  void end_suspension();  // REQUIRES: in turn; holds_ just dropped to 0
  // Waits, on a thread that is not an actor, until the mailbox holds at most `depth` messages,
  // the actor stops, or the ask timeout passes.
  void wait_for_depth(std::uint64_t depth);
  void run_message(Message* message);
  void passivate_now();  // REQUIRES: in turn
  void schedule_restart(std::chrono::milliseconds delay);

  // What restarting needs, allocated only for actors with a restart policy: most actors never
  // restart, and every byte of an idle actor counts.
  struct Restarter {
    Supervisor supervisor;
    Factory factory;
  };

  const std::shared_ptr<NodeContext> node_;  // shared: a cell may outlive its Node object
  const ActorId id_;
  const std::string name_;
  const MethodTable& methods_;
  const std::unique_ptr<Restarter> restarter_;  // null under policy `never`
  // An entity's: where what it has not run goes once it stopped (null: not an entity). Set
  // before the cell is shared.
  std::unique_ptr<std::function<void(ActorCell&, Message*)>> redirect_;
  const bool reentrant_;
  const std::uint32_t capacity_;
  const std::uint64_t limit_;  // kLimitFactor × capacity_; 0: unbounded

  Mailbox user_;
  Mailbox system_;
  std::atomic<bool> scheduled_{false};
  std::atomic<bool> stopped_{false};

  // In-turn state.
  std::unique_ptr<Actor> instance_;
  Phase phase_ = Phase::kRunning;
  std::uint64_t generation_ = 0;  // bumped when an instance is discarded
  std::uint64_t next_token_ = 0;
  int holds_ = 0;  // suspended non-reentrant handlers: user messages wait while > 0
  std::uint64_t suspension_ = 0;    // bumped each time holds_ drops to 0
  bool suspension_overdue_ = false;  // this suspension outlasted kSuspensionGrace
  bool grace_armed_ = false;         // a grace timer is pending
  std::vector<LiveHandler> handlers_;
  std::vector<std::pair<std::uint64_t, std::function<void()>>> producers_;
  std::optional<Failure> crash_;
  bool stop_self_requested_ = false;

  // Shared with other threads.
  SpinLock mutex_;
  std::vector<Promise<StopNotice>> watchers_;  // guarded by mutex_
  std::unique_ptr<StopNotice> final_notice_;   // guarded by mutex_; set once stopped for good
  MuteList muted_;  // who this actor's mailbox has muted
  // Set by each turn: the actor lets its senders go (it stopped, or a non-reentrant handler is
  // suspended), so a sender muted after that turn is let go at once.
  std::atomic<bool> lets_senders_go_{false};
  // Whether this actor is muted for overfilling another's mailbox: kMutedInTurn while its turn
  // still runs, kParked once the turn ended (the releaser must then schedule it again).
  static constexpr std::uint8_t kNotMuted = 0, kMutedInTurn = 1, kParked = 2;
  std::atomic<std::uint8_t> mute_{kNotMuted};
  // Keeps a stopped cell alive while it is queued or running: the node no longer owns it, and
  // its last reference may be dropped right after a post. Touched only by whoever holds
  // `scheduled_`.
  std::shared_ptr<ActorCell> keep_alive_;
};

// A system message that runs a function on the actor.
template <typename F>
class SystemCall final : public Message {
 public:
  explicit SystemCall(F f) : f_(std::move(f)) {}
  void run(ActorCell& cell) override { f_(cell); }
  void reject(ActorCell&, const Failure&) override {}

 private:
  F f_;
};
template <typename F>
Message* make_system_call(F f) {
  return new SystemCall<F>(std::move(f));
}

template <typename T, typename Done>
void ActorCell::start_handler(Task<T> task, Done done) {
  auto frame = task.release();
  std::uint64_t token = next_token_++;
  frame.promise().on_done = [this, frame, token, done = std::move(done)]() mutable {
    Result<T> result = [&]() -> Result<T> {
      try {
        if constexpr (std::is_void_v<T>) {
          frame.promise().result();
          return Result<T>(std::monostate{});
        } else {
          return Result<T>(frame.promise().result());
        }
      } catch (...) {
        return Result<T>(classify(std::current_exception()));
      }
    }();
    finish_handler(token);
    frame.destroy();
    if (!result.ok()) note_failure(result.failure());
    done(std::move(result));
  };
  handlers_.push_back({frame, token});
  if (!reentrant_) ++holds_;
  frame.resume();
}

}  // namespace detail
}  // namespace pulsing
