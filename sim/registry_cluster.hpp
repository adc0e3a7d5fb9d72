// SimRegistryCluster: the cluster simulator (cluster.hpp) with a name registry on every node
// (registry/registry.hpp), fed by that node's own membership events. Registry messages travel
// on the same virtual time, delayed like packets but in order per pair of nodes and never lost
// (they ride on TCP); they are
// lost at partitions, and one sent to a crashed node is reported undeliverable (a connection
// refused). Owners answer updates (UpdateAck) with a message back. lose_updates() makes updates
// go lost as with a broken connection, which the sender's transport reports. A crashed node's
// registry goes with it; restarted, it is a new run with no names.
//
// Node i's member name is SimCluster::name(i), its endpoint "tcp://" + SimCluster::address(i).
// A run is a pure function of its seed. Thread-compatible.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <queue>
#include <random>
#include <string>
#include <vector>

#include "registry/registry.hpp"
#include "sim/cluster.hpp"

namespace pulsing::sim {

class SimRegistryCluster {
 public:
  // `base` is every registry's configuration except member, endpoint and node id.
  SimRegistryCluster(std::uint64_t seed, std::size_t nodes, Config membership, NetworkModel network,
                     registry::Config base);

  SimCluster& cluster() { return cluster_; }
  registry::Registry& registry(std::size_t i) { return *registries_[i]; }
  bool running(std::size_t i) const { return registries_[i] != nullptr; }
  std::size_t size() const { return registries_.size(); }

  // Starts node i (a new run if it ran before: no names), joining through `seeds`.
  void start(std::size_t i, const std::vector<std::size_t>& seeds);
  void crash(std::size_t i);

  bool add(std::size_t i, const std::string& name, std::uint64_t actor_id);
  void remove(std::size_t i, const std::string& name, std::uint64_t actor_id);

  // From now on, each Announce and Withdraw is lost with this probability (and reported lost to
  // its sender, as a transport reports what a broken connection dropped).
  void lose_updates(double probability);
  std::uint64_t updates_lost() const { return updates_lost_; }

  void run_for(milliseconds span);
  // Resolves `name` from node i as the runtime would (cache, else a lookup run in virtual time,
  // waiting up to `wait` for the name): the instances found.
  std::vector<registry::Instance> resolve(std::size_t i, const std::string& name, milliseconds wait = {});

  static std::string endpoint(std::size_t i) { return "tcp://" + SimCluster::address(i); }

 private:
  struct InFlight {
    Clock::time_point at;
    std::uint64_t order;
    std::size_t from;
    std::size_t to;
    registry::Message message;
    bool operator>(const InFlight& o) const { return at != o.at ? at > o.at : order > o.order; }
  };

  void on_member_event(std::size_t i, const membership::MemberEvent& e);
  void carry_out(std::size_t i, registry::Output& out);
  void deliver(const InFlight& m);
  void send(std::size_t from, std::size_t to, registry::Message message);
  static std::uint64_t update_id(const registry::Message& m);
  Clock::time_point next_event() const;
  void run_due();
  Clock::duration delay();

  SimCluster cluster_;
  registry::Config base_;
  NetworkModel network_;
  std::mt19937_64 random_;
  std::vector<std::unique_ptr<registry::Registry>> registries_;
  std::vector<std::uint64_t> runs_;
  std::priority_queue<InFlight, std::vector<InFlight>, std::greater<>> queue_;
  std::uint64_t next_order_ = 0;
  std::map<std::pair<std::size_t, std::size_t>, Clock::time_point> last_arrival_;  // by (from, to)
  std::bernoulli_distribution lose_{0.0};
  std::uint64_t updates_lost_ = 0;
  std::map<std::pair<std::size_t, std::uint64_t>, std::vector<registry::Instance>> completed_;
};

}  // namespace pulsing::sim
