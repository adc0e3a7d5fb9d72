// Conversion between Value and JSON, for the command line and for people.
//
// null, bool, numbers, strings, arrays and objects map naturally: int, uint and float become
// numbers; a JSON integer that fits int64 becomes int, a larger one uint, any other number float.
// What JSON cannot say becomes an object with a single "$" key:
//   bytes                      {"$bytes": "<base64>"}
//   actor                      {"$actor": "pulsing://..."}   (ActorAddress::to_string)
//   NaN, inf, -inf             {"$float": "nan" | "inf" | "-inf"}
//   a map whose only key is "$bytes", "$actor", "$float" or "$map"
//                              {"$map": {...}}
// so that every Value survives a round trip (a uint below 2^63 comes back as an equal int).
//
// Errors are ConversionError. Stateless functions; safe to call from any thread.
#pragma once

#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "messaging/value.hpp"

namespace pulsing {

// Deeper JSON is refused, so that hostile input cannot exhaust the stack.
inline constexpr int kMaxJsonDepth = 128;

nlohmann::json to_json(const Value& value);

// Throws ConversionError on a malformed "$" object or nesting deeper than kMaxJsonDepth.
Value from_json(const nlohmann::json& json);

// Compact JSON text. Invalid UTF-8 in text is replaced by U+FFFD.
std::string to_json_text(const Value& value);

// Throws ConversionError naming the position and the reason when `text` is not JSON.
Value parse_json(std::string_view text);

}  // namespace pulsing
