// The message pool: a freed block is handed out again, blocks freed on one thread reach another
// thread in batches, and what the pool keeps stays within its bounds. Under AddressSanitizer the
// pool is off, and only the plain allocation contract is checked.
#include "runtime/message_pool.hpp"

#include <doctest/doctest.h>

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <set>
#include <thread>
#include <vector>

namespace pulsing::detail {
namespace {

namespace pool = message_pool;

TEST_CASE("message pool: memory of any size is usable and given back") {
  for (std::size_t size : {std::size_t{1}, std::size_t{16}, std::size_t{17}, std::size_t{200},
                           pool::kMaxPooledSize, pool::kMaxPooledSize + 1, std::size_t{4096}}) {
    void* block = pool::allocate(size);
    REQUIRE(block != nullptr);
    CHECK(reinterpret_cast<std::uintptr_t>(block) % alignof(std::max_align_t) == 0);
    std::memset(block, 0xab, size);
    pool::free(block, size);
  }
}

TEST_CASE("message pool: a block freed on this thread is handed out again") {
  if (!pool::enabled()) return;
  void* first = pool::allocate(48);
  pool::free(first, 48);
  // Any size of the same 16-byte class gets it.
  void* again = pool::allocate(40);
  CHECK(again == first);
  pool::free(again, 40);
}

TEST_CASE("message pool: blocks freed on another thread are reused here, in batches") {
  if (!pool::enabled()) return;
  // The receiver frees what the sender allocated, as a mailbox's consumer does.
  constexpr int kCount = 4 * pool::kBatch;
  std::vector<void*> sent;
  for (int i = 0; i < kCount; ++i) sent.push_back(pool::allocate(96));
  std::thread receiver([&] {
    for (void* block : sent) pool::free(block, 96);
  });
  receiver.join();
  // The receiver's thread has exited: its blocks went to the shared store, whence they come back
  // (after what this thread's own list still held: less than a batch, left from refills).
  std::set<void*> freed(sent.begin(), sent.end());
  int reused = 0;
  std::vector<void*> taken;
  for (int i = 0; i < kCount; ++i) {
    taken.push_back(pool::allocate(96));
    reused += freed.count(taken.back()) != 0 ? 1 : 0;
  }
  CHECK(reused >= kCount - static_cast<int>(pool::kBatch));
  for (void* block : taken) pool::free(block, 96);
}

TEST_CASE("message pool: a thread that only frees passes whole batches on while it runs") {
  if (!pool::enabled()) return;
  constexpr int kCount = 8 * pool::kBatch;
  std::vector<void*> sent;
  for (int i = 0; i < kCount; ++i) sent.push_back(pool::allocate(160));
  std::set<void*> freed(sent.begin(), sent.end());
  std::atomic<bool> done_freeing{false};
  std::atomic<bool> may_exit{false};
  std::thread receiver([&] {
    for (void* block : sent) pool::free(block, 160);
    done_freeing = true;
    while (!may_exit) std::this_thread::yield();
  });
  while (!done_freeing) std::this_thread::yield();
  // The receiver still runs and keeps at most 2 batches; the rest are in the store already.
  int reused = 0;
  std::vector<void*> taken;
  for (int i = 0; i < kCount - 2 * static_cast<int>(pool::kBatch); ++i) {
    taken.push_back(pool::allocate(160));
    reused += freed.count(taken.back()) != 0 ? 1 : 0;
  }
  CHECK(reused >= kCount - 3 * static_cast<int>(pool::kBatch));
  may_exit = true;
  receiver.join();
  for (void* block : taken) pool::free(block, 160);
}

}  // namespace
}  // namespace pulsing::detail
