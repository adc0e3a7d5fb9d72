// Conversion between C++ types and Value: ValueConverter<T> and the free functions to_value,
// from_value and value_type_name.
//
// Built in: Value; bool; integers (range-checked: "value 300 out of range for int8"); float and
// double (also from int and uint values); std::string (std::string_view and const char* convert
// to Value only); Value::Bytes; enums (as their underlying integer); std::optional (null is
// nullopt); std::vector (list); std::array, std::pair, std::tuple (lists of fixed length);
// std::map and std::unordered_map with std::string keys (map); ActorAddress (actor); and
// structs that declare their fields once:
//
//   struct Point {
//     int x = 0;
//     std::optional<int> y;
//     PULSING_FIELDS(Point, x, y)             // up to 32 fields; private members allowed
//   };
//   PULSING_FIELDS_EXTERNAL(Point, x, y)      // or this, in Point's namespace, for types you
//                                             // cannot edit (public members only)
//
// A struct is a map from field name to field value. Reading one REQUIRES T to be default
// constructible; a missing field is an error naming it unless the field is an optional (then
// nullopt), and keys that name no field are ignored, so that a newer peer may add fields.
// Characters (char, char8_t, ...) and long double are deliberately not convertible.
//
// Other types: specialize `template <> struct pulsing::ValueConverter<T>` with
// `static Value to(const T&)`, `static T from(const Value&)` and `static std::string
// type_name()`, before the first use of the type. Errors are ConversionError; their message
// says where in a nested value the problem is ("element 2: field 'y' of Point: expected int32,
// got text"). Everything here is stateless and thread-safe.
#pragma once

#include <array>
#include <cmath>
#include <concepts>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <tuple>
#include <type_traits>
#include <unordered_map>
#include <utility>
#include <vector>

#include "common/preprocessor.hpp"
#include "messaging/value.hpp"

namespace pulsing {

// Not defined: a type converts iff there is a specialization.
template <typename T, typename Enable = void>
struct ValueConverter;

// T converts to a Value.
template <typename T>
concept ValueSource = requires(const T& t) {
  { ValueConverter<T>::to(t) } -> std::same_as<Value>;
  { ValueConverter<T>::type_name() } -> std::same_as<std::string>;
};

// T converts to a Value and back: what arguments and results of actor methods must be.
template <typename T>
concept Convertible = ValueSource<T> && requires(const Value& v) {
  { ValueConverter<T>::from(v) } -> std::same_as<T>;
};

template <typename T>
Value to_value(const T& v) {
  // String literals arrive as arrays; decay them to const char*.
  using Source = std::decay_t<const T>;
  static_assert(ValueSource<Source>,
                "pulsing: this type does not convert to Value; declare its fields with "
                "PULSING_FIELDS or specialize pulsing::ValueConverter");
  return ValueConverter<Source>::to(v);
}

template <typename T>
T from_value(const Value& v) {
  static_assert(Convertible<T>,
                "pulsing: this type does not convert from Value; declare its fields with "
                "PULSING_FIELDS or specialize pulsing::ValueConverter");
  return ValueConverter<T>::from(v);
}

// from_value for a Value that is not needed afterwards: a converter with a `take` (text)
// moves the contents out instead of copying them.
template <typename T>
T take_value(Value&& v) {
  if constexpr (requires { ValueConverter<T>::take(std::move(v)); }) {
    return ValueConverter<T>::take(std::move(v));
  } else {
    return from_value<T>(v);
  }
}

// "int", "int32", "text", "list<int32>", "map<text,float>", "optional<Point>", ...
template <typename T>
std::string value_type_name() {
  return ValueConverter<T>::type_name();
}

namespace detail {

[[noreturn]] void throw_type_mismatch(std::string_view expected, const Value& got);
// Number: std::int64_t, std::uint64_t or double (the wire types).
template <typename Number>
[[noreturn]] void throw_out_of_range(Number value, std::string_view type);
[[noreturn]] void throw_within(std::string_view where, const ConversionError& error);
[[noreturn]] void throw_length_mismatch(std::size_t expected, std::size_t got,
                                        std::string_view type);

// from_value<T>, with `where()` (a std::string) prefixed to any error.
template <typename T, typename Where>
T from_value_at(const Value& v, Where&& where) {
  try {
    return ValueConverter<T>::from(v);
  } catch (const ConversionError& error) {
    throw_within(where(), error);
  }
}

template <typename T>
T from_element(const Value& v, std::size_t index) {
  return from_value_at<T>(v, [index] { return "element " + std::to_string(index); });
}

// The list in `v`; with `length`, of exactly that length.
inline const Value::List& expect_list(const Value& v, std::string_view type,
                                      std::optional<std::size_t> length = std::nullopt) {
  if (!v.is_list()) throw_type_mismatch(type, v);
  const auto& list = v.as_list();
  if (length && list.size() != *length) throw_length_mismatch(*length, list.size(), type);
  return list;
}

template <typename... Ts>
std::string join_type_names() {
  std::string out;
  ((out += (out.empty() ? "" : ","), out += ValueConverter<Ts>::type_name()), ...);
  return out;
}

template <typename T>
inline constexpr bool kIsOptional = false;
template <typename T>
inline constexpr bool kIsOptional<std::optional<T>> = true;

// pair, tuple and array: a list of exactly tuple_size elements.
template <typename Tuple>
struct TupleLikeConverter {
  static constexpr std::size_t kSize = std::tuple_size_v<Tuple>;

