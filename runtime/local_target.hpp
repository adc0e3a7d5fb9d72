// The local actor that an envelope from another node names, by id or by name, and how a dead
// letter names what it was for.
// Thread-safety: any thread (the node's registry is).
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "messaging/envelope.hpp"
#include "messaging/error.hpp"

namespace pulsing::detail {

class ActorCell;
class NodeCore;

struct LocalTarget {
  std::shared_ptr<ActorCell> cell;  // null when there is none
  std::string why;                  // why there is none
  bool stopped = false;             // there was one, and it has stopped
  std::optional<Failure> failure;   // the error to answer with, when not the usual one
  // An entity another node owns in this node's view: that node's endpoint (a tell goes on there).
  std::string owner_endpoint;
};

// The actor `e` is for on `node` (whose endpoint, for the message, is `endpoint`). An id of an
// earlier run of this node names no actor; an id issued in this run and gone has stopped (ids
// are never reused within a run). A name "kind/key" of an entity kind this node hosts names
// that entity's activation here, activated now if need be (EntityHost::target).
LocalTarget find_local_target(NodeCore& node, std::string_view endpoint, const EnvelopeView& e);

// What an envelope is for, as a dead letter names it: its name, or "actor #<id>".
std::string target_of(const EnvelopeView& e);

}  // namespace pulsing::detail
