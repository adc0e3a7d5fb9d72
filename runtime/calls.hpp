// The messages that carry calls into an actor: typed calls (member pointer + C++ arguments, no
// encoding), calls by name (method name + Value arguments), and stream starts; and the replies
// that deliver their outcome (an ask's promise, nothing for a tell, a stream's channel).
//
// Internal to the runtime. Everything here runs inside the target actor's turn, except
// construction (any thread) and reject() (when the actor can never run the message).
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <tuple>
#include <type_traits>
#include <utility>
#include <variant>
#include <vector>

#include <fmt/format.h>

#include "messaging/convert.hpp"
#include "messaging/error.hpp"
#include "messaging/transport.hpp"
#include "messaging/wire_convert.hpp"
#include "runtime/actor_cell.hpp"
#include "runtime/future.hpp"
#include "runtime/method_table.hpp"
#include "runtime/stream.hpp"
#include "runtime/task.hpp"

namespace pulsing::detail {


// What a typed ask of a method returning R resolves to.
template <typename R>
struct ask_result {
  using type = std::decay_t<R>;
};
template <typename X>
struct ask_result<Task<X>> {
  using type = X;
};
template <typename R>
using ask_result_t = typename ask_result<R>::type;

// ---------------------------------------------------------------- replies

template <typename R>
struct AskReply {
  Promise<R> promise;
  void set(Result<R> result) { promise.complete(std::move(result)); }
  void reject(ActorCell&, const Failure& why) { promise.fail(why); }
};

struct TellReply {
  template <typename X>
  void set(Result<X>&&) {}  // nobody waits; a crash is handled (and logged) by the cell
  void reject(ActorCell& cell, const Failure& why) { cell.node().dead_letter(cell.describe(), why.describe()); }
};

class Answers;

// A typed result written straight into a reply (write_wire).
template <typename T>
class WireResult final : public PayloadWriter {
 public:
  explicit WireResult(const T& value) : value_(value) {}
  void write(wire::Value::Builder payload) const override { write_wire(payload, value_); }

 private:
  const T& value_;
};

// The answer to an ask from another node, sent back over the network once: with the outcome,
// or, if it is dropped unanswered (its handler discarded by a crash, a stop or a shutdown), with
// ActorStopped, as a local caller's dropped promise fails. Move-only; costs no allocation.
class RemoteAnswer {
 public:
  // `target` is the actor asked (named in the ActorStopped error).
  RemoteAnswer(Answers& answers, std::shared_ptr<Transport::Peer> asker, std::uint64_t correlation,
               std::shared_ptr<ActorCell> target);
  RemoteAnswer(RemoteAnswer&& other) noexcept;
  RemoteAnswer& operator=(RemoteAnswer&& other) noexcept;
  ~RemoteAnswer();

  // Sends the outcome. REQUIRES: not sent yet.
  void send(Result<Value> result);
  // Sends a successful outcome that `result` writes (a typed result, with no Value in between).
  void send(const PayloadWriter& result);

 private:
  void drop();  // unanswered: ActorStopped

  Answers* answers_;
  std::shared_ptr<Transport::Peer> asker_;  // null once sent or moved from
  std::uint64_t correlation_;
  std::shared_ptr<ActorCell> target_;
};

// The reply of a call by name: a Value for an ask (a local promise, or an answer that goes back
// to another node), nothing for a tell, a sink of Values for a stream (a local reader's channel,
// or a sink that sends the items to a reader on another node).
class DynamicReply {
 public:
  DynamicReply() = default;  // a tell
  explicit DynamicReply(Promise<Value> promise) : target_(std::move(promise)) {}
  explicit DynamicReply(std::shared_ptr<StreamSink<Value>> sink) : target_(std::move(sink)) {}
  explicit DynamicReply(RemoteAnswer answer) : target_(std::move(answer)) {}

  bool is_tell() const { return target_.index() == 0; }
  bool is_stream() const { return target_.index() == 2; }
  const std::shared_ptr<StreamSink<Value>>& sink() const { return std::get<2>(target_); }

