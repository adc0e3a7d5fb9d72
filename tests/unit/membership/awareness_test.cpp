#include "membership/awareness.hpp"

#include <doctest/doctest.h>

#include <chrono>

namespace pulsing::membership {

using std::chrono::milliseconds;

TEST_CASE("a healthy node scales nothing") {
  Awareness a(8);
  CHECK(a.score() == 0);
  CHECK(a.scale(milliseconds(100)) == milliseconds(100));
}

TEST_CASE("the score never goes below zero") {
  Awareness a(8);
  a.apply(-1);
  CHECK(a.score() == 0);
  a.apply(2);
  a.apply(-5);
  CHECK(a.score() == 0);
}

TEST_CASE("the score stops at max - 1, so timeouts stretch at most max times") {
  Awareness a(8);
  a.apply(3);
  CHECK(a.score() == 3);
  a.apply(100);
  CHECK(a.score() == 7);
  a.apply(1);
  CHECK(a.score() == 7);
  CHECK(a.scale(milliseconds(100)) == milliseconds(800));
}

TEST_CASE("scale multiplies by score + 1 and recovers as the score falls") {
  Awareness a(8);
  a.apply(2);
  CHECK(a.scale(milliseconds(200)) == milliseconds(600));
  CHECK(a.scale(std::chrono::seconds(1)) == std::chrono::seconds(3));
  a.apply(-1);
  CHECK(a.scale(milliseconds(200)) == milliseconds(400));
}

TEST_CASE("with a maximum multiplier of 1 the score is pinned at zero") {
  Awareness a(1);
  a.apply(5);
  CHECK(a.score() == 0);
  CHECK(a.scale(milliseconds(100)) == milliseconds(100));
}

}  // namespace pulsing::membership
