// Typed values straight to and from the wire form of Value (value.capnp), with no Value in
// between, for the types calls carry most: bool, integers, float and double, text (written),
// text (read). Any other type goes through Value (to_value + write_value, read_value + from_value). Either way the
// bytes written are the ones to_value + write_value would write, and reading accepts exactly
// what read_value + from_value would accept, with the same errors: the fast path is taken only
// where the two cannot differ.
//
// Stateless functions; safe from any thread. Reading must happen inside read_flat_message, as
// read_value does (Cap'n Proto's failures become DecodeError there).
#pragma once

#include <string>
#include <string_view>
#include <type_traits>

#include "messaging/convert.hpp"
#include "messaging/value_codec.hpp"

namespace pulsing {

template <typename T>
void write_wire(wire::Value::Builder builder, const T& value) {
  using V = std::decay_t<const T>;
  if constexpr (std::is_same_v<V, bool>) {
    builder.setBool(value);
  } else if constexpr (detail::SignedInteger<V>) {
    builder.setInt(value);
  } else if constexpr (detail::UnsignedInteger<V>) {
    builder.setUint(value);
  } else if constexpr (std::is_floating_point_v<V> && !std::is_same_v<V, long double>) {
    builder.setFloat(value);
  } else if constexpr (std::is_same_v<V, std::string> || std::is_same_v<V, std::string_view>) {
    builder.setText(capnp::Text::Reader(value.data(), value.size()));
  } else {
    write_value(builder, to_value(value));
  }
}

// Throws ConversionError as from_value does, DecodeError as read_value does. (Scalars cost no
// allocation through Value; text is read into its string directly.)
template <typename T>
T read_wire(wire::Value::Reader reader, int nesting_limit) {
  if constexpr (std::is_same_v<T, std::string>) {
    if (reader.isText()) {
      auto text = reader.getText();
      return std::string(text.begin(), text.size());
    }
  }
  return take_value<T>(read_value(reader, nesting_limit));
}

}  // namespace pulsing
