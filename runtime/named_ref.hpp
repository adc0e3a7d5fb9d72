// Resolving by name, and NamedRef<T>: a reference that follows a name instead of holding one
// actor.
//
//   auto pinned = node.resolve<Worker>("worker").get();  // one instance, for good
//   auto follow = node.follow<Worker>("worker");          // whichever serves "worker" now
//   follow.ask(&Worker::work, 7).get();
//
// Each call of a NamedRef resolves the name (from the node's cache: no round trip while the
// entry is fresh) and goes to the instance the pick policy chooses. A call that finds its
// instance gone (NodeUnreachable, ActorNotFound, ActorStopped) fails as it would through a
// pinned reference, and the node forgets that instance: the next call resolves again, and
// reaches the service restarted on another node, or another instance of a pool. A call is
// never retried by itself: it may have run before its node went away.
//
// Thread-safety: a NamedRef is a value (a name, a policy, its node); copy it freely.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <tuple>
#include <type_traits>
#include <utility>

#include "runtime/actor_ref.hpp"
#include "runtime/future.hpp"

namespace pulsing {

// How a resolve picks among the instances of a name that several nodes serve (a worker pool).
enum class Pick : std::uint8_t {
  kRoundRobin,  // each resolve on this node takes the next instance: calls spread evenly
  kRandom,      // uniformly at random: no turn shared between resolves
  kLocalFirst,  // this node's own instance when it has one (no network hop), else round robin
};

struct ResolveOptions {
  // With wait > 0, waits that long for the name to appear (services start in any order), then
  // fails with TimeoutError. 0: an unknown name fails at once with kActorNotFound.
  std::chrono::milliseconds wait{0};
  Pick pick = Pick::kRoundRobin;
};

namespace detail {
// What a NamedRef needs from its node (NodeCore implements it).
class NameResolver {
 public:
  virtual ~NameResolver() = default;
  virtual Future<AnyRef> resolve(std::string_view name, const ResolveOptions& options) = 0;
  // A call through `instance` found it gone: resolves of `name` stop picking it from the cache.
  virtual void forget(std::string_view name, const ActorAddress& instance) = 0;
  // A tell that no actor will ever handle.
  virtual void dead_letter(std::string_view target, std::string_view why) = 0;
};
// Whether a call's failure says its instance is gone (and the name should be resolved again).
bool instance_gone(const Failure& failure);
}  // namespace detail

template <typename T>
class NamedRef {
 public:
  NamedRef() = default;
  // REQUIRES: `resolver` is not null (Node::follow makes them).
  NamedRef(std::shared_ptr<detail::NameResolver> resolver, std::string name, ResolveOptions options)
      : resolver_(std::move(resolver)), name_(std::move(name)), options_(options) {}

  const std::string& name() const { return name_; }

  // The instance a call would reach now, as a pinned reference (for streams, or watch()).
  Future<ActorRef<T>> current() const { return detail::typed_ref<T>(resolver_->resolve(name_, options_)); }

  // As ActorRef<T>::ask, on the instance the name resolves to now; fails as the resolve does
  // when the name does not resolve.
  template <typename M, typename... A>
    requires std::is_member_function_pointer_v<M>
  Future<detail::ask_result_t<typename detail::method_traits<M>::result_type>> ask(M method, A&&... args) const {
    using X = detail::ask_result_t<typename detail::method_traits<M>::result_type>;
    auto answer = std::make_shared<Promise<X>>();
    auto future = answer->future();
    current().then([answer, method, resolver = resolver_, name = name_,
                    kept = std::make_tuple(std::decay_t<A>(std::forward<A>(args))...)](Result<ActorRef<T>> r) mutable {
      if (!r.ok()) {
        answer->fail(r.failure());
        return;
      }
      ActorRef<T> instance = std::move(r.value());
      auto call = std::apply([&](auto&... a) { return instance.ask(method, std::move(a)...); }, kept);
      call.then([answer, resolver, name, address = instance.address()](Result<X> x) {
        if (!x.ok() && detail::instance_gone(x.failure())) resolver->forget(name, address);
        answer->complete(std::move(x));
      });
    });
    return future;
  }

  // As ActorRef<T>::tell, to the instance the name resolves to now; when the name does not
  // resolve, the message is a dead letter of this node.
  template <typename M, typename... A>
    requires std::is_member_function_pointer_v<M>
  void tell(M method, A&&... args) const {
    current().then([method, resolver = resolver_, name = name_,
                    kept = std::make_tuple(std::decay_t<A>(std::forward<A>(args))...)](Result<ActorRef<T>> r) mutable {
      if (!r.ok()) {
        resolver->dead_letter(name, r.failure().describe());
        return;
      }
      std::apply([&](auto&... a) { r.value().tell(method, std::move(a)...); }, kept);
    });
  }

 private:
  std::shared_ptr<detail::NameResolver> resolver_;
  std::string name_;
  ResolveOptions options_;
};

}  // namespace pulsing
