// Node: one pulsing runtime instance — worker threads running actors, a timer thread, and the
// registry of this node's actors by id and by name. Embed one in an application, or use the
// process-wide default node through pulsing::init() / pulsing::shutdown().
//
//   pulsing::Node node;                                        // worker threads start here
//   auto calc = node.spawn<Calculator>({.name = "calc"}, 100).get();
//   int v = calc.ask(&Calculator::add, 50).get();              // 150
//   auto same = node.resolve<Calculator>("calc").get();
//   node.shutdown();                                           // or let the destructor do it
//
// Names: 1 to 128 characters from [A-Za-z0-9_.:/-], starting with a letter, digit or '_'.
// One actor per name on a node; spawning a taken name fails with RuntimeError(kNameTaken).
// Back-pressure: see SpawnOptions::mailbox_capacity and ActorCell.
// Thread-safety: every member may be called from any thread, actor handlers included.
#pragma once

#include <array>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <typeindex>
#include <vector>

#include "membership/config.hpp"
#include "membership/udp_driver.hpp"
#include "registry/registry.hpp"
#include "security/cluster_key.hpp"
#include "security/curve_keys.hpp"
#include "messaging/transport.hpp"
#include "runtime/actor.hpp"
#include "runtime/actor_ref.hpp"
#include "runtime/calls.hpp"
#include "runtime/entity_ref.hpp"
#include "runtime/future.hpp"
#include "runtime/kind_table.hpp"
#include "runtime/method_table.hpp"
#include "runtime/named_ref.hpp"

