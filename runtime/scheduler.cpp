#include "runtime/scheduler.hpp"

#include "common/thread_role.hpp"

#include <algorithm>
#include <optional>
#include <utility>

namespace pulsing::detail {

namespace {
// The worker running on this thread and the scheduler it belongs to.
thread_local Worker* tls_worker = nullptr;
thread_local const Scheduler* tls_scheduler = nullptr;
// The guest worker this thread is (Scheduler::enter_guest), and when the guest turn it is
// running began (unset outside guest turns).
thread_local std::unique_ptr<Worker> tls_guest;
thread_local std::optional<std::chrono::steady_clock::time_point> tls_guest_turn_start;
// When the pool turn of a runnable kept off guests began (unset otherwise): its turns are timed
// to learn when it may go back.
thread_local std::optional<std::chrono::steady_clock::time_point> tls_probation_turn_start;

// Fast pool turns a runnable needs after its first long guest turn; doubled per offence.
constexpr std::uint32_t kFastTurnsToReturn = 256;
constexpr std::uint8_t kMaxOffences = 12;
}  // namespace

void Runnable::end_turn() {
  if (!tls_guest_turn_start && !tls_probation_turn_start) return;
  auto took = std::chrono::steady_clock::now() - (tls_guest_turn_start ? *tls_guest_turn_start : *tls_probation_turn_start);
  if (took > Scheduler::kGuestTurnLimit) {
    if (tls_guest_turn_start && offences_ < kMaxOffences) ++offences_;
    off_guest_turns_.store(kFastTurnsToReturn << (offences_ - 1), std::memory_order_relaxed);
  } else if (tls_probation_turn_start) {
    off_guest_turns_.store(off_guest_turns_.load(std::memory_order_relaxed) - 1, std::memory_order_relaxed);
  }
}

void RunQueue::push(Runnable* r) {
  r->next_runnable_ = nullptr;
  if (tail_) {
    tail_->next_runnable_ = r;
  } else {
    head_ = r;
  }
  tail_ = r;
}

Runnable* RunQueue::pop() {
  Runnable* r = head_;
  if (r) {
    head_ = r->next_runnable_;
    if (!head_) tail_ = nullptr;
  }
  return r;
}

Scheduler::Scheduler(std::size_t threads) {
  if (threads == 0) threads = std::max(1u, std::thread::hardware_concurrency());
  workers_.reserve(threads);
  for (std::size_t i = 0; i < threads; ++i) {
    workers_.push_back(std::make_unique<Worker>(*this));
  }
  for (auto& w : workers_) {
    w->thread_ = std::thread([worker = w.get()] {
      mark_runtime_thread();
      worker->main_loop();
    });
  }
}

Scheduler::~Scheduler() { stop(); }

void Scheduler::stop() {
  {
    std::lock_guard lock(mutex_);
    if (stopping_.exchange(true)) return;
  }
  wake_.notify_all();
  for (auto& w : workers_) {
    if (w->thread_.joinable()) w->thread_.join();
  }
  for (auto& w : workers_) {
    while (Runnable* r = w->next_local()) r->run_turn();
  }
  while (Runnable* r = pop_shared()) r->run_turn();
}

Worker* Scheduler::current_worker() const {
  return tls_scheduler == this ? tls_worker : nullptr;
}

void Scheduler::schedule(Runnable* r) {
  if (stopping_.load(std::memory_order_acquire)) {
    r->run_turn();
    return;
  }
  if (Worker* w = current_worker()) {
    w->schedule_here(r, false);
  } else {
    push_shared(r);
  }
}

void Scheduler::reschedule(Runnable* r) {
  if (stopping_.load(std::memory_order_acquire) && current_worker() == nullptr) {
    r->run_turn();
    return;
  }
  if (Worker* w = current_worker()) {
    w->schedule_here(r, true);
  } else {
    push_shared(r);
  }
}

void Scheduler::schedule_on_pool(Runnable* r) { push_shared(r); }  // after stop(): runs it at once

void Scheduler::enter_guest() {
  tls_guest = std::make_unique<Worker>(*this);
  tls_guest->guest_ = true;
  tls_worker = tls_guest.get();
  tls_scheduler = this;
}

void Scheduler::run_guest(std::chrono::microseconds budget) {
  auto start = std::chrono::steady_clock::now();
  for (auto now = start; now - start <= budget; now = std::chrono::steady_clock::now()) {
    Runnable* r = tls_guest->next_local();
    if (r == nullptr) return;
    tls_guest_turn_start = now;
    r->run_turn();
    tls_guest_turn_start.reset();
  }
  while (Runnable* r = tls_guest->next_local()) push_shared(r);  // over budget: the pool's
}

void Scheduler::leave_guest() {
  while (Runnable* r = tls_guest->next_local()) push_shared(r);
  tls_worker = nullptr;
  tls_scheduler = nullptr;
  tls_guest.reset();
}

namespace {
// How long an idle worker watches the shared queue before it sleeps: long enough to bridge the
// gaps of a steady stream of submissions, short enough not to matter to a machine at rest.
// Each worker adapts its own spin within these bounds: a spin that found work doubles the next
// one, a spin in vain halves it. Spinning that never pays (the work goes elsewhere, as when a
// node's I/O thread runs the turns itself) then costs next to nothing, which matters when the
// cores are shared with the threads doing the work.
constexpr auto kMaxSpin = std::chrono::nanoseconds(20'000);
constexpr auto kMinSpin = std::chrono::nanoseconds(500);

inline void cpu_relax() {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#endif
}
}  // namespace

void Scheduler::push_shared(Runnable* r) {
  {
    std::lock_guard lock(mutex_);
    // stop() sets stopping_ under this lock and drains the queue only after: what is pushed
    // before is drained, what comes after (a guest leaving with turns still queued) runs now,
    // as schedule() runs it, or it would wait in the queue for good (and a stopped actor
    // waiting for its last turn would keep itself, and its node, alive).
    if (!stopping_.load(std::memory_order_acquire)) {
      shared_.push(r);
      shared_size_.fetch_add(1, std::memory_order_relaxed);
      r = nullptr;
    }
  }
  if (r != nullptr) {
    r->run_turn();
    return;
  }
  // A spinning worker will find it; otherwise wake a sleeper. A worker that stops spinning
  // re-checks the queue under the lock before it sleeps, so no wake-up is lost.
  if (spinning_workers_.load(std::memory_order_seq_cst) == 0 &&
      idle_workers_.load(std::memory_order_seq_cst) > 0) {
    wake_.notify_one();
  }
}

Runnable* Scheduler::pop_shared() {
  if (shared_size_.load(std::memory_order_relaxed) == 0) return nullptr;
  std::lock_guard lock(mutex_);
  Runnable* r = shared_.pop();
  if (r) shared_size_.fetch_sub(1, std::memory_order_relaxed);
  return r;
}

Runnable* Scheduler::spin_for_work(Worker& worker) {
  spinning_workers_.fetch_add(1, std::memory_order_seq_cst);
  Runnable* r = nullptr;
  auto until = std::chrono::steady_clock::now() + worker.spin_;
  for (int i = 0; r == nullptr && !stopping_.load(std::memory_order_relaxed); ++i) {
    if (shared_size_.load(std::memory_order_relaxed) > 0) r = pop_shared();
    if ((i & 15) == 15 && std::chrono::steady_clock::now() > until) break;
    cpu_relax();
  }
  spinning_workers_.fetch_sub(1, std::memory_order_seq_cst);
  worker.spin_ = r ? std::min(2 * worker.spin_, kMaxSpin) : std::max(worker.spin_ / 2, kMinSpin);
  // Found work while a producer relied on us: pass the baton if more is waiting.
  if (r && shared_size_.load(std::memory_order_relaxed) > 0 &&
      idle_workers_.load(std::memory_order_seq_cst) > 0) {
    wake_.notify_one();
  }
  return r;
}

Runnable* Scheduler::wait_for_work() {
  std::unique_lock lock(mutex_);
  idle_workers_.fetch_add(1, std::memory_order_seq_cst);
  wake_.wait(lock, [&] { return !shared_.empty() || stopping_.load(); });
  idle_workers_.fetch_sub(1, std::memory_order_seq_cst);
  Runnable* r = shared_.pop();
  if (r) shared_size_.fetch_sub(1, std::memory_order_relaxed);
  return r;
}

Worker::Worker(Scheduler& scheduler) : scheduler_(scheduler), spin_(kMaxSpin) {}

void Worker::schedule_here(Runnable* r, bool rescheduled) {
  if (!guest_) {
    rescheduled ? reschedule_local(r) : schedule_local(r);
  } else if (tls_guest_turn_start || rescheduled || r->off_guest_turns_.load(std::memory_order_relaxed) > 0) {
    scheduler_.push_shared(r);  // work that could hold the guest's own duties up
  } else {
    local_.push(r);  // FIFO: inbound messages are delivered in order anyway
  }
}

void Worker::schedule_local(Runnable* r) {
  if (slot_) reschedule_local(slot_);
  slot_ = r;
}

void Worker::reschedule_local(Runnable* r) {
  // Share only when someone is idle (asleep or spinning): keeping work local keeps caches warm.
  if (scheduler_.idle_workers_.load(std::memory_order_relaxed) > 0 ||
      scheduler_.spinning_workers_.load(std::memory_order_relaxed) > 0) {
    scheduler_.push_shared(r);
  } else {
    local_.push(r);
  }
}

Runnable* Worker::next_local() {
  if (slot_ && slot_streak_ < kMaxSlotStreak) {
    ++slot_streak_;
    return std::exchange(slot_, nullptr);
  }
  slot_streak_ = 0;
  if (slot_) local_.push(std::exchange(slot_, nullptr));
  return local_.pop();
}

void Worker::main_loop() {
  tls_worker = this;
  tls_scheduler = &scheduler_;
  while (!scheduler_.stopping_.load(std::memory_order_relaxed)) {
    Runnable* r = next_local();
    if (!r) r = scheduler_.pop_shared();
    if (!r) r = scheduler_.spin_for_work(*this);
    if (!r) r = scheduler_.wait_for_work();
    if (!r) continue;
    if (r->off_guest_turns_.load(std::memory_order_relaxed) > 0) tls_probation_turn_start = std::chrono::steady_clock::now();
    r->run_turn();
    tls_probation_turn_start.reset();
  }
  tls_worker = nullptr;
  tls_scheduler = nullptr;
}

}  // namespace pulsing::detail
