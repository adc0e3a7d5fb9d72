// SpinLock: a one-byte lock for state that is rarely contended and held for a few instructions
// (an actor's watcher list, say), where a 40-byte std::mutex per actor would cost more memory
// than the state it guards. Satisfies Lockable, so std::lock_guard works.
//
// Thread-safe. Not fair, not reentrant; never hold it across anything that blocks.
#pragma once

#include <atomic>
#include <thread>

namespace pulsing {

class SpinLock {
 public:
  void lock() noexcept {
    for (int spins = 0; locked_.exchange(true, std::memory_order_acquire); ++spins) {
      while (locked_.load(std::memory_order_relaxed)) {
        if (++spins > 64) std::this_thread::yield();
      }
    }
  }
  bool try_lock() noexcept { return !locked_.exchange(true, std::memory_order_acquire); }
  void unlock() noexcept { locked_.store(false, std::memory_order_release); }

 private:
  std::atomic<bool> locked_{false};
};

}  // namespace pulsing