  template <typename X>
  void set(Result<X>&& result) {
    if (!result.ok()) return fail(result.failure());
    if constexpr (!std::is_void_v<X>) {
      if (auto* answer = std::get_if<3>(&target_)) return answer->send(WireResult<X>(result.value()));
    }
    Value value;
    if constexpr (!std::is_void_v<X>) value = to_value(result.value());
    if (auto* promise = std::get_if<1>(&target_)) promise->set_value(std::move(value));
    if (auto* answer = std::get_if<3>(&target_)) answer->send(Result<Value>(std::move(value)));
  }
  void fail(const Failure& failure) {
    if (auto* promise = std::get_if<1>(&target_)) promise->fail(failure);
    if (is_stream()) sink()->finish(failure);
    if (auto* answer = std::get_if<3>(&target_)) answer->send(Result<Value>(failure));
  }
  void reject(ActorCell& cell, const Failure& why) {
    if (is_tell()) {
      cell.node().dead_letter(cell.describe(), why.describe());
    } else {
      fail(why);
    }
  }

 private:
  std::variant<std::monostate, Promise<Value>, std::shared_ptr<StreamSink<Value>>, RemoteAnswer> target_;
};

// Fails a call by name that cannot run (an unknown method, bad arguments): an ask or a stream
// learns why; a tell, which nobody waits for, becomes a dead letter that says why.
void refuse(ActorCell& cell, DynamicReply& reply, const Failure& failure);

// ---------------------------------------------------------------- running a handler

// Calls `method` on `self` with the stored arguments, moved in (a message is used once).
template <typename Class, typename M, typename Args>
decltype(auto) apply_method(Class& self, M method, Args& args) {
  return std::apply([&](auto&... a) -> decltype(auto) { return (self.*method)(std::move(a)...); }, args);
}

// Calls `call()` (a handler returning R) and delivers its outcome to `reply`: at once for a plain
// method, when the coroutine finishes for a Task. A failure is classified; a SystemError also
// crashes the instance after the current message.
template <typename R, typename Call, typename Reply>
void invoke_handler(ActorCell& cell, Call&& call, Reply&& reply) {
  using X = ask_result_t<R>;
  auto fail = [&](std::exception_ptr thrown) {
    Failure failure = classify(thrown);
    cell.note_failure(failure);
    reply.set(Result<X>(failure));
  };
  if constexpr (is_task_v<R>) {
    std::optional<R> task;
    try {
      task.emplace(call());
    } catch (...) {
      return fail(std::current_exception());
    }
    // Shared, so the completion fits in a std::function; destroyed uncalled with the frame.
    auto held = std::make_shared<std::decay_t<Reply>>(std::move(reply));
    cell.start_handler(std::move(*task), [held](Result<X> r) { held->set(std::move(r)); });
  } else if constexpr (std::is_void_v<R>) {
    try {
      call();
    } catch (...) {
      return fail(std::current_exception());
    }
    reply.set(Result<void>(std::monostate{}));
  } else {
    std::optional<X> value;
    try {
      value.emplace(call());
    } catch (...) {
      return fail(std::current_exception());
    }
    reply.set(Result<X>(std::move(*value)));
  }
}

// Drives a Stream<T> producer on its actor: one step per message, parked when out of credit,
// destroyed when the reader cancels, the stream ends, or the instance is discarded.
template <typename T>
class ProducerDriver : public std::enable_shared_from_this<ProducerDriver<T>> {
 public:
  using Handle = typename Stream<T>::Handle;

  static void start(ActorCell& cell, Stream<T> stream, std::shared_ptr<StreamSink<T>> sink) {
    auto driver = std::make_shared<ProducerDriver>(cell, stream.release(), std::move(sink));
    driver->attach();
    driver->step();
  }

  ProducerDriver(ActorCell& cell, Handle frame, std::shared_ptr<StreamSink<T>> sink)
      : cell_(cell.shared_from_this()), frame_(frame), sink_(std::move(sink)),
        generation_(cell.generation()) {}

 private:
  void attach() {
    auto self = this->shared_from_this();
    auto& promise = frame_.promise();
    promise.sink = sink_;
    promise.on_yield = [self] { self->after_yield(); };
    promise.on_done = [self] { self->finished(); };
    token_ = cell_->add_producer([self] { self->discard(self->cell_->stopped_failure()); });
  }

  // In turn: run the producer up to its next yield, await or end.
  void step() {
    if (!alive_ || cell_->generation() != generation_) return;
    if (sink_->cancelled()) return discard(std::nullopt);
    frame_.resume();
  }

  void after_yield() {
    if (sink_->cancelled()) return post_step();
    auto self = this->shared_from_this();
    if (!sink_->park([self] { self->post_step(); })) post_step();
  }

