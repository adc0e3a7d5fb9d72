#include "messaging/convert.hpp"

#include <array>
#include <cmath>
#include <cstdint>
#include <limits>
#include <map>
#include <optional>
#include <string>
#include <tuple>
#include <unordered_map>
#include <vector>

#include <doctest/doctest.h>

namespace geo {
// A type "from a library we cannot edit": fields declared from outside.
struct Size {
  double width = 0;
  double height = 0;
  bool operator==(const Size&) const = default;
};
PULSING_FIELDS_EXTERNAL(Size, width, height)
}  // namespace geo

namespace pulsing {
namespace {

struct Point {
  int x = 0;
  int y = 0;
  bool operator==(const Point&) const = default;
  PULSING_FIELDS(Point, x, y)
};

struct Line {
  Point from;
  Point to;
  std::vector<Point> path;
  std::optional<Point> label;
  std::optional<std::string> note;
  bool operator==(const Line&) const = default;
  PULSING_FIELDS(Line, from, to, path, label, note)
};

class Account {
 public:
  Account() = default;
  Account(std::string owner, std::int64_t cents) : owner_(std::move(owner)), cents_(cents) {}
  bool operator==(const Account&) const = default;
  PULSING_FIELDS(Account, owner_, cents_)

 private:
  std::string owner_;
  std::int64_t cents_ = 0;
};

struct Wide {
  int f1 = 1, f2 = 2, f3 = 3, f4 = 4, f5 = 5, f6 = 6, f7 = 7, f8 = 8, f9 = 9, f10 = 10;
  int f11 = 11, f12 = 12, f13 = 13, f14 = 14, f15 = 15, f16 = 16, f17 = 17;
  bool operator==(const Wide&) const = default;
  PULSING_FIELDS(Wide, f1, f2, f3, f4, f5, f6, f7, f8, f9, f10, f11, f12, f13, f14, f15, f16,
                 f17)
};

enum class Color : std::uint8_t { kRed = 1, kGreen = 2 };

struct Undeclared {
  int x = 0;
};

template <typename T>
void check_round_trip(const T& value) {
  CHECK(from_value<T>(to_value(value)) == value);
}

}  // namespace

static_assert(Convertible<int>);
static_assert(Convertible<Point>);
static_assert(Convertible<std::vector<std::optional<Point>>>);
static_assert(Convertible<geo::Size>);
static_assert(!Convertible<char>);
static_assert(!Convertible<long double>);
static_assert(!Convertible<Undeclared>);
static_assert(!Convertible<std::vector<Undeclared>>);
static_assert(!Convertible<std::map<int, int>>);
static_assert(ValueSource<std::string_view> && !Convertible<std::string_view>);
static_assert(ValueSource<const char*>);

TEST_CASE("scalars round trip") {
  check_round_trip(true);
  check_round_trip(-7);
  check_round_trip(std::numeric_limits<std::int64_t>::min());
  check_round_trip(std::numeric_limits<std::uint64_t>::max());
  check_round_trip(std::int8_t{-128});
  check_round_trip(std::uint16_t{65535});
  check_round_trip(2.5);
  check_round_trip(0.25f);
  check_round_trip(std::string("text"));
  check_round_trip(Value::Bytes{std::byte{0}, std::byte{255}});
  check_round_trip(ActorAddress{NodeId{3}, "tcp://h:9", ActorId{4}});
  check_round_trip(Value(Value::List{1, "a"}));
  check_round_trip(Color::kGreen);
  CHECK(to_value(Color::kGreen) == Value(2));
  CHECK(to_value(Value::Bytes{std::byte{1}}).is_bytes());
  CHECK(to_value(std::string_view("view")) == Value("view"));
  CHECK(to_value("literal") == Value("literal"));
}

TEST_CASE("take_value converts like from_value, moving text out of a Value no longer needed") {
  Value text(std::string(100, 'x'));
  const char* before = text.as_text().data();
  std::string taken = take_value<std::string>(std::move(text));
  CHECK(taken == std::string(100, 'x'));
  CHECK(taken.data() == before);  // moved, not copied
  CHECK(take_value<int>(Value(7)) == 7);
  CHECK_THROWS_AS(take_value<std::string>(Value(7)), ConversionError);
  CHECK_THROWS_AS(take_value<int>(Value("7")), ConversionError);
}

TEST_CASE("integers convert between int and uint values when the number fits") {
  CHECK(from_value<std::uint64_t>(Value(5)) == 5u);
  CHECK(from_value<int>(Value(5u)) == 5);
  CHECK(from_value<std::int64_t>(Value(std::uint64_t{1} << 62)) == std::int64_t{1} << 62);
}

TEST_CASE("out of range integers name the value and the target type") {
  CHECK_THROWS_WITH_AS(from_value<std::int8_t>(Value(300)), "value 300 out of range for int8",
                       ConversionError);
  CHECK_THROWS_WITH_AS(from_value<std::uint32_t>(Value(-1)), "value -1 out of range for uint32",
                       ConversionError);
  CHECK_THROWS_WITH_AS(from_value<std::int64_t>(Value(std::numeric_limits<std::uint64_t>::max())),
                       "value 18446744073709551615 out of range for int", ConversionError);
  CHECK_THROWS_WITH_AS(from_value<Color>(Value(256)), "value 256 out of range for uint8",
                       ConversionError);
}

TEST_CASE("floats accept integers, integers refuse floats") {
  CHECK(from_value<double>(Value(3)) == 3.0);
  CHECK(from_value<double>(Value(7u)) == 7.0);
  CHECK(from_value<float>(Value(-2)) == -2.0f);
  CHECK(std::isinf(from_value<float>(Value(std::numeric_limits<double>::infinity()))));
  CHECK_THROWS_WITH_AS(from_value<float>(Value(1e300)), "value 1e+300 out of range for float32",
                       ConversionError);
  CHECK_THROWS_WITH_AS(from_value<int>(Value(3.0)), "expected int32, got float", ConversionError);
  CHECK_THROWS_WITH_AS(from_value<double>(Value("3")), "expected float, got text",
                       ConversionError);
  CHECK_THROWS_WITH_AS(from_value<bool>(Value(1)), "expected bool, got int", ConversionError);
  CHECK_THROWS_WITH_AS(from_value<std::string>(Value(1)), "expected text, got int",
                       ConversionError);
}

TEST_CASE("optional is null when empty") {
  CHECK(to_value(std::optional<int>()) == Value());
  CHECK(to_value(std::optional<int>(4)) == Value(4));
  CHECK(from_value<std::optional<int>>(Value()) == std::nullopt);
  CHECK(from_value<std::optional<int>>(Value(4)) == 4);
  CHECK_THROWS_WITH_AS(from_value<std::optional<int>>(Value("x")), "expected int32, got text",
                       ConversionError);
}

TEST_CASE("sequences are lists, fixed-size ones check the length") {
  check_round_trip(std::vector<int>{1, 2, 3});
  check_round_trip(std::vector<int>{});
  check_round_trip(std::vector<bool>{true, false});
  check_round_trip(std::vector<std::vector<std::string>>{{"a"}, {}, {"b", "c"}});
  check_round_trip(std::array<int, 3>{1, 2, 3});
  check_round_trip(std::pair<int, std::string>{1, "one"});
  check_round_trip(std::tuple<int, double, std::string>{1, 2.5, "x"});
  check_round_trip(std::tuple<>{});
  CHECK(to_value(std::pair<int, std::string>{1, "one"}) == Value(Value::List{1, "one"}));

  CHECK_THROWS_WITH_AS(from_value<std::vector<int>>(Value(Value::List{1, "x"})),
                       "element 1: expected int32, got text", ConversionError);
  CHECK_THROWS_WITH_AS(from_value<std::vector<int>>(Value(1)), "expected list<int32>, got int",
                       ConversionError);
  CHECK_THROWS_WITH_AS((from_value<std::array<int, 3>>(Value(Value::List{1, 2}))),
                       "expected 3 elements for array<int32,3>, got 2", ConversionError);
  CHECK_THROWS_WITH_AS((from_value<std::tuple<int, std::string>>(Value(Value::List{1, 2}))),
                       "element 1: expected text, got int", ConversionError);
  CHECK_THROWS_WITH_AS((from_value<std::pair<int, int>>(Value(Value::List{1, 2, 3}))),
                       "expected 2 elements for tuple<int32,int32>, got 3", ConversionError);
}

TEST_CASE("string-keyed maps are maps") {
  check_round_trip(std::map<std::string, double>{{"a", 1.5}, {"b", -1}});
  check_round_trip(std::unordered_map<std::string, std::vector<int>>{{"a", {1}}, {"b", {}}});
  CHECK(to_value(std::map<std::string, int>{{"k", 1}}) == Value(Value::Map{{"k", 1}}));
  CHECK_THROWS_WITH_AS((from_value<std::map<std::string, int>>(Value(Value::Map{{"b", "x"}}))),
                       "key 'b': expected int32, got text", ConversionError);
}

TEST_CASE("type names") {
  CHECK(value_type_name<int>() == "int32");
  CHECK(value_type_name<std::int64_t>() == "int");
  CHECK(value_type_name<std::uint64_t>() == "uint");
  CHECK(value_type_name<double>() == "float");
  CHECK(value_type_name<std::string>() == "text");
  CHECK(value_type_name<Value>() == "any");
  CHECK(value_type_name<std::vector<int>>() == "list<int32>");
  CHECK(value_type_name<std::map<std::string, double>>() == "map<text,float>");
  CHECK(value_type_name<std::optional<Point>>() == "optional<Point>");
  CHECK(value_type_name<std::tuple<int, std::string>>() == "tuple<int32,text>");
  CHECK(value_type_name<geo::Size>() == "Size");
}

TEST_CASE("a struct is a map of its declared fields") {
  CHECK(to_value(Point{1, 2}) == Value(Value::Map{{"x", 1}, {"y", 2}}));
  check_round_trip(Point{-1, 5});
  check_round_trip(Account("ada", 1234));
  check_round_trip(geo::Size{2.5, 4});
  check_round_trip(Wide{});
  CHECK(to_value(Wide{}).as_map().size() == 17);
  CHECK(to_value(Account("ada", 1)) == Value(Value::Map{{"owner_", "ada"}, {"cents_", 1}}));
}

TEST_CASE("nested structs, vectors and optionals of structs") {
  Line line{{0, 0}, {3, 4}, {{1, 1}, {2, 2}}, Point{9, 9}, "n"};
  check_round_trip(line);
  check_round_trip(Line{{0, 0}, {3, 4}, {}, std::nullopt, std::nullopt});
  check_round_trip(std::vector<std::optional<Point>>{Point{1, 2}, std::nullopt});
}

TEST_CASE("a missing field is an error naming it, unless the field is optional") {
  CHECK_THROWS_WITH_AS(from_value<Point>(Value(Value::Map{{"x", 1}})),
                       "missing field 'y' of Point", ConversionError);
  Value without_optionals = Value::Map{
      {"from", Value::Map{{"x", 0}, {"y", 0}}},
      {"to", Value::Map{{"x", 1}, {"y", 1}}},
      {"path", Value::List{}},
  };
  Line line = from_value<Line>(without_optionals);
  CHECK(line.label == std::nullopt);
  CHECK(line.note == std::nullopt);
}

TEST_CASE("unknown keys are ignored, so a newer peer may add fields") {
  CHECK(from_value<Point>(Value(Value::Map{{"x", 1}, {"y", 2}, {"z", "new"}})) == Point{1, 2});
}

TEST_CASE("errors inside structs say where") {
  CHECK_THROWS_WITH_AS(from_value<Point>(Value(Value::Map{{"x", 1}, {"y", "two"}})),
                       "field 'y' of Point: expected int32, got text", ConversionError);
  CHECK_THROWS_WITH_AS(from_value<Point>(Value(5)), "expected Point, got int", ConversionError);
  Value bad_path = to_value(Line{{0, 0}, {1, 1}, {{1, 1}, {2, 2}}, std::nullopt, std::nullopt});
  bad_path.as_map()["path"].as_list()[1].as_map()["x"] = "oops";
  CHECK_THROWS_WITH_AS(from_value<Line>(bad_path),
                       "field 'path' of Line: element 1: field 'x' of Point: expected int32, "
                       "got text",
                       ConversionError);
}

}  // namespace pulsing
