#include "runtime/timer_service.hpp"

#include "common/thread_role.hpp"

namespace pulsing::detail {

TimerService::TimerService() : thread_([this] { main_loop(); }) {}

TimerService::~TimerService() { stop(); }

TimerService::TimerId TimerService::schedule(Clock::time_point when,
                                             std::function<void()> callback) {
  std::lock_guard lock(mutex_);
  TimerId id{when, next_seq_++};
  timers_.emplace(id, std::move(callback));
  // Wake the thread only if it would otherwise look too late: most timers (ask timeouts) are
  // cancelled long before they are due, and waking a thread per ask costs a context switch.
  if (when < wakes_at_) {
    wakes_at_ = Clock::time_point::min();
    changed_.notify_one();
  }
  return id;
}

bool TimerService::cancel(const TimerId& id) {
  std::lock_guard lock(mutex_);
  return timers_.erase(id) > 0;
}

void TimerService::stop() {
  {
    std::lock_guard lock(mutex_);
    if (stopping_) return;
    stopping_ = true;
    timers_.clear();
  }
  changed_.notify_one();
  if (thread_.joinable()) thread_.join();
}

void TimerService::main_loop() {
  mark_runtime_thread();
  std::unique_lock lock(mutex_);
  while (!stopping_) {
    if (timers_.empty()) {
      wakes_at_ = Clock::time_point::max();
      changed_.wait(lock);
      wakes_at_ = Clock::time_point::min();
      continue;
    }
    auto first = timers_.begin();
    // A copy: cancel() may erase this node while we wait with the lock released.
    Clock::time_point when = first->first.when;
    if (when > Clock::now()) {
      wakes_at_ = when;
      changed_.wait_until(lock, when);
      wakes_at_ = Clock::time_point::min();
      continue;
    }
    auto callback = std::move(first->second);
    timers_.erase(first);
    lock.unlock();
    callback();
    lock.lock();
  }
}

}  // namespace pulsing::detail
