#include "runtime/scheduler.hpp"

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
}  // namespace

void Runnable::end_turn() {
  if (tls_guest_turn_start &&
      std::chrono::steady_clock::now() - *tls_guest_turn_start > Scheduler::kGuestTurnLimit) {
    slow_.store(true, std::memory_order_relaxed);
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
    w->thread_ = std::thread([worker = w.get()] { worker->main_loop(); });
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
constexpr auto kSpinTime = std::chrono::microseconds(20);

inline void cpu_relax() {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#endif
}
}  // namespace

void Scheduler::push_shared(Runnable* r) {
  {
    std::lock_guard lock(mutex_);
    shared_.push(r);
    shared_size_.fetch_add(1, std::memory_order_relaxed);
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

Runnable* Scheduler::spin_for_work() {
  spinning_workers_.fetch_add(1, std::memory_order_seq_cst);
  Runnable* r = nullptr;
  auto until = std::chrono::steady_clock::now() + kSpinTime;
  for (int i = 0; r == nullptr && !stopping_.load(std::memory_order_relaxed); ++i) {
    if (shared_size_.load(std::memory_order_relaxed) > 0) r = pop_shared();
    if ((i & 63) == 63 && std::chrono::steady_clock::now() > until) break;
    cpu_relax();
  }
  spinning_workers_.fetch_sub(1, std::memory_order_seq_cst);
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

Worker::Worker(Scheduler& scheduler) : scheduler_(scheduler) {}

void Worker::schedule_here(Runnable* r, bool rescheduled) {
  if (!guest_) {
    rescheduled ? reschedule_local(r) : schedule_local(r);
  } else if (tls_guest_turn_start || rescheduled || r->slow_.load(std::memory_order_relaxed)) {
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
    if (!r) r = scheduler_.spin_for_work();
    if (!r) r = scheduler_.wait_for_work();
    if (r) r->run_turn();
  }
  tls_worker = nullptr;
  tls_scheduler = nullptr;
}

}  // namespace pulsing::detail
