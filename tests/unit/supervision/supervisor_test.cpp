#include "supervision/supervisor.hpp"

#include <doctest/doctest.h>

namespace pulsing {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

SupervisionOptions on_failure(int max_restarts) {
  SupervisionOptions options;
  options.policy = RestartPolicy::kOnFailure;
  options.max_restarts = max_restarts;
  options.restart_window = seconds(60);
  options.min_backoff = milliseconds(100);
  options.max_backoff = milliseconds(1'000);
  options.jitter = 0.0;
  options.reset_after = seconds(10);
  return options;
}

}  // namespace

TEST_CASE("policy never: a crash is final") {
  SupervisionOptions options;
  Supervisor supervisor(options, 1);
  Clock::time_point t0{};
  CHECK_FALSE(supervisor.on_crash(t0 + seconds(1)).restart);
  CHECK_FALSE(supervisor.on_stop(t0 + seconds(1)).restart);
}

TEST_CASE("policy on_failure: backoff doubles up to the maximum, then stops after max_restarts") {
  Supervisor supervisor(on_failure(6), 1);
  Clock::time_point t{};
  t += seconds(1);
  std::vector<long> delays;
  for (int i = 0; i < 6; ++i) {
    supervisor.on_started(t);
    auto decision = supervisor.on_crash(t + milliseconds(1));
    REQUIRE(decision.restart);
    CHECK(decision.restart_count == i + 1);
    delays.push_back(decision.delay.count());
    t += decision.delay + milliseconds(1);
  }
  CHECK(delays == std::vector<long>{100, 200, 400, 800, 1000, 1000});
  CHECK_FALSE(supervisor.on_crash(t).restart);
  CHECK(supervisor.total_restarts() == 6);
}

TEST_CASE("policy on_failure does not restart an actor that stopped by itself, always does") {
  Clock::time_point t{};
  t += seconds(1);
  Supervisor on_fail(on_failure(3), 1);
  CHECK_FALSE(on_fail.on_stop(t).restart);

  auto options = on_failure(3);
  options.policy = RestartPolicy::kAlways;
  Supervisor always(options, 1);
  CHECK(always.on_stop(t).restart);
  CHECK(always.on_crash(t).restart);
}

TEST_CASE("a quiet period resets the backoff to the minimum") {
  Supervisor supervisor(on_failure(10), 1);
  Clock::time_point t{};
  t += seconds(1);
  supervisor.on_started(t);
  CHECK(supervisor.on_crash(t).delay == milliseconds(100));
  supervisor.on_started(t);
  CHECK(supervisor.on_crash(t).delay == milliseconds(200));
  supervisor.on_started(t);
  t += seconds(11);  // longer than reset_after without a crash
  CHECK(supervisor.on_crash(t).delay == milliseconds(100));
}

TEST_CASE("restarts are counted within a window, and a new window allows more") {
  Supervisor supervisor(on_failure(2), 1);
  Clock::time_point t{};
  t += seconds(1);
  CHECK(supervisor.on_crash(t).restart);
  CHECK(supervisor.on_crash(t + seconds(1)).restart);
  CHECK_FALSE(supervisor.on_crash(t + seconds(2)).restart);
  auto later = supervisor.on_crash(t + seconds(61));
  CHECK(later.restart);
  CHECK(later.restart_count == 1);
}

TEST_CASE("jitter keeps each delay within [base * (1 - jitter), base]") {
  auto options = on_failure(1);
  options.jitter = 0.5;
  options.restart_window = milliseconds(1);
  for (std::uint64_t seed = 0; seed < 50; ++seed) {
    Supervisor supervisor(options, seed);
    auto delay = supervisor.on_crash(Clock::time_point{} + seconds(1)).delay;
    CHECK(delay >= milliseconds(50));
    CHECK(delay <= milliseconds(100));
  }
}

TEST_CASE("restart policies parse from and print to their names") {
  for (auto policy : {RestartPolicy::kNever, RestartPolicy::kOnFailure, RestartPolicy::kAlways}) {
    CHECK(parse_restart_policy(to_string(policy)) == policy);
  }
  CHECK_FALSE(parse_restart_policy("sometimes").has_value());
}

}  // namespace pulsing
