// References to entities (virtual actors): an entity is named by its kind and key and needs no
// spawn. Each call goes to the activation on the key's owner among the members hosting the kind
// (as this node sees the cluster), which activates it on its first call (Node::register_entity,
// runtime/entity_host.hpp).
//   AnyEntityRef   calls methods by name with Value arguments
//   EntityRef<T>   typed calls by member pointer, as ActorRef<T>
// An ask that reaches a node that no longer owns the key (the entity moved, or views are
// settling) is sent again to the owner this node sees, with a short backoff, until the ask
// timeout; a tell is sent once, and the node it reaches sends it on to the owner it sees, once,
// if that is another. Messages from one sender keep their order while the activation stays put.
//
// Thread-safety: references may be used from any thread concurrently.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <tuple>
#include <vector>

#include "runtime/actor_ref.hpp"
#include "runtime/future.hpp"

namespace pulsing {
namespace detail {
class NodeCore;
}

class AnyEntityRef {
 public:
  AnyEntityRef() = default;
  AnyEntityRef(std::shared_ptr<detail::NodeCore> node, std::string kind, std::string key);

  const std::string& kind() const { return kind_; }
  const std::string& key() const { return key_; }
  std::string name() const { return kind_ + "/" + key_; }

  Future<Value> ask(std::string_view method, std::vector<Value> args = {}) const;
  void tell(std::string_view method, std::vector<Value> args = {}) const;

  // The activation as this node routes to it now: a reference to the actor on the owner
  // (activating it first if the owner is this node). It stays pinned to that activation.
  // Fails with kNoHost (no member hosts the kind) or kInvalidName (kind/key breaks the naming
  // rules of actors).
  Result<AnyRef> current() const;

  AnyEntityRef with_timeout(std::chrono::milliseconds timeout) const;

 protected:
  // Runs `call` on the current activation, again on kRefused (the entity is elsewhere now)
  // after a backoff, until the timeout.
  template <typename X>
  Future<X> retrying(std::function<Future<X>(const AnyRef&)> call) const;
  // Runs `again` after `delay` on the node's timer thread.
  void later(std::chrono::milliseconds delay, std::function<void()> again) const;
  std::chrono::milliseconds timeout() const;

  std::shared_ptr<detail::NodeCore> node_;
  std::string kind_, key_;
  std::chrono::milliseconds timeout_{0};  // 0: the node's ask timeout
};

template <typename T>
class EntityRef : public AnyEntityRef {
 public:
  EntityRef() = default;
  explicit EntityRef(AnyEntityRef any) : AnyEntityRef(std::move(any)) {}
  using AnyEntityRef::ask;
  using AnyEntityRef::tell;

  template <typename M, typename... A>
    requires std::is_member_function_pointer_v<M>
  auto ask(M method, A&&... args) const {
    using X = detail::ask_result_t<typename detail::method_traits<M>::result_type>;
    return this->template retrying<X>(
        [method, kept = std::make_tuple(std::decay_t<A>(std::forward<A>(args))...)](const AnyRef& at) {
          return std::apply([&](const auto&... a) { return ActorRef<T>(at).ask(method, a...); }, kept);
        });
  }

  template <typename M, typename... A>
    requires std::is_member_function_pointer_v<M>
  void tell(M method, A&&... args) const {
    auto at = current();
    if (at.ok()) ActorRef<T>(at.value()).tell(method, std::forward<A>(args)...);
  }

  EntityRef with_timeout(std::chrono::milliseconds t) const { return EntityRef(AnyEntityRef::with_timeout(t)); }
};

template <typename X>
Future<X> AnyEntityRef::retrying(std::function<Future<X>(const AnyRef&)> call) const {
  struct Attempt : std::enable_shared_from_this<Attempt> {
    AnyEntityRef ref;
    std::function<Future<X>(const AnyRef&)> call;
    Promise<X> done;
    Clock::time_point deadline;
    std::chrono::milliseconds backoff{5};
    void run() {
      auto at = ref.current();
      if (!at.ok()) return finish(Result<X>(at.failure()));
      call(at.value()).then([self = this->shared_from_this()](Result<X> r) { self->on_result(std::move(r)); });
    }
    void on_result(Result<X> r) {
      const auto* runtime = r.ok() ? nullptr : dynamic_cast<const RuntimeError*>(r.failure().error.get());
      if (runtime == nullptr || runtime->kind() != RuntimeErrorKind::kRefused || Clock::now() + backoff > deadline) {
        return finish(std::move(r));
      }
      auto delay = backoff;
      backoff = std::min(backoff * 2, std::chrono::milliseconds(200));
      ref.later(delay, [self = this->shared_from_this()] { self->run(); });
    }
    void finish(Result<X> r) { done.complete(std::move(r)); }
  };
  auto attempt = std::make_shared<Attempt>();
  attempt->ref = *this;
  attempt->call = std::move(call);
  attempt->deadline = Clock::now() + timeout();
  auto future = attempt->done.future();
  attempt->run();
  return future;
}

}  // namespace pulsing