  static Value to(const Tuple& t) {
    Value::List list;
    list.reserve(kSize);
    [&]<std::size_t... I>(std::index_sequence<I...>) {
      (list.push_back(to_value(std::get<I>(t))), ...);
    }(std::make_index_sequence<kSize>{});
    return list;
  }
  static Tuple from(const Value& v) {
    const auto& list = expect_list(v, ValueConverter<Tuple>::type_name(), kSize);
    return [&]<std::size_t... I>(std::index_sequence<I...>) {
      return Tuple{from_element<std::tuple_element_t<I, Tuple>>(list[I], I)...};
    }(std::make_index_sequence<kSize>{});
  }
};

// std::map and std::unordered_map with std::string keys.
template <typename M>
struct TextMapConverter {
  using Mapped = typename M::mapped_type;

  static Value to(const M& m) {
    Value::Map out;
    for (const auto& [key, element] : m) out.emplace(key, to_value(element));
    return out;
  }
  static M from(const Value& v) {
    if (!v.is_map()) throw_type_mismatch(type_name(), v);
    M out;
    for (const auto& [key, element] : v.as_map()) {
      out.emplace(key, from_value_at<Mapped>(element, [&k = key] { return "key '" + k + "'"; }));
    }
    return out;
  }
  static std::string type_name() { return "map<text," + value_type_name<Mapped>() + ">"; }
};

// One declared field of a struct: its name and member pointer.
template <typename Class, typename Member>
struct Field {
  std::string_view name;
  Member Class::*pointer;
};

template <typename Class, typename Member>
constexpr Field<Class, Member> field(std::string_view name, Member Class::*pointer) {
  return {name, pointer};
}

template <typename... Fields>
struct StructFields {
  std::string_view type_name;
  std::tuple<Fields...> fields;
};

template <typename... Fields>
constexpr StructFields<Fields...> struct_fields(std::string_view type_name, Fields... fields) {
  return {type_name, {fields...}};
}

// T declared its fields with PULSING_FIELDS (found by ADL) or PULSING_FIELDS_EXTERNAL.
template <typename T>
concept DeclaresFields = requires(const T* p) { pulsing_fields(p); };

}  // namespace detail

template <>
struct ValueConverter<Value> {
  static Value to(const Value& v) { return v; }
  static Value from(const Value& v) { return v; }
  static std::string type_name() { return "any"; }
};

template <>
struct ValueConverter<bool> {
  static Value to(const bool& b) { return b; }
  static bool from(const Value& v) { return v.as_bool(); }
  static std::string type_name() { return "bool"; }
};

template <typename T>
  requires detail::SignedInteger<T> || detail::UnsignedInteger<T>
struct ValueConverter<T> {
  static Value to(const T& i) { return i; }
  static T from(const Value& v) {
    if (v.is_int()) return narrow(v.as_int());
    if (v.is_uint()) return narrow(v.as_uint());
    detail::throw_type_mismatch(type_name(), v);
  }
  // The exact wire types keep the kind names; narrower ones say their width.
  static std::string type_name() {
    constexpr bool kSigned = std::is_signed_v<T>;
    constexpr auto kBits = std::numeric_limits<std::make_unsigned_t<T>>::digits;
    if constexpr (kBits == 64) {
      return kSigned ? "int" : "uint";
    } else {
      return (kSigned ? "int" : "uint") + std::to_string(kBits);
    }
  }

