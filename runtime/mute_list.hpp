// Muted / MuteList: senders that a receiver slowed down, and the one call that lets them go.
//
// A receiver over its bound (an actor's mailbox past its capacity, a remote actor that said it
// is congested) mutes whoever sends to it, and keeps them in a MuteList until it has room
// again; release() then calls unmute() on each, once. Who is muted decides what unmuting does:
// a local actor is scheduled again (ActorCell), a sender on another node is told so over the
// network (RemoteLink's relief notice).
//
// Thread-safety: every member from any thread. unmute() runs on the releasing thread, outside
// the list's lock.
#pragma once

#include <atomic>
#include <memory>
#include <vector>

#include "common/spin_lock.hpp"

namespace pulsing::detail {

class Muted {
 public:
  virtual ~Muted() = default;
  // The receiver has room again. Called at most once per add() to a list.
  virtual void unmute() = 0;
};

class MuteList {
 public:
  void add(std::shared_ptr<Muted> muted) {
    {
      std::lock_guard lock(mutex_);
      muted_.push_back(std::move(muted));
    }
    nonempty_.store(true, std::memory_order_seq_cst);
  }
  // Whether someone waits (cheap: one load).
  bool nonempty() const { return nonempty_.load(std::memory_order_seq_cst); }
  // Unmutes everyone added so far.
  void release() {
    std::vector<std::shared_ptr<Muted>> muted;
    {
      std::lock_guard lock(mutex_);
      muted.swap(muted_);
      nonempty_.store(false, std::memory_order_seq_cst);
    }
    for (auto& m : muted) m->unmute();
  }

 private:
  SpinLock mutex_;
  std::vector<std::shared_ptr<Muted>> muted_;  // guarded by mutex_
  std::atomic<bool> nonempty_{false};
};

}  // namespace pulsing::detail
