// Value: the dynamic value that actor arguments and results travel as (null, bool, int, uint,
// float, text, bytes, list, map, actor reference). Typed C++ values convert to and from it
// (messaging/convert.hpp); it encodes to Cap'n Proto (messaging/value_codec.hpp) and JSON
// (messaging/json.hpp).
//
// A Value owns its contents (deep copies, cheap moves). Thread-compatible: const access from
// many threads is safe, mutation is not. Checked accessors throw ConversionError on a kind
// mismatch; they never coerce (int 5 is not a uint, nor a float: convert.hpp does that).
// `char` and the other character types are deliberately not constructible (a character or a
// small integer? say which: std::string(1, c) or int{c}); signed/unsigned char are integers.
#pragma once

#include <compare>
#include <concepts>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <iosfwd>
#include <map>
#include <stdexcept>
#include <string>
#include <string_view>
#include <type_traits>
#include <variant>
#include <vector>

#include "common/address.hpp"

namespace pulsing {

// A value of the wrong kind, out of range, or otherwise not convertible. Derives from
// std::invalid_argument so that a handler that throws it reports a bad request (400), not a
// crash. The message says where in a nested value the problem is ("element 2: field 'y' of
// Point: expected int32, got text").
class ConversionError : public std::invalid_argument {
 public:
  using std::invalid_argument::invalid_argument;
};

namespace detail {
template <typename T>
concept CharacterType = std::same_as<T, char> || std::same_as<T, wchar_t> ||
                        std::same_as<T, char8_t> || std::same_as<T, char16_t> ||
                        std::same_as<T, char32_t>;
template <typename T>
concept SignedInteger = std::signed_integral<T> && !CharacterType<T>;
template <typename T>
concept UnsignedInteger =
    std::unsigned_integral<T> && !std::same_as<T, bool> && !CharacterType<T>;
}  // namespace detail

class Value {
 public:
  // kind() is the index into data_, so the order matches its alternatives. Not a wire format.
  enum class Kind : std::uint8_t {
    kNull, kBool, kInt, kUint, kFloat, kText, kBytes, kList, kMap, kActor
  };

  using Bytes = std::vector<std::byte>;
  using List = std::vector<Value>;
  using Map = std::map<std::string, Value, std::less<>>;

  Value() noexcept = default;
  Value(std::nullptr_t) noexcept {}
  Value(bool b) noexcept : data_(b) {}
  template <detail::SignedInteger T>
  Value(T i) noexcept : data_(static_cast<std::int64_t>(i)) {}
  template <detail::UnsignedInteger T>
  Value(T u) noexcept : data_(static_cast<std::uint64_t>(u)) {}
  template <std::floating_point T>
  Value(T f) noexcept : data_(static_cast<double>(f)) {}
  Value(std::string text) noexcept : data_(std::move(text)) {}
  Value(std::string_view text) : data_(std::string(text)) {}
  Value(const char* text) : data_(std::string(text)) {}  // REQUIRES: text != nullptr
  Value(Bytes bytes) noexcept : data_(std::move(bytes)) {}
  Value(List list) noexcept : data_(std::move(list)) {}
  Value(Map map) noexcept : data_(std::move(map)) {}
  Value(ActorAddress actor) noexcept : data_(std::move(actor)) {}
  template <detail::CharacterType T>
  Value(T) = delete;
  // Other pointers would silently become bool.
  Value(const volatile void*) = delete;

  Kind kind() const noexcept { return static_cast<Kind>(data_.index()); }
  // "null", "bool", "int", "uint", "float", "text", "bytes", "list", "map", "actor".
  static std::string_view kind_name(Kind kind) noexcept;

  bool is_null() const noexcept { return kind() == Kind::kNull; }
  bool is_bool() const noexcept { return kind() == Kind::kBool; }
  bool is_int() const noexcept { return kind() == Kind::kInt; }
  bool is_uint() const noexcept { return kind() == Kind::kUint; }
  bool is_float() const noexcept { return kind() == Kind::kFloat; }
  bool is_text() const noexcept { return kind() == Kind::kText; }
  bool is_bytes() const noexcept { return kind() == Kind::kBytes; }
  bool is_list() const noexcept { return kind() == Kind::kList; }
  bool is_map() const noexcept { return kind() == Kind::kMap; }
  bool is_actor() const noexcept { return kind() == Kind::kActor; }

  // Each throws ConversionError("expected int, got text") unless the kind is exactly that.
  bool as_bool() const;
  std::int64_t as_int() const;
  std::uint64_t as_uint() const;
  double as_float() const;
  const std::string& as_text() const;
  std::string& as_text();
  const Bytes& as_bytes() const;
  const List& as_list() const;
  List& as_list();
  const Map& as_map() const;
  Map& as_map();
  const ActorAddress& as_actor() const;

  // The entry under `key`, or nullptr when there is none. Throws ConversionError unless a map.
  const Value* find(std::string_view key) const;

  // Same kind and equal contents, except that an int and a uint holding the same number are
  // equal (JSON, for one, cannot tell them apart). Floats compare as doubles: NaN != NaN.
  friend bool operator==(const Value& a, const Value& b);

  // Compact and JSON-like, for logs and error messages: [1,"a",2.5,null,<bytes 0aff>,
  // <actor pulsing://...>]. Long byte strings are elided. Not a serialization format.
  std::string debug_string() const;

 private:
  [[noreturn]] void throw_kind_mismatch(Kind expected) const;

  template <Kind K>
  const auto& get() const {
    if (kind() != K) throw_kind_mismatch(K);
    return std::get<static_cast<std::size_t>(K)>(data_);
  }
  template <Kind K>
  auto& get() {
    if (kind() != K) throw_kind_mismatch(K);
    return std::get<static_cast<std::size_t>(K)>(data_);
  }

  // Alternatives in Kind order. Containers of the incomplete Value: supported by libstdc++
  // and libc++ (std::vector of an incomplete type is standard since C++17).
  std::variant<std::monostate, bool, std::int64_t, std::uint64_t, double, std::string, Bytes,
               List, Map, ActorAddress>
      data_;
};

inline bool Value::as_bool() const { return get<Kind::kBool>(); }
inline std::int64_t Value::as_int() const { return get<Kind::kInt>(); }
inline std::uint64_t Value::as_uint() const { return get<Kind::kUint>(); }
inline double Value::as_float() const { return get<Kind::kFloat>(); }
inline const std::string& Value::as_text() const { return get<Kind::kText>(); }
inline std::string& Value::as_text() { return get<Kind::kText>(); }
inline const Value::Bytes& Value::as_bytes() const { return get<Kind::kBytes>(); }
inline const Value::List& Value::as_list() const { return get<Kind::kList>(); }
inline Value::List& Value::as_list() { return get<Kind::kList>(); }
inline const Value::Map& Value::as_map() const { return get<Kind::kMap>(); }
inline Value::Map& Value::as_map() { return get<Kind::kMap>(); }
inline const ActorAddress& Value::as_actor() const { return get<Kind::kActor>(); }

// Prints debug_string(); lets test frameworks and loggers show values.
std::ostream& operator<<(std::ostream& out, const Value& value);

}  // namespace pulsing
