#include "messaging/value.hpp"

#include <array>
#include <charconv>
#include <cmath>
#include <iterator>
#include <ostream>
#include <utility>

#include <fmt/format.h>

namespace pulsing {

namespace {

// Enough of each byte string to recognise it in a log line.
constexpr std::size_t kDebugBytesShown = 32;

void append_quoted(std::string& out, std::string_view text) {
  out += '"';
  for (char c : text) {
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\t': out += "\\t"; break;
      case '\r': out += "\\r"; break;
      default:
        if (static_cast<unsigned char>(c) < 0x20) {
          fmt::format_to(std::back_inserter(out), "\\u{:04x}", static_cast<unsigned>(c));
        } else {
          out += c;
        }
    }
  }
  out += '"';
}

void append_float(std::string& out, double f) {
  std::array<char, 32> buffer{};
  auto end = std::to_chars(buffer.data(), buffer.data() + buffer.size(), f).ptr;
  std::string_view text(buffer.data(), static_cast<std::size_t>(end - buffer.data()));
  out += text;
  // Keep floats recognisable: 2.0, not 2.
  if (std::isfinite(f) && text.find_first_of(".e") == std::string_view::npos) out += ".0";
}

void append_debug(std::string& out, const Value& value) {
  switch (value.kind()) {
    case Value::Kind::kNull: out += "null"; return;
    case Value::Kind::kBool: out += value.as_bool() ? "true" : "false"; return;
    case Value::Kind::kInt: out += std::to_string(value.as_int()); return;
    case Value::Kind::kUint: out += std::to_string(value.as_uint()); return;
    case Value::Kind::kFloat: append_float(out, value.as_float()); return;
    case Value::Kind::kText: append_quoted(out, value.as_text()); return;
    case Value::Kind::kBytes: {
      const auto& bytes = value.as_bytes();
      out += "<bytes ";
      for (std::size_t i = 0; i < bytes.size() && i < kDebugBytesShown; ++i) {
        fmt::format_to(std::back_inserter(out), "{:02x}", static_cast<unsigned>(bytes[i]));
      }
      if (bytes.size() > kDebugBytesShown) {
        fmt::format_to(std::back_inserter(out), "... ({} bytes)", bytes.size());
      }
      out += '>';
      return;
    }
    case Value::Kind::kList: {
      out += '[';
      const char* separator = "";
      for (const auto& element : value.as_list()) {
        out += std::exchange(separator, ",");
        append_debug(out, element);
      }
      out += ']';
      return;
    }
    case Value::Kind::kMap: {
      out += '{';
      const char* separator = "";
      for (const auto& [key, element] : value.as_map()) {
        out += std::exchange(separator, ",");
        append_quoted(out, key);
        out += ':';
        append_debug(out, element);
      }
      out += '}';
      return;
    }
    case Value::Kind::kActor:
      out += "<actor " + value.as_actor().to_string() + ">";
      return;
  }
}

}  // namespace

std::string_view Value::kind_name(Kind kind) noexcept {
  switch (kind) {
    case Kind::kNull: return "null";
    case Kind::kBool: return "bool";
    case Kind::kInt: return "int";
    case Kind::kUint: return "uint";
    case Kind::kFloat: return "float";
    case Kind::kText: return "text";
    case Kind::kBytes: return "bytes";
    case Kind::kList: return "list";
    case Kind::kMap: return "map";
    case Kind::kActor: return "actor";
  }
  return "unknown";
}

void Value::throw_kind_mismatch(Kind expected) const {
  throw ConversionError(fmt::format("expected {}, got {}", kind_name(expected), kind_name(kind())));
}

const Value* Value::find(std::string_view key) const {
  const Map& map = as_map();
  auto it = map.find(key);
  return it == map.end() ? nullptr : &it->second;
}

bool operator==(const Value& a, const Value& b) {
  if (a.is_int() && b.is_uint()) {
    return a.as_int() >= 0 && static_cast<std::uint64_t>(a.as_int()) == b.as_uint();
  }
  if (a.is_uint() && b.is_int()) return b == a;
  return a.data_ == b.data_;
}

std::string Value::debug_string() const {
  std::string out;
  append_debug(out, *this);
  return out;
}

std::ostream& operator<<(std::ostream& out, const Value& value) {
  return out << value.debug_string();
}

}  // namespace pulsing
