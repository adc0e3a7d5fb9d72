#include "messaging/convert.hpp"

#include <fmt/format.h>

namespace pulsing::detail {

void throw_type_mismatch(std::string_view expected, const Value& got) {
  throw ConversionError(
      fmt::format("expected {}, got {}", expected, Value::kind_name(got.kind())));
}

template <typename Number>
void throw_out_of_range(Number value, std::string_view type) {
  throw ConversionError(fmt::format("value {} out of range for {}", value, type));
}
template void throw_out_of_range(std::int64_t, std::string_view);
template void throw_out_of_range(std::uint64_t, std::string_view);
template void throw_out_of_range(double, std::string_view);

void throw_within(std::string_view where, const ConversionError& error) {
  throw ConversionError(fmt::format("{}: {}", where, error.what()));
}

void throw_length_mismatch(std::size_t expected, std::size_t got, std::string_view type) {
  throw ConversionError(fmt::format("expected {} elements for {}, got {}", expected, type, got));
}

}  // namespace pulsing::detail
