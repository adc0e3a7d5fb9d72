#include "runtime/timer_service.hpp"

namespace pulsing::detail {

TimerService::TimerService() : thread_([this] { main_loop(); }) {}

TimerService::~TimerService() { stop(); }

TimerService::TimerId TimerService::schedule(Clock::time_point when,
                                             std::function<void()> callback) {
  std::lock_guard lock(mutex_);
  TimerId id{when, next_seq_++};
  bool earliest = timers_.empty() || id < timers_.begin()->first;
  timers_.emplace(id, std::move(callback));
  if (earliest) changed_.notify_one();
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
  std::unique_lock lock(mutex_);
  while (!stopping_) {
    if (timers_.empty()) {
      changed_.wait(lock);
      continue;
    }
    auto first = timers_.begin();
    // A copy: cancel() may erase this node while we wait with the lock released.
    Clock::time_point when = first->first.when;
    if (when > Clock::now()) {
      changed_.wait_until(lock, when);
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
