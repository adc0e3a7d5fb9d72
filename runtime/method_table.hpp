// MethodTable: the named, callable methods of one actor class, registered once with
// PULSING_METHODS. A method is reached by typed member pointer (local calls, no encoding) or by
// name with Value arguments (calls from other processes, the CLI, other languages); both reach
// the same handler.
//
// Methods must not be overloaded (a name maps to one signature). A method returns a plain value
// (or void), a Task<T> (a coroutine handler) or a Stream<T> (a producer of items).
// Thread-safety: immutable after construction.
#pragma once

#include <array>
#include <cstddef>
#include <cstring>
#include <span>
#include <string>
#include <string_view>
#include <tuple>
#include <type_traits>
#include <typeindex>
#include <vector>

#include "common/preprocessor.hpp"
#include "messaging/convert.hpp"
#include "messaging/value.hpp"
#include "messaging/value_codec.hpp"
#include "runtime/task.hpp"

namespace pulsing {

template <typename T>
class Stream;

namespace detail {
class ActorCell;
class DynamicReply;

template <typename M>
struct method_traits;
#define PULSING_METHOD_TRAITS(QUALIFIERS)                            \
  template <typename C, typename R, typename... A>                  \
  struct method_traits<R (C::*)(A...) QUALIFIERS> {                  \
    using class_type = C;                                            \
    using result_type = R;                                           \
    using args_tuple = std::tuple<std::decay_t<A>...>;               \
    static constexpr std::size_t arity = sizeof...(A);               \
  };
PULSING_METHOD_TRAITS()
PULSING_METHOD_TRAITS(const)
PULSING_METHOD_TRAITS(noexcept)
PULSING_METHOD_TRAITS(const noexcept)
#undef PULSING_METHOD_TRAITS

template <typename T>
inline constexpr bool is_stream_v = false;
template <typename T>
inline constexpr bool is_stream_v<Stream<T>> = true;

enum class MethodKind : std::uint8_t { kPlain, kTask, kStream };

template <typename R>
constexpr MethodKind kind_of() {
  if constexpr (is_stream_v<R>) return MethodKind::kStream;
  else if constexpr (is_task_v<R>) return MethodKind::kTask;
  else return MethodKind::kPlain;
}

}  // namespace detail

struct MethodEntry {
  using DynamicInvoker = void (*)(const MethodEntry& entry, detail::ActorCell& cell, std::vector<Value>&& args,
                                  detail::DynamicReply&& reply);
  // Reads the arguments straight from an envelope's payload (`envelope`: its bytes, see
  // read_payload), with no Value list in between.
  using WireInvoker = void (*)(const MethodEntry& entry, detail::ActorCell& cell, std::span<const std::byte> envelope,
                               const DecodeLimits& limits, detail::DynamicReply&& reply);

  std::string name;
  std::string signature;  // "add(int) -> int", for error messages and listings
  detail::MethodKind kind;
  DynamicInvoker invoke;
  WireInvoker invoke_wire;
  // The member pointer's type and bytes: to find an entry from a typed call, and for `invoke`
  // to call it.
  std::type_index pointer_type;
  std::array<unsigned char, 2 * sizeof(void*)> pointer_bytes{};

  template <typename M>
  M pointer() const {
    M method;
    std::memcpy(&method, pointer_bytes.data(), sizeof(M));
    return method;
  }
};

class MethodTable {
 public:
  MethodTable(std::string_view class_name, std::vector<MethodEntry> entries);

  std::string_view class_name() const { return class_name_; }
  const std::vector<MethodEntry>& entries() const { return entries_; }
  const MethodEntry* find(std::string_view name) const;
  template <typename M>
    requires std::is_member_function_pointer_v<M>
  const MethodEntry* find(M pointer) const {
    static_assert(sizeof(M) <= sizeof(MethodEntry::pointer_bytes));
    for (const auto& e : entries_) {
      if (e.pointer_type == typeid(M) && std::memcmp(e.pointer_bytes.data(), &pointer, sizeof(M)) == 0) {
        return &e;
      }
    }
    return nullptr;
  }
  std::string names() const;  // "add, count_to", for "unknown method" errors

 private:
  std::string class_name_;
  std::vector<MethodEntry> entries_;
};

namespace detail {

template <typename T>
std::string type_name_of() {
  if constexpr (std::is_void_v<T>) return "null";
  else if constexpr (is_task_v<T>) return type_name_of<typename T::value_type>();
  else if constexpr (is_stream_v<T>) return "stream<" + type_name_of<typename T::value_type>() + ">";
  else return value_type_name<T>();
}

template <typename Tuple, std::size_t... I>
std::string args_signature(std::index_sequence<I...>) {
  std::string out;
  ((out += (I ? ", " : "") + type_name_of<std::tuple_element_t<I, Tuple>>()), ...);
  return out;
}

// The member pointer is a function argument, not a template argument: g++ 12 gives a template
// instantiated on a pointer to a member of a class in an anonymous namespace external linkage,
// so two such classes of one name in two files would share one instantiation. Templates on the
// pointer's *type* are linked correctly.
template <typename M>
void invoke_dynamic(const MethodEntry& entry, ActorCell& cell, std::vector<Value>&& args, DynamicReply&& reply);
template <typename M>
void invoke_wire(const MethodEntry& entry, ActorCell& cell, std::span<const std::byte> envelope,
                 const DecodeLimits& limits, DynamicReply&& reply);

template <typename M>
MethodEntry make_method(std::string_view name, M pointer) {
  static_assert(sizeof(M) <= sizeof(MethodEntry::pointer_bytes));
  using Traits = method_traits<M>;
  using Args = typename Traits::args_tuple;
  MethodEntry entry{std::string(name),
                    std::string(name) + "(" +
                        args_signature<Args>(std::make_index_sequence<Traits::arity>{}) + ") -> " +
                        type_name_of<typename Traits::result_type>(),
                    kind_of<typename Traits::result_type>(), &invoke_dynamic<M>, &invoke_wire<M>, typeid(M)};
  std::memcpy(entry.pointer_bytes.data(), &pointer, sizeof(pointer));
  return entry;
}

}  // namespace detail
}  // namespace pulsing

#define PULSING_PP_METHOD_ENTRY(Class, method) ::pulsing::detail::make_method(#method, &Class::method),

// Inside an actor class: names its callable methods, and gives the class static spawn/resolve
// on the process's default node and a typed self().
#define PULSING_METHODS(Class, ...)                                                             \
 public:                                                                                        \
  static const ::pulsing::MethodTable& pulsing_method_table() {                                 \
    static const ::pulsing::MethodTable table(                                                  \
        #Class, {PULSING_FOR_EACH(PULSING_PP_METHOD_ENTRY, Class, __VA_ARGS__)});               \
    return table;                                                                               \
  }                                                                                             \
  template <typename... PulsingArgs>                                                            \
  static ::pulsing::Future<::pulsing::ActorRef<Class>> spawn(::pulsing::SpawnOptions options,   \
                                                             PulsingArgs&&... args) {           \
    return ::pulsing::default_node().spawn<Class>(std::move(options),                           \
                                                  std::forward<PulsingArgs>(args)...);          \
  }                                                                                             \
  static ::pulsing::Future<::pulsing::ActorRef<Class>> resolve(                                 \
      std::string_view name, std::chrono::milliseconds wait = std::chrono::milliseconds(0)) {   \
    return ::pulsing::default_node().resolve<Class>(name, wait);                                \
  }                                                                                             \
  ::pulsing::ActorRef<Class> self() const { return self_as<Class>(); }
