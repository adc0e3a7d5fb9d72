// Values shared by the messaging tests: every kind, edge cases, empty containers, nesting.
#pragma once

#include <cstdint>
#include <limits>

#include "messaging/value.hpp"

namespace pulsing::testing {

inline Value::Bytes bytes_of(std::initializer_list<unsigned> octets) {
  Value::Bytes out;
  for (unsigned o : octets) out.push_back(static_cast<std::byte>(o));
  return out;
}

inline Value every_kind() {
  using std::numeric_limits;
  return Value::Map{
      {"null", nullptr},
      {"bool", Value::List{true, false}},
      {"int", Value::List{0, -1, numeric_limits<std::int64_t>::min(),
                          numeric_limits<std::int64_t>::max()}},
      {"uint", Value::List{numeric_limits<std::uint64_t>::max(), std::uint64_t{1} << 63}},
      {"float", Value::List{0.0, -2.5, 1e300, numeric_limits<double>::infinity(),
                            -numeric_limits<double>::infinity(),
                            numeric_limits<double>::denorm_min()}},
      {"text", Value::List{"", "héllo ✓", std::string("nul\0inside", 10), "\"quoted\"\n"}},
      {"bytes", Value::List{Value::Bytes{}, bytes_of({0x00, 0xff, 0x10}), bytes_of({1, 2})}},
      {"empty list", Value::List{}},
      {"empty map", Value::Map{}},
      {"actor", ActorAddress{NodeId{0xfeedull}, "tcp://10.0.0.1:7000", ActorId{42}}},
      {"local actor", ActorAddress{NodeId{1}, "", ActorId{0}}},
      {"$bytes", "a key that looks like a tag"},
  };
}

// [[[ ... [depth] ... ]]]: `depth` lists around an int.
inline Value nested_lists(int depth) {
  Value v = depth;
  for (int i = 0; i < depth; ++i) v = Value::List{std::move(v)};
  return v;
}

}  // namespace pulsing::testing
