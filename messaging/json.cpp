#include "messaging/json.hpp"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <utility>

#include <fmt/format.h>

namespace pulsing {

namespace {

using Json = nlohmann::json;

constexpr std::string_view kBytesTag = "$bytes";
constexpr std::string_view kActorTag = "$actor";
constexpr std::string_view kFloatTag = "$float";
constexpr std::string_view kMapTag = "$map";

bool is_tag(std::string_view key) {
  return key == kBytesTag || key == kActorTag || key == kFloatTag || key == kMapTag;
}

constexpr std::string_view kBase64Alphabet =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

std::string base64_encode(const Value::Bytes& bytes) {
  std::string out;
  out.reserve((bytes.size() + 2) / 3 * 4);
  for (std::size_t i = 0; i < bytes.size(); i += 3) {
    std::size_t n = std::min<std::size_t>(3, bytes.size() - i);
    std::uint32_t group = 0;
    for (std::size_t j = 0; j < 3; ++j) {
      group = (group << 8) | (j < n ? static_cast<std::uint32_t>(bytes[i + j]) : 0);
    }
    for (std::size_t j = 0; j < 4; ++j) {
      out += j <= n ? kBase64Alphabet[(group >> (18 - 6 * j)) & 0x3f] : '=';
    }
  }
  return out;
}

// Standard alphabet, padded: what base64_encode writes.
Value::Bytes base64_decode(std::string_view text) {
  if (text.size() % 4 != 0) {
    throw ConversionError(fmt::format("{}: base64 length {} is not a multiple of 4", kBytesTag,
                                      text.size()));
  }
  std::size_t padding = text.ends_with("==") ? 2 : text.ends_with('=') ? 1 : 0;
  Value::Bytes out;
  out.reserve(text.size() / 4 * 3);
  for (std::size_t i = 0; i < text.size(); i += 4) {
    std::uint32_t group = 0;
    for (std::size_t j = 0; j < 4; ++j) {
      char c = text[i + j];
      auto digit = kBase64Alphabet.find(c);
      bool is_padding = i + j >= text.size() - padding;
      if (is_padding ? c != '=' : digit == std::string_view::npos) {
        throw ConversionError(
            fmt::format("{}: invalid base64 character at offset {}", kBytesTag, i + j));
      }
      group = (group << 6) | (is_padding ? 0 : static_cast<std::uint32_t>(digit));
    }
    std::size_t n = i + 4 == text.size() ? 3 - padding : 3;
    for (std::size_t j = 0; j < n; ++j) {
      out.push_back(static_cast<std::byte>((group >> (16 - 8 * j)) & 0xff));
    }
  }
  return out;
}

Json float_to_json(double f) {
  if (std::isfinite(f)) return f;
  return {{kFloatTag, std::isnan(f) ? "nan" : f > 0 ? "inf" : "-inf"}};
}

const std::string& tag_text(const Json& payload, std::string_view tag) {
  if (!payload.is_string()) {
    throw ConversionError(fmt::format("{}: expected a string, got {}", tag, payload.type_name()));
  }
  return payload.get_ref<const std::string&>();
}

Value from_json_at(const Json& json, int depth);

Value map_from_json(const Json& object, int depth) {
  Value::Map map;
  for (const auto& [key, element] : object.items()) {
    map.emplace(key, from_json_at(element, depth + 1));
  }
  return map;
}

// The value of {"$tag": payload}.
Value tagged_from_json(std::string_view tag, const Json& payload, int depth) {
  if (tag == kBytesTag) return base64_decode(tag_text(payload, tag));
  if (tag == kActorTag) {
    const auto& text = tag_text(payload, tag);
    auto actor = ActorAddress::parse(text);
    if (!actor) throw ConversionError(fmt::format("{}: not an actor address: '{}'", tag, text));
    return *actor;
  }
  if (tag == kFloatTag) {
    const auto& text = tag_text(payload, tag);
    if (text == "nan") return std::numeric_limits<double>::quiet_NaN();
    if (text == "inf") return std::numeric_limits<double>::infinity();
    if (text == "-inf") return -std::numeric_limits<double>::infinity();
    throw ConversionError(
        fmt::format("{}: expected \"nan\", \"inf\" or \"-inf\", got '{}'", tag, text));
  }
  if (!payload.is_object()) {
    throw ConversionError(fmt::format("{}: expected an object, got {}", tag, payload.type_name()));
  }
  return map_from_json(payload, depth);
}

Value from_json_at(const Json& json, int depth) {
  if (depth > kMaxJsonDepth) {
    throw ConversionError(fmt::format("JSON nested deeper than {} levels", kMaxJsonDepth));
  }
  switch (json.type()) {
    case Json::value_t::null: return nullptr;
    case Json::value_t::boolean: return json.get<bool>();
    case Json::value_t::number_integer: return json.get<std::int64_t>();
    case Json::value_t::number_unsigned: {
      auto u = json.get<std::uint64_t>();
      if (std::in_range<std::int64_t>(u)) return static_cast<std::int64_t>(u);
      return u;
    }
    case Json::value_t::number_float: return json.get<double>();
    case Json::value_t::string: return json.get<std::string>();
    case Json::value_t::binary: {
      const auto& binary = json.get_binary();
      const auto* begin = reinterpret_cast<const std::byte*>(binary.data());
      return Value::Bytes(begin, begin + binary.size());
    }
    case Json::value_t::array: {
      Value::List list;
      list.reserve(json.size());
      for (const auto& element : json) list.push_back(from_json_at(element, depth + 1));
      return list;
    }
    case Json::value_t::object:
      if (json.size() == 1 && is_tag(json.begin().key())) {
        return tagged_from_json(json.begin().key(), json.begin().value(), depth);
      }
      return map_from_json(json, depth);
    case Json::value_t::discarded: break;
  }
  throw ConversionError(fmt::format("JSON {} has no Value", json.type_name()));
}

}  // namespace

Json to_json(const Value& value) {
  switch (value.kind()) {
    case Value::Kind::kNull: return nullptr;
    case Value::Kind::kBool: return value.as_bool();
    case Value::Kind::kInt: return value.as_int();
    case Value::Kind::kUint: return value.as_uint();
    case Value::Kind::kFloat: return float_to_json(value.as_float());
    case Value::Kind::kText: return value.as_text();
    case Value::Kind::kBytes: return {{kBytesTag, base64_encode(value.as_bytes())}};
    case Value::Kind::kActor: return {{kActorTag, value.as_actor().to_string()}};
    case Value::Kind::kList: {
      Json array = Json::array();
      for (const auto& element : value.as_list()) array.push_back(to_json(element));
      return array;
    }
    case Value::Kind::kMap: {
      Json object = Json::object();
      for (const auto& [key, element] : value.as_map()) object[key] = to_json(element);
      // A lone "$" key would read back as a tag: wrap the map.
      if (object.size() == 1 && is_tag(object.begin().key())) return {{kMapTag, object}};
      return object;
    }
  }
  return nullptr;
}

Value from_json(const Json& json) { return from_json_at(json, 0); }

std::string to_json_text(const Value& value) {
  return to_json(value).dump(-1, ' ', false, Json::error_handler_t::replace);
}

Value parse_json(std::string_view text) {
  try {
    return from_json(Json::parse(text));
  } catch (const Json::exception& e) {
    // A syntax error (parse_error), or a number beyond double's range (out_of_range, 406). Drop
    // nlohmann's "[json.exception.parse_error.101] " prefix; keep position and reason.
    std::string_view message = e.what();
    if (auto end = message.find("] "); end != std::string_view::npos) {
      message.remove_prefix(end + 2);
    }
    throw ConversionError(fmt::format("invalid JSON: {}", message));
  }
}

}  // namespace pulsing
