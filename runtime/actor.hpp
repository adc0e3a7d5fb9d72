// Actor: the base class of user actors, and SpawnOptions. An actor has private state and handles
// one message at a time; the runtime calls its methods, never two at once.
//
//   class Counter : public pulsing::Actor {
//    public:
//     int add(int n) { return total_ += n; }
//     PULSING_METHODS(Counter, add)      // names the callable methods, once per class
//    private:
//     int total_ = 0;
//   };
//
// Thread-safety: an instance is only touched by the worker running its actor. self(), stop()
// and sleep_for() REQUIRE that the call comes from the actor's own handlers (not its
// constructor).
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string>

#include "supervision/supervisor.hpp"

namespace pulsing {

class AnyRef;
template <typename T>
class ActorRef;
template <typename T>
class Future;
class Node;
namespace detail {
class ActorCell;
}

// Where a spawn puts its actor. Any placement but local sends the spawn to a member that hosts
// the actor's kind (Node::register_kind): the actor runs, and is supervised, there, and the
// spawner gets a reference to it.
struct Placement {
  enum class Mode : std::uint8_t {
    kLocal,        // on the spawning node (the default; the class need not be a registered kind)
    kNode,         // on the member named `target` (its membership name, or "host:port")
    kAny,          // on the members hosting the kind in turn (round robin, this node's count)
    kLeastLoaded,  // on the host with the least load, as hosts gossip it (actors + queued messages)
    kKey,          // on the rendezvous owner of `target` (a key) among the hosts of the kind
  };
  Mode mode = Mode::kLocal;
  std::string target;

  static Placement local() { return {}; }
  static Placement on(std::string member) { return {Mode::kNode, std::move(member)}; }
  static Placement any() { return {Mode::kAny, {}}; }
  static Placement least_loaded() { return {Mode::kLeastLoaded, {}}; }
  static Placement by_key(std::string key) { return {Mode::kKey, std::move(key)}; }
  bool is_local() const { return mode == Mode::kLocal; }
};

struct SpawnOptions {
  // Registers the actor under this name (empty: anonymous). Rules: 1 to 128 characters from
  // [A-Za-z0-9_.:/-], starting with a letter, digit or '_'.
  std::string name;
  // Whether and how the actor is restarted (policy, restarts per window, backoff, jitter); by
  // default it is not: a crash stops it. See supervision/supervisor.hpp.
  SupervisionOptions supervision = {};
  // Messages queued beyond this slow their senders down (see Node); 0 = the node's default.
  std::size_t mailbox_capacity = 0;
  // false (default): while a coroutine handler is suspended, the next message waits.
  // true: messages interleave at suspension points (never in parallel).
  bool reentrant = false;
  // Where the actor runs (Placement). A spawn on another node converts the constructor
  // arguments to Values (they must be convertible), and fails with kNoHost (no live member
  // hosts the kind), kRefused (the node asked does not host it, or is stopping), kBadArguments
  // (the kind's constructor does not take them), kNodeUnreachable (the host went away) or
  // TimeoutError (after `timeout`; 0: the node's ask timeout).
  Placement placement = {};
  std::chrono::milliseconds timeout{0};
};

class Actor {
 public:
  Actor() = default;
  Actor(const Actor&) = delete;
  Actor& operator=(const Actor&) = delete;
  virtual ~Actor() = default;

  // Called on the actor before its first message, and after each restart.
  virtual void on_start() {}
  // Called on the actor when it stops (not after a crash: the instance is then discarded).
  virtual void on_stop() {}
  // Entities only (Node::register_entity): after on_start, before the first message of an
  // activation (load the state from wherever it is kept); and before on_stop when the activation
  // ends because it was idle or its key moved to another node (save it). A crash skips
  // on_passivate: the instance is discarded as it is.
  virtual void on_activate() {}
  virtual void on_passivate() {}

 protected:
  // A reference to this actor, typed as T (the actor's own class, or an untyped AnyRef).
  template <typename T>
  ActorRef<T> self_as() const;
  AnyRef self_ref() const;
  // Stops this actor once the current message is handled (restarts it under policy `always`).
  void stop();
  // Completes after `delay`: co_await it in a coroutine handler to wait without blocking a
  // worker thread (a non-reentrant actor still holds its next message meanwhile).
  Future<void> sleep_for(std::chrono::milliseconds delay) const;

 private:
  friend class detail::ActorCell;
  detail::ActorCell* cell_ = nullptr;
};

}  // namespace pulsing
