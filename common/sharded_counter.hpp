// ShardedCounter: a monotonic event count that many threads bump at once, such as the messages
// a node's workers handle. One atomic would bounce its cache line between cores on every
// message; here each thread adds to one of a few padded slots (chosen once per thread), and a
// reader sums them. Callers on a hot path still add in batches where they can.
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
    slots_[slot_index()].count.fetch_add(n, std::memory_order_relaxed);
  }

  std::uint64_t value() const noexcept {
    std::uint64_t sum = 0;
    for (const auto& slot : slots_) sum += slot.count.load(std::memory_order_relaxed);
    return sum;
  }

 private:
  static constexpr std::size_t kSlots = 16;
  struct alignas(64) Slot {
    std::atomic<std::uint64_t> count{0};
  };

  // Threads take slots in turn as they first count (a hash of the thread id would not do: they
  // are addresses, alike in their low bits, so all would land in one slot).
  static std::size_t slot_index() noexcept {
    static std::atomic<std::size_t> next{0};
    thread_local const std::size_t index = next.fetch_add(1, std::memory_order_relaxed) % kSlots;
    return index;
  }

  std::array<Slot, kSlots> slots_{};
};

}  // namespace pulsing
