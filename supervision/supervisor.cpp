#include "supervision/supervisor.hpp"

#include <algorithm>

namespace pulsing {

std::string_view to_string(RestartPolicy policy) {
  switch (policy) {
    case RestartPolicy::kNever: return "never";
    case RestartPolicy::kOnFailure: return "on_failure";
    case RestartPolicy::kAlways: return "always";
  }
  return "unknown";
}

std::optional<RestartPolicy> parse_restart_policy(std::string_view text) {
  if (text == "never") return RestartPolicy::kNever;
  if (text == "on_failure") return RestartPolicy::kOnFailure;
  if (text == "always") return RestartPolicy::kAlways;
  return std::nullopt;
}

Supervisor::Supervisor(SupervisionOptions options, std::uint64_t seed)
    : options_(options), random_state_(seed), next_backoff_(options.min_backoff) {}

void Supervisor::on_started(Clock::time_point now) { last_start_ = now; }

RestartDecision Supervisor::on_crash(Clock::time_point now) {
  if (options_.policy == RestartPolicy::kNever) return {};
  return decide(now);
}

RestartDecision Supervisor::on_stop(Clock::time_point now) {
  if (options_.policy != RestartPolicy::kAlways) return {};
  return decide(now);
}

RestartDecision Supervisor::decide(Clock::time_point now) {
  // A long quiet run means the last failures are history: back off from the minimum again.
  if (last_start_ != Clock::time_point{} && now - last_start_ >= options_.reset_after) {
    next_backoff_ = options_.min_backoff;
  }
  if (restarts_in_window_ == 0 || now - window_start_ >= options_.restart_window) {
    window_start_ = now;
    restarts_in_window_ = 0;
  }
  if (restarts_in_window_ >= options_.max_restarts) return {};
  ++restarts_in_window_;
  ++total_restarts_;

  auto base = next_backoff_;
  next_backoff_ = std::min(options_.max_backoff, base * 2);
  double jitter = std::clamp(options_.jitter, 0.0, 1.0);
  double spread = 1.0 - jitter * next_unit_random();
  auto delay = std::chrono::milliseconds(
      static_cast<std::int64_t>(static_cast<double>(base.count()) * spread));
  return {true, delay, restarts_in_window_};
}

double Supervisor::next_unit_random() {
  std::uint64_t z = (random_state_ += 0x9E3779B97F4A7C15ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  z ^= z >> 31;
  return static_cast<double>(z >> 11) * 0x1.0p-53;
}

}  // namespace pulsing
