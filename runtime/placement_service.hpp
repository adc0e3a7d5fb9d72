// PlacementService: the actor on every node with a network through which other members spawn
// actors here (Spawner::spawn_at). Named kPlacementServiceName on this node only: callers reach
// it by name at a member's endpoint, with no lookup. Members and operators may call it; observers
// may not (CallerAccess opens nothing of it to them).
//
// place(kind, options, args) builds an actor of the registered `kind` here (Spawner::host) and
// answers {"address": actor, "class": text, "name": text}, or {"error": error record} when it
// cannot: a user's constructor that throws must fail that spawn, not crash this service.
//
// It is reentrant: a release waits for an entity's passivation without holding up spawns.
//
// Ownership: the node outlives it (it stops with the node). Thread-safety: an actor.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "runtime/actor.hpp"
#include "runtime/node.hpp"

namespace pulsing::detail {

class NodeCore;

class PlacementService : public Actor {
 public:
  explicit PlacementService(std::weak_ptr<NodeCore> node) : node_(std::move(node)) {}

  Value place(std::string kind, Value options, std::vector<Value> args);
  // Another member (`requester`) would activate entity kind/key and asks this node to let it go
  // first: true once no activation of it runs here (after its on_passivate), false when this
  // node owns it in its own view (EntityHost::release).
  Task<bool> release(std::string kind, std::string key, std::string requester);

  PULSING_METHODS(PlacementService, place, release)

 private:
  std::weak_ptr<NodeCore> node_;
};

}  // namespace pulsing::detail