namespace pulsing {

struct NodeConfig {
  // Shown in logs.
  std::string name = "pulsing";
  // Threads that run actors; 0 = one per hardware thread.
  std::size_t worker_threads = 0;
  // How long an ask waits for its answer unless the reference says otherwise.
  std::chrono::milliseconds ask_timeout{30'000};
  // Default SpawnOptions::mailbox_capacity: messages queued beyond it slow their senders down.
  // Large enough that bursts never notice it; small enough that a flood stays in memory (a few
  // hundred KB per actor at most).
  std::size_t mailbox_capacity = 8192;
  // Dead letters are counted always, logged at most once per interval (with the count since).
  std::chrono::milliseconds dead_letter_log_interval{1'000};
  // How long shutdown() lets actors finish their current work before giving up on them.
  std::chrono::milliseconds shutdown_grace{5'000};
  // Where this node listens for other nodes: "tcp://host:port" (port 0 picks a free port; see
  // Node::endpoint()). Empty: a process-local node, with no network at all.
  std::string listen;
  // The address other nodes use to reach this one when it differs from the bound one (NAT,
  // containers). Required with a wildcard bind such as tcp://0.0.0.0:7000, which names no
  // address to reach (the node refuses to start without it). Empty: the bound address.
  std::string advertise;
  // Watches one other node's connection may hold on this node's actors at once (a caller's
  // repeated watch of one actor counts each time). Far above real use (a supervisor watching
  // its workers); a bound on what a caller can make this node keep. Beyond it a watch fails
  // with kOverloaded, counted in /metrics (pulsing_refused_total{bound="watches_per_caller"}).
  std::size_t max_watches_per_caller = 4096;
  // Streams one other node's connection may have this node produce at once (counted from the
  // open's arrival, whether its producer has started or waits in the mailbox, until the stream
  // ends). A producer waiting for a reader's credit keeps its coroutine alive: this bounds what a
  // caller that opens streams and never reads them can make this node keep. Beyond it the open
  // fails with kOverloaded, counted in /metrics (pulsing_refused_total{bound="streams_per_caller"}).
  std::size_t max_streams_per_caller = 4096;
  // How often a node that hosts kinds (Node::register_kind) looks at its load (actors plus queued
  // messages) to announce it in its metadata, for spawns placed on the least loaded host. It is
  // announced again only when it moved by a quarter (and by 16 at least): each announcement
  // costs an incarnation, of which a run has 2^20 (at one per 5 s, 60 days of a load that never
  // settles), and a gossip broadcast.
  std::chrono::milliseconds load_announce_interval{5'000};
  // Network tuning: timeouts, heartbeats, buffer limits.
  TransportOptions transport;
  // What carries this node's messages. Empty: ZeroMQ over TCP. Tests put an in-memory network
  // here (messaging/memory_transport.hpp), with `gossip` off; `listen` then names the node on it.
  TransportFactory make_transport;

  // Cluster membership: a node that listens also gossips (SWIM over UDP, on the same port
  // number as `listen`), unless `gossip` is false. It joins the cluster through `seeds`
  // ("host:port" of other members, host names or IPs; none: it founds a cluster).
  bool gossip = true;
  std::vector<std::string> seeds;
  // Timing, metadata and cluster name. membership.name, unique in the cluster, defaults to the
  // advertised "host:port". membership.meta is limited (membership.max_meta_bytes, 512 by
  // default, counting the server key a member with a cluster key may announce): a node with more
  // does not start (its constructor throws std::invalid_argument naming the size and the limit).
  membership::Options membership;
  // The cluster-wide name registry of a gossiping node: replicas per name, timeouts, cache
  // lifetime (registry/registry.hpp).
  registry::Options registry;
  // The cluster key (with secondaries during a rotation; security/key_file.hpp reads one).
  // With keys, every gossip datagram is sealed with the primary and only datagrams sealed with
  // one of these keys are heard: a node without them never becomes a member. Null: no key,
  // nothing sealed (the developer mode of a node on loopback).
  std::shared_ptr<const security::Keyring> cluster_keys;
  // With keys: how old (by its sender's clock) a gossip datagram may be, and how many senders'
  // sequence numbers are kept, to refuse captures sent again (membership/datagram_seal.hpp).
  membership::SealOptions gossip_seal;
  // With keys, every connection is encrypted and authenticated with ZeroMQ's CURVE (key pairs
  // derived from the cluster key; runtime/node_curve.hpp): members admit each other, and the
  // clients listed here, each with its role (operator: every client request; observer: members,
  // actors, resolve, stats only). Read from an authorized-clients file by
  // security::read_authorized_clients; replaced while running with set_authorized_clients().
  std::vector<security::AuthorizedClient> authorized_clients;
  // A node that only calls a cluster, as a client (the command line): its connections present
  // this key pair and expect the server keys it lists (security::read_client_key_file). It
  // admits no caller itself. Exclusive with cluster_keys.
  std::shared_ptr<const security::ClientKey> client_key;
};

// How a node hosts an entity kind (Node::register_entity).
struct EntityOptions {
  // An activation that has had no call for this long is passivated (on_passivate, then it
  // stops; the next call activates it again). Short keeps memory small; long saves the cost of
  // activating again (on_activate: loading the state).
  std::chrono::milliseconds idle_after{60'000};
};

// One row of Node::actors().
struct ActorInfo {
  ActorAddress address;
  std::string name;
  std::string class_name;
  std::size_t queued = 0;  // user messages waiting in its mailbox
};

// Node::stats(): what operators watch (the admin endpoint's /metrics). Counters run from the
// node's start; the rest are gauges, read now.
struct NodeStats {
  std::uint64_t messages_handled = 0;  // by this node's actors (asks, tells, stream starts)
  // Calls that crossed the network, either way.
  std::uint64_t asks_in = 0, tells_in = 0, streams_in = 0;
  std::uint64_t asks_out = 0, tells_out = 0, streams_out = 0;
  std::uint64_t ask_timeouts = 0;  // remote asks that got no answer in time
  std::uint64_t foreign_replies = 0;  // replies that did not come from the node asked: dropped
  // Requests refused because the caller's role may not send them (an observer's ask, a
  // client's registry announce), by role: operator, observer.
  std::array<std::uint64_t, 2> not_permitted{};
  // Failures this node's handlers returned, indexed by ErrorCategory.
  std::array<std::uint64_t, 4> handler_errors{};
  std::uint64_t restarts = 0;
  std::uint64_t dead_letters = 0;
  // Watches other nodes hold on this node's actors; watches refused (max_watches_per_caller).
  std::size_t watches_held = 0;
  std::uint64_t watches_refused = 0;
  // Streams this node produces for readers on other nodes; opens refused (max_streams_per_caller).
  std::size_t streams_producing = 0;
  std::uint64_t streams_refused = 0;
  // Calls refused at a mailbox's hard bound (kOverloaded; SpawnOptions::mailbox_capacity).
  std::uint64_t mailbox_refused = 0;
  // Actors on other nodes that told this one they are congested (its senders to them are slowed).
  std::size_t congested_targets = 0;
  std::size_t actors = 0;
  std::size_t entities_active = 0;  // activations of entities on this node (among the actors)
  // Entities activated here, and activations passivated (idle, moved, or the node stopping).
  std::uint64_t entity_activations = 0, entity_passivations = 0;
  std::size_t queued = 0;      // user messages waiting, all actors together
  std::size_t max_queued = 0;  // in the fullest mailbox
  TransportStats transport;        // zero without a network
  membership::DriverStats gossip;  // zero without gossip
  registry::Stats registry;        // zero without gossip
};

namespace detail {
class NodeCore;
// How many of the parameters P... a caller must give: all up to the last that is not a
// std::optional.
template <typename... P>
constexpr std::size_t required_arity() {
  constexpr bool optional[] = {kIsOptional<P>..., false};
  std::size_t required = 0;
  for (std::size_t i = 0; i < sizeof...(P); ++i) {
    if (!optional[i]) required = i + 1;
  }
  return required;
}
bool valid_actor_name(std::string_view name);
Failure invalid_name(std::string_view name);  // kInvalidName, stating the rules
}  // namespace detail

class Node {
 public:
  explicit Node(NodeConfig config = {});
  ~Node();  // shutdown()
  Node(const Node&) = delete;
  Node& operator=(const Node&) = delete;

  // Spawns a T built from `args` (kept, to rebuild the actor on restart). Fails with
  // kInvalidName / kNameTaken / kShutdown, or with what T's constructor threw (classified).
  template <typename T, typename... A>
  Future<ActorRef<T>> spawn(SpawnOptions options, A&&... args);

  // The actor registered as `name` on any node of the cluster (on this node alone when it
  // does not gossip), pinned: the reference keeps reaching that one instance. With `wait` > 0,
  // waits that long for the name to appear (services start in any order), then fails with
  // TimeoutError. Without waiting, an unknown name fails with RuntimeError(kActorNotFound); a
  // name held by another class, kWrongType. Among a pool's instances, options.pick chooses.
  template <typename T>
  Future<ActorRef<T>> resolve(std::string_view name, std::chrono::milliseconds wait = {}) {
    return resolve<T>(name, ResolveOptions{.wait = wait});
  }
  template <typename T>
  Future<ActorRef<T>> resolve(std::string_view name, const ResolveOptions& options);
  Future<AnyRef> resolve_any(std::string_view name, std::chrono::milliseconds wait = {}) {
    return resolve_any(name, ResolveOptions{.wait = wait});
  }
  Future<AnyRef> resolve_any(std::string_view name, const ResolveOptions& options);
  // Every instance of `name` in the cluster (this node's first), failing as resolve() does.
  Future<std::vector<AnyRef>> resolve_all(std::string_view name, std::chrono::milliseconds wait = {});
  // A reference that follows the name (runtime/named_ref.hpp): each call goes to whichever
  // instance serves `name` then. Resolves nothing yet: an invalid name fails its calls.
  template <typename T>
  NamedRef<T> follow(std::string_view name, const ResolveOptions& options = {});

  // Registers T as an actor kind this node hosts, under `kind` (T's class name by default), so
  // that other nodes and the command line can spawn it here (SpawnOptions::placement,
  // spawn_kind). C...: the constructor's parameters, which arrive as Values and are converted as
  // method arguments are; trailing std::optional ones may be left out. The node announces its
  // kinds in its membership metadata.
  // Throws std::invalid_argument when the name is bad (runtime/kind_table.hpp), taken by another
  // class, or the kinds no longer fit the metadata limit (membership.max_meta_bytes).
  template <typename T, typename... C>
  void register_kind(std::string kind = {});
  // The kinds this node hosts, sorted.
  std::vector<std::string> kinds() const;

  // Registers T as an entity kind this node hosts (a kind, as register_kind<T, std::string>,
  // under `kind`, T's class name by default): T is built from its key, and its on_activate /
  // on_passivate hooks run when an activation starts and ends (runtime/actor.hpp). Every node
  // that may host the kind registers it; a node that only calls entities need not. T's
  // constructor runs while the node routes calls for the kind: it must not call entities itself
  // (on_activate may). On shutdown, activations are passivated.
  // Throws as register_kind does.
  template <typename T>
  void register_entity(std::string kind = {}, EntityOptions options = {});
  // The entity of kind `kind` (T's registered kind name, or class name, by default) and key
  // `key`: needs no spawn (runtime/entity_ref.hpp). Keys are from [A-Za-z0-9_.:/-], and "kind/key"
  // is at most 128 characters.
  template <typename T>
  EntityRef<T> entity(std::string_view key, std::string_view kind = {}) const;
  AnyEntityRef entity_any(std::string_view kind, std::string_view key) const;
  // Spawns an actor of the kind named `kind`, with `args` for its constructor, where
  // options.placement says (local: a kind registered here). Fails as Node::spawn and
  // SpawnOptions::placement describe; kRefused for a local spawn of a kind not registered here.
  Future<AnyRef> spawn_kind(std::string_view kind, SpawnOptions options, std::vector<Value> args = {});

  // Stops the named actor for good; completes when it has stopped (kActorNotFound if unknown).
  Future<StopNotice> stop(std::string_view name);

  // Stops every actor (in-flight asks complete or fail with ActorStopped), then the threads.
  // Idempotent; never hangs past the shutdown grace period.
  // REQUIRES: not called from one of this node's actor handlers (throws kShutdown if it is).
  void shutdown();

  // The actor named `name` on the node listening at `endpoint` ("tcp://host:port"): the
  // low-level way to reach another node without a cluster registry. Fails with
  // kActorNotFound, kNodeUnreachable, or TimeoutError (default: the ask timeout).
  Future<AnyRef> resolve_at(std::string_view endpoint, std::string_view name, std::chrono::milliseconds timeout = {});
  template <typename T>
  Future<ActorRef<T>> resolve_at(std::string_view endpoint, std::string_view name,
                                 std::chrono::milliseconds timeout = {});

  // Where other nodes reach this one ("tcp://127.0.0.1:40213"); empty without a network.
  const std::string& endpoint() const;
  // This node's name in the cluster ("host:port" unless membership.name set it); empty
  // without a network.
  const std::string& member_name() const;
  // The cluster as this node sees it: every member (itself included) with its state. Only
  // itself when the node does not gossip.
  std::vector<membership::Member> members() const;
  // Calls `handler` on each membership event (joined, suspect, alive, dead, left, updated,
  // restarted: membership::EventKind), on the membership thread: it must return quickly (hand
  // longer work to an actor).
  void on_member_event(std::function<void(const membership::MemberEvent&)> handler);
  std::vector<ActorInfo> actors() const;
  // This node's part of the cluster-wide name registry: names announced, shard entries held,
  // lookups, rejected messages. All zero when the node does not gossip.
  registry::Stats registry_stats() const;
  std::uint64_t dead_letters() const;
  // The cluster keys in use (null: none; NodeConfig::cluster_keys at first).
  std::shared_ptr<const security::Keyring> cluster_keys() const;
  // Replaces the cluster keys while the node runs: one step of a rolling rotation (add the new
  // key as a secondary on every node, then make it primary on every node, then remove the old
  // one; docs/operating.md). REQUIRES: keys is not null, and the node started with keys;
  // throws std::invalid_argument otherwise.
  void set_cluster_keys(std::shared_ptr<const security::Keyring> keys);
  // Replaces the clients admitted (NodeConfig::authorized_clients); new connections are
  // checked against the new list, connections made already keep their role.
  // REQUIRES: the node started with keys; throws std::invalid_argument otherwise.
  void set_authorized_clients(std::vector<security::AuthorizedClient> clients);
  // Lets callers with an observer's key ask `methods` of the local actor named `actor_name`:
  // for methods that only read (admin::NodeService opens members, actors, stats, instances).
  // Observers may call nothing else.
  void allow_observer_calls(const std::string& actor_name, const std::vector<std::string>& methods);
  NodeStats stats() const;
  NodeId id() const;
  const NodeConfig& config() const;

 private:
  Result<AnyRef> spawn_cell(const MethodTable& methods, const SpawnOptions& options,
                            detail::ActorCell::Factory factory);
  // A spawn with a placement other than local; `methods` and `factory` build it if this node is
  // chosen.
  Future<AnyRef> spawn_placed(std::type_index type, const MethodTable& methods, const SpawnOptions& options,
                              std::vector<Value> args, detail::ActorCell::Factory factory);
  void add_kind(detail::ActorKind kind);
  void add_entity(const std::string& kind, const MethodTable& methods,
                  std::function<std::unique_ptr<Actor>(const std::string&)> make, EntityOptions options);
  std::string kind_name(std::type_index type, std::string_view class_name) const;

  std::shared_ptr<detail::NameResolver> core_resolver() const;

  std::shared_ptr<detail::NodeCore> core_;
};

// The process-wide default node (the seed's global API): init() starts it, shutdown() stops it,
// T::spawn / T::resolve (from PULSING_METHODS) use it.
void init(NodeConfig config = {});
void shutdown();
// REQUIRES: init() was called (else throws RuntimeError(kShutdown) saying so).
Node& default_node();

template <typename T, typename... A>
Future<ActorRef<T>> Node::spawn(SpawnOptions options, A&&... args) {
  static_assert(std::is_base_of_v<Actor, T>, "actors derive from pulsing::Actor");
  std::vector<Value> values;
  if (!options.placement.is_local()) {
    if constexpr ((ValueSource<std::decay_t<A>> && ...)) {
      values.reserve(sizeof...(A));
      (values.push_back(to_value(args)), ...);
    } else {
      return Future<ActorRef<T>>::ready(make_failure<RuntimeError>(
          RuntimeErrorKind::kBadArguments,
          fmt::format("a spawn of {} on another node sends its constructor arguments as Values, and one of them "
                      "does not convert (messaging/convert.hpp)",
                      T::pulsing_method_table().class_name())));
    }
  }
  detail::ActorCell::Factory factory =
      [kept = std::make_tuple(std::decay_t<A>(std::forward<A>(args))...)]() -> std::unique_ptr<Actor> {
    return std::apply([](const auto&... a) { return std::make_unique<T>(a...); }, kept);
  };
  if (!options.placement.is_local()) {
    return detail::typed_ref<T>(
        spawn_placed(typeid(T), T::pulsing_method_table(), options, std::move(values), std::move(factory)));
  }
  auto spawned = spawn_cell(T::pulsing_method_table(), options, std::move(factory));
  if (!spawned.ok()) return Future<ActorRef<T>>::ready(spawned.failure());
  return Future<ActorRef<T>>::ready(ActorRef<T>(std::move(spawned.value())));
}

template <typename T, typename... C>
void Node::register_kind(std::string kind) {
  static_assert(std::is_base_of_v<Actor, T>, "actors derive from pulsing::Actor");
  static_assert(std::is_constructible_v<T, const std::decay_t<C>&...>,
                "the class has no constructor taking these parameter types");
  static_assert((Convertible<std::decay_t<C>> && ...), "a kind's constructor parameters must convert from Value");
  using Args = std::tuple<std::decay_t<C>...>;
  const MethodTable& methods = T::pulsing_method_table();
  detail::ActorKind entry;
  entry.name = kind.empty() ? std::string(methods.class_name()) : std::move(kind);
  entry.methods = &methods;
  entry.constructor = entry.name + "(" + detail::args_signature<Args>(std::index_sequence_for<C...>{}) + ")";
  entry.type = typeid(T);
  entry.bind = [constructor = entry.constructor](std::vector<Value>&& args) -> Result<detail::ActorCell::Factory> {
    constexpr std::size_t kRequired = detail::required_arity<std::decay_t<C>...>();
    if (args.size() < kRequired || args.size() > sizeof...(C)) {
      return detail::bad_constructor_arguments(
          constructor, kRequired == sizeof...(C)
                           ? detail::wrong_arity(sizeof...(C), args.size())
                           : fmt::format("expected {} to {} arguments, got {}", kRequired, sizeof...(C), args.size()));
    }
    args.resize(sizeof...(C));  // trailing optionals left out are null
    std::size_t at = 0;
    try {
      auto kept = detail::convert_args<Args>(args, at, std::index_sequence_for<C...>{});
      return detail::ActorCell::Factory([kept = std::move(kept)]() -> std::unique_ptr<Actor> {
        return std::apply([](const auto&... a) { return std::make_unique<T>(a...); }, kept);
      });
    } catch (const ConversionError& e) {
      return detail::bad_constructor_arguments(constructor, fmt::format("argument {}: {}", at + 1, e.what()));
    }
  };
  add_kind(std::move(entry));
}

template <typename T>
void Node::register_entity(std::string kind, EntityOptions options) {
  static_assert(std::is_constructible_v<T, const std::string&>, "an entity is built from its key: T(std::string)");
  const MethodTable& methods = T::pulsing_method_table();
  const std::string name = kind.empty() ? std::string(methods.class_name()) : kind;
  register_kind<T, std::string>(name);
  add_entity(name, methods, [](const std::string& key) -> std::unique_ptr<Actor> { return std::make_unique<T>(key); },
             options);
}

template <typename T>
EntityRef<T> Node::entity(std::string_view key, std::string_view kind) const {
  return EntityRef<T>(entity_any(kind.empty() ? kind_name(typeid(T), T::pulsing_method_table().class_name()) : std::string(kind), key));
}

template <typename T>
Future<ActorRef<T>> Node::resolve(std::string_view name, const ResolveOptions& options) {
  return detail::typed_ref<T>(resolve_any(name, options));
}

template <typename T>
NamedRef<T> Node::follow(std::string_view name, const ResolveOptions& options) {
  return NamedRef<T>(core_resolver(), std::string(name), options);
}

template <typename T>
Future<ActorRef<T>> Node::resolve_at(std::string_view endpoint, std::string_view name,
                                     std::chrono::milliseconds timeout) {
  return detail::typed_ref<T>(resolve_at(endpoint, name, timeout));
}

}  // namespace pulsing
