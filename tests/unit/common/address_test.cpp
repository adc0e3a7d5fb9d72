#include "common/address.hpp"

#include <doctest/doctest.h>

namespace pulsing {

TEST_CASE("an actor address prints and parses back, endpoint slashes included") {
  ActorAddress address{NodeId{0xabcdef0123456789ull}, "tcp://127.0.0.1:7000", ActorId{42}};
  std::string text = address.to_string();
  CHECK(text == "pulsing://tcp://127.0.0.1:7000/abcdef0123456789/42");
  auto parsed = ActorAddress::parse(text);
  REQUIRE(parsed.has_value());
  CHECK(*parsed == address);
}

TEST_CASE("an in-process address has an empty endpoint") {
  ActorAddress address{NodeId{1}, "", ActorId{7}};
  auto parsed = ActorAddress::parse(address.to_string());
  REQUIRE(parsed.has_value());
  CHECK(*parsed == address);
}

TEST_CASE("malformed addresses are rejected") {
  CHECK_FALSE(ActorAddress::parse("").has_value());
  CHECK_FALSE(ActorAddress::parse("tcp://x/1/2").has_value());
  CHECK_FALSE(ActorAddress::parse("pulsing://ep/zz/1").has_value());
  CHECK_FALSE(ActorAddress::parse("pulsing://ep/1/").has_value());
  CHECK_FALSE(ActorAddress::parse("pulsing://ep/1/2x").has_value());
}

}  // namespace pulsing
