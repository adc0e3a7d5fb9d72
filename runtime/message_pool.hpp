// MessagePool: recycled memory for the messages actors send each other.
//
// A tell or an ask allocates its message on the sender's thread, and the receiver's thread
// frees it. With malloc that is a free from another thread per message, which glibc serves
// through the sending thread's arena lock: in bench/README.md's workload W3 (four senders, one
// receiver) malloc and free took about a third of the CPU. The pool keeps freed blocks in lists
// per thread and size class and moves them between threads in batches, so a message costs a
// pointer pop and a push, and a lock is taken once per batch.
//
// Memory stays bounded: each thread keeps at most 2 * kBatch blocks per class, the shared store
// at most kMaxSharedBytes per class; past that, blocks go back to operator delete.
// A thread's blocks go to the shared store when it exits. Sizes above kMaxPooledSize are not
// pooled.
//
// Under AddressSanitizer the pool is off (every block comes from operator new and goes back to
// operator delete), so that a use after free is still found.
//
// Thread-safety: allocate() and free() from any thread.
#pragma once

#include <cstddef>
#include <cstdint>

namespace pulsing::detail::message_pool {

// Blocks move between threads this many at a time.
inline constexpr std::uint32_t kBatch = 64;
// What the shared store keeps per size class, in bytes of blocks: enough for a mailbox's swing
// between its capacity and half of it (8,192 messages by default). With 4,096 blocks per class,
// W3 still spent 15% of its samples in malloc and free.
inline constexpr std::size_t kMaxSharedBytes = std::size_t{4} << 20;
// Larger messages (a Value-carrying call with a long inline payload) use operator new.
inline constexpr std::size_t kMaxPooledSize = 256;

// Memory for an object of `size` bytes, aligned as operator new aligns it.
void* allocate(std::size_t size);
// Gives back memory from allocate(size). REQUIRES: `size` is the size it was allocated with.
void free(void* block, std::size_t size) noexcept;
// Whether blocks are recycled at all (false under AddressSanitizer).
bool enabled();

}  // namespace pulsing::detail::message_pool
