// References to actors. A reference is a value: copy it, store it, pass it as an argument or
// result (it converts to and from Value as an actor address).
//   AnyRef       untyped: calls methods by name with Value arguments.
//   ActorRef<T>  typed: calls T's methods by member pointer with C++ arguments, type-checked at
//                compile time; also everything AnyRef does.
// Every call always completes: ask with a value, an error or a TimeoutError (default: the node's
// ask timeout, 30 s; with_timeout() sets it per reference); tell is fire-and-forget, and a tell
// that cannot be delivered is counted as a dead letter.
//
// Thread-safety: references may be used from any thread concurrently.
#pragma once

#include <chrono>
#include <memory>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

#include "common/address.hpp"
#include "messaging/convert.hpp"
#include "messaging/value.hpp"
#include "messaging/wire_convert.hpp"
#include "runtime/actor_cell.hpp"
#include "runtime/calls.hpp"
#include "runtime/future.hpp"
#include "runtime/remote.hpp"
#include "runtime/stream.hpp"

namespace pulsing {

class AnyRef {
 public:
  AnyRef() = default;
  explicit AnyRef(std::shared_ptr<detail::ActorCell> cell);
  explicit AnyRef(std::shared_ptr<detail::RemoteActor> remote);

  // A reference to an address this process cannot reach: every call fails with ActorNotFound.
  static AnyRef unreachable(ActorAddress address);

  // Whether calls can reach an actor: a local one, or one on another node.
  bool valid() const { return cell_ != nullptr || remote_ != nullptr; }
  bool is_remote() const { return remote_ != nullptr; }
  ActorAddress address() const;
  // The name the actor was spawned with ("" when anonymous or unreachable).
  const std::string& name() const;
  // The actor's class, as registered by PULSING_METHODS.
  std::string_view class_name() const;
  // "actor 'calc' (Calculator #3)", with the node's endpoint when remote.
  std::string describe() const;

  friend bool operator==(const AnyRef& a, const AnyRef& b) {
    return a.cell_ || b.cell_ ? a.cell_ == b.cell_ : a.address() == b.address();
  }


  Future<Value> ask(std::string_view method, std::vector<Value> args = {}) const;
  void tell(std::string_view method, std::vector<Value> args = {}) const;
  StreamReader<Value> stream(std::string_view method, std::vector<Value> args = {},
                             std::size_t window = kDefaultWindow) const;

  // Completes when the actor stops for good (at once if it already has). For an actor on another
  // node: fails with NodeUnreachable if that node goes away first.
  Future<StopNotice> watch() const;
  // Asks the actor to stop for good (whatever its restart policy); watch() to learn when.
  void stop() const;

  AnyRef with_timeout(std::chrono::milliseconds timeout) const;
  std::chrono::milliseconds timeout() const;

  // The same reference, typed. Fails with RuntimeError(kWrongType) if the actor is another class.
  template <typename T>
  ActorRef<T> as() const;

  static constexpr std::size_t kDefaultWindow = 32;

 protected:
  // Queues `message` for the local actor. REQUIRES: cell_.
  void post(detail::Message* message) const;
  void post_tell(detail::Message* message) const;
  // A call by name to the remote actor, its arguments written by `args`; `reply` receives the
  // outcome. REQUIRES: remote_.
  Future<Value> remote_ask(std::string_view method, const PayloadWriter& args) const;
  void remote_ask(std::string_view method, const PayloadWriter& args, std::shared_ptr<detail::ReplySlot> reply) const;
  void remote_tell(std::string_view method, const PayloadWriter& args) const;
  // Fails `promise` with a TimeoutError if it is not complete within the timeout.
  template <typename R>
  void arm_timeout(Promise<R>& promise, std::string_view method) const;
  Failure unreachable_failure() const;

  // A reference is small (it travels in messages and sits in containers): the actor's cell,
  // or its remote handle, or for an unreachable actor just its address.
  std::shared_ptr<detail::ActorCell> cell_;
  std::shared_ptr<detail::RemoteActor> remote_;
  std::shared_ptr<const ActorAddress> unreachable_;
  std::chrono::milliseconds timeout_{0};  // 0: the node's default
};

template <typename T>
class ActorRef : public AnyRef {
 public:
  ActorRef() = default;
  explicit ActorRef(AnyRef any) : AnyRef(std::move(any)) {}

