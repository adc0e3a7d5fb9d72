#include "runtime/scheduler.hpp"

#include <algorithm>
#include <utility>

namespace pulsing::detail {

namespace {
// The worker running on this thread and the scheduler it belongs to.
thread_local Worker* tls_worker = nullptr;
thread_local const Scheduler* tls_scheduler = nullptr;
}  // namespace

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
    workers_.push_back(std::make_unique<Worker>(*this, i));
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
    w->schedule_local(r);
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
    w->reschedule_local(r);
  } else {
    push_shared(r);
  }
}

void Scheduler::push_shared(Runnable* r) {
  {
    std::lock_guard lock(mutex_);
    shared_.push(r);
  }
  if (idle_workers_.load(std::memory_order_seq_cst) > 0) wake_.notify_one();
}

Runnable* Scheduler::pop_shared() {
  std::lock_guard lock(mutex_);
  return shared_.pop();
}

Runnable* Scheduler::wait_for_work(Worker&) {
  std::unique_lock lock(mutex_);
  idle_workers_.fetch_add(1, std::memory_order_seq_cst);
  wake_.wait(lock, [&] { return !shared_.empty() || stopping_.load(); });
  idle_workers_.fetch_sub(1, std::memory_order_seq_cst);
  return shared_.pop();
}

Worker::Worker(Scheduler& scheduler, std::size_t index) : scheduler_(scheduler), index_(index) {}

void Worker::schedule_local(Runnable* r) {
  if (slot_) reschedule_local(slot_);
  slot_ = r;
}

void Worker::reschedule_local(Runnable* r) {
  // Share only when someone is idle: keeping work local keeps caches warm.
  if (scheduler_.idle_workers_.load(std::memory_order_relaxed) > 0) {
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
    if (!r) r = scheduler_.wait_for_work(*this);
    if (r) r->run_turn();
  }
  tls_worker = nullptr;
  tls_scheduler = nullptr;
}

}  // namespace pulsing::detail