 private:
  template <typename Wire>
  static T narrow(Wire w) {
    if (!std::in_range<T>(w)) detail::throw_out_of_range(w, type_name());
    return static_cast<T>(w);
  }
};

template <typename T>
  requires std::same_as<T, float> || std::same_as<T, double>
struct ValueConverter<T> {
  static Value to(const T& f) { return f; }
  // Integers become the nearest float (exact up to 2^53 for double).
  static T from(const Value& v) {
    if (v.is_int()) return static_cast<T>(v.as_int());
    if (v.is_uint()) return static_cast<T>(v.as_uint());
    if (!v.is_float()) detail::throw_type_mismatch(type_name(), v);
    double f = v.as_float();
    // Infinities and NaN pass through; only finite doubles too large for T are refused.
    if (std::isfinite(f) &&
        (f > std::numeric_limits<T>::max() || f < std::numeric_limits<T>::lowest())) {
      detail::throw_out_of_range(f, type_name());
    }
    return static_cast<T>(f);
  }
  static std::string type_name() { return std::same_as<T, double> ? "float" : "float32"; }
};

template <>
struct ValueConverter<std::string> {
  static Value to(const std::string& s) { return s; }
  static std::string from(const Value& v) { return v.as_text(); }
  static std::string take(Value&& v) { return std::move(v.as_text()); }
  static std::string type_name() { return "text"; }
};

template <>
struct ValueConverter<std::string_view> {
  static Value to(const std::string_view& s) { return s; }
  static std::string type_name() { return "text"; }
};

template <>
struct ValueConverter<const char*> {
  static Value to(const char* const& s) { return s; }  // REQUIRES: s != nullptr
  static std::string type_name() { return "text"; }
};

template <>
struct ValueConverter<Value::Bytes> {
  static Value to(const Value::Bytes& b) { return b; }
  static Value::Bytes from(const Value& v) { return v.as_bytes(); }
  static std::string type_name() { return "bytes"; }
};

template <>
struct ValueConverter<ActorAddress> {
  static Value to(const ActorAddress& a) { return a; }
  static ActorAddress from(const Value& v) { return v.as_actor(); }
  static std::string type_name() { return "actor"; }
};

template <typename T>
  requires std::is_enum_v<T> && Convertible<std::underlying_type_t<T>>
struct ValueConverter<T> {
  using Underlying = std::underlying_type_t<T>;
  static Value to(const T& e) { return to_value(static_cast<Underlying>(e)); }
  static T from(const Value& v) { return static_cast<T>(from_value<Underlying>(v)); }
  static std::string type_name() { return value_type_name<Underlying>(); }
};

template <Convertible T>
struct ValueConverter<std::optional<T>> {
  static Value to(const std::optional<T>& o) { return o ? to_value(*o) : Value(); }
  static std::optional<T> from(const Value& v) {
    if (v.is_null()) return std::nullopt;
    return from_value<T>(v);
  }
  static std::string type_name() { return "optional<" + value_type_name<T>() + ">"; }
};

template <Convertible T, typename Allocator>
struct ValueConverter<std::vector<T, Allocator>> {
  static Value to(const std::vector<T, Allocator>& elements) {
    Value::List list;
    list.reserve(elements.size());
    for (const auto& element : elements) list.push_back(to_value(element));
    return list;
  }
  static std::vector<T, Allocator> from(const Value& v) {
    const auto& list = detail::expect_list(v, type_name());
    std::vector<T, Allocator> out;
    out.reserve(list.size());
    for (std::size_t i = 0; i < list.size(); ++i) {
      out.push_back(detail::from_element<T>(list[i], i));
    }
    return out;
  }
  static std::string type_name() { return "list<" + value_type_name<T>() + ">"; }
};

template <Convertible T, std::size_t N>
struct ValueConverter<std::array<T, N>> : detail::TupleLikeConverter<std::array<T, N>> {
  static std::string type_name() {
    return "array<" + value_type_name<T>() + "," + std::to_string(N) + ">";
  }
};

template <Convertible A, Convertible B>
struct ValueConverter<std::pair<A, B>> : detail::TupleLikeConverter<std::pair<A, B>> {
  static std::string type_name() { return "tuple<" + detail::join_type_names<A, B>() + ">"; }
};

template <Convertible... Ts>
struct ValueConverter<std::tuple<Ts...>> : detail::TupleLikeConverter<std::tuple<Ts...>> {
  static std::string type_name() { return "tuple<" + detail::join_type_names<Ts...>() + ">"; }
};

template <Convertible T, typename Compare, typename Allocator>
struct ValueConverter<std::map<std::string, T, Compare, Allocator>>
    : detail::TextMapConverter<std::map<std::string, T, Compare, Allocator>> {};

template <Convertible T, typename Hash, typename Equal, typename Allocator>
struct ValueConverter<std::unordered_map<std::string, T, Hash, Equal, Allocator>>
    : detail::TextMapConverter<std::unordered_map<std::string, T, Hash, Equal, Allocator>> {};

template <detail::DeclaresFields T>
struct ValueConverter<T> {
  static Value to(const T& object) {
    Value::Map map;
    std::apply(
        [&](const auto&... field) {
          (map.emplace(field.name, to_value(object.*field.pointer)), ...);
        },
        declared().fields);
    return map;
  }
  static T from(const Value& v) {
    if (!v.is_map()) detail::throw_type_mismatch(type_name(), v);
    T object{};
    std::apply(
        [&](const auto&... field) { (read_field(v, field.name, object.*field.pointer), ...); },
        declared().fields);
    return object;
  }
  static std::string type_name() { return std::string(declared().type_name); }

