// WakeFd: an eventfd that wakes a thread sleeping in poll(): a writer adds to its counter, which
// makes the descriptor readable until the sleeper clears it.
//
// Ownership: each WakeFd closes its own descriptor. duplicate() opens another descriptor of the
// same eventfd, owned by whoever holds it: for threads that may outlive the first one
// (ZmqTransport's host name lookups, which are abandoned rather than waited for).
// Thread-safety: wake() from any thread; clear() by the thread that polls fd().
#pragma once

#include <memory>

namespace pulsing {

class WakeFd {
 public:
  // Throws std::runtime_error when the kernel gives no eventfd.
  WakeFd();
  ~WakeFd();
  WakeFd(const WakeFd&) = delete;
  WakeFd& operator=(const WakeFd&) = delete;

  // Another descriptor of this eventfd; one that could not be opened wakes nobody.
  std::shared_ptr<WakeFd> duplicate() const;

  int fd() const { return fd_; }
  void wake() const;
  // Takes in the wake-ups written so far: the descriptor is quiet again.
  void clear() const;

 private:
  explicit WakeFd(int fd) : fd_(fd) {}

  const int fd_;
};

}  // namespace pulsing
