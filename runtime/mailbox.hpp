// Message and Mailbox: the intrusive, lock-free multi-producer / single-consumer queue every
// actor reads from (D. Vyukov's algorithm). A push is one atomic exchange, for one message or
// for a MessageChain of many; nothing is allocated by the queue itself (the link lives in the
// message).
//
// Ownership: push() hands the message to the mailbox; pop() hands it to the consumer, which
// deletes it after use. The mailbox deletes what is left when destroyed.
// Thread-safety: push(), pushed() and depth() from any thread (depth() is approximate); the rest
// only from the single consumer (the worker currently running the actor).
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <utility>

#include "runtime/message_pool.hpp"

namespace pulsing::detail {

class ActorCell;

class Message {
 public:
  virtual ~Message() = default;
  // Messages live in recycled memory (message_pool.hpp): most are freed on another thread than
  // the one that made them. A subclass with memory of its own declares its own pair.
  static void* operator new(std::size_t size) { return message_pool::allocate(size); }
  static void operator delete(void* memory, std::size_t size) noexcept { message_pool::free(memory, size); }
  // Placement, for a subclass built in memory it brings.
  static void* operator new(std::size_t, void* where) noexcept { return where; }
  static void operator delete(void*, void*) noexcept {}
  // Runs the message on its actor. REQUIRES: the caller is the actor's current worker.
  virtual void run(ActorCell& cell) = 0;
  // The actor will not run it — it has stopped, or its mailbox is past its bound — for the
  // reason `why`: fail the sender's future with it, or count a dead letter that says it. Called
  // at most once, instead of run().
  virtual void reject(ActorCell& cell, const Failure& why) = 0;

 private:
  friend class Mailbox;
  friend class MessageChain;
  std::atomic<Message*> next_{nullptr};
};

// Messages linked in order, pushed into a mailbox at once: a producer with many messages for one
// actor (a frame's worth from the network) pays one atomic exchange, and the consumer does not
// chase it message by message. Owns its messages until pushed. Not synchronised.
class MessageChain {
 public:
  MessageChain() = default;
  MessageChain(const MessageChain&) = delete;
  MessageChain& operator=(const MessageChain&) = delete;
  MessageChain(MessageChain&& other) noexcept
      : first_(std::exchange(other.first_, nullptr)),
        last_(std::exchange(other.last_, nullptr)),
        size_(std::exchange(other.size_, 0)) {}
  ~MessageChain() {
    while (first_ != nullptr) delete std::exchange(first_, first_->next_.load(std::memory_order_relaxed));
  }

  void append(Message* message) {
    message->next_.store(nullptr, std::memory_order_relaxed);
    if (last_ != nullptr) {
      last_->next_.store(message, std::memory_order_relaxed);
    } else {
      first_ = message;
    }
    last_ = message;
    ++size_;
  }
  // Unlinks and returns the first message; nullptr when empty.
  Message* take_first() {
    Message* message = first_;
    if (message == nullptr) return nullptr;
    first_ = message->next_.load(std::memory_order_relaxed);
    if (first_ == nullptr) last_ = nullptr;
    --size_;
    return message;
  }
  bool empty() const { return first_ == nullptr; }
  std::uint64_t size() const { return size_; }

 private:
  friend class Mailbox;
  Message* first_ = nullptr;
  Message* last_ = nullptr;
  std::uint64_t size_ = 0;
};

class Mailbox {
 public:
  Mailbox() : tail_(&stub_), head_(&stub_) {}
  ~Mailbox();
  Mailbox(const Mailbox&) = delete;
  Mailbox& operator=(const Mailbox&) = delete;

  // Returns the number of messages pushed so far, this one included.
  std::uint64_t push(Message* message) {
    message->next_.store(nullptr, std::memory_order_relaxed);
    return link(message, message, 1);
  }
  // Pushes every message of `chain`, in order, leaving it empty. Returns as push() does.
  // REQUIRES: !chain.empty().
  std::uint64_t push(MessageChain& chain) {
    std::uint64_t pushed = link(chain.first_, chain.last_, chain.size_);
    chain.first_ = chain.last_ = nullptr;
    chain.size_ = 0;
    return pushed;
  }

  // The oldest message, or nullptr when empty (or when a producer is between its exchange and
  // its link; empty() then reports false, so the consumer retries instead of sleeping).
  Message* pop();

  // Publishes the consumer's progress for depth(); pop() does it every 32 messages.
  void publish_popped() { popped_published_.store(popped_, std::memory_order_seq_cst); }

  // Messages pushed so far (any thread) and popped so far (consumer only). The consumer compares
  // them to learn, without touching the queue, whether anything came since it last looked.
  std::uint64_t pushed() const { return pushed_.load(std::memory_order_seq_cst); }
  std::uint64_t popped() const { return popped_; }

  // Messages waiting, as of the consumer's last publish (may overstate by up to 31).
  std::uint64_t depth() const {
    return pushed_.load(std::memory_order_relaxed) -
           popped_published_.load(std::memory_order_seq_cst);
  }
  std::uint64_t depth_after(std::uint64_t pushed_count) const {
    return pushed_count - popped_published_.load(std::memory_order_seq_cst);
  }

 private:
  // Appends the linked messages first..last (`count` of them).
  std::uint64_t link(Message* first, Message* last, std::uint64_t count) {
    Message* prev = tail_.exchange(last, std::memory_order_seq_cst);
    // Counted on the tail's cache line, which this thread owns right after the exchange.
    std::uint64_t pushed = pushed_.fetch_add(count, std::memory_order_seq_cst) + count;
    prev->next_.store(first, std::memory_order_release);
    return pushed;
  }
  Message* taken(Message* m) {
    if ((++popped_ & 31) == 0) publish_popped();
    return m;
  }

  class Stub final : public Message {
    void run(ActorCell&) override {}
    void reject(ActorCell&, const Failure&) override {}
  };

  std::atomic<Message*> tail_;
  std::atomic<std::uint64_t> pushed_{0};
  Message* head_;
  std::uint64_t popped_ = 0;
  std::atomic<std::uint64_t> popped_published_{0};
  Stub stub_;
};

inline Mailbox::~Mailbox() {
  while (Message* m = pop()) delete m;
}

inline Message* Mailbox::pop() {
  Message* head = head_;
  Message* next = head->next_.load(std::memory_order_acquire);
  if (head == &stub_) {
    if (next == nullptr) return nullptr;
    head_ = next;
    head = next;
    next = next->next_.load(std::memory_order_acquire);
  }
  if (next != nullptr) {
    head_ = next;
    return taken(head);
  }
  if (tail_.load(std::memory_order_acquire) != head) return nullptr;  // a push is mid-way
  // `head` is the last message: put the stub behind it so that it can be taken out.
  stub_.next_.store(nullptr, std::memory_order_relaxed);
  Message* prev = tail_.exchange(&stub_, std::memory_order_acq_rel);
  prev->next_.store(&stub_, std::memory_order_release);
  next = head->next_.load(std::memory_order_acquire);
  if (next != nullptr) {
    head_ = next;
    return taken(head);
  }
  return nullptr;
}

}  // namespace pulsing::detail
