#include "runtime/run_arena.hpp"

#include <algorithm>
#include <mutex>
#include <new>
#include <utility>

namespace pulsing::detail {

namespace {
// A run's first chunk holds a few small calls; later ones double up to the largest. A run of
// one call (an idle link) thus costs about what the call alone would.
constexpr std::size_t kFirstChunk = 1024;
constexpr std::size_t kLargestChunk = 64 * 1024;
// Added to a chunk's count of live allocations while it may still hand out more, so that frees
// before the close cannot bring it to zero.
constexpr std::uint32_t kOpenBias = 1u << 30;

// Memory of the largest chunks, kept for reuse (by any arena of the process). A chunk is freed
// on another thread than the one that allocated it, and the allocator answers that pattern, for
// blocks this large, by handing the memory back to the kernel and faulting it in again page by
// page. At most kKept chunks are kept (4 MiB).
class LargeChunks {
 public:
  static constexpr std::size_t kKept = 64;
  void* take() {
    std::lock_guard lock(mutex_);
    if (idle_.empty()) return nullptr;
    void* memory = idle_.back();
    idle_.pop_back();
    return memory;
  }
  bool keep(void* memory) {
    std::lock_guard lock(mutex_);
    if (idle_.size() >= kKept) return false;
    idle_.push_back(memory);
    return true;
  }
  ~LargeChunks() {
    for (void* memory : idle_) ::operator delete(memory);
  }

 private:
  std::mutex mutex_;
  std::vector<void*> idle_;
};
LargeChunks& large_chunks() {
  static LargeChunks* chunks = new LargeChunks;  // never destroyed: arenas may free at exit
  return *chunks;
}
}  // namespace

struct alignas(std::max_align_t) RunArena::Chunk {
  std::atomic<std::uint32_t> live{kOpenBias};
  std::uint32_t handed_out = 0;
  std::size_t used = 0;
  std::size_t capacity = 0;
  std::byte* data() { return reinterpret_cast<std::byte*>(this + 1); }
};

// Before each allocation: the chunk it belongs to.
struct alignas(std::max_align_t) RunArena::Header {
  Chunk* chunk;
};

void RunArena::seal(Chunk* chunk) {
  const std::uint32_t unused_bias = kOpenBias - chunk->handed_out;
  if (chunk->live.fetch_sub(unused_bias, std::memory_order_acq_rel) == unused_bias) release(chunk);
}

RunArena::Chunk* RunArena::make_chunk(std::size_t capacity) {
  void* memory = capacity == kLargestChunk ? large_chunks().take() : nullptr;
  if (memory == nullptr) memory = ::operator new(sizeof(Chunk) + capacity);
  auto* chunk = new (memory) Chunk;
  chunk->capacity = capacity;
  return chunk;
}

void RunArena::release(Chunk* chunk) {
  const bool large = chunk->capacity == kLargestChunk;
  chunk->~Chunk();
  if (!large || !large_chunks().keep(chunk)) ::operator delete(chunk);
}

void* RunArena::allocate(std::size_t size) {
  constexpr std::size_t kAlign = alignof(std::max_align_t);
  const std::size_t need = sizeof(Header) + (size + kAlign - 1) / kAlign * kAlign;
  if (current_ == nullptr || current_->capacity - current_->used < need) {
    if (current_ != nullptr) seal(std::exchange(current_, nullptr));
    next_capacity_ = next_capacity_ == 0 ? kFirstChunk : std::min(2 * next_capacity_, kLargestChunk);
    current_ = make_chunk(std::max(next_capacity_, need));
  }
  auto* header = reinterpret_cast<Header*>(current_->data() + current_->used);
  header->chunk = current_;
  current_->used += need;
  ++current_->handed_out;
  return header + 1;
}

void RunArena::close() {
  next_capacity_ = 0;
  if (current_ != nullptr) seal(std::exchange(current_, nullptr));
}

void RunArena::free(void* memory) {
  Chunk* chunk = (static_cast<Header*>(memory) - 1)->chunk;
  if (chunk->live.fetch_sub(1, std::memory_order_acq_rel) == 1) release(chunk);
}

}  // namespace pulsing::detail
