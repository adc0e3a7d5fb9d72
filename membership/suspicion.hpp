// Suspicion: the timer that turns a suspect into a dead member, with Lifeguard's dynamic timeout.
// It starts long (`max`) and shrinks towards `min` as independent members confirm the suspicion:
// with k confirmations expected, after n of them the timeout is
//   max(min, max − (max − min) · log(n + 1) / log(k + 1)).
// A suspect that is really dead is confirmed quickly by others and declared soon; one suspected by
// a single slow node alone keeps the long timeout and has time to refute.
//
// Thread-compatible. Times are passed in (pure logic).
#pragma once

#include <chrono>
#include <set>
#include <string>

#include "common/address.hpp"

namespace pulsing::membership {

class Suspicion {
 public:
  // `from` raised the suspicion at `start`. `expected` (k) confirmations shrink the timeout to
  // `min`; with k = 0 it is `min` from the start.
  Suspicion(const std::string& from, int expected, std::chrono::milliseconds min, std::chrono::milliseconds max,
            Clock::time_point start);

  // Another member suspects the same: true when `from` had not said so before (a new, independent
  // confirmation, which shortened the timeout).
  bool confirm(const std::string& from);

  Clock::time_point deadline() const { return deadline_; }
  int confirmations() const { return static_cast<int>(from_.size()) - 1; }

 private:
  void recompute();

  const int expected_;
  const std::chrono::milliseconds min_, max_;
  const Clock::time_point start_;
  std::set<std::string> from_;
  Clock::time_point deadline_;
};

}  // namespace pulsing::membership
