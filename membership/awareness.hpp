// Awareness: Lifeguard's local health score. A node that misses its own deadlines — probes
// unanswered although the indirect probers said nothing, suspicions about itself it had to
// refute — is more likely slow itself than surrounded by failures. The score then stretches its
// probe interval and timeouts, so that it accuses others more cautiously until it recovers.
//
// Score in [0, max_multiplier - 1]; timeouts are multiplied by score + 1. Thread-compatible.
#pragma once

#include <algorithm>

namespace pulsing::membership {

class Awareness {
 public:
  // REQUIRES: max_multiplier >= 1.
  explicit Awareness(int max_multiplier) : max_(max_multiplier) {}

  // + for a missed deadline, − for a success.
  void apply(int delta) { score_ = std::clamp(score_ + delta, 0, max_ - 1); }
  int score() const { return score_; }

  template <typename Duration>
  Duration scale(Duration d) const {
    return d * (score_ + 1);
  }

 private:
  const int max_;
  int score_ = 0;
};

}  // namespace pulsing::membership
