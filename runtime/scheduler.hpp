// Scheduler: a fixed pool of worker threads that run actors. An actor is handed to the scheduler
// when its mailbox becomes non-empty and runs one turn (up to a fairness budget of messages).
//
// Where a scheduled actor goes:
//  - scheduled from a worker: into that worker's "next" slot, so a reply chain (A -> B -> A)
//    stays on one core and one warm cache with no thread wake-up; the slot's previous occupant
//    moves to the worker's own queue, or to the shared queue when another worker is idle;
//  - scheduled from any other thread: the shared queue, waking an idle worker;
//  - scheduled from a guest thread (a node's I/O thread, see enter_guest) outside a turn: that
//    guest's own queue, which it runs between its other duties.
// A worker takes its slot (at most kMaxSlotStreak times in a row, so that its queue is not
// starved), then its own queue, then the shared queue. When all are empty it spins a few
// microseconds watching the shared queue before it sleeps (longer after spins that found work,
// shorter after spins in vain), and producers wake a sleeper only when no worker is spinning: a
// stream of submissions (spawns from the main thread, messages from I/O threads) then costs no
// futex wake-up per item.
//
// Thread-safety: schedule() from any thread. Ownership: the scheduler never owns a Runnable.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <mutex>
#include <thread>
#include <vector>

namespace pulsing::detail {

class Worker;

// Something a worker can run: an actor cell. Intrusive link, so queueing never allocates.
class Runnable {
 public:
  virtual void run_turn() = 0;

 protected:
  virtual ~Runnable() = default;
  // Call at the end of every turn, while still alive. A turn on a guest that took longer than
  // Scheduler::kGuestTurnLimit keeps this runnable off guests until it has had a number of
  // turns within the limit on the pool (a single long turn may be the thread being preempted,
  // not a slow actor); each new offence doubles that number.
  void end_turn();

 private:
  friend class RunQueue;
  friend class Worker;
  friend class Scheduler;
  Runnable* next_runnable_ = nullptr;
  // Turns within the limit still needed before guests may run it again (0: they may). Written
  // only at the end of its turns, which never overlap; read by whoever schedules it.
  std::atomic<std::uint32_t> off_guest_turns_{0};
  std::uint8_t offences_ = 0;  // long guest turns so far (capped)
};

// FIFO of runnables linked through Runnable::next_runnable_. Not synchronised.
class RunQueue {
 public:
  void push(Runnable* r);
  Runnable* pop();
  bool empty() const { return head_ == nullptr; }

 private:
  Runnable* head_ = nullptr;
  Runnable* tail_ = nullptr;
};

class Scheduler {
 public:
  explicit Scheduler(std::size_t threads);
  ~Scheduler();  // stop() if not yet stopped
  Scheduler(const Scheduler&) = delete;
  Scheduler& operator=(const Scheduler&) = delete;

  // Queues `r` to run one turn. REQUIRES: `r` is not queued already (its owner's scheduled flag
  // guarantees that) and outlives its turn.
  void schedule(Runnable* r);
  // Queues `r` behind other work: for an actor that used up its budget and still has messages.
  void reschedule(Runnable* r);
  // Queues `r` for a pool worker whatever the calling thread: for work that should not hold a
  // guest up (a flood of tells from the network, which a worker handles while the guest reads).
  void schedule_on_pool(Runnable* r);

  // Lets the workers finish their current turn, joins them, then runs what is still queued on
  // the calling thread. After stop(), schedule() runs the turn at once on the calling thread:
  // late work (rejecting messages to stopped actors) is done, never stranded in a queue.
  void stop();

  // The worker of this scheduler running on the calling thread (a guest's too), or nullptr.
  Worker* current_worker() const;

  // Guests. A node's I/O thread delivers inbound messages; handing each woken actor to a pool
  // worker costs a wake-up and two thread hops per request (a large share of a loopback round
  // trip). So the I/O thread joins as a guest: actors it wakes outside a turn queue with it,
  // and it runs them itself between I/O passes. The pool takes over whatever would hold the
  // I/O thread up: turns that would exceed a pass's budget, actors scheduled from inside a
  // guest's turn (a local call made there, a rescheduled busy actor), and actors whose turn on
  // a guest took longer than kGuestTurnLimit (until they prove fast again, see end_turn()).
  // REQUIRES: enter_guest() and leave_guest() on the same thread, run_guest() between them; a
  // thread is a guest of one scheduler at a time.
  static constexpr auto kGuestTurnLimit = std::chrono::microseconds(500);
  void enter_guest();
  // Runs the calling guest's queued turns for at most `budget`, then hands the rest to the pool.
  void run_guest(std::chrono::microseconds budget);
  // Hands what the calling guest still has queued to the pool (after stop(): runs it now).
  void leave_guest();

 private:
  friend class Worker;
  void push_shared(Runnable* r);
  Runnable* pop_shared();
  Runnable* spin_for_work(Worker& worker);  // adapts worker.spin_
  Runnable* wait_for_work();

  std::vector<std::unique_ptr<Worker>> workers_;
  std::mutex mutex_;
  std::condition_variable wake_;
  RunQueue shared_;                  // guarded by mutex_
  std::atomic<std::size_t> shared_size_{0};  // shared_'s length, readable without the lock
  std::atomic<int> idle_workers_{0};
  std::atomic<int> spinning_workers_{0};
  std::atomic<bool> stopping_{false};
};

class Worker {
 public:
  explicit Worker(Scheduler& scheduler);

 private:
  friend class Scheduler;
  static constexpr int kMaxSlotStreak = 16;

  void main_loop();
  // Where `r` goes when scheduled on this worker's thread (`rescheduled`: it used its budget).
  void schedule_here(Runnable* r, bool rescheduled);
  void schedule_local(Runnable* r);
  void reschedule_local(Runnable* r);
  Runnable* next_local();

  Scheduler& scheduler_;
  Runnable* slot_ = nullptr;
  int slot_streak_ = 0;
  bool guest_ = false;  // a guest: no thread of its own
  std::chrono::nanoseconds spin_;  // how long the next spin_for_work() may watch
  RunQueue local_;
  std::thread thread_;
};

}  // namespace pulsing::detail
