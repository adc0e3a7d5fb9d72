#include "membership/replay_guard.hpp"

#include <algorithm>
#include <stdexcept>

namespace pulsing::membership {

ReplayGuard::ReplayGuard(std::uint64_t window_ms, std::size_t max_senders)
    : window_ms_(window_ms), max_senders_(max_senders) {
  if (max_senders == 0) throw std::invalid_argument("ReplayGuard: max_senders must be positive");
}

ReplayGuard::Verdict ReplayGuard::admit(std::uint64_t sender, std::uint64_t sequence, std::uint64_t clock_ms,
                                        std::uint64_t now_ms) {
  const std::uint64_t apart = clock_ms > now_ms ? clock_ms - now_ms : now_ms - clock_ms;
  if (apart > window_ms_) return Verdict::kStale;
  auto it = senders_.find(sender);
  if (it == senders_.end()) {
    if (clock_ms <= floor_) return Verdict::kStale;  // perhaps from a sender forgotten since
    if (senders_.size() >= max_senders_) make_room();
    it = senders_.emplace(sender, Seen{}).first;
  } else if (seen_before(it->second, sequence)) {
    return Verdict::kReplayed;
  }
  Seen& seen = it->second;
  record(seen, sequence);
  seen.last_clock = std::max(seen.last_clock, clock_ms);
  seen.heard_at = now_ms;
  return Verdict::kFresh;
}

bool ReplayGuard::seen_before(const Seen& seen, std::uint64_t sequence) {
  if (sequence > seen.highest) return false;
  if (sequence == seen.highest) return true;
  const std::uint64_t back = seen.highest - sequence;  // 1 or more
  if (back > kReorderSpan) return true;                // too old to tell: refused
  return (seen.below >> (back - 1) & 1) != 0;
}

void ReplayGuard::record(Seen& seen, std::uint64_t sequence) {
  if (sequence > seen.highest) {
    const std::uint64_t ahead = sequence - seen.highest;
    // The old highest becomes bit ahead - 1; everything shifts by `ahead`.
    seen.below = ahead >= kReorderSpan ? 0 : seen.below << ahead;  // a shift by 64 is undefined
    if (seen.highest != 0 && ahead <= kReorderSpan) seen.below |= std::uint64_t{1} << (ahead - 1);
    seen.highest = sequence;
  } else {
    seen.below |= std::uint64_t{1} << (seen.highest - sequence - 1);
  }
}

void ReplayGuard::make_room() {
  auto oldest = senders_.begin();
  for (auto it = senders_.begin(); it != senders_.end(); ++it) {
    if (it->second.heard_at < oldest->second.heard_at) oldest = it;
  }
  if (oldest == senders_.end()) return;
  if (oldest->second.last_clock > floor_) floor_ = oldest->second.last_clock;
  senders_.erase(oldest);
}

}  // namespace pulsing::membership