  using AnyRef::ask;
  using AnyRef::stream;
  using AnyRef::tell;

  template <typename M, typename... A>
    requires std::is_member_function_pointer_v<M>
  Future<detail::ask_result_t<typename detail::method_traits<M>::result_type>> ask(M method, A&&... args) const {
    check_call<M, A...>();
    using R = typename detail::method_traits<M>::result_type;
    static_assert(!detail::is_stream_v<R>, "this is a stream method: call it with stream()");
    using X = detail::ask_result_t<R>;
    if (remote_) return typed_remote_ask<X>(method, std::forward<A>(args)...);
    if (!valid()) return Future<X>::ready(unreachable_failure());
    Promise<X> promise;
    auto future = promise.future();
    arm_timeout(promise, method_name(method));
    post(new detail::CallMessage<M, detail::AskReply<X>>(method, detail::AskReply<X>{std::move(promise)},
                                                        std::forward<A>(args)...));
    return future;
  }

  template <typename M, typename... A>
    requires std::is_member_function_pointer_v<M>
  void tell(M method, A&&... args) const {
    check_call<M, A...>();
    if (remote_) return remote_tell(method_name(method), TypedArgs<M, A...>(args...));
    if (!valid()) return;  // nowhere to deliver, and no node here to count it
    post_tell(new detail::CallMessage<M, detail::TellReply>(method, detail::TellReply{}, std::forward<A>(args)...));
  }

  template <typename M, typename... A>
    requires std::is_member_function_pointer_v<M>
  auto stream(M method, A&&... args) const {
    check_call<M, A...>();
    using R = typename detail::method_traits<M>::result_type;
    static_assert(detail::is_stream_v<R>, "stream() takes a method that returns Stream<T>");
    using Item = typename R::value_type;
    auto channel = std::make_shared<detail::StreamChannel<Item>>(kDefaultWindow);
    if (remote_) {
      detail::InboundStream inbound{
          [channel](Value&& item) {
            try {
              channel->push(from_value<Item>(item));
              return true;
            } catch (const ConversionError&) {
              return false;
            }
          },
          [channel](std::optional<Failure> failure) { channel->finish(std::move(failure)); }};
      remote_->open_stream(method_name(method), TypedArgs<M, A...>(args...), static_cast<std::uint32_t>(kDefaultWindow),
                           std::move(inbound), *channel);
    } else if (!valid()) {
      channel->finish(unreachable_failure());
    } else {
      post(new detail::StreamMessage<M, Item>(method, channel, std::forward<A>(args)...));
    }
    return StreamReader<Item>(channel, timeout());
  }

  ActorRef with_timeout(std::chrono::milliseconds t) const { return ActorRef(AnyRef::with_timeout(t)); }

 private:
  template <typename M, typename... A>
  static constexpr void check_call() {
    using Traits = detail::method_traits<M>;
    static_assert(std::is_base_of_v<typename Traits::class_type, T>, "the method belongs to another actor class");
    static_assert(sizeof...(A) == Traits::arity, "wrong number of arguments for this method");
    static_assert(std::is_constructible_v<typename Traits::args_tuple, A&&...>,
                  "an argument does not convert to the method's parameter type");
  }
  template <typename M>
  std::string_view method_name(M method) const {
    const MethodEntry* entry = T::pulsing_method_table().find(method);
    return entry ? std::string_view(entry->name) : std::string_view("a method");
  }
  // A typed call's arguments as the method's parameter types, written straight into the
  // envelope: what crosses the wire (see write_wire). An argument that already has its
  // parameter's type is written as it is, with no copy. Refers to the arguments: lives on the
  // caller's stack while the envelope is encoded.
  template <typename M, typename... A>
  class TypedArgs final : public PayloadWriter {
    using Params = typename detail::method_traits<M>::args_tuple;

   public:
    explicit TypedArgs(A&... args) : args_(args...) {}
    void write(wire::Value::Builder payload) const override {
      auto list = payload.initList(static_cast<unsigned>(sizeof...(A)));
      [&]<std::size_t... I>(std::index_sequence<I...>) {
        (write_arg<std::tuple_element_t<I, Params>>(list[I], std::get<I>(args_)), ...);
      }(std::index_sequence_for<A...>{});
    }