 private:
  static constexpr auto declared() { return pulsing_fields(static_cast<const T*>(nullptr)); }

  template <typename Member>
  static void read_field(const Value& map, std::string_view name, Member& member) {
    const Value* entry = map.find(name);
    if (entry == nullptr) {
      if constexpr (detail::kIsOptional<Member>) {
        member = std::nullopt;
        return;
      } else {
        throw ConversionError("missing field '" + std::string(name) + "' of " + type_name());
      }
    }
    member = detail::from_value_at<Member>(*entry, [name] {
      return "field '" + std::string(name) + "' of " + type_name();
    });
  }
};

}  // namespace pulsing

// Declares the fields of a struct, inside its body: PULSING_FIELDS(Point, x, y). Defines a
// hidden friend `pulsing_fields(const Point*)` that the converter finds by ADL. Up to 32 fields.
#define PULSING_FIELDS(Type, ...)                                                         \
  friend constexpr auto pulsing_fields(const Type*) {                                     \
    return ::pulsing::detail::struct_fields(                                              \
        #Type PULSING_FOR_EACH(PULSING_DETAIL_FIELD, Type, __VA_ARGS__));                 \
  }

// The same, at namespace scope in Type's namespace, for a type whose body you cannot edit.
#define PULSING_FIELDS_EXTERNAL(Type, ...)                                                \
  inline constexpr auto pulsing_fields(const Type*) {                                     \
    return ::pulsing::detail::struct_fields(                                              \
        #Type PULSING_FOR_EACH(PULSING_DETAIL_FIELD, Type, __VA_ARGS__));                 \
  }

// One field, with its leading comma: struct_fields("Point", field("x", ...), field("y", ...)).
#define PULSING_DETAIL_FIELD(T, m) , ::pulsing::detail::field(#m, &T::m)
