// NodeCore: everything a node owns — config, identity, scheduler, timers, registry, dead-letter
// count, and (when it listens) its network link. The Node object is a handle on it; actor cells
// and remote references share it, so that one that outlives its Node fails cleanly instead of
// touching freed memory. Internal to the runtime.
//
// Thread-safety: every member may be used from any thread.
#pragma once

#include <atomic>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "membership/udp_driver.hpp"

#include "runtime/caller_access.hpp"
#include "runtime/kind_table.hpp"
#include "runtime/cluster_registry.hpp"
#include "runtime/local_registry.hpp"
#include "runtime/named_ref.hpp"
#include "runtime/node.hpp"
#include "runtime/node_context.hpp"
#include "runtime/node_curve.hpp"
#include "runtime/entity_host.hpp"
#include "runtime/spawner.hpp"

namespace pulsing::detail {

class RemoteLink;

class NodeCore final : public NodeContext, public NameResolver, public std::enable_shared_from_this<NodeCore> {
 public:
  explicit NodeCore(NodeConfig config);
  ~NodeCore() override;

  // Starts listening (config.listen) and gossiping (unless config.gossip is false); the endpoint
  // is known from then on. Throws when an address cannot be bound. REQUIRES: called once, right
  // after construction.
  void start_network();

  Scheduler& scheduler() override { return scheduler_; }
  TimerService& timers() override { return timers_; }
  NodeMetrics& metrics() override { return metrics_; }
  NodeId node_id() const override { return id_; }
  const std::string& endpoint() const override { return endpoint_; }
  std::chrono::milliseconds default_ask_timeout() const override { return config_.ask_timeout; }
  std::size_t default_mailbox_capacity() const override { return config_.mailbox_capacity; }
  void on_actor_stopped(ActorCell& cell) override;
  void dead_letter(std::string_view target, std::string_view why) override;

  // By name: this node's actor, else (gossiping) through the cluster registry, else waiting
  // for a local spawn. An invalid name fails with kInvalidName.
  Future<AnyRef> resolve(std::string_view name, const ResolveOptions& options) override;
  void forget(std::string_view name, const ActorAddress& instance) override;

  const NodeConfig& config() const { return config_; }
  LocalRegistry& registry() { return registry_; }
  ActorId next_actor_id() { return ActorId{next_id_.fetch_add(1) + 1}; }
  ActorId last_actor_id() const { return ActorId{next_id_.load()}; }
  std::uint64_t dead_letters() const { return dead_letters_.load(); }
  // The network side; null when the node does not listen.
  RemoteLink* remote() { return remote_.get(); }
  // The cluster-wide name registry; null when the node does not gossip.
  ClusterRegistry* cluster_registry() { return cluster_registry_.get(); }
  // Membership: this node's name in the cluster, the members it sees, and their events.
  const std::string& member_name() const { return member_name_; }
  // The name this node goes by among the members: its member name, or (with no network) the
  // configured name, as members() lists it.
  const std::string& self_name() const { return member_name_.empty() ? config_.name : member_name_; }
  std::vector<membership::Member> members() const;
  void on_member_event(std::function<void(const membership::MemberEvent&)> handler);
  // Gossip's counters; zero when the node does not gossip.
  membership::DriverStats gossip_stats() const;
  // The keyring in use (null: none), and its replacement (Node::set_cluster_keys).
  std::shared_ptr<const security::Keyring> cluster_keys() const;
  void set_cluster_keys(std::shared_ptr<const security::Keyring> keys);
  void set_authorized_clients(std::vector<security::AuthorizedClient> clients);
  // What each caller's role may send (checked by the network side before dispatch).
  CallerAccess& access() { return access_; }

  // Builds and starts an actor here (Node::spawn's work): fails with kInvalidName, kNameTaken,
  // kShutdown, or what the factory threw. `announce`: register its name cluster-wide (else only
  // on this node, for the runtime's own services).
  Result<AnyRef> spawn_local(const MethodTable& methods, const SpawnOptions& options, ActorCell::Factory factory,
                             bool announce = true);
  // spawn_local's first part: the actor built and registered, not started. `prepare` runs on
  // the cell before anyone else can see it.
  Result<std::shared_ptr<ActorCell>> create_cell(const MethodTable& methods, const SpawnOptions& options,
                                                 ActorCell::Factory factory, bool announce,
                                                 const std::function<void(ActorCell&)>& prepare = {});
  // The kinds this node hosts, and the spawns with a placement (runtime/spawner.hpp).
  KindTable& kinds() { return kinds_; }
  Spawner& spawner() { return *spawner_; }
  EntityHost& entities() { return *entities_; }
  // Starts the idle sweep of entities, if it is not running (once an entity kind is added).
  void start_entity_sweep();
  // Adds `kind` and announces this node's kinds to the cluster. Throws std::invalid_argument
  // (and adds nothing) when the name is bad or taken, or the metadata would outgrow its limit.
  void add_kind(ActorKind kind);

  void shutdown();

 private:
  void start_gossip();
  // Every NodeConfig::load_announce_interval: announces the load again if LoadAnnouncer says so.
  void schedule_load_check();
  // Every EntityHost::sweep_interval(): passivates idle entities.
  void schedule_entity_sweep();
  // Keeps what members announce of their CURVE server keys (NodeCurve) up to date.
  void track_member_server(const membership::MemberEvent& event);
  // This node's gossip metadata: the configured, and its CURVE server key when it announces one
  // (NodeCurve::announcement).
  membership::Metadata gossip_meta() const;

  const NodeConfig config_;
  const NodeId id_;
  std::string endpoint_;  // set once by start_network()
  TimerService timers_;
  NodeMetrics metrics_;
  Scheduler scheduler_;
  LocalRegistry registry_;
  CallerAccess access_{registry_};
  // CURVE for every connection, and the keyring in use; null without keys (the node's own, or
  // a client key).
  const std::shared_ptr<NodeCurve> curve_;
  std::unique_ptr<RemoteLink> remote_;
  std::string member_name_;                       // set once by start_network()
  std::unique_ptr<ClusterRegistry> cluster_registry_;  // null when the node does not gossip
  std::unique_ptr<membership::UdpDriver> gossip_;      // null when the node does not gossip
  KindTable kinds_;
  std::unique_ptr<Spawner> spawner_;
  std::unique_ptr<EntityHost> entities_;
  std::atomic<bool> sweeping_{false};
  std::mutex meta_mutex_;  // serializes building and announcing the metadata
  LoadAnnouncer load_{config_.load_announce_interval};  // only on the timer thread
  std::atomic<std::uint64_t> announced_load_{0};        // what gossip_meta() announces
  std::mutex member_handlers_mutex_;
  std::vector<std::function<void(const membership::MemberEvent&)>> member_handlers_;  // guarded
  std::atomic<bool> shut_down_{false};
  std::atomic<std::uint64_t> next_id_{0};
  std::atomic<std::uint64_t> dead_letters_{0};
  std::atomic<Clock::rep> last_dead_letter_log_{0};
};

}  // namespace pulsing::detail
