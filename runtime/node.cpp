#include "runtime/node.hpp"

#include <mutex>
#include <random>
#include <unordered_map>

#include <fmt/format.h>

#include "runtime/local_registry.hpp"
#include "runtime/log.hpp"

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

// Everything a node owns that its actors need; shared with them, so an actor reference that
// outlives its Node still fails cleanly instead of touching freed memory.
class NodeCore final : public NodeContext {
 public:
  explicit NodeCore(NodeConfig config)
      : config_(std::move(config)),
        id_{std::random_device{}() * 0x100000001ull ^ std::random_device{}()},
        scheduler_(config_.worker_threads) {}

  Scheduler& scheduler() override { return scheduler_; }
  TimerService& timers() override { return timers_; }
  NodeId node_id() const override { return id_; }
  const std::string& endpoint() const override { return endpoint_; }
  std::chrono::milliseconds default_ask_timeout() const override { return config_.ask_timeout; }
  std::size_t default_mailbox_capacity() const override { return config_.mailbox_capacity; }
  const NodeConfig& config() const { return config_; }

  LocalRegistry& registry() { return registry_; }
  ActorId next_actor_id() { return ActorId{next_id_.fetch_add(1) + 1}; }

  void on_actor_stopped(ActorCell& cell) override { registry_.remove(cell); }

  // ---- dead letters
  void dead_letter(std::string_view target, std::string_view why) override {
    dead_letters_.fetch_add(1, std::memory_order_relaxed);
    auto now = Clock::now().time_since_epoch().count();
    auto last = last_dead_letter_log_.load(std::memory_order_relaxed);
    auto interval = std::chrono::duration_cast<Clock::duration>(config_.dead_letter_log_interval).count();
    if (now - last >= interval && last_dead_letter_log_.compare_exchange_strong(last, now)) {
      auto total = dead_letters_.load();
      log().warn("[{}] dead letter: a tell to {} was dropped ({}); {} dead letters so far", config_.name,
                   target, why, total);
    }
  }
  std::uint64_t dead_letters() const { return dead_letters_.load(); }

  // ---- shutdown
  void shutdown() {
    if (scheduler_.current_worker() != nullptr) {
      // It would wait for the calling handler to finish, then join its own thread.
      throw RuntimeError(RuntimeErrorKind::kShutdown,
                         "shutdown() was called from inside one of this node's actors; call it from "
                         "outside (an actor may stop() itself instead)");
    }
    if (shut_down_.exchange(true)) return;
    registry_.close();
    for (auto& cell : registry_.all()) cell->request_stop(StopReason::kShutdown);
    if (!registry_.wait_empty(config_.shutdown_grace)) {
      log().warn("[{}] shutdown: {} actors still busy after {} ms; stopping anyway", config_.name,
                   registry_.size(), config_.shutdown_grace.count());
    }
    timers_.stop();
    scheduler_.stop();
    registry_.clear();
  }

 private:
  const NodeConfig config_;
  const NodeId id_;
  const std::string endpoint_;  // in-process only until the node listens on the network
  TimerService timers_;
  Scheduler scheduler_;
  LocalRegistry registry_;
  std::atomic<bool> shut_down_{false};
  std::atomic<std::uint64_t> next_id_{0};
  std::atomic<std::uint64_t> dead_letters_{0};
  std::atomic<Clock::rep> last_dead_letter_log_{0};
};

// Nodes of this process by id, so that an address arriving as a Value finds its actor.
std::mutex g_nodes_mutex;
std::unordered_map<std::uint64_t, std::weak_ptr<NodeCore>> g_nodes;

AnyRef ref_from_address(const ActorAddress& address) {
  std::shared_ptr<NodeCore> core;
  {
    std::lock_guard lock(g_nodes_mutex);
    auto it = g_nodes.find(address.node.value);
    if (it != g_nodes.end()) core = it->second.lock();
  }
  if (core) {
    if (auto cell = core->registry().find(address.actor)) return AnyRef(std::move(cell));
  }
  return AnyRef::unreachable(address);
}

}  // namespace detail

// ---------------------------------------------------------------- Node

Node::Node(NodeConfig config) : core_(std::make_shared<detail::NodeCore>(std::move(config))) {
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
  if (!options.name.empty() && !detail::valid_actor_name(options.name)) {
    return Result<AnyRef>(make_failure<RuntimeError>(
        RuntimeErrorKind::kInvalidName,
        fmt::format("'{}' is not a valid actor name: use 1 to 128 characters from [A-Za-z0-9_.:/-], "
                    "starting with a letter, digit or '_'",
                    options.name)));
  }
  std::unique_ptr<Actor> first;
  try {
    first = factory();
  } catch (...) {
    return Result<AnyRef>(classify(std::current_exception()));
  }
  auto cell = std::make_shared<detail::ActorCell>(core_, core_->next_actor_id(), options.name, methods,
                                                  std::move(factory), std::move(first), options);
  auto added = core_->registry().add(cell);
  if (added.ok()) cell->start();
  return added;
}