  void post_step() {
    // A system message: never held back by the mailbox's back-pressure (the reader's thread may
    // be the one waking us), and served between the actor's other messages.
    cell_->post_system(make_system_call([self = this->shared_from_this()](ActorCell&) { self->step(); }));
  }

  void finished() {
    std::optional<Failure> failure;
    if (auto error = frame_.promise().error) {
      failure = classify(error);
      cell_->note_failure(*failure);
    }
    discard(std::move(failure));
  }

  void discard(std::optional<Failure> failure) {
    if (!alive_) return;
    alive_ = false;
    cell_->remove_producer(token_);
    sink_->finish(std::move(failure));
    auto frame = frame_;
    frame.promise().on_yield = nullptr;
    auto keep = this->shared_from_this();  // the frame's callbacks may hold the last reference
    frame.destroy();
  }

  std::shared_ptr<ActorCell> cell_;
  Handle frame_;
  std::shared_ptr<StreamSink<T>> sink_;
  std::uint64_t generation_;
  std::uint64_t token_ = 0;
  bool alive_ = true;
};

// ---------------------------------------------------------------- messages

// A typed call: the method's own C++ arguments, no encoding.
template <typename M, typename Reply>
class CallMessage final : public Message {
  using Traits = method_traits<M>;
  using Class = typename Traits::class_type;

 public:
  template <typename... A>
  CallMessage(M method, Reply reply, A&&... args)
      : method_(method), args_(std::forward<A>(args)...), reply_(std::move(reply)) {}

  void run(ActorCell& cell) override {
    auto& self = static_cast<Class&>(cell.instance());
    invoke_handler<typename Traits::result_type>(
        cell, [&]() -> decltype(auto) { return apply_method(self, method_, args_); }, std::move(reply_));
  }
  void reject(ActorCell& cell, const Failure& why) override { reply_.reject(cell, why); }

 private:
  M method_;
  typename Traits::args_tuple args_;
  Reply reply_;
};

// A typed stream start: the reader's channel is the producer's sink.
template <typename M, typename T>
class StreamMessage final : public Message {
  using Traits = method_traits<M>;
  using Class = typename Traits::class_type;

 public:
  template <typename... A>
  StreamMessage(M method, std::shared_ptr<StreamChannel<T>> channel, A&&... args)
      : method_(method), args_(std::forward<A>(args)...), channel_(std::move(channel)) {}

  void run(ActorCell& cell) override {
    auto& self = static_cast<Class&>(cell.instance());
    try {
      ProducerDriver<T>::start(cell, apply_method(self, method_, args_), channel_);
    } catch (...) {
      Failure failure = classify(std::current_exception());
      cell.note_failure(failure);
      channel_->finish(failure);
    }
  }
  void reject(ActorCell&, const Failure& why) override { channel_->finish(why); }

 private:
  M method_;
  typename Traits::args_tuple args_;
  std::shared_ptr<StreamChannel<T>> channel_;
};

// The entry of the method named `method` of the cell's actor; null, with `reply` refused
// (UnknownMethod), when there is none. REQUIRES: in turn.
const MethodEntry* find_method(ActorCell& cell, std::string_view method, DynamicReply& reply);

// A call by name with Value arguments.
class DynamicCallMessage final : public Message {
 public:
  DynamicCallMessage(std::string method, std::vector<Value> args, DynamicReply reply)
      : method_(std::move(method)), args_(std::move(args)), reply_(std::move(reply)) {}

  void run(ActorCell& cell) override {
    if (const MethodEntry* entry = find_method(cell, method_, reply_)) {
      entry->invoke(*entry, cell, std::move(args_), std::move(reply_));
    }
  }
  void reject(ActorCell& cell, const Failure& why) override { reply_.reject(cell, why); }

