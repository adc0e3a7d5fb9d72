#include "membership/suspicion.hpp"

#include <algorithm>
#include <cmath>

namespace pulsing::membership {

Suspicion::Suspicion(const std::string& from, int expected, std::chrono::milliseconds min,
                     std::chrono::milliseconds max, Clock::time_point start)
    : expected_(std::max(expected, 0)), min_(min), max_(std::max(min, max)), start_(start), from_{from} {
  recompute();
}

bool Suspicion::confirm(const std::string& from) {
  if (!from_.insert(from).second) return false;
  recompute();
  return true;
}

void Suspicion::recompute() {
  if (expected_ == 0) {
    deadline_ = start_ + min_;
    return;
  }
  double n = confirmations();
  double fraction = std::log(n + 1.0) / std::log(expected_ + 1.0);
  auto span = static_cast<double>((max_ - min_).count());
  auto timeout = std::chrono::milliseconds(static_cast<std::int64_t>(static_cast<double>(max_.count()) - span * fraction));
  deadline_ = start_ + std::max(min_, timeout);
}

}  // namespace pulsing::membership
