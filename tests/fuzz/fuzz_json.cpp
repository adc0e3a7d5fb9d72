// libFuzzer target: the Value JSON parser (messaging/json.hpp), which reads what people and
// tools send (the command line's arguments). The input is JSON text for parse_json(); what
// parses is walked, written back as JSON text and parsed again, which must give the same text
// (json.hpp: every Value survives a round trip). Bad input may only be refused with
// ConversionError; a crash, a sanitizer report, any other exception or a round trip that
// changes the value is a finding.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "messaging/json.hpp"
#include "messaging/value.hpp"

namespace {

using pulsing::Value;

// Visits every element (a parsed value kept in a variable: never iterate a temporary's lists).
std::size_t walk(const Value& value) {
  std::size_t count = 1;
  if (value.is_list()) {
    for (const Value& element : value.as_list()) count += walk(element);
  } else if (value.is_map()) {
    for (const auto& [key, element] : value.as_map()) count += key.size() + walk(element);
  } else if (value.is_actor()) {
    count += value.as_actor().to_string().size();
  }
  return count;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  Value value;
  try {
    value = pulsing::parse_json(text);
  } catch (const pulsing::ConversionError&) {
    return 0;
  }
  static_cast<void>(walk(value));
  static_cast<void>(value.debug_string());
  // The round trip: any exception from here on is a finding.
  const std::string written = pulsing::to_json_text(value);
  const Value reread = pulsing::parse_json(written);
  if (pulsing::to_json_text(reread) != written) __builtin_trap();
  return 0;
}
