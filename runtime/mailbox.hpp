// Message and Mailbox: the intrusive, lock-free multi-producer / single-consumer queue every
// actor reads from (D. Vyukov's algorithm). A push is one atomic exchange; nothing is allocated
// by the queue itself (the link lives in the message).
//
// Ownership: push() hands the message to the mailbox; pop() hands it to the consumer, which
// deletes it after use. The mailbox deletes what is left when destroyed.
// Thread-safety: push(), pushed() and depth() from any thread (depth() is approximate); the rest
// only from the single consumer (the worker currently running the actor).
#pragma once

#include <atomic>
#include <cstdint>

namespace pulsing::detail {

class ActorCell;

class Message {
 public:
  virtual ~Message() = default;
  // Runs the message on its actor. REQUIRES: the caller is the actor's current worker.
  virtual void run(ActorCell& cell) = 0;
  // The actor can never run it (stopped, or the node shuts down): fail the sender's future or
  // count a dead letter. Called at most once, instead of run().
  virtual void reject(ActorCell& cell) = 0;

 private:
  friend class Mailbox;
  std::atomic<Message*> next_{nullptr};
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
    Message* prev = tail_.exchange(message, std::memory_order_seq_cst);
    // Counted on the tail's cache line, which this thread owns right after the exchange.
    std::uint64_t pushed = pushed_.fetch_add(1, std::memory_order_seq_cst) + 1;
    prev->next_.store(message, std::memory_order_release);
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
  Message* taken(Message* m) {
    if ((++popped_ & 31) == 0) publish_popped();
    return m;
  }

  class Stub final : public Message {
    void run(ActorCell&) override {}
    void reject(ActorCell&) override {}
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
