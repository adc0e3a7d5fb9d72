#include "messaging/value.hpp"

#include <cstdint>
#include <limits>
#include <sstream>
#include <type_traits>

#include <doctest/doctest.h>

#include "samples.hpp"

namespace pulsing {

using Kind = Value::Kind;

// Construction must pick the obvious kind, and refuse what has no obvious kind.
static_assert(!std::is_convertible_v<char, Value>);
static_assert(!std::is_convertible_v<char32_t, Value>);
static_assert(!std::is_convertible_v<int*, Value>);
static_assert(std::is_base_of_v<std::invalid_argument, ConversionError>);

TEST_CASE("literals and scalars become the obvious kind") {
  Value v = 5;
  Value w = "x";
  Value b = true;
  std::vector<Value> args{50, "a", 2.5};
  CHECK(v.kind() == Kind::kInt);
  CHECK(w.kind() == Kind::kText);
  CHECK(b.kind() == Kind::kBool);
  CHECK(args[0].kind() == Kind::kInt);
  CHECK(args[1].kind() == Kind::kText);
  CHECK(args[2].kind() == Kind::kFloat);

  CHECK(Value().is_null());
  CHECK(Value(nullptr).is_null());
  CHECK(Value(std::int8_t{-3}).as_int() == -3);
  CHECK(Value(static_cast<signed char>(7)).is_int());
  CHECK(Value(std::uint8_t{200}).as_uint() == 200);
  CHECK(Value(std::size_t{9}).is_uint());
  CHECK(Value(std::numeric_limits<std::uint64_t>::max()).as_uint() ==
        std::numeric_limits<std::uint64_t>::max());
  CHECK(Value(1.5f).as_float() == 1.5);
  CHECK(Value(std::string("s")).as_text() == "s");
  CHECK(Value(std::string_view("sv")).as_text() == "sv");
  CHECK(Value(Value::Bytes{std::byte{1}}).as_bytes().size() == 1);
  CHECK(Value(Value::List{1, 2}).as_list().size() == 2);
  CHECK(Value(Value::Map{{"k", 1}}).as_map().size() == 1);
  ActorAddress address{NodeId{1}, "tcp://h:1", ActorId{2}};
  CHECK(Value(address).as_actor() == address);
}

TEST_CASE("kind names") {
  CHECK(Value::kind_name(Kind::kNull) == "null");
  CHECK(Value::kind_name(Kind::kBool) == "bool");
  CHECK(Value::kind_name(Kind::kInt) == "int");
  CHECK(Value::kind_name(Kind::kUint) == "uint");
  CHECK(Value::kind_name(Kind::kFloat) == "float");
  CHECK(Value::kind_name(Kind::kText) == "text");
  CHECK(Value::kind_name(Kind::kBytes) == "bytes");
  CHECK(Value::kind_name(Kind::kList) == "list");
  CHECK(Value::kind_name(Kind::kMap) == "map");
  CHECK(Value::kind_name(Kind::kActor) == "actor");
}

TEST_CASE("checked accessors refuse another kind, and never coerce") {
  CHECK_THROWS_WITH_AS(Value("x").as_int(), "expected int, got text", ConversionError);
  CHECK_THROWS_WITH_AS(Value(5u).as_int(), "expected int, got uint", ConversionError);
  CHECK_THROWS_WITH_AS(Value(5).as_float(), "expected float, got int", ConversionError);
  CHECK_THROWS_WITH_AS(Value().as_list(), "expected list, got null", ConversionError);
  CHECK_THROWS_WITH_AS(Value(1).as_actor(), "expected actor, got int", ConversionError);
}

TEST_CASE("lists and maps are mutable in place") {
  Value list = Value::List{1};
  list.as_list().push_back("two");
  CHECK(list == Value(Value::List{1, "two"}));

  Value map = Value::Map{};
  map.as_map()["k"] = 3;
  CHECK(map == Value(Value::Map{{"k", 3}}));
}

TEST_CASE("find looks up a map key") {
  Value map = Value::Map{{"a", 1}, {"b", Value::List{}}};
  REQUIRE(map.find("a") != nullptr);
  CHECK(*map.find("a") == Value(1));
  CHECK(map.find("missing") == nullptr);
  CHECK_THROWS_WITH_AS(Value(Value::List{}).find("a"), "expected map, got list", ConversionError);
}

TEST_CASE("equality compares kind and contents, int and uint by number") {
  CHECK(Value(5) == Value(5u));
  CHECK(Value(5u) == Value(5));
  CHECK(Value(-1) != Value(std::numeric_limits<std::uint64_t>::max()));
  CHECK(Value(5) != Value(5.0));
  CHECK(Value("5") != Value(5));
  CHECK(Value() == Value(nullptr));
  CHECK(Value(Value::List{1, Value::Map{{"x", 2}}}) ==
        Value(Value::List{1u, Value::Map{{"x", 2u}}}));
  CHECK(Value(Value::Map{{"x", 1}}) != Value(Value::Map{{"y", 1}}));
  CHECK(Value(Value::List{}) != Value(Value::Map{}));
  CHECK(testing::every_kind() == testing::every_kind());
  CHECK(Value(std::numeric_limits<double>::quiet_NaN()) !=
        Value(std::numeric_limits<double>::quiet_NaN()));
}

TEST_CASE("copies are deep") {
  Value original = Value::Map{{"list", Value::List{1, 2}}};
  Value copy = original;
  copy.as_map()["list"].as_list().push_back(3);
  CHECK(original.find("list")->as_list().size() == 2);
  CHECK(copy.find("list")->as_list().size() == 3);
}

TEST_CASE("debug_string is compact and JSON-like") {
  Value v = Value::Map{
      {"a", Value::List{1, -2, 3u, 2.0, 0.5, true, nullptr}},
      {"b", "say \"hi\"\n\x01"},
      {"c", testing::bytes_of({0x0a, 0xff})},
      {"d", ActorAddress{NodeId{0x10}, "tcp://h:1", ActorId{7}}},
      {"e", Value::Map{}},
  };
  CHECK(v.debug_string() ==
        R"({"a":[1,-2,3,2.0,0.5,true,null],"b":"say \"hi\"\n\u0001","c":<bytes 0aff>,)"
        R"("d":<actor pulsing://tcp://h:1/0000000000000010/7>,"e":{}})");
  std::ostringstream out;
  out << Value(Value::List{"x"});
  CHECK(out.str() == R"(["x"])");
}

TEST_CASE("debug_string elides long byte strings") {
  Value::Bytes bytes(100, std::byte{0xab});
  std::string expected = "<bytes ";
  for (int i = 0; i < 32; ++i) expected += "ab";
  expected += "... (100 bytes)>";
  CHECK(Value(bytes).debug_string() == expected);
}

}  // namespace pulsing
