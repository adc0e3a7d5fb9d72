#include "runtime/message_pool.hpp"

#include <array>
#include <mutex>
#include <new>
#include <vector>

#if defined(__SANITIZE_ADDRESS__)
#define PULSING_POOL_OFF 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define PULSING_POOL_OFF 1
#endif
#endif

namespace pulsing::detail::message_pool {
namespace {

constexpr std::size_t kGranule = 16;  // operator new's alignment on this ABI
constexpr std::size_t kClasses = kMaxPooledSize / kGranule;

#ifdef PULSING_POOL_OFF
constexpr bool kOn = false;
#else
constexpr bool kOn = true;
#endif

struct Block {
  Block* next;
};

std::size_t class_of(std::size_t size) { return size == 0 ? 0 : (size - 1) / kGranule; }
std::size_t block_size(std::size_t size_class) { return (size_class + 1) * kGranule; }

// Releases a list of blocks to operator delete.
void release(Block* head) {
  while (head != nullptr) {
    Block* next = head->next;
    ::operator delete(head);
    head = next;
  }
}

// Full batches (kBatch linked blocks each) that threads have given up, per size class.
class SharedStore {
 public:
  // The head of a batch, or nullptr when there is none.
  Block* take(std::size_t size_class) {
    Slot& slot = slots_[size_class];
    std::lock_guard lock(slot.mutex);
    if (slot.batches.empty()) return nullptr;
    Block* head = slot.batches.back();
    slot.batches.pop_back();
    return head;
  }
  // Keeps a batch; false when the class is full (the caller keeps it).
  bool put(std::size_t size_class, Block* head) {
    Slot& slot = slots_[size_class];
    std::lock_guard lock(slot.mutex);
    if (slot.batches.size() >= kMaxSharedBytes / (kBatch * block_size(size_class))) return false;
    slot.batches.push_back(head);
    return true;
  }

 private:
  struct Slot {
    std::mutex mutex;
    std::vector<Block*> batches;
  };
  std::array<Slot, kClasses> slots_;
};

// Never destroyed: threads may give their blocks back while static objects are being destroyed.
SharedStore& store() {
  static SharedStore* store = new SharedStore;
  return *store;
}

// Set once this thread's cache is gone: a message freed later (by a thread_local destructor
// that runs after the cache's) goes straight back to operator delete. Trivially destructible,
// so it stays readable until the thread ends.
thread_local bool cache_gone = false;

// One thread's free blocks, per size class; handed to the store when the thread exits.
class ThreadCache {
 public:
  ThreadCache() = default;
  ThreadCache(const ThreadCache&) = delete;
  ThreadCache& operator=(const ThreadCache&) = delete;
  ~ThreadCache() {
    cache_gone = true;
    for (std::size_t c = 0; c < kClasses; ++c) {
      while (count_[c] >= kBatch) give_batch(c);
      release(heads_[c]);
      heads_[c] = nullptr;
      count_[c] = 0;
    }
  }

  void* pop(std::size_t size_class) {
    if (heads_[size_class] == nullptr && !refill(size_class)) {
      return ::operator new(block_size(size_class));
    }
    Block* block = heads_[size_class];
    heads_[size_class] = block->next;
    --count_[size_class];
    // The next block was most likely freed on another core: start fetching it for writing now,
    // so that the next message's allocation does not wait for it.
    __builtin_prefetch(heads_[size_class], 1);
    return block;
  }

  void push(std::size_t size_class, void* memory) {
    auto* block = static_cast<Block*>(memory);
    block->next = heads_[size_class];
    heads_[size_class] = block;
    if (++count_[size_class] == 2 * kBatch) give_batch(size_class);
  }

 private:
  bool refill(std::size_t size_class) {
    Block* head = store().take(size_class);
    if (head == nullptr) return false;
    heads_[size_class] = head;
    count_[size_class] = kBatch;
    return true;
  }

  // Gives the kBatch blocks freed longest ago to the store (or back to the system). The most
  // recently freed stay: they are the likeliest to be in this core's cache.
  // REQUIRES: count_[size_class] >= kBatch.
  void give_batch(std::size_t size_class) {
    std::uint32_t keep = count_[size_class] - kBatch;
    Block* batch = heads_[size_class];
    if (keep > 0) {
      Block* last_kept = heads_[size_class];
      for (std::uint32_t i = 1; i < keep; ++i) last_kept = last_kept->next;
      batch = last_kept->next;
      last_kept->next = nullptr;
    } else {
      heads_[size_class] = nullptr;
    }
    count_[size_class] = keep;
    if (!store().put(size_class, batch)) release(batch);
  }

  std::array<Block*, kClasses> heads_{};
  std::array<std::uint32_t, kClasses> count_{};
};

ThreadCache& cache() {
  thread_local ThreadCache cache;
  return cache;
}

}  // namespace

void* allocate(std::size_t size) {
  if (!kOn || size > kMaxPooledSize) return ::operator new(size);
  if (cache_gone) return ::operator new(block_size(class_of(size)));
  return cache().pop(class_of(size));
}

void free(void* block, std::size_t size) noexcept {
  if (!kOn || size > kMaxPooledSize) {
    ::operator delete(block);
    return;
  }
  if (cache_gone) {
    ::operator delete(block);
    return;
  }
  cache().push(class_of(size), block);
}

bool enabled() { return kOn; }

}  // namespace pulsing::detail::message_pool