 private:
  std::string method_;
  std::vector<Value> args_;
  DynamicReply reply_;
};

template <typename Args, std::size_t... I>
Args convert_args([[maybe_unused]] std::vector<Value>& args, [[maybe_unused]] std::size_t& at,
                  std::index_sequence<I...>) {
  [[maybe_unused]] auto one = [&]<std::size_t J>(std::integral_constant<std::size_t, J>) {
    at = J;
    return take_value<std::tuple_element_t<J, Args>>(std::move(args[J]));  // the call consumes them
  };
  // Braced init: elements are converted left to right, so `at` names the failing argument.
  return Args{one(std::integral_constant<std::size_t, I>{})...};
}

// Argument errors say where: "Calculator.add(int) -> int: argument 1: expected int, got text".
void refuse_arguments(const MethodEntry& entry, ActorCell& cell, DynamicReply& reply, std::string_view why);
std::string wrong_arity(std::size_t expected, std::size_t got);

// Runs the method of `entry` with its arguments, converted, and delivers the outcome to `reply`.
template <typename M>
void invoke_converted(const MethodEntry& entry, ActorCell& cell, typename method_traits<M>::args_tuple& args,
                      DynamicReply&& reply) {
  using Traits = method_traits<M>;
  using Class = typename Traits::class_type;
  using R = typename Traits::result_type;
  const M method = entry.pointer<M>();
  auto& self = static_cast<Class&>(cell.instance());
  auto call = [&]() -> decltype(auto) { return apply_method(self, method, args); };
  if constexpr (is_stream_v<R>) {
    if (!reply.is_stream()) return refuse_arguments(entry, cell, reply, "a stream method: call it with stream()");
    using T = typename R::value_type;
    auto sink = reply.sink();
    try {
      ProducerDriver<T>::start(cell, call(), std::make_shared<ValueSink<T>>(sink));
    } catch (...) {
      Failure failure = classify(std::current_exception());
      cell.note_failure(failure);
      sink->finish(failure);
    }
  } else {
    if (reply.is_stream()) return refuse_arguments(entry, cell, reply, "not a stream method: call it with ask() or tell()");
    invoke_handler<R>(cell, call, std::move(reply));
  }
}

template <typename M>
void invoke_dynamic(const MethodEntry& entry, ActorCell& cell, std::vector<Value>&& args, DynamicReply&& reply) {
  using Traits = method_traits<M>;
  using Args = typename Traits::args_tuple;
  if (args.size() != Traits::arity) return refuse_arguments(entry, cell, reply, wrong_arity(Traits::arity, args.size()));
  std::optional<Args> converted;
  std::size_t at = 0;
  try {
    converted.emplace(convert_args<Args>(args, at, std::make_index_sequence<Traits::arity>{}));
  } catch (const ConversionError& e) {
    return refuse_arguments(entry, cell, reply, fmt::format("argument {}: {}", at + 1, e.what()));
  }
  invoke_converted<M>(entry, cell, *converted, std::move(reply));
}

template <typename Args, std::size_t... I>
Args convert_wire_args([[maybe_unused]] capnp::List<wire::Value>::Reader list, [[maybe_unused]] std::size_t& at,
                       [[maybe_unused]] int nesting_limit, std::index_sequence<I...>) {
  [[maybe_unused]] auto one = [&]<std::size_t J>(std::integral_constant<std::size_t, J>) {
    at = J;
    return read_wire<std::tuple_element_t<J, Args>>(list[J], nesting_limit);
  };
  // Braced init: elements are converted left to right, so `at` names the failing argument.
  return Args{one(std::integral_constant<std::size_t, I>{})...};
}

template <typename M>
void invoke_wire(const MethodEntry& entry, ActorCell& cell, std::span<const std::byte> envelope,
                 const DecodeLimits& limits, DynamicReply&& reply) {
  using Traits = method_traits<M>;
  using Args = typename Traits::args_tuple;
  std::optional<Args> converted;
  std::string problem;
  try {
    read_payload(envelope, limits, [&](std::optional<wire::Value::Reader> payload) {
      if (!payload) {
        if constexpr (Traits::arity == 0) {
          converted.emplace();
        } else {
          problem = wrong_arity(Traits::arity, 0);
        }
        return;
      }
      if (!payload->isList()) {
        problem = fmt::format("arguments must be a list, got {}", read_value(*payload, limits.nesting_limit).debug_string());
        return;
      }
      auto list = payload->getList();
      if (list.size() != Traits::arity) {
        problem = wrong_arity(Traits::arity, list.size());
        return;
      }
      std::size_t at = 0;
      try {
        converted.emplace(convert_wire_args<Args>(list, at, limits.nesting_limit, std::make_index_sequence<Traits::arity>{}));
      } catch (const ConversionError& e) {
        problem = fmt::format("argument {}: {}", at + 1, e.what());
      }
    });
  } catch (const DecodeError& bad) {
    problem = fmt::format("unreadable arguments: {}", bad.what());
  }
  if (!converted) return refuse_arguments(entry, cell, reply, problem);
  invoke_converted<M>(entry, cell, *converted, std::move(reply));
}

}  // namespace pulsing::detail
