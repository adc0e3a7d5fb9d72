#include "runtime/node_core.hpp"

#include <chrono>
#include <random>
#include <string_view>

#include "common/log.hpp"
#include "runtime/remote.hpp"

namespace pulsing::detail {

namespace {

std::shared_ptr<NodeCurve> make_curve(const NodeConfig& config) {
  if (config.cluster_keys && config.client_key) {
    throw std::invalid_argument("a node holds a cluster key (a member) or a client key (a client), not both");
  }
  if (config.cluster_keys) return std::make_shared<NodeCurve>(config.cluster_keys, config.authorized_clients);
  if (config.client_key) return std::make_shared<NodeCurve>(config.client_key);
  return nullptr;
}

}  // namespace

NodeCore::NodeCore(NodeConfig config)
    : config_(std::move(config)),
      id_{std::random_device{}() * 0x100000001ull ^ std::random_device{}()},
      scheduler_(config_.worker_threads),
      curve_(make_curve(config_)),
      spawner_(std::make_unique<Spawner>(*this)),
      entities_(std::make_unique<EntityHost>(*this)) {}

NodeCore::~NodeCore() { shutdown(); }

namespace {

bool picks_free_port(const std::string& listen) { return listen.ends_with(":0"); }

}  // namespace

void NodeCore::start_network() {
  if (config_.listen.empty()) return;
  // Gossip uses the listen port's number for UDP. When the port was left to the system (":0"),
  // the TCP port it picked may be taken for UDP by someone else: then pick again.
  constexpr int kAttempts = 8;
  for (int attempt = 1;; ++attempt) {
    TransportConfig transport{config_.transport, config_.listen, config_.advertise};
    if (curve_) transport.curve = curve_;
    remote_ = std::make_unique<RemoteLink>(*this, std::move(transport), config_.make_transport);
    endpoint_ = remote_->endpoint();
    try {
      if (config_.gossip) start_gossip();
      // Only now: the link's I/O thread reads the registry, the member name and the driver.
      remote_->start();
      return;
    } catch (const std::runtime_error& e) {
      remote_->stop();
      remote_.reset();
      if (!picks_free_port(config_.listen) || attempt == kAttempts) throw;
      log().debug("[{}] {}; picking another port", config_.name, e.what());
    }
  }
}

void NodeCore::start_gossip() {
  membership::Config config{config_.membership};
  config.address = endpoint_address(endpoint_);
  if (config.name.empty()) config.name = config.address;
  // Wall-clock milliseconds: a restarted node outranks what is still said about its last run.
  config.run = static_cast<std::uint64_t>(
      std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
          .count());
  member_name_ = config.name;
  config.meta = gossip_meta();
  if (config_.cluster_keys) {
    // A key rotation makes this node announce its server key in its metadata later on
    // (set_cluster_keys): a node without room for it refuses to start, rather than fail then.
    membership::Metadata rotated = config.meta;
    rotated[NodeCurve::kMetadataKey] = curve_->server_text();
    try {
      membership::check_meta(config, rotated);
    } catch (const std::invalid_argument& e) {
      throw std::invalid_argument(fmt::format("{} (counting the server key a key rotation announces under '{}')",
                                              e.what(), NodeCurve::kMetadataKey));
    }
  }
  const auto probe_timeout = config.probe_interval;
  auto driver = std::make_unique<membership::UdpDriver>(std::move(config), endpoint_address(remote_->bound_endpoint()),
                                                        config_.seeds, membership::Sealing{config_.cluster_keys, config_.gossip_seal});
  registry::Config names{config_.registry};
  names.member = member_name_;
  names.endpoint = endpoint_;
  names.node_id = id_.value;
  cluster_registry_ = std::make_unique<ClusterRegistry>(*this, std::move(names));
  driver->on_event([this](const membership::MemberEvent& event) {
    track_member_server(event);
    cluster_registry_->on_member_event(event);
    entities_->on_member_event();
    // A member that left still answers while it drains: only a dead one's requests fail now.
    if (event.kind == membership::EventKind::kDead) remote_->member_dead("tcp://" + event.member.address);
    std::vector<std::function<void(const membership::MemberEvent&)>> handlers;
    {
      std::lock_guard lock(member_handlers_mutex_);
      handlers = member_handlers_;
    }
    for (const auto& handler : handlers) handler(event);
  });
  // The fallback probe: a ping over the node's ZeroMQ connection (TCP), answered with the
  // member name, so that UDP loss alone never makes a member suspect.
  driver->set_fallback_prober([this, probe_timeout](const membership::FallbackProbe& probe) {
    remote_->ping("tcp://" + probe.address, probe_timeout)
        .then([node = weak_from_this(), probe](Result<Value> answer) {
          auto core = node.lock();
          if (!core || !core->gossip_ || !answer.ok()) return;
          if (answer.value().is_text() && answer.value().as_text() == probe.target) {
            core->gossip_->fallback_ack(probe.seq);
          }
        });
  });
  // Set before the driver's thread starts: its handlers (the entity host, the fallback prober)
  // read gossip_.
  gossip_ = std::move(driver);
  gossip_->start();
  schedule_load_check();
}

void NodeCore::track_member_server(const membership::MemberEvent& event) {
  if (!curve_) return;
  const std::string endpoint = "tcp://" + event.member.address;
  std::optional<CurvePublicKey> key;
  const bool gone = event.kind == membership::EventKind::kDead || event.kind == membership::EventKind::kLeft;
  if (auto it = event.member.meta.find(NodeCurve::kMetadataKey); !gone && it != event.member.meta.end()) {
    key = NodeCurve::parse_server_text(it->second);
  }
  curve_->set_member_server(endpoint, key);
}

std::vector<membership::Member> NodeCore::members() const {
  if (gossip_) return gossip_->members();
  membership::Member self;
  self.name = self_name();
  self.address = endpoint_address(endpoint_);
  self.meta = gossip_meta();
  return {self};
}

void NodeCore::on_member_event(std::function<void(const membership::MemberEvent&)> handler) {
  std::lock_guard lock(member_handlers_mutex_);
  member_handlers_.push_back(std::move(handler));
}

membership::DriverStats NodeCore::gossip_stats() const {
  return gossip_ != nullptr ? gossip_->stats() : membership::DriverStats{};
}

std::shared_ptr<const security::Keyring> NodeCore::cluster_keys() const {
  return curve_ ? curve_->keys() : nullptr;
}

void NodeCore::set_cluster_keys(std::shared_ptr<const security::Keyring> keys) {
  if (keys == nullptr || config_.cluster_keys == nullptr) {
    throw std::invalid_argument(keys == nullptr ? "set_cluster_keys: no keyring given"
                                                : "set_cluster_keys: a node started without a cluster key cannot "
                                                  "take one while it runs (restart it with the key)");
  }
  if (gossip_) gossip_->set_keys(keys);
  const auto announced = curve_->announcement();
  curve_->set_keys(std::move(keys));  // a node with cluster keys has its NodeCurve
  // The new primary may derive another server key than this node's: members must learn it.
  if (gossip_ && curve_->announcement() != announced) {
    std::lock_guard lock(meta_mutex_);
    gossip_->update_meta(gossip_meta());
  }
}

membership::Metadata NodeCore::gossip_meta() const {
  membership::Metadata meta = config_.membership.meta;
  if (curve_) {
    if (auto key = curve_->announcement()) meta[NodeCurve::kMetadataKey] = *key;
  }
  if (!kinds_.empty()) meta[KindTable::kMetadataKey] = kinds_.announcement();
  if (auto load = announced_load_.load(std::memory_order_relaxed); load != 0) meta[kLoadKey] = std::to_string(load);
  return meta;
}

void NodeCore::add_kind(ActorKind kind) {
  std::lock_guard lock(meta_mutex_);
  const std::string name = kind.name;
  const bool added = kinds_.find(name) == nullptr;
  kinds_.add(std::move(kind));
  if (!added || !gossip_) return;
  try {
    gossip_->update_meta(gossip_meta());
  } catch (const std::invalid_argument& e) {
    kinds_.remove(name);
    throw std::invalid_argument(fmt::format("kind '{}' was not registered: {}", name, e.what()));
  }
}

void NodeCore::start_entity_sweep() {
  if (!sweeping_.exchange(true)) schedule_entity_sweep();
}

void NodeCore::schedule_entity_sweep() {
  timers_.schedule(Clock::now() + entities_->sweep_interval(), [weak = weak_from_this()] {
    auto core = weak.lock();
    if (!core || core->shut_down_.load()) return;
    core->entities_->sweep();
    core->schedule_entity_sweep();
  });
}

void NodeCore::schedule_load_check() {
  timers_.schedule(Clock::now() + config_.load_announce_interval, [weak = weak_from_this()] {
    auto core = weak.lock();
    if (!core || core->shut_down_.load()) return;
    if (!core->kinds_.empty()) {
      std::uint64_t figure = 0;
      for (const auto& cell : core->registry_.all()) figure += 1 + cell->queued();
      if (core->load_.due(Clock::now(), figure)) {
        std::lock_guard lock(core->meta_mutex_);
        core->announced_load_.store(figure, std::memory_order_relaxed);
        try {
          core->gossip_->update_meta(core->gossip_meta());
        } catch (const std::invalid_argument& e) {
          log().warn("[{}] the load figure does not fit the metadata: {}", core->config_.name, e.what());
        }
      }
    }
    core->schedule_load_check();
  });
}

Result<AnyRef> NodeCore::spawn_local(const MethodTable& methods, const SpawnOptions& options,
                                     ActorCell::Factory factory, bool announce) {
  auto created = create_cell(methods, options, std::move(factory), announce);
  if (!created.ok()) return created.failure();
  created.value()->start();
  return AnyRef(std::move(created.value()));
}

Result<std::shared_ptr<ActorCell>> NodeCore::create_cell(const MethodTable& methods, const SpawnOptions& options,
                                                         ActorCell::Factory factory, bool announce,
                                                         const std::function<void(ActorCell&)>& prepare) {
  if (!options.name.empty() && !valid_actor_name(options.name)) return invalid_name(options.name);
  std::unique_ptr<Actor> first;
  try {
    first = factory();
  } catch (...) {
    return classify(std::current_exception());
  }
  auto cell = std::make_shared<ActorCell>(shared_from_this(), next_actor_id(), options.name, methods,
                                          std::move(factory), std::move(first), options);
  if (prepare) prepare(*cell);
  auto added = registry_.add(cell);
  if (!added.ok()) return added.failure();
  if (cluster_registry_ && announce && !options.name.empty()) {
    cluster_registry_->add_local(options.name, cell->id(), std::string(methods.class_name()));
  }
  return cell;
}

void NodeCore::set_authorized_clients(std::vector<security::AuthorizedClient> clients) {
  if (config_.cluster_keys == nullptr) {
    throw std::invalid_argument("set_authorized_clients: a node without a cluster key admits every caller; "
                                "restart it with a key");
  }
  curve_->set_clients(std::move(clients));
}

void NodeCore::dead_letter(std::string_view target, std::string_view why) {
  dead_letters_.fetch_add(1, std::memory_order_relaxed);
  auto now = Clock::now().time_since_epoch().count();
  auto last = last_dead_letter_log_.load(std::memory_order_relaxed);
  auto interval = std::chrono::duration_cast<Clock::duration>(config_.dead_letter_log_interval).count();
  if (now - last >= interval && last_dead_letter_log_.compare_exchange_strong(last, now)) {
    log().warn("[{}] dead letter: a tell to {} was dropped ({}); {} dead letters so far", config_.name, target,
               why, dead_letters_.load());
  }
}

void NodeCore::on_actor_stopped(ActorCell& cell) {
  if (cell.is_entity()) {
    // Its name is free before the host forgets it: the next call may activate it again at once.
    auto released = registry_.remove(cell);
    entities_->stopped(cell);
    return;
  }
  if (cluster_registry_ && !cell.name().empty()) cluster_registry_->remove_local(cell.name(), cell.id());
  registry_.remove(cell);
}

Future<AnyRef> NodeCore::resolve(std::string_view name, const ResolveOptions& options) {
  if (!valid_actor_name(name)) return Future<AnyRef>::ready(invalid_name(name));
  // In a cluster, through the cluster-wide registry (which knows this node's names too).
  if (cluster_registry_) return cluster_registry_->resolve(std::string(name), options);
  if (auto cell = registry_.find(name)) return Future<AnyRef>::ready(AnyRef(std::move(cell)));
  if (options.wait.count() <= 0) {
    return Future<AnyRef>::ready(
        make_failure<RuntimeError>(RuntimeErrorKind::kActorNotFound, fmt::format("no actor is named '{}'", name)));
  }
  auto promise = std::make_shared<Promise<AnyRef>>();
  auto future = promise->future();
  timers().schedule(Clock::now() + options.wait,
                    [promise, what = fmt::format("resolve '{}'", name), ms = options.wait.count()] {
                      promise->fail(make_failure<TimeoutError>(what, ms));
                    });
  registry_.wait_for(std::string(name), promise);
  return future;
}

void NodeCore::forget(std::string_view name, const ActorAddress& instance) {
  if (cluster_registry_) cluster_registry_->forget(std::string(name), instance);
}

void NodeCore::shutdown() {
  if (scheduler_.current_worker() != nullptr) {
    // It would wait for the calling handler to finish, then join its own thread.
    throw RuntimeError(RuntimeErrorKind::kShutdown,
                       "shutdown() was called from inside one of this node's actors; call it from "
                       "outside (an actor may stop() itself instead)");
  }
  if (shut_down_.exchange(true)) return;
  registry_.close();
  // Entities save their state on the way out (on_passivate), as when they move.
  for (auto& cell : registry_.all()) cell->request_stop(cell->is_entity() ? StopReason::kPassivated : StopReason::kShutdown);
  if (!registry_.wait_empty(config_.shutdown_grace)) {
    log().warn("[{}] shutdown: {} actors still busy after {} ms; stopping anyway", config_.name,
               registry_.size(), config_.shutdown_grace.count());
  }
  if (cluster_registry_) cluster_registry_->stop();
  if (gossip_) {
    // A graceful leave when others are there to hear it: they report "left", not "dead". A few
    // gossip rounds spread it.
    if (gossip_->live_count() > 1) {
      gossip_->leave(3 * config_.membership.gossip_interval);
    } else {
      gossip_->stop();
    }
  }
  if (remote_) remote_->stop();
  timers_.stop();
  scheduler_.stop();
  registry_.clear();
}

}  // namespace pulsing::detail
