// RunArena: memory for a run of messages posted to one mailbox together (the calls of a frame
// to one actor). The producer carves the messages out of a few chunks, so that a run of any
// length costs a few allocations instead of one per message; a chunk is freed by whoever frees
// its last message. Its messages are handled in order from one mailbox, so a chunk outlives
// its run only briefly, and no message keeps another actor's memory alive.
//
// Thread-safety: allocate() and close() by the producer only; free() from any thread, before or
// after close().
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <vector>

namespace pulsing::detail {

class RunArena {
 public:
  RunArena() = default;
  RunArena(const RunArena&) = delete;
  RunArena& operator=(const RunArena&) = delete;
  ~RunArena() { close(); }

  // Memory for `size` bytes, aligned for any scalar type.
  void* allocate(std::size_t size);
  // Ends the run: the next allocation starts a chunk of its own.
  void close();
  // Frees memory from allocate().
  static void free(void* memory);

 private:
  struct Chunk;
  struct Header;
  // Ends the producer's hold on `chunk`: from now on, whoever frees its last allocation frees
  // it (this call, if they all are).
  static void seal(Chunk* chunk);
  static Chunk* make_chunk(std::size_t capacity);
  static void release(Chunk* chunk);  // its last allocation was freed

  Chunk* current_ = nullptr;
  std::size_t next_capacity_ = 0;  // of the run's next chunk: doubles while the run grows
};

}  // namespace pulsing::detail
