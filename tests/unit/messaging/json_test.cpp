#include "messaging/json.hpp"

#include <cmath>
#include <limits>
#include <string>

#include <doctest/doctest.h>

#include "samples.hpp"

namespace pulsing {
namespace {

Value round_trip(const Value& value) { return parse_json(to_json_text(value)); }

// The message of the ConversionError that parsing `text` throws, or "" if it parses.
std::string parse_error(std::string_view text) {
  try {
    parse_json(text);
  } catch (const ConversionError& e) {
    return e.what();
  }
  return "";
}

}  // namespace

TEST_CASE("JSON maps naturally") {
  Value v = parse_json(R"({"a": [1, -2, 2.5, true, null, "x"], "b": {}})");
  CHECK(v == Value(Value::Map{{"a", Value::List{1, -2, 2.5, true, nullptr, "x"}},
                              {"b", Value::Map{}}}));
  const auto& a = v.find("a")->as_list();
  CHECK(a[0].is_int());
  CHECK(a[1].is_int());
  CHECK(a[2].is_float());
  CHECK(to_json_text(v) == R"({"a":[1,-2,2.5,true,null,"x"],"b":{}})");
}

TEST_CASE("integers become int, uint beyond int64, float beyond uint64") {
  CHECK(parse_json("9223372036854775807").is_int());
  CHECK(parse_json("-9223372036854775808").is_int());
  CHECK(parse_json("9223372036854775808").as_uint() == std::uint64_t{1} << 63);
  CHECK(parse_json("18446744073709551615").as_uint() == std::numeric_limits<std::uint64_t>::max());
  CHECK(parse_json("18446744073709551616").is_float());
  CHECK(parse_json("-9223372036854775809").is_float());
  CHECK(parse_json("2.0").is_float());
  CHECK(to_json_text(2.0) == "2.0");
}

TEST_CASE("every kind survives a JSON round trip") {
  Value value = testing::every_kind();
  CHECK(round_trip(value) == value);
  CHECK(round_trip(testing::nested_lists(100)) == testing::nested_lists(100));
  CHECK(std::isnan(round_trip(std::numeric_limits<double>::quiet_NaN()).as_float()));
}

TEST_CASE("bytes, actors and non-finite floats use tagged objects") {
  CHECK(to_json_text(testing::bytes_of({1, 2, 3})) == R"({"$bytes":"AQID"})");
  CHECK(to_json_text(testing::bytes_of({1, 2})) == R"({"$bytes":"AQI="})");
  CHECK(to_json_text(testing::bytes_of({1})) == R"({"$bytes":"AQ=="})");
  CHECK(to_json_text(Value::Bytes{}) == R"({"$bytes":""})");
  CHECK(parse_json(R"({"$bytes":"AQI="})") == Value(testing::bytes_of({1, 2})));

  ActorAddress actor{NodeId{0xab}, "tcp://h:1", ActorId{5}};
  CHECK(to_json_text(actor) == R"({"$actor":"pulsing://tcp://h:1/00000000000000ab/5"})");
  CHECK(parse_json(R"({"$actor":"pulsing://tcp://h:1/00000000000000ab/5"})") == Value(actor));

  CHECK(to_json_text(std::numeric_limits<double>::infinity()) == R"({"$float":"inf"})");
  CHECK(to_json_text(-std::numeric_limits<double>::infinity()) == R"({"$float":"-inf"})");
  CHECK(to_json_text(std::numeric_limits<double>::quiet_NaN()) == R"({"$float":"nan"})");
  CHECK(parse_json(R"({"$float":"-inf"})") == Value(-std::numeric_limits<double>::infinity()));
}

TEST_CASE("a map that looks like a tag is wrapped, other $ keys are plain") {
  Value lookalike = Value::Map{{"$bytes", "not base64!"}};
  CHECK(to_json_text(lookalike) == R"({"$map":{"$bytes":"not base64!"}})");
  CHECK(round_trip(lookalike) == lookalike);
  Value wrapper = Value::Map{{"$map", 1}};
  CHECK(round_trip(wrapper) == wrapper);
  CHECK(parse_json(R"({"$other":1})") == Value(Value::Map{{"$other", 1}}));
}

TEST_CASE("bad JSON is a ConversionError with position and reason") {
  std::string error = parse_error("[1, 2,");
  CHECK(error.starts_with("invalid JSON: parse error at line 1, column 7"));
  CHECK(error.find("unexpected end of input") != std::string::npos);
  CHECK(parse_error("{\"a\": tru}").find("line 1, column") != std::string::npos);
  CHECK(parse_error("[1] 2").starts_with("invalid JSON"));
  CHECK(parse_error("").starts_with("invalid JSON"));
}

TEST_CASE("malformed tags are errors that name the tag") {
  CHECK(parse_error(R"({"$bytes":"AQI"})") == "$bytes: base64 length 3 is not a multiple of 4");
  CHECK(parse_error(R"({"$bytes":"AQ!="})") == "$bytes: invalid base64 character at offset 2");
  CHECK(parse_error(R"({"$bytes":"A==="})") == "$bytes: invalid base64 character at offset 1");
  CHECK(parse_error(R"({"$bytes":1})") == "$bytes: expected a string, got number");
  CHECK(parse_error(R"({"$actor":"nope"})") == "$actor: not an actor address: 'nope'");
  CHECK(parse_error(R"({"$float":"big"})") ==
        R"($float: expected "nan", "inf" or "-inf", got 'big')");
  CHECK(parse_error(R"({"$map":[]})") == "$map: expected an object, got array");
}

// Found by tests/fuzz/fuzz_json: nlohmann reports a number beyond double's range as its
// out_of_range (406), not as a parse_error, and parse_json let it escape as that.
TEST_CASE("a number beyond double's range is a ConversionError") {
  CHECK_THROWS_AS(parse_json("1e400"), ConversionError);
  CHECK_THROWS_AS(parse_json("[0,-0,1e372036854775807,-9223372036854775808,0.1]"), ConversionError);
  CHECK_THROWS_AS(parse_json(R"({"a": -1e999})"), ConversionError);
}

TEST_CASE("hostile nesting is refused, not a stack overflow") {
  std::string deep = std::string(100000, '[') + std::string(100000, ']');
  CHECK(parse_error(deep) == "JSON nested deeper than 128 levels");
}

TEST_CASE("invalid UTF-8 in text is replaced in JSON text") {
  CHECK(to_json_text(Value("a\xff")) == "\"a\xef\xbf\xbd\"");
}

TEST_CASE("from_json reads a parsed document") {
  nlohmann::json doc = {{"n", 1}, {"list", {1, "two"}}};
  CHECK(from_json(doc) == Value(Value::Map{{"n", 1}, {"list", Value::List{1, "two"}}}));
  CHECK(to_json(from_json(doc)) == doc);
}

}  // namespace pulsing