   private:
    template <typename P, typename Arg>
    static void write_arg(wire::Value::Builder out, const Arg& arg) {
      if constexpr (std::is_same_v<std::remove_cvref_t<Arg>, P>) {
        write_wire(out, arg);
      } else {
        write_wire(out, P(arg));
      }
    }
    std::tuple<A&...> args_;
  };
  template <typename X, typename M, typename... A>
  Future<X> typed_remote_ask(M method, A&&... args) const {
    auto name = method_name(method);
    if constexpr (std::is_same_v<X, Value>) {
      return remote_ask(name, TypedArgs<M, A...>(args...));
    } else {
      auto [slot, future] = detail::make_reply<X>(
          [](Value&& v) -> typename Result<X>::Stored {
            if constexpr (std::is_void_v<X>) {
              return {};
            } else {
              return take_value<X>(std::move(v));
            }
          },
          name);
      remote_ask(name, TypedArgs<M, A...>(args...), std::move(slot));
      return future;
    }
  }
};

template <typename R>
void AnyRef::arm_timeout(Promise<R>& promise, std::string_view method) const {
  auto timeout = this->timeout();
  auto node = cell_->node_shared();
  auto weak = std::weak_ptr<detail::FutureState<R>>(promise.state());
  auto id = node->timers().schedule(
      Clock::now() + timeout,
      // Described only if it fires: formatting per ask would cost more than the ask.
      [weak, cell = cell_, method = std::string(method), ms = timeout.count()] {
        if (auto state = weak.lock()) {
          state->complete(Result<R>(make_failure<TimeoutError>(fmt::format("ask {}.{}", cell->describe(), method), ms)));
        }
      });
  promise.state()->set_on_complete_hook([node, id] { node->timers().cancel(id); });
}

template <typename T>
ActorRef<T> AnyRef::as() const {
  std::string_view expected = T::pulsing_method_table().class_name();
  // A reference that arrived as an address does not know its class until a call tells.
  if (valid() && !class_name().empty() && class_name() != expected) {
    throw RuntimeError(RuntimeErrorKind::kWrongType,
                       fmt::format("{} is a {}, not a {}", describe(), class_name(), expected));
  }
  return ActorRef<T>(*this);
}

template <typename T>
ActorRef<T> Actor::self_as() const {
  return ActorRef<T>(self_ref());
}

namespace detail {
// Completes with the reference typed as T, or fails with kWrongType (or the lookup's failure).
template <typename T>
Future<ActorRef<T>> typed_ref(Future<AnyRef> any) {
  auto typed = std::make_shared<Promise<ActorRef<T>>>();
  auto future = typed->future();
  any.then([typed](Result<AnyRef> r) {
    if (!r.ok()) {
      typed->fail(r.failure());
      return;
    }
    try {
      typed->set_value(r.value().template as<T>());
    } catch (...) {
      typed->fail(classify(std::current_exception()));
    }
  });
  return future;
}

// The actor at `address` (references arriving as Values): a local one, one on another node
// (whose class is taken to be `assumed_class`, unknown when empty), or unreachable() if none.
AnyRef ref_from_address(const ActorAddress& address, std::string_view assumed_class = {});
}  // namespace detail

template <>
struct ValueConverter<AnyRef> {
  static Value to(const AnyRef& ref) { return Value(ref.address()); }
  static AnyRef from(const Value& v) { return detail::ref_from_address(v.as_actor()); }
  static std::string type_name() { return "actor"; }
};

template <typename T>
struct ValueConverter<ActorRef<T>> {
  static Value to(const ActorRef<T>& ref) { return Value(ref.address()); }
  static ActorRef<T> from(const Value& v) {
    std::string_view expected = T::pulsing_method_table().class_name();
    // A remote address carries no class: the reference takes T's (a wrong one shows as an
    // unknown method on the first call). A local actor's class is checked.
    AnyRef any = detail::ref_from_address(v.as_actor(), expected);
    if (any.valid() && any.class_name() != expected) {
      throw ConversionError(fmt::format("expected actor {}, got actor {}", expected, any.class_name()));
    }
    return ActorRef<T>(std::move(any));
  }
  static std::string type_name() { return "actor"; }
};

}  // namespace pulsing
