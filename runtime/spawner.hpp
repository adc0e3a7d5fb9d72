// Spawner: spawns with a Placement other than local. It chooses the host (HostChooser, from the
// kinds and loads members announce), builds the actor right here when the host is this node, and
// otherwise asks the host's PlacementService to build it there, answering with a reference to
// the actor on that node.
//
// Also what the host side needs: building a registered kind from Value arguments (host()), the
// SpawnOptions that cross the wire, and what a host announces in its metadata (the kinds, and a
// load figure refreshed by LoadAnnouncer).
//
// Ownership: owned by the NodeCore, which outlives it. Thread-safety: any thread.
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <vector>

#include "messaging/value.hpp"
#include "runtime/actor_cell.hpp"
#include "runtime/future.hpp"
#include "runtime/host_choice.hpp"
#include "runtime/kind_table.hpp"

namespace pulsing {
class AnyRef;
class MethodTable;
}  // namespace pulsing

namespace pulsing::detail {

class NodeCore;

// The name of every node's PlacementService (not registered cluster-wide: reached by name at a
// member's endpoint).
inline constexpr const char* kPlacementServiceName = "pulsing.placement";

// SpawnOptions as they travel to the host (placement and timeout stay behind), and back.
// from: throws ConversionError on a field of the wrong type or out of range.
Value spawn_options_to_value(const SpawnOptions& options);
SpawnOptions spawn_options_from_value(const Value& value);

// When a node announces its load again (actors plus queued messages, under kLoadKey). Every
// announcement costs the node an incarnation and a gossip broadcast: a figure is announced when
// it has moved by a quarter (and by at least kMinStep) from the one announced, at most once per
// `interval`. Not thread-safe: one caller (the node's timer).
class LoadAnnouncer {
 public:
  static constexpr std::uint64_t kMinStep = 16;
  explicit LoadAnnouncer(std::chrono::milliseconds interval) : interval_(interval) {}
  // Whether to announce `figure` now; if so, it counts as announced.
  bool due(Clock::time_point now, std::uint64_t figure);
  std::uint64_t announced() const { return announced_; }

 private:
  std::chrono::milliseconds interval_;
  std::uint64_t announced_ = 0;
  std::optional<Clock::time_point> last_;
};

class Spawner {
 public:
  explicit Spawner(NodeCore& node) : node_(node) {}

  // A typed spawn's own way to build the actor here (no Values): used when the host chosen is
  // this node.
  struct LocalBuild {
    const MethodTable* methods;
    ActorCell::Factory factory;
  };
  // Spawns `kind` where options.placement says, with `args` for its constructor. `local`: how to
  // build it if this node is chosen (null: from the kind registered here). Fails as
  // SpawnOptions::placement describes. REQUIRES: !options.placement.is_local().
  Future<AnyRef> spawn(std::string kind, const SpawnOptions& options, std::vector<Value> args,
                       std::optional<LocalBuild> local);

  // Builds `kind` here from `args` (the host's side of a spawn): kRefused when this node does
  // not host the kind, kBadArguments when the arguments do not fit its constructor, or as
  // Node::spawn fails.
  Result<AnyRef> host(std::string_view kind, const SpawnOptions& options, std::vector<Value>&& args);

 private:
  Future<AnyRef> spawn_at(const KindHost& host, const std::string& kind, const SpawnOptions& options,
                          const std::vector<Value>& args);

  NodeCore& node_;
  HostChooser chooser_;
};

}  // namespace pulsing::detail
