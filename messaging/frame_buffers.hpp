// FrameBuffers: recycled buffers for outgoing frames. A sender fills one with envelopes; ZeroMQ
// takes it over as a frame without a copy and hands it back here once the frame is sent.
// Reuse spares every frame a fresh allocation, the copies of a growing vector and, for large
// frames, the page faults of memory just obtained from the kernel.
//
// Ownership: take() hands a buffer to the caller, give() takes it back; at most `keep` idle
// buffers are kept, the rest are freed. Thread-safety: take() and give() from any thread.
#pragma once

#include <cstddef>
#include <mutex>
#include <vector>

namespace pulsing {

class FrameBuffers {
 public:
  // Buffers come with `capacity` bytes reserved.
  FrameBuffers(std::size_t capacity, std::size_t keep) : capacity_(capacity), keep_(keep) {}

  // An empty buffer with at least capacity() bytes reserved.
  std::vector<std::byte> take();
  // Returns a buffer (its contents are discarded). One grown past twice the capacity (a large
  // envelope's) is freed rather than kept.
  void give(std::vector<std::byte>&& buffer);

  std::size_t capacity() const { return capacity_; }

 private:
  const std::size_t capacity_;
  const std::size_t keep_;
  std::mutex mutex_;
  std::vector<std::vector<std::byte>> idle_;  // guarded by mutex_
};

}  // namespace pulsing
