#include "messaging/frame_buffers.hpp"

#include <utility>

namespace pulsing {

std::vector<std::byte> FrameBuffers::take() {
  {
    std::lock_guard lock(mutex_);
    if (!idle_.empty()) {
      std::vector<std::byte> buffer = std::move(idle_.back());
      idle_.pop_back();
      return buffer;
    }
  }
  std::vector<std::byte> buffer;
  buffer.reserve(capacity_);
  return buffer;
}

void FrameBuffers::give(std::vector<std::byte>&& buffer) {
  if (buffer.capacity() < capacity_ || buffer.capacity() > 2 * capacity_) return;  // freed
  buffer.clear();
  std::lock_guard lock(mutex_);
  if (idle_.size() < keep_) idle_.push_back(std::move(buffer));
}

}  // namespace pulsing
