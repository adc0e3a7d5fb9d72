// TimerService: one thread that runs callbacks at their deadlines (ask timeouts, restart
// backoffs, resolve waits). Callbacks must be short: they typically complete a future or post a
// message to an actor.
//
// Thread-safety: every member may be called from any thread, callbacks included.
// A callback never runs after cancel() returned true for it, nor after stop() returned.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <thread>

#include "common/address.hpp"

namespace pulsing::detail {

class TimerService {
 public:
  struct TimerId {
    Clock::time_point when{};
    std::uint64_t seq = 0;
    auto operator<=>(const TimerId&) const = default;
  };

  TimerService();
  ~TimerService();  // stop()
  TimerService(const TimerService&) = delete;
  TimerService& operator=(const TimerService&) = delete;

  TimerId schedule(Clock::time_point when, std::function<void()> callback);
  // True when the timer was pending and now will never run.
  bool cancel(const TimerId& id);
  // Drops every pending timer without running it and joins the thread. Idempotent.
  void stop();

 private:
  void main_loop();

  std::mutex mutex_;
  std::condition_variable changed_;
  std::map<TimerId, std::function<void()>> timers_;  // guarded by mutex_
  std::uint64_t next_seq_ = 0;                        // guarded by mutex_
  // When the thread will next look at timers_ by itself: max while it waits for a change, min
  // while it is awake (it looks anyway).
  Clock::time_point wakes_at_ = Clock::time_point::min();  // guarded by mutex_
  bool stopping_ = false;                             // guarded by mutex_
  std::thread thread_;
};

}  // namespace pulsing::detail
