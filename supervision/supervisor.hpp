// Restart policy and the supervisor of one actor: decides, after each crash or stop, whether the
// actor is built again and after how long. Pure logic: it owns no thread and reads no clock, the
// caller passes the current time, so tests step time by hand.
//
// Thread-compatible: one Supervisor belongs to one actor and is used by whoever runs that actor.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string_view>

#include "common/address.hpp"

namespace pulsing {

enum class RestartPolicy : std::uint8_t {
  kNever,      // a crash stops the actor for good (the default, as in the seed)
  kOnFailure,  // a crash builds a fresh instance after a backoff
  kAlways,     // like kOnFailure, and also when the actor stops by itself
};

std::string_view to_string(RestartPolicy policy);
// Accepts "never", "on_failure", "always"; nullopt for anything else.
std::optional<RestartPolicy> parse_restart_policy(std::string_view text);

struct SupervisionOptions {
  RestartPolicy policy = RestartPolicy::kNever;
  // Restarts allowed within `restart_window`; one more crash inside the window stops the actor.
  // Bounds a crash loop without giving up on an actor that fails rarely.
  int max_restarts = 3;
  std::chrono::milliseconds restart_window{60'000};
  // The first restart waits `min_backoff`; each further one doubles, up to `max_backoff`.
  // Defaults follow the seed (1 s and 60 s).
  std::chrono::milliseconds min_backoff{1'000};
  std::chrono::milliseconds max_backoff{60'000};
  // Each delay is drawn uniformly from [delay * (1 - jitter), delay]: spreads restarts of many
  // actors that failed together (a shared dependency went down) instead of retrying in lockstep.
  double jitter = 0.2;
  // After running this long without a crash, the backoff starts again from `min_backoff`.
  std::chrono::milliseconds reset_after{30'000};
};

// The supervisor's verdict on one crash or stop.
struct RestartDecision {
  bool restart = false;
  std::chrono::milliseconds delay{0};  // wait this long before building the new instance
  int restart_count = 0;               // restarts so far within the window, this one included
};

class Supervisor {
 public:
  // `seed` drives the jitter; fixed seeds make tests reproducible.
  explicit Supervisor(SupervisionOptions options, std::uint64_t seed);

  // The instance threw an unclassified exception (a SystemError) at `now`.
  RestartDecision on_crash(Clock::time_point now);
  // The instance stopped by itself (not through a crash) at `now`.
  RestartDecision on_stop(Clock::time_point now);
  // A fresh instance began serving at `now`; starts the quiet period that resets the backoff.
  void on_started(Clock::time_point now);

  const SupervisionOptions& options() const { return options_; }
  int total_restarts() const { return total_restarts_; }

 private:
  RestartDecision decide(Clock::time_point now);
  double next_unit_random();  // uniform in [0, 1)

  SupervisionOptions options_;
  // One word of PRNG state (splitmix64), not a 2.5 KB engine: every actor has a supervisor.
  std::uint64_t random_state_;
  std::chrono::milliseconds next_backoff_;
  Clock::time_point window_start_{};
  Clock::time_point last_start_{};
  int restarts_in_window_ = 0;
  int total_restarts_ = 0;
};

}  // namespace pulsing
