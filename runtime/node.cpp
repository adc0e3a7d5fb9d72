#include "runtime/node.hpp"

#include <algorithm>
#include <mutex>
#include <random>
#include <unordered_map>

#include <fmt/format.h>

#include "runtime/local_registry.hpp"
#include "common/log.hpp"
#include "runtime/node_core.hpp"
#include "runtime/placement_service.hpp"
#include "runtime/remote.hpp"

namespace pulsing {
namespace detail {

bool valid_actor_name(std::string_view name) {
  if (name.empty() || name.size() > 128) return false;
  auto allowed = [](char c, bool first) {
    bool alnum = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
    return alnum || c == '_' || (!first && (c == '.' || c == ':' || c == '/' || c == '-'));
  };
  for (std::size_t i = 0; i < name.size(); ++i) {
    if (!allowed(name[i], i == 0)) return false;
  }
  return true;
}

Failure invalid_name(std::string_view name) {
  return make_failure<RuntimeError>(RuntimeErrorKind::kInvalidName,
                                    fmt::format("'{}' is not a valid actor name: use 1 to 128 characters from "
                                                "[A-Za-z0-9_.:/-], starting with a letter, digit or '_'",
                                                name));
}

// Nodes of this process by id, so that an address arriving as a Value finds its actor.
std::mutex g_nodes_mutex;
std::unordered_map<std::uint64_t, std::weak_ptr<NodeCore>> g_nodes;

AnyRef ref_from_address(const ActorAddress& address, std::string_view assumed_class) {
  std::shared_ptr<NodeCore> core;
  {
    std::lock_guard lock(g_nodes_mutex);
    auto it = g_nodes.find(address.node.value);
    if (it != g_nodes.end()) core = it->second.lock();
  }
  if (core) {
    if (auto cell = core->registry().find(address.actor)) return AnyRef(std::move(cell));
    return AnyRef::unreachable(address);  // a local actor that has gone
  }
  // Another node's actor: reach it through the network of the node converting the value (the
  // actor running on this thread, else the default node).
  std::shared_ptr<NodeContext> via;
  if (ActorCell* current = ActorCell::current()) via = current->node_shared();
  auto* node = dynamic_cast<NodeCore*>(via.get());
  if (node == nullptr) {
    std::lock_guard lock(g_nodes_mutex);
    for (auto& [id, weak] : g_nodes) {
      if (auto candidate = weak.lock(); candidate && candidate->remote()) {
        core = candidate;
        break;
      }
    }
    node = core.get();
  }
  if (node == nullptr || node->remote() == nullptr || address.endpoint.empty()) return AnyRef::unreachable(address);
  return AnyRef(std::make_shared<RemoteActor>(node->shared_from_this(), node->remote()->peer(address.endpoint),
                                              address, "", std::string(assumed_class)));
}

}  // namespace detail

// ---------------------------------------------------------------- Node

Node::Node(NodeConfig config) : core_(std::make_shared<detail::NodeCore>(std::move(config))) {
  core_->start_network();
  if (core_->remote() != nullptr) {
    // Other members' spawns arrive through it (SpawnOptions::placement).
    core_->spawn_local(detail::PlacementService::pulsing_method_table(),
                       {.name = detail::kPlacementServiceName, .reentrant = true},
                       [weak = std::weak_ptr<detail::NodeCore>(core_)] {
                         return std::make_unique<detail::PlacementService>(weak);
                       },
                       /*announce=*/false);
  }
  std::lock_guard lock(detail::g_nodes_mutex);
  detail::g_nodes[core_->node_id().value] = core_;
}

Node::~Node() {
  shutdown();
  std::lock_guard lock(detail::g_nodes_mutex);
  detail::g_nodes.erase(core_->node_id().value);
}

void Node::shutdown() { core_->shutdown(); }

Result<AnyRef> Node::spawn_cell(const MethodTable& methods, const SpawnOptions& options,
                                detail::ActorCell::Factory factory) {
  return core_->spawn_local(methods, options, std::move(factory));
}

Future<AnyRef> Node::spawn_placed(std::type_index type, const MethodTable& methods, const SpawnOptions& options,
                                  std::vector<Value> args, detail::ActorCell::Factory factory) {
  return core_->spawner().spawn(kind_name(type, methods.class_name()), options, std::move(args),
                                detail::Spawner::LocalBuild{&methods, std::move(factory)});
}

void Node::add_kind(detail::ActorKind kind) { core_->add_kind(std::move(kind)); }

void Node::add_entity(const std::string& kind, const MethodTable& methods,
                      std::function<std::unique_ptr<Actor>(const std::string&)> make, EntityOptions options) {
  // The kind is registered already (register_kind): only the entity side is added.
  core_->entities().add_kind(kind, detail::EntityHost::Kind{&methods, std::move(make), options.idle_after});
  core_->start_entity_sweep();
}

std::string Node::kind_name(std::type_index type, std::string_view class_name) const {
  return core_->kinds().name_of(type).value_or(std::string(class_name));
}

AnyEntityRef Node::entity_any(std::string_view kind, std::string_view key) const {
  return AnyEntityRef(core_, std::string(kind), std::string(key));
}

std::vector<std::string> Node::kinds() const { return core_->kinds().names(); }

Future<AnyRef> Node::spawn_kind(std::string_view kind, SpawnOptions options, std::vector<Value> args) {
  if (options.placement.is_local()) return Future<AnyRef>::ready(core_->spawner().host(kind, options, std::move(args)));
  return core_->spawner().spawn(std::string(kind), options, std::move(args), std::nullopt);
}

Future<AnyRef> Node::resolve_any(std::string_view name, const ResolveOptions& options) {
  return core_->resolve(name, options);
}

Future<std::vector<AnyRef>> Node::resolve_all(std::string_view name, std::chrono::milliseconds wait) {
  using All = std::vector<AnyRef>;
  if (!detail::valid_actor_name(name)) return Future<All>::ready(detail::invalid_name(name));
  if (auto* cluster = core_->cluster_registry()) return cluster->resolve_all(std::string(name), wait);
  // A node alone: its own actor is the only instance there is.
  auto listed = std::make_shared<Promise<All>>();
  auto future = listed->future();
  core_->resolve(name, {.wait = wait}).then([listed](Result<AnyRef> r) {
    if (r.ok()) {
      listed->set_value(All{std::move(r.value())});
    } else {
      listed->fail(r.failure());
    }
  });
  return future;
}

Future<StopNotice> Node::stop(std::string_view name) {
  auto cell = core_->registry().find(name);
  if (!cell) {
    return Future<StopNotice>::ready(make_failure<RuntimeError>(
        RuntimeErrorKind::kActorNotFound, fmt::format("no actor is named '{}'", name)));
  }
  auto stopped = cell->watch();
  cell->request_stop();
  return stopped;
}

const std::string& Node::endpoint() const { return core_->endpoint(); }
const std::string& Node::member_name() const { return core_->member_name(); }

std::vector<membership::Member> Node::members() const { return core_->members(); }

void Node::on_member_event(std::function<void(const membership::MemberEvent&)> handler) {
  core_->on_member_event(std::move(handler));
}

Future<AnyRef> Node::resolve_at(std::string_view endpoint, std::string_view name, std::chrono::milliseconds timeout) {
  if (!detail::valid_actor_name(name)) {
    return Future<AnyRef>::ready(make_failure<RuntimeError>(
        RuntimeErrorKind::kInvalidName, fmt::format("'{}' is not a valid actor name", name)));
  }
  auto* link = core_->remote();
  if (link == nullptr) {
    return Future<AnyRef>::ready(make_failure<RuntimeError>(
        RuntimeErrorKind::kNodeUnreachable,
        "this node has no network (NodeConfig::listen is empty), so it cannot reach " + std::string(endpoint)));
  }
  if (endpoint == core_->endpoint()) return resolve_any(name);
  return link->resolve(std::string(endpoint), std::string(name),
                       timeout.count() > 0 ? timeout : core_->default_ask_timeout());
}

std::vector<ActorInfo> Node::actors() const {
  std::vector<ActorInfo> out;
  for (auto& cell : core_->registry().all()) {
    out.push_back({cell->address(), cell->name(), std::string(cell->methods().class_name()), cell->queued()});
  }
  return out;
}
std::uint64_t Node::dead_letters() const { return core_->dead_letters(); }

NodeStats Node::stats() const {
  const detail::NodeMetrics& m = core_->metrics();
  auto read = [](const detail::NodeMetrics::Counter& c) { return c.load(std::memory_order_relaxed); };
  NodeStats s;
  s.messages_handled = m.messages_handled.value();
  s.asks_in = read(m.asks_in);
  s.tells_in = read(m.tells_in);
  s.streams_in = read(m.streams_in);
  s.asks_out = read(m.asks_out);
  s.tells_out = read(m.tells_out);
  s.streams_out = read(m.streams_out);
  s.ask_timeouts = read(m.ask_timeouts);
  s.foreign_replies = read(m.foreign_replies);
  s.not_permitted = {read(m.not_permitted_operator), read(m.not_permitted_observer)};
  for (std::size_t i = 0; i < s.handler_errors.size(); ++i) s.handler_errors[i] = read(m.handler_errors[i]);
  s.restarts = read(m.restarts);
  s.entity_activations = read(m.entity_activations);
  s.entity_passivations = read(m.entity_passivations);
  s.mailbox_refused = read(m.mailbox_refused);
  s.dead_letters = core_->dead_letters();
  s.entities_active = core_->entities().active();
  for (auto& cell : core_->registry().all()) {
    ++s.actors;
    s.queued += cell->queued();
    s.max_queued = std::max(s.max_queued, cell->queued());
  }
  if (auto* remote = core_->remote()) {
    s.transport = remote->transport_stats();
    s.watches_held = remote->watched_here();
    s.watches_refused = remote->watches_refused();
    s.streams_producing = remote->streams_producing();
    s.streams_refused = remote->streams_refused();
    s.congested_targets = remote->congested_targets();
  }
  s.gossip = core_->gossip_stats();
  s.registry = registry_stats();
  return s;
}
NodeId Node::id() const { return core_->node_id(); }
std::shared_ptr<const security::Keyring> Node::cluster_keys() const { return core_->cluster_keys(); }
void Node::set_authorized_clients(std::vector<security::AuthorizedClient> clients) {
  core_->set_authorized_clients(std::move(clients));
}
void Node::allow_observer_calls(const std::string& actor_name, const std::vector<std::string>& methods) {
  core_->access().allow_observers(actor_name, methods);
}
void Node::set_cluster_keys(std::shared_ptr<const security::Keyring> keys) {
  core_->set_cluster_keys(std::move(keys));
}
registry::Stats Node::registry_stats() const {
  auto* cluster = core_->cluster_registry();
  return cluster != nullptr ? cluster->stats() : registry::Stats{};
}
std::shared_ptr<detail::NameResolver> Node::core_resolver() const { return core_; }
const NodeConfig& Node::config() const { return core_->config(); }

// ---------------------------------------------------------------- AnyRef

AnyRef::AnyRef(std::shared_ptr<detail::ActorCell> cell) : cell_(std::move(cell)) {}
AnyRef::AnyRef(std::shared_ptr<detail::RemoteActor> remote) : remote_(std::move(remote)) {}

AnyRef AnyRef::unreachable(ActorAddress address) {
  AnyRef ref;
  ref.unreachable_ = std::make_shared<const ActorAddress>(std::move(address));
  return ref;
}

ActorAddress AnyRef::address() const {
  if (cell_) return cell_->address();
  if (remote_) return remote_->address();
  return unreachable_ ? *unreachable_ : ActorAddress{};
}

std::string AnyRef::describe() const {
  if (cell_) return cell_->describe();
  if (remote_) return remote_->describe();
  return "unreachable actor at " + address().to_string();
}

const std::string& AnyRef::name() const {
  static const std::string kNone;
  if (cell_) return cell_->name();
  return remote_ ? remote_->name() : kNone;
}

std::string_view AnyRef::class_name() const {
  if (cell_) return cell_->methods().class_name();
  return remote_ ? std::string_view(remote_->class_name()) : std::string_view();
}

Failure AnyRef::unreachable_failure() const {
  return make_failure<RuntimeError>(RuntimeErrorKind::kActorNotFound,
                                    fmt::format("no actor at {}", address().to_string()));
}

void AnyRef::post(detail::Message* message) const { cell_->post(message); }
void AnyRef::post_tell(detail::Message* message) const { cell_->post_tell(message); }

Future<Value> AnyRef::remote_ask(std::string_view method, const PayloadWriter& args) const {
  auto [slot, future] = detail::make_value_reply();
  remote_ask(method, args, std::move(slot));
  return future;
}

void AnyRef::remote_ask(std::string_view method, const PayloadWriter& args,
                        std::shared_ptr<detail::ReplySlot> reply) const {
  remote_->ask(method, args, timeout(), std::move(reply));
}

void AnyRef::remote_tell(std::string_view method, const PayloadWriter& args) const {
  remote_->tell(method, args);
}


Future<Value> AnyRef::ask(std::string_view method, std::vector<Value> args) const {
  if (remote_) return remote_ask(method, detail::ValueArgs(args));
  if (!cell_) return Future<Value>::ready(unreachable_failure());
  Promise<Value> promise;
  auto future = promise.future();
  arm_timeout(promise, method);
  post(new detail::DynamicCallMessage(std::string(method), std::move(args), detail::DynamicReply(std::move(promise))));
  return future;
}

void AnyRef::tell(std::string_view method, std::vector<Value> args) const {
  if (remote_) return remote_tell(method, detail::ValueArgs(args));
  if (!cell_) return;
  post_tell(new detail::DynamicCallMessage(std::string(method), std::move(args), detail::DynamicReply()));
}

StreamReader<Value> AnyRef::stream(std::string_view method, std::vector<Value> args, std::size_t window) const {
  auto channel = std::make_shared<detail::StreamChannel<Value>>(window);
  if (remote_) {
    detail::InboundStream inbound{[channel](Value&& item) {
                                    channel->push(std::move(item));
                                    return true;
                                  },
                                  [channel](std::optional<Failure> failure) { channel->finish(std::move(failure)); }};
    remote_->open_stream(method, detail::ValueArgs(args), static_cast<std::uint32_t>(window), std::move(inbound),
                         *channel);
  } else if (!cell_) {
    channel->finish(unreachable_failure());
  } else {
    post(new detail::DynamicCallMessage(std::string(method), std::move(args),
                                        detail::DynamicReply(std::shared_ptr<detail::StreamSink<Value>>(channel))));
  }
  return StreamReader<Value>(channel, timeout());
}

Future<StopNotice> AnyRef::watch() const {
  if (remote_) return remote_->watch();
  if (!cell_) return Future<StopNotice>::ready(unreachable_failure());
  return cell_->watch();
}

void AnyRef::stop() const {
  if (remote_) {
    remote_->stop();
  } else if (cell_) {
    cell_->request_stop();
  }
}

AnyRef AnyRef::with_timeout(std::chrono::milliseconds t) const {
  AnyRef copy = *this;
  copy.timeout_ = t;
  return copy;
}

std::chrono::milliseconds AnyRef::timeout() const {
  if (timeout_.count() > 0) return timeout_;
  if (cell_) return cell_->node().default_ask_timeout();
  if (remote_) return remote_->default_timeout();
  return NodeConfig{}.ask_timeout;
}

// ---------------------------------------------------------------- Actor

AnyRef Actor::self_ref() const { return AnyRef(cell_->shared_from_this()); }
void Actor::stop() { cell_->stop_self(); }

Future<void> Actor::sleep_for(std::chrono::milliseconds delay) const {
  auto promise = std::make_shared<Promise<void>>();
  auto future = promise->future();
  cell_->node().timers().schedule(Clock::now() + delay, [promise] { promise->set_value(); });
  return future;
}

// ---------------------------------------------------------------- the default node

namespace {
std::mutex g_default_mutex;
std::unique_ptr<Node> g_default;
}  // namespace

void init(NodeConfig config) {
  std::lock_guard lock(g_default_mutex);
  if (!g_default) g_default = std::make_unique<Node>(std::move(config));
}

void shutdown() {
  std::unique_ptr<Node> node;
  {
    std::lock_guard lock(g_default_mutex);
    node = std::move(g_default);
  }
  if (node) node->shutdown();
}

Node& default_node() {
  std::lock_guard lock(g_default_mutex);
  if (!g_default) {
    throw RuntimeError(RuntimeErrorKind::kShutdown, "no default node: call pulsing::init() first");
  }
  return *g_default;
}

}  // namespace pulsing
