#include "membership/suspicion.hpp"

#include <doctest/doctest.h>

#include <chrono>

namespace pulsing::membership {
namespace {

using std::chrono::milliseconds;

const Clock::time_point kStart = Clock::time_point{} + std::chrono::hours(1);

// How long after kStart the suspect would be declared dead.
long long timeout_ms(const Suspicion& s) {
  return std::chrono::duration_cast<milliseconds>(s.deadline() - kStart).count();
}

}  // namespace

TEST_CASE("a suspicion nobody confirms keeps the longest timeout") {
  Suspicion s("node-a", 3, milliseconds(1'000), milliseconds(5'000), kStart);
  CHECK(timeout_ms(s) == 5'000);
  CHECK(s.confirmations() == 0);
}

TEST_CASE("each independent confirmation shrinks the timeout along the log curve down to the minimum") {
  // k = 3, min 1 s, max 5 s: timeout(n) = 5 s − 4 s · log(n + 1) / log 4.
  Suspicion s("node-a", 3, milliseconds(1'000), milliseconds(5'000), kStart);

  CHECK(s.confirm("node-b"));
  CHECK(s.confirmations() == 1);
  CHECK(timeout_ms(s) == doctest::Approx(3'000).epsilon(0.001));  // log 2 / log 4 = 1/2

  CHECK(s.confirm("node-c"));
  CHECK(s.confirmations() == 2);
  CHECK(timeout_ms(s) == doctest::Approx(1'830).epsilon(0.001));  // 5 − 4 · 0.7925

  CHECK(s.confirm("node-d"));
  CHECK(s.confirmations() == 3);
  CHECK(timeout_ms(s) == 1'000);
}

TEST_CASE("confirmations beyond the expected ones never go below the minimum") {
  Suspicion s("node-a", 1, milliseconds(1'000), milliseconds(5'000), kStart);
  CHECK(s.confirm("node-b"));
  CHECK(timeout_ms(s) == 1'000);
  CHECK(s.confirm("node-c"));
  CHECK(s.confirm("node-d"));
  CHECK(s.confirmations() == 3);
  CHECK(timeout_ms(s) == 1'000);
}

TEST_CASE("a member repeating its suspicion is not a new confirmation") {
  Suspicion s("node-a", 3, milliseconds(1'000), milliseconds(5'000), kStart);
  CHECK_FALSE(s.confirm("node-a"));  // the one who raised it
  CHECK(s.confirmations() == 0);
  CHECK(timeout_ms(s) == 5'000);

  REQUIRE(s.confirm("node-b"));
  auto after_first = s.deadline();
  CHECK_FALSE(s.confirm("node-b"));
  CHECK(s.confirmations() == 1);
  CHECK(s.deadline() == after_first);
}

TEST_CASE("with no confirmation expected the timeout is the minimum from the start") {
  Suspicion s("node-a", 0, milliseconds(1'000), milliseconds(5'000), kStart);
  CHECK(timeout_ms(s) == 1'000);
  CHECK(s.confirm("node-b"));
  CHECK(timeout_ms(s) == 1'000);
}

TEST_CASE("the deadline counts from the start time, not from the confirmations") {
  auto later = kStart + milliseconds(700);
  Suspicion s("node-a", 1, milliseconds(1'000), milliseconds(5'000), later);
  CHECK(s.deadline() == later + milliseconds(5'000));
  s.confirm("node-b");
  CHECK(s.deadline() == later + milliseconds(1'000));
}

}  // namespace pulsing::membership
