// EntityTable: one node's part in placing virtual actors (entities). An entity is named by a kind
// and a key and needs no spawn: it lives on the owner of "kind/key" among the members that host
// the kind, chosen by rendezvous hashing as names are (Placement), and this table says what the
// node does with a call for one. Pure: no socket, no thread, no clock (`now` is passed in). The
// runtime binds it to real calls and actors; the simulator (tests/sim) to a simulated cluster.
//
// The rules, for each node and its own view of the hosts:
//   - A caller sends a call to the owner in its view.
//   - A node that gets a call for an entity it does not hold activates it only if it is the owner
//     in its own view. Otherwise it forwards the call to the owner it sees, for kMaxHops
//     forwards in all; past that it refuses the call (retryable: the views are about to agree).
//   - When the view changes so that another host owns an entity active here, the node passivates
//     it: the hand-over.
//   - A node about to activate an entity that another live host owned in its previous view (one
//     that changed less than handoff_grace ago) first asks that host to release it. The host
//     answers once it has passivated its activation (at once if it has none), so the state its
//     on_passivate saves is the state the new activation's on_activate loads. A host that
//     cannot be asked (unreachable) is not waited for.
// Hence at most one activation per key while membership is stable. During a partition each side
// may activate the keys whose owner is on the other side; once the views agree again, the
// non-owner passivates its copy.
//
// Thread-compatible (the runtime guards it).
#pragma once

#include <chrono>
#include <cstddef>
#include <map>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "common/address.hpp"
#include "registry/placement.hpp"

namespace pulsing::registry {

class EntityTable {
 public:
  struct Config {
    std::string self;  // this node's member name
    // How long after a view change an activation asks the key's previous owner to release it.
    // Longer than it takes every node to see the change (a gossip round or a few), so that the
    // previous owner has passivated or will on the release request.
    std::chrono::milliseconds handoff_grace{30'000};
  };
  // Forwards a call may take before it is refused: one for a caller whose view is behind, one
  // more for a node whose view is.
  static constexpr int kMaxHops = 2;

  explicit EntityTable(Config config);

  // The members that host `kind`, as this node sees them now (order and duplicates do not
  // matter). Returns the keys of that kind active here (or being activated) that another host
  // owns now: passivate them (each then ends with passivated()).
  std::vector<std::string> set_hosts(std::string_view kind, std::vector<std::string> hosts, Clock::time_point now);
  // The owner of (kind, key) in this view; empty when no member hosts the kind.
  std::string owner(std::string_view kind, std::string_view key) const;

  enum class Action : std::uint8_t {
    kDeliver,   // active here: deliver it
    kActivate,  // activate it here (after asking `member` to release it, when not empty), then deliver
    kHold,      // being passivated here, and still this node's: deliver it to the next activation
    kForward,   // send it to `member`, one hop more
    kRefuse,    // too many hops, or the release was refused: fail it, retryably
    kNoHost,    // no member hosts the kind
  };
  struct Arrival {
    Action action;
    std::string member;
  };
  // A call for (kind, key) arrived here, forwarded `hops` times so far. kActivate marks the
  // entity as being activated here: activated() or passivated() follows.
  Arrival arrive(std::string_view kind, std::string_view key, int hops, Clock::time_point now);
  // The activation begun by kActivate runs (its on_activate is done).
  void activated(std::string_view kind, std::string_view key);
  // The activation should end: the entity is idle. False (and nothing changes) if it is not
  // active here. passivated() follows.
  bool begin_passivation(std::string_view kind, std::string_view key);
  // The activation has ended (passivated, or stopped). The members that asked for its release
  // meanwhile, to answer now.
  std::vector<std::string> passivated(std::string_view kind, std::string_view key);

  enum class Release : std::uint8_t {
    kReleased,     // not active here: answer at once
    kPassivate,    // active here, though no longer this node's: passivate it now, and answer when
                   // passivated() names the requester
    kPassivating,  // being passivated: answer when passivated() names the requester
    kRefused,      // this node owns it in its own view: the views disagree still
  };
  // `requester` would activate (kind, key) and asks this node to release it.
  Release release(std::string_view kind, std::string_view key, const std::string& requester);

  std::size_t active() const { return entries_.size(); }
  bool holds(std::string_view kind, std::string_view key) const;
  const std::string& self() const { return config_.self; }

 private:
  enum class State : std::uint8_t { kActivating, kActive, kPassivating };
  struct Entry {
    State state;
    std::vector<std::string> waiting;  // members that asked for a release
  };
  struct KindView {
    Placement now, before;
    Clock::time_point changed{};
  };
  static std::string entity_name(std::string_view kind, std::string_view key);
  static std::string owner_in(const Placement& hosts, const std::string& name);

  Config config_;
  std::map<std::string, KindView, std::less<>> kinds_;
  std::unordered_map<std::string, Entry> entries_;  // by entity name "kind/key"
};

}  // namespace pulsing::registry
