#include "membership/replay_guard.hpp"

#include <doctest/doctest.h>

namespace pulsing::membership {
namespace {

using V = ReplayGuard::Verdict;
constexpr std::uint64_t kNow = 1'800'000'000'000;  // some wall clock, in ms

TEST_CASE("a datagram is admitted once, and again it is a replay") {
  ReplayGuard guard(30'000, 16);
  CHECK(guard.admit(7, 1, kNow, kNow) == V::kFresh);
  CHECK(guard.admit(7, 1, kNow, kNow) == V::kReplayed);
  CHECK(guard.admit(7, 2, kNow, kNow) == V::kFresh);
  CHECK(guard.admit(7, 1, kNow, kNow + 5) == V::kReplayed);
  // Another sender's numbers are its own.
  CHECK(guard.admit(8, 1, kNow, kNow) == V::kFresh);
}

TEST_CASE("datagrams reordered within 64 are each admitted once, older ones are refused") {
  ReplayGuard guard(30'000, 16);
  CHECK(guard.admit(1, 10, kNow, kNow) == V::kFresh);
  CHECK(guard.admit(1, 5, kNow, kNow) == V::kFresh);  // arrived late
  CHECK(guard.admit(1, 9, kNow, kNow) == V::kFresh);
  CHECK(guard.admit(1, 5, kNow, kNow) == V::kReplayed);
  CHECK(guard.admit(1, 9, kNow, kNow) == V::kReplayed);
  CHECK(guard.admit(1, 74, kNow, kNow) == V::kFresh);  // 10 is now exactly 64 below
  CHECK(guard.admit(1, 10, kNow, kNow) == V::kReplayed);
  CHECK(guard.admit(1, 11, kNow, kNow) == V::kFresh);
  CHECK(guard.admit(1, 9, kNow, kNow) == V::kReplayed);  // 65 below: too old to tell
  CHECK(guard.admit(1, 200, kNow, kNow) == V::kFresh);  // a jump past the whole span
  CHECK(guard.admit(1, 199, kNow, kNow) == V::kFresh);
  CHECK(guard.admit(1, 74, kNow, kNow) == V::kReplayed);
  CHECK(guard.admit(1, 0, kNow, kNow) == V::kReplayed);  // numbers start at 1
}

TEST_CASE("a datagram stamped outside the window either way is stale, and not recorded") {
  ReplayGuard guard(1'000, 16);
  CHECK(guard.admit(3, 1, kNow - 1'001, kNow) == V::kStale);
  CHECK(guard.admit(3, 1, kNow + 1'001, kNow) == V::kStale);
  CHECK(guard.senders() == 0);
  CHECK(guard.admit(3, 1, kNow - 1'000, kNow) == V::kFresh);
  // A capture sent again after the window is stale before it is a replay.
  CHECK(guard.admit(3, 1, kNow - 1'000, kNow + 1) == V::kStale);
}

TEST_CASE("a full table forgets the sender heard from longest ago without reopening its replays") {
  ReplayGuard guard(30'000, 2);
  CHECK(guard.admit(1, 1, kNow, kNow) == V::kFresh);
  CHECK(guard.admit(2, 1, kNow + 10, kNow + 10) == V::kFresh);
  CHECK(guard.admit(3, 1, kNow + 20, kNow + 20) == V::kFresh);  // sender 1 is forgotten
  CHECK(guard.senders() == 2);
  // Sender 1's datagram again: unknown now, but no newer than what was forgotten.
  CHECK(guard.admit(1, 1, kNow, kNow + 30) == V::kStale);
  // Its next one, newer than the floor, is admitted.
  CHECK(guard.admit(1, 2, kNow + 31, kNow + 31) == V::kFresh);
  CHECK(guard.senders() == 2);
}

}  // namespace
}  // namespace pulsing::membership