Future<AnyRef> Node::resolve_any(std::string_view name, std::chrono::milliseconds wait) {
  if (!detail::valid_actor_name(name)) {
    return Future<AnyRef>::ready(make_failure<RuntimeError>(
        RuntimeErrorKind::kInvalidName, fmt::format("'{}' is not a valid actor name", name)));
  }
  if (wait.count() > 0) {
    auto promise = std::make_shared<Promise<AnyRef>>();
    auto future = promise->future();
    core_->timers().schedule(Clock::now() + wait, [promise, what = fmt::format("resolve '{}'", name),
                                                   ms = wait.count()] {
      promise->fail(make_failure<TimeoutError>(what, ms));
    });
    core_->registry().wait_for(std::string(name), promise);
    return future;
  }
  if (auto cell = core_->registry().find(name)) return Future<AnyRef>::ready(AnyRef(std::move(cell)));
  return Future<AnyRef>::ready(make_failure<RuntimeError>(
      RuntimeErrorKind::kActorNotFound, fmt::format("no actor is named '{}'", name)));
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

std::vector<ActorInfo> Node::actors() const {
  std::vector<ActorInfo> out;
  for (auto& cell : core_->registry().all()) {
    out.push_back({cell->address(), cell->name(), std::string(cell->methods().class_name())});
  }
  return out;
}
std::uint64_t Node::dead_letters() const { return core_->dead_letters(); }
NodeId Node::id() const { return core_->node_id(); }
const NodeConfig& Node::config() const { return core_->config(); }

// ---------------------------------------------------------------- AnyRef

AnyRef::AnyRef(std::shared_ptr<detail::ActorCell> cell) : cell_(std::move(cell)) {}

AnyRef AnyRef::unreachable(ActorAddress address) {
  AnyRef ref;
  ref.unreachable_ = std::make_shared<const ActorAddress>(std::move(address));
  return ref;
}

ActorAddress AnyRef::address() const {
  if (cell_) return cell_->address();
  return unreachable_ ? *unreachable_ : ActorAddress{};
}

const std::string& AnyRef::name() const {
  static const std::string kNone;
  return cell_ ? cell_->name() : kNone;
}

std::string_view AnyRef::class_name() const { return cell_ ? cell_->methods().class_name() : ""; }

Failure AnyRef::unreachable_failure() const {
  return make_failure<RuntimeError>(RuntimeErrorKind::kActorNotFound,
                                    fmt::format("no actor at {}", address().to_string()));
}

void AnyRef::post(detail::Message* message) const { cell_->post(message); }

Future<Value> AnyRef::ask(std::string_view method, std::vector<Value> args) const {
  if (!cell_) return Future<Value>::ready(unreachable_failure());
  Promise<Value> promise;
  auto future = promise.future();
  arm_timeout(promise, method);
  post(new detail::DynamicCallMessage(std::string(method), std::move(args), detail::DynamicReply(std::move(promise))));
  return future;
}

void AnyRef::tell(std::string_view method, std::vector<Value> args) const {
  if (!cell_) return;
  post(new detail::DynamicCallMessage(std::string(method), std::move(args), detail::DynamicReply()));
}

StreamReader<Value> AnyRef::stream(std::string_view method, std::vector<Value> args, std::size_t window) const {
  auto channel = std::make_shared<detail::StreamChannel<Value>>(window);
  if (!cell_) {
    channel->finish(unreachable_failure());
  } else {
    post(new detail::DynamicCallMessage(std::string(method), std::move(args), detail::DynamicReply(channel)));
  }
  return StreamReader<Value>(channel, timeout());
}

Future<StopNotice> AnyRef::watch() const {
  if (!cell_) return Future<StopNotice>::ready(unreachable_failure());
  return cell_->watch();
}

void AnyRef::stop() const {
  if (cell_) cell_->request_stop();
}

AnyRef AnyRef::with_timeout(std::chrono::milliseconds t) const {
  AnyRef copy = *this;
  copy.timeout_ = t;
  return copy;
}

std::chrono::milliseconds AnyRef::timeout() const {
  if (timeout_.count() > 0 || !cell_) return timeout_.count() > 0 ? timeout_ : std::chrono::milliseconds(30'000);
  return cell_->node().default_ask_timeout();
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
