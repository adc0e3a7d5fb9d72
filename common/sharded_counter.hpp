// ShardedCounter: a monotonic event count that many threads bump at once, such as the messages
// a node's workers handle. One atomic would bounce its cache line between cores, and even
// uncontended, a locked add on every turn cost W1 (ping-pong) 7%. Here the first kSlots threads
// of the process each own a padded slot, which only they write (a plain load and store); later
// threads share one slot with atomic adds. A reader sums them.
//
// Thread-safe: add() and value() from any thread. value() is a sum of relaxed loads: exact once
// the adders are quiet, a lower bound while they run.
#pragma once

#include <array>
#include <atomic>
#include <cstddef>
#include <cstdint>

namespace pulsing {

class ShardedCounter {
 public:
  void add(std::uint64_t n = 1) noexcept {
    const std::size_t index = thread_index();
    if (index < kSlots) {
      auto& owned = slots_[index].count;  // written by this thread alone
      owned.store(owned.load(std::memory_order_relaxed) + n, std::memory_order_relaxed);
    } else {
      shared_.count.fetch_add(n, std::memory_order_relaxed);
    }
  }

  std::uint64_t value() const noexcept {
    std::uint64_t sum = shared_.count.load(std::memory_order_relaxed);
    for (const auto& slot : slots_) sum += slot.count.load(std::memory_order_relaxed);
    return sum;
  }

 private:
  static constexpr std::size_t kSlots = 32;
  struct alignas(64) Slot {
    std::atomic<std::uint64_t> count{0};
  };

  // The process's threads are numbered as they first count, so that a slot has one writer.
  static std::size_t thread_index() noexcept {
    static std::atomic<std::size_t> next{0};
    thread_local const std::size_t index = next.fetch_add(1, std::memory_order_relaxed);
    return index;
  }

  std::array<Slot, kSlots> slots_{};
  Slot shared_;
};

}  // namespace pulsing
