#include "runtime/actor_cell.hpp"

#include <thread>

#include <fmt/format.h>

#include "common/log.hpp"
#include "common/thread_role.hpp"
#include "runtime/method_table.hpp"

namespace pulsing {

std::string_view to_string(StopReason reason) {
  switch (reason) {
    case StopReason::kStopped: return "stopped";
    case StopReason::kCrashed: return "crashed";
    case StopReason::kShutdown: return "shutdown";
    case StopReason::kPassivated: return "passivated";
  }
  return "unknown";
}

namespace detail {

namespace {
// Messages one turn may handle before the actor yields its worker to others.
constexpr int kTurnBudget = 256;
thread_local ActorCell* tls_current_cell = nullptr;
thread_local ResumeTarget* tls_resume_target = nullptr;

// A cheap clock for how long tells have been held back: CPU cycles where there is a counter.
std::uint64_t send_clock() {
#if defined(__x86_64__) || defined(__i386__)
  return __builtin_ia32_rdtsc();
#else
  return static_cast<std::uint64_t>(std::chrono::steady_clock::now().time_since_epoch().count());
#endif
}
// About half a millisecond in cycles (or a millisecond in nanoseconds): a held tell waits no
// longer than this before the next tell to its target pushes it.
constexpr std::uint64_t kSendHold = std::uint64_t{1} << 20;

// The tells an actor's turn holds back on this thread (ActorCell::post_tell).
struct HeldSends {
  std::shared_ptr<ActorCell> target;  // kept alive until pushed
  MessageChain chain;
  std::uint64_t since = 0;        // send_clock() at the chain's first tell
  const ActorCell* last = nullptr;  // the target of the last tell posted directly (compared only)
};
thread_local HeldSends tls_held;
}  // namespace

void flush_before_waiting() { ActorCell::flush_sends(); }

ResumeTarget* current_resume_target() { return tls_resume_target; }
void set_current_resume_target(ResumeTarget* target) { tls_resume_target = target; }

namespace {
thread_local WaitPump* tls_wait_pump = nullptr;
}  // namespace
WaitPump* current_wait_pump() { return tls_wait_pump; }
void set_current_wait_pump(WaitPump* pump) { tls_wait_pump = pump; }

ActorCell* ActorCell::current() { return tls_current_cell; }

ActorCell::ActorCell(std::shared_ptr<NodeContext> node, ActorId id, std::string name, const MethodTable& methods,
                     Factory factory, std::unique_ptr<Actor> first, const SpawnOptions& options)
    : node_(std::move(node)),
      id_(id),
      name_(std::move(name)),
      methods_(methods),
      restarter_(options.supervision.policy == RestartPolicy::kNever
                     ? nullptr
                     : new Restarter{Supervisor(options.supervision, node_->node_id().value ^ id.value),
                                     std::move(factory)}),
      reentrant_(options.reentrant),
      capacity_(static_cast<std::uint32_t>(
          options.mailbox_capacity ? options.mailbox_capacity : node_->default_mailbox_capacity())),
      limit_(std::uint64_t{capacity_} * kLimitFactor),
      instance_(std::move(first)) {
  instance_->cell_ = this;
}

ActorCell::~ActorCell() {
  // Whatever is still queued can never run; rejecting fails asks and counts tells.
  while (Message* m = user_.pop()) {
    m->reject(*this, stopped_failure());
    delete m;
  }
}

Failure ActorCell::stopped_failure() const {
  return make_failure<RuntimeError>(RuntimeErrorKind::kActorStopped, describe() + " has stopped");
}

Failure ActorCell::overloaded_failure() const {
  return make_failure<RuntimeError>(
      RuntimeErrorKind::kOverloaded,
      fmt::format("{} is overloaded: its mailbox is at its bound of {} messages ({} × its capacity)", describe(),
                  limit_, kLimitFactor));
}

std::string ActorCell::describe() const {
  if (name_.empty()) return fmt::format("actor {} #{}", methods_.class_name(), id_.value);
  return fmt::format("actor '{}' ({} #{})", name_, methods_.class_name(), id_.value);
}

// ---------------------------------------------------------------- any thread

void ActorCell::post(Message* message) {
  flush_sends();  // what this thread held back goes first
  if (!room_for(1) && !admits_past_bound()) {
    // Past the hard bound: refused at once. (A thread waited at capacity, after its previous
    // post, for as long as the ask timeout; an actor's muting was let go, see run_turn.)
    NodeMetrics::bump(node_->metrics().mailbox_refused);
    message->reject(*this, overloaded_failure());
    delete message;
    if (current() != nullptr) back_pressure();
    return;
  }
  settle_push(user_.push(message));
}

void ActorCell::post_tell(Message* message) {
  ActorCell* sender = current();
  HeldSends& held = tls_held;
  if (sender != nullptr && sender != this) {
    if (held.target.get() == this) {
      held.chain.append(message);
      if (held.chain.size() >= kSendBatch || send_clock() - held.since > kSendHold) flush_sends();
      return;
    }
    if (held.last == this) {  // a second tell in a row: hold it, and what follows
      flush_sends();
      held.target = shared_from_this();
      held.since = send_clock();
      held.chain.append(message);
      return;
    }
  }
  post(message);
  held.last = this;
}

void ActorCell::flush_sends() {
  HeldSends& held = tls_held;
  held.last = nullptr;
  if (held.chain.empty()) return;
  std::shared_ptr<ActorCell> target = std::move(held.target);
  MessageChain chain(std::move(held.chain));  // post_held may post (and so flush) again
  target->post_held(chain);
}

void ActorCell::post_held(MessageChain& chain) {
  if (!room_for(chain.size())) {
    // Near the bound: one by one, so that each is admitted or refused as post() decides.
    while (Message* m = chain.take_first()) post(m);
    return;
  }
  settle_push(user_.push(chain));
}

void ActorCell::settle_push(std::uint64_t pushed) {
  schedule_if_idle();
  if (capacity_ != 0 && user_.depth_after(pushed) > capacity_) back_pressure();
}

void ActorCell::post(MessageChain& chain, bool on_pool) {
  user_.push(chain);
  schedule_if_idle(on_pool);
}

void ActorCell::post_system(Message* message) {
  system_.push(message);
  schedule_if_idle();
}

void ActorCell::schedule_if_idle(bool on_pool) {
  if (scheduled_.load(std::memory_order_seq_cst)) return;
  if (scheduled_.exchange(true, std::memory_order_seq_cst)) return;
  if (stopped_.load(std::memory_order_acquire)) keep_alive_ = shared_from_this();
  if (on_pool) {
    node_->scheduler().schedule_on_pool(this);
  } else {
    node_->scheduler().schedule(this);
  }
}

void ActorCell::start() {
  post_system(make_system_call([](ActorCell& cell) {
    if (cell.restarter_) cell.restarter_->supervisor.on_started(Clock::now());
    cell.instance_->on_start();
  }));
}

void ActorCell::make_entity(std::function<void(ActorCell&, Message*)> redirect) {
  redirect_ = std::make_unique<std::function<void(ActorCell&, Message*)>>(std::move(redirect));
  phase_ = Phase::kBackoff;  // no turn has run yet: user messages wait until activate()
}

void ActorCell::activate() {
  post_system(make_system_call([](ActorCell& cell) {
    if (cell.phase_ != Phase::kBackoff || !cell.instance_) return;
    cell.phase_ = Phase::kRunning;
    NodeMetrics::bump(cell.node_->metrics().entity_activations);
    try {
      cell.instance_->on_start();
      cell.instance_->on_activate();
    } catch (...) {
      cell.note_failure(classify(std::current_exception()));
    }
    cell.after_message();  // a hook that threw crashes it, as a handler would
  }));
}

namespace {

// An entity's request to passivate, queued behind the messages it has accepted.
class PassivateMessage final : public Message {
 public:
  // A system message: it runs before the next user message.
  void run(ActorCell& cell) override { cell.request_stop(StopReason::kPassivated); }
  void reject(ActorCell&, const Failure&) override {}
};

}  // namespace

void ActorCell::request_passivation() {
  MessageChain chain;
  chain.append(new PassivateMessage());
  post(chain, true);
}

void ActorCell::passivate_now() {
  if (phase_ == Phase::kRunning && instance_) {
    NodeMetrics::bump(node_->metrics().entity_passivations);
    try {
      instance_->on_passivate();
    } catch (const std::exception& e) {
      log().warn("{}: on_passivate threw: {}", describe(), e.what());
    }
  }
  if (phase_ != Phase::kStopped) stop_now(StopReason::kPassivated, std::nullopt);
}

void ActorCell::request_stop(StopReason reason) {
  post_system(make_system_call([reason](ActorCell& cell) {
    if (reason == StopReason::kPassivated) return cell.passivate_now();
    if (cell.phase_ != Phase::kStopped) cell.stop_now(reason, std::nullopt);
  }));
}

Future<StopNotice> ActorCell::watch() {
  std::lock_guard lock(mutex_);
  if (final_notice_) return Future<StopNotice>::ready(Result<StopNotice>(*final_notice_));
  watchers_.emplace_back();
  return watchers_.back().future();
}

std::function<void()> ActorCell::resumer_for(std::coroutine_handle<> h) {
  // Weak: the awaited future may live as long as the actor itself (a promise among its own
  // constructor arguments); a cell that is gone has no frames left to resume anyway.
  return [weak = weak_from_this(), h, generation = generation_] {
    auto cell = weak.lock();
    if (!cell) return;
    cell->post_system(make_system_call([h, generation](ActorCell& c) {
      // A frame of a discarded instance is gone; its resumption is stale.
      if (c.generation_ == generation && c.phase_ == Phase::kRunning) h.resume();
    }));
  };
}

// ---------------------------------------------------------------- back-pressure

void ActorCell::back_pressure() {
  ActorCell* sender = current();
  if (sender == nullptr) {
    // Not an actor: a user's thread waits here until the receiver catches up, for at most the
    // ask timeout. A runtime thread (the I/O or timer thread running a continuation) never
    // waits: the hard bound holds the mailbox instead.
    if (!is_runtime_thread()) wait_for_depth(capacity_);
    return;
  }
  // Only when newly muted: the rest of a burst sent by an actor muted already costs nothing
  // here (W3's senders send 1,000 tells per turn).
  if (sender != this && mute_current(muted_) == Mute::kMuted) release_if_due();
}

bool ActorCell::admits_past_bound() const {
  // An actor's first message past the bound is taken, and mutes it. Refusing it would drop a
  // message from a sender never asked to slow down: W4's hundred thousand actors that each tell
  // a collector once went past the bound whenever the OS kept the collector's worker off its
  // core for some milliseconds. Each such sender then stays muted until the mailbox drains to
  // half, so the bound is passed by at most one message per actor. Not for an actor muted
  // already (the rest of its turn's burst), nor to itself, nor while this actor lets its
  // senders go (it is stopped, or suspended for long): then the bound is what holds the mailbox.
  ActorCell* sender = current();
  return sender != nullptr && sender != this && sender->mute_.load(std::memory_order_relaxed) == kNotMuted &&
         !lets_senders_go_.load(std::memory_order_seq_cst);
}

void ActorCell::release_if_due() {
  // The receiver may have drained, or ended its last turn letting its senders go, before it
  // could see the sender just added: then nobody else would unmute it. (add() and the turn's
  // store of lets_senders_go_ are both seq_cst: one of the two sides sees the other.)
  if (user_.depth() <= capacity_ / 2 || lets_senders_go_.load(std::memory_order_seq_cst)) {
    muted_.release();
    return;
  }
  // It may be suspended, and have ended its last turn before the sender was on the list: a turn
  // looks at the list again (and starts the grace period if it is still suspended).
  post_system(make_system_call([](ActorCell&) {}));
}

void ActorCell::arm_suspension_grace() {
  grace_armed_ = true;
  node_->timers().schedule(Clock::now() + kSuspensionGrace,
                           [weak = weak_from_this(), suspension = suspension_] {
                             auto cell = weak.lock();
                             if (!cell) return;
                             cell->post_system(make_system_call([suspension](ActorCell& c) {
                               c.grace_armed_ = false;
                               // Still the same suspension: overdue. (Else the next turn that
                               // ends suspended with muted senders arms the timer again.)
                               if (c.holds_ > 0 && c.suspension_ == suspension) c.suspension_overdue_ = true;
                             }));
                           });
}

void ActorCell::wait_for_depth(std::uint64_t depth) {
  const auto deadline = Clock::now() + node_->default_ask_timeout();
  auto pause = std::chrono::microseconds(20);
  while (user_.depth() > depth && !stopped() && Clock::now() < deadline) {
    std::this_thread::sleep_for(pause);
    pause = std::min(pause * 2, std::chrono::microseconds(2000));
  }
}

ActorCell::Mute ActorCell::mute_current(MuteList& receiver) {
  ActorCell* sender = current();
  if (sender == nullptr) return Mute::kNoActor;
  std::uint8_t state = kNotMuted;
  if (!sender->mute_.compare_exchange_strong(state, kMutedInTurn, std::memory_order_seq_cst)) {
    return Mute::kAlreadyMuted;
  }
  receiver.add(sender->shared_from_this());
  return Mute::kMuted;
}

void ActorCell::add_muted(std::shared_ptr<Muted> sender) {
  muted_.add(std::move(sender));
  release_if_due();
}

void ActorCell::unmute() {
  std::uint8_t state = kMutedInTurn;
  if (mute_.compare_exchange_strong(state, kNotMuted)) return;  // still in its turn: goes on
  if (state == kParked && mute_.compare_exchange_strong(state, kNotMuted)) {
    node_->scheduler().schedule(this);  // it kept `scheduled_` while parked
  }
}

// ---------------------------------------------------------------- the turn

bool ActorCell::accepting_user() const {
  // A stopped actor still takes its messages, to reject them.
  return phase_ == Phase::kStopped || (phase_ == Phase::kRunning && holds_ == 0);
}

void ActorCell::run_turn() {
  ActorCell* outer_cell = tls_current_cell;
  ResumeTarget* outer_target = tls_resume_target;
  tls_current_cell = this;
  tls_resume_target = this;

  bool budget_left = true;
  std::uint64_t handled = 0;  // counted once per turn, not per message: W3 runs 20M+ messages/s
  for (int budget = kTurnBudget;; --budget) {
    if (budget == 0) {
      budget_left = false;
      break;
    }
    Message* m = system_.pop();
    if (m == nullptr && accepting_user()) {
      m = user_.pop();
      handled += m != nullptr ? 1 : 0;
    }
    if (m == nullptr) break;
    run_message(m);
    if (mute_.load(std::memory_order_relaxed) != kNotMuted) break;
  }
  user_.publish_popped();
  if (handled != 0) node_->metrics().messages_handled.add(handled);
  // Gone, or blocked for long on something its senders might be part of: let them go, and any
  // that come until a turn says otherwise. Not while in restart backoff: the actor drains again
  // once restarted (timer-driven, awaiting none of them); until then they would only fill its
  // mailbox.
  const bool let_go = phase_ == Phase::kStopped || (holds_ > 0 && suspension_overdue_);
  lets_senders_go_.store(let_go, std::memory_order_seq_cst);
  if (muted_.nonempty()) {
    if (let_go || user_.depth() <= capacity_ / 2) {
      muted_.release();
    } else if (holds_ > 0 && !grace_armed_) {
      arm_suspension_grace();
    }
  }

  end_turn();
  tls_current_cell = outer_cell;
  tls_resume_target = outer_target;

  std::uint8_t muted = kMutedInTurn;
  if (mute_.compare_exchange_strong(muted, kParked)) return;  // the receiver reschedules us
  if (!budget_left) {
    node_->scheduler().reschedule(this);
    return;
  }
  // Go idle, unless something arrived that we would take: the producers that saw us scheduled
  // did not schedule us, so look once more after clearing the flag (no lost wake-up). Hold a
  // reference meanwhile: once the flag is clear, another thread may run a turn that stops us,
  // and the node may let go of us before we have looked.
  auto keep = keep_alive_ ? std::move(keep_alive_) : shared_from_this();
  bool user_ok = accepting_user();
  std::uint64_t system_seen = system_.popped();
  std::uint64_t user_seen = user_.popped();
  scheduled_.store(false, std::memory_order_seq_cst);
  bool more = system_.pushed() != system_seen || (user_ok && user_.pushed() != user_seen);
  if (more && !scheduled_.exchange(true, std::memory_order_seq_cst)) {
    if (stopped_.load(std::memory_order_acquire)) keep_alive_ = std::move(keep);
    node_->scheduler().schedule(this);
  }
}

void ActorCell::run_message(Message* m) {
  if (phase_ == Phase::kStopped && redirect_) {
    (*redirect_)(*this, m);  // an entity's late message: to its next activation, or refused
    return;
  }
  if (phase_ == Phase::kStopped) {
    m->reject(*this, stopped_failure());
  } else {
    m->run(*this);
    after_message();
  }
  delete m;
  flush_sends();  // the tells it held back leave by the end of the message
}

void ActorCell::after_message() {
  if (crash_) {
    Failure failure = std::move(*crash_);
    crash_.reset();
    stop_self_requested_ = false;
    crash(failure);
  } else if (stop_self_requested_) {
    stop_self_requested_ = false;
    if (phase_ != Phase::kRunning) return;
    discard_instance();
    RestartDecision decision;
    if (restarter_) decision = restarter_->supervisor.on_stop(Clock::now());
    if (!decision.restart) {
      stop_now(StopReason::kStopped, std::nullopt);
      return;
    }
    schedule_restart(decision.delay);
  }
}

// ---------------------------------------------------------------- handlers and producers

void ActorCell::note_failure(const Failure& failure) {
  node_->metrics().count_error(failure.category);
  if (failure.category == ErrorCategory::kSystem && !crash_) crash_ = failure;
}

void ActorCell::end_suspension() {
  ++suspension_;
  suspension_overdue_ = false;
}

void ActorCell::finish_handler(std::uint64_t token) {
  for (auto it = handlers_.begin(); it != handlers_.end(); ++it) {
    if (it->token == token) {
      handlers_.erase(it);
      if (!reentrant_ && --holds_ == 0) end_suspension();
      return;
    }
  }
}

std::uint64_t ActorCell::add_producer(std::function<void()> destroy) {
  std::uint64_t token = next_token_++;
  producers_.emplace_back(token, std::move(destroy));
  return token;
}

void ActorCell::remove_producer(std::uint64_t token) {
  std::erase_if(producers_, [token](const auto& p) { return p.first == token; });
}

// ---------------------------------------------------------------- crash, stop, restart

void ActorCell::discard_instance() {
  // Destroying a suspended frame destroys its completion callback uncalled, whose promise then
  // fails the caller with ActorStopped; producers fail their readers likewise.
  auto handlers = std::move(handlers_);
  handlers_.clear();
  holds_ = 0;
  end_suspension();
  for (auto& h : handlers) h.frame.destroy();
  auto producers = std::move(producers_);
  producers_.clear();
  for (auto& p : producers) p.second();
  instance_.reset();
  ++generation_;
}

void ActorCell::crash(const Failure& failure) {
  if (phase_ != Phase::kRunning) return;
  log().warn("{} crashed: {}", describe(), failure.describe());
  discard_instance();
  RestartDecision decision;
  if (restarter_) decision = restarter_->supervisor.on_crash(Clock::now());
  if (!decision.restart) {
    stop_now(StopReason::kCrashed, failure);
    return;
  }
  log().info("{} restarts in {} ms (restart {} of {} in the window)", describe(),
               decision.delay.count(), decision.restart_count,
               restarter_->supervisor.options().max_restarts);
  schedule_restart(decision.delay);
}

void ActorCell::schedule_restart(std::chrono::milliseconds delay) {
  phase_ = Phase::kBackoff;
  node_->timers().schedule(Clock::now() + delay, [cell = shared_from_this()] {
    cell->post_system(make_system_call([](ActorCell& c) { c.restart(); }));
  });
}

void ActorCell::restart() {
  if (phase_ != Phase::kBackoff) return;
  try {
    instance_ = restarter_->factory();
  } catch (...) {
    Failure failure = classify(std::current_exception());
    phase_ = Phase::kRunning;  // so that crash() treats the failed construction as a crash
    crash(failure);
    return;
  }
  instance_->cell_ = this;
  phase_ = Phase::kRunning;
  NodeMetrics::bump(node_->metrics().restarts);
  restarter_->supervisor.on_started(Clock::now());
  try {
    instance_->on_start();
  } catch (...) {
    note_failure(classify(std::current_exception()));
  }
}

void ActorCell::stop_now(StopReason reason, std::optional<Failure> error) {
  if (phase_ == Phase::kRunning && instance_) {
    try {
      instance_->on_stop();
    } catch (const std::exception& e) {
      log().warn("{}: on_stop threw: {}", describe(), e.what());
    }
  }
  if (instance_ || !handlers_.empty() || !producers_.empty()) discard_instance();
  phase_ = Phase::kStopped;
  keep_alive_ = shared_from_this();  // the node lets go of us below
  stopped_.store(true, std::memory_order_release);
  node_->on_actor_stopped(*this);

  std::vector<Promise<StopNotice>> watchers;
  {
    std::lock_guard lock(mutex_);
    final_notice_ = std::make_unique<StopNotice>(StopNotice{address(), name_, reason, std::move(error)});
    watchers.swap(watchers_);
  }
  for (auto& w : watchers) w.set_value(*final_notice_);
}

}  // namespace detail
}  // namespace pulsing
