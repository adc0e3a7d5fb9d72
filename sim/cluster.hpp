// SimCluster: N membership state machines in one process, on virtual time and a simulated
// network that loses, delays, duplicates and partitions packets, with nodes that crash and
// restart. A run is a pure function of its seed: the same seed gives the same run, event for
// event, so a failure is reproduced by re-running its seed.
//
// Nodes are numbered 0..N-1; node i is named "node-i" at address "node-i:7946". Thread-compatible.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <queue>
#include <random>
#include <string>
#include <unordered_map>
#include <vector>

#include "membership/membership.hpp"

namespace pulsing::sim {

using membership::Config;
using std::chrono::milliseconds;

// UDP packets are lost, duplicated and delayed as below. Fallback probes (the reliable channel)
// are never lost, only delayed, and like everything else stop at partitions and crashed nodes.
struct NetworkModel {
  double loss = 0.0;       // probability that a packet is lost
  double duplicate = 0.0;  // probability that a packet arrives twice
  milliseconds min_delay{0};
  milliseconds max_delay{2};  // each copy is delayed uniformly in [min_delay, max_delay]
};

struct EventRecord {
  Clock::time_point at;
  membership::EventKind kind;
  std::string member;
};

class SimCluster {
 public:
  // `base` is every node's configuration except name, address, seed and incarnation.
  SimCluster(std::uint64_t seed, std::size_t nodes, Config base, NetworkModel network = {});

  // Starts node i now, joining through `seeds` (node indices). A crashed node restarts as a new
  // run: a fresh state machine whose incarnation is the current time in milliseconds.
  void start(std::size_t i, const std::vector<std::size_t>& seeds);
  // Node i stops at once, without a word (kill -9).
  void crash(std::size_t i);
  // Node i stops for `span` (SIGSTOP, then SIGCONT): what reaches it meanwhile, packets and its
  // own timers, waits and is handled in order when it continues, as a stopped process finds its
  // socket buffer and its overdue timers.
  void pause(std::size_t i, milliseconds span);
  // Node i leaves gracefully; it stays up (answering) until crash() or the end of the run.
  void leave(std::size_t i);
  // Node i announces new metadata.
  void update_meta(std::size_t i, membership::Metadata meta);
  // Starts every node not running, and hands each the whole cluster as the answer to its join
  // would: a converged and quiet cluster in one step, at sizes whose joins would take minutes of
  // virtual time to settle (the S1 benchmark starts from it at 10,000 nodes).
  void start_converged();

  // Events go to `observer` instead of events(): a large run does not keep them.
  using Observer = std::function<void(std::size_t node, Clock::time_point at, const membership::MemberEvent&)>;
  void set_observer(Observer observer) { observer_ = std::move(observer); }
  bool running(std::size_t i) const { return nodes_[i].machine != nullptr; }
  // Whether a message from node `from` reaches node `to` now: it runs, and no partition
  // separates them.
  bool reachable(std::size_t from, std::size_t to) const { return running(to) && connected(from, to); }

  // Packets cross between groups only when their group numbers are equal; heal() removes it.
  void partition(const std::vector<int>& group_of_node);
  void heal() { groups_.clear(); }
  void set_network(NetworkModel network) { network_ = network; }

  // Runs for `span` of virtual time; run_to(): until virtual time `until`.
  void run_for(milliseconds span) { run_to(now_ + span); }
  void run_to(Clock::time_point until);
  // Runs until `done()` holds (checked after every step) or `limit` passes; true if it held.
  bool run_until(const std::function<bool()>& done, milliseconds limit);

  Clock::time_point now() const { return now_; }
  std::size_t size() const { return nodes_.size(); }
  const membership::Membership& node(std::size_t i) const { return *nodes_[i].machine; }
  // The state node `observer` holds of node `subject`, if it knows it.
  std::optional<membership::MemberState> view(std::size_t observer, std::size_t subject) const;
  // Whether every running node sees every running node alive and no other node live.
  bool converged() const;
  const std::vector<EventRecord>& events(std::size_t i) const { return nodes_[i].events; }
  std::uint64_t packets_sent() const { return packets_sent_; }
  std::uint64_t bytes_sent() const { return bytes_sent_; }

  static std::string name(std::size_t i) { return "node-" + std::to_string(i); }
  static std::string address(std::size_t i) { return name(i) + ":7946"; }

 private:
  struct Node {
    std::unique_ptr<membership::Membership> machine;
    std::uint64_t timer_generation = 0;  // only the newest timer entry of a node counts
    Clock::time_point paused_until{};    // pause(): nothing is handled before
    std::vector<EventRecord> events;
  };
  struct Pending {
    Clock::time_point at;
    std::uint64_t order;  // ties in time run in the order they were scheduled
    std::size_t node;
    std::uint64_t timer_generation;       // a timer entry when no packet
    std::optional<std::size_t> from;      // a packet's sender
    std::shared_ptr<const membership::Packet> packet;
    bool operator>(const Pending& o) const { return at != o.at ? at > o.at : order > o.order; }
  };

  void step(const Pending& p);
  void apply(std::size_t i, membership::Output& out);
  void schedule_timer(std::size_t i);
  bool connected(std::size_t a, std::size_t b) const;

  Config base_;
  NetworkModel network_;
  std::mt19937_64 random_;
  Clock::time_point now_{};
  std::uint64_t next_order_ = 0;
  std::vector<Node> nodes_;
  std::vector<std::string> names_;
  std::unordered_map<std::string, std::size_t> by_address_;
  std::vector<int> groups_;
  std::priority_queue<Pending, std::vector<Pending>, std::greater<>> queue_;
  Observer observer_;
  std::uint64_t packets_sent_ = 0;
  std::uint64_t bytes_sent_ = 0;
};

// The seed for a test: PULSING_SIM_SEED from the environment when set (to replay a failure),
// else `fallback`.
std::uint64_t sim_seed(std::uint64_t fallback);

}  // namespace pulsing::sim
