#include "runtime/local_target.hpp"

#include <fmt/format.h>

#include "runtime/node_core.hpp"

namespace pulsing::detail {

LocalTarget find_local_target(NodeCore& node, std::string_view endpoint, const EnvelopeView& e) {
  LocalTarget found;
  if (e.target_id != 0) {
    if (e.target_node != 0 && e.target_node != node.node_id().value) {
      found.why = fmt::format("actor #{} belonged to an earlier run of node {}", e.target_id, endpoint);
      return found;
    }
    found.cell = node.registry().find(ActorId{e.target_id});
    if (!found.cell) {
      found.stopped = e.target_id <= node.last_actor_id().value;
      found.why = found.stopped ? fmt::format("actor #{} on node {} has stopped", e.target_id, endpoint)
                                : fmt::format("no actor #{} on node {}", e.target_id, endpoint);
    }
  } else if (std::string_view kind, key; split_entity_name(e.target_name, kind, key) && node.entities().hosts(kind)) {
    auto entity = node.entities().target(kind, key);
    if (entity.ok()) {
      found.cell = std::move(entity.value());
    } else {
      found.why = entity.failure().describe();
      found.failure = entity.failure();
      if (auto owner = node.entities().owner(kind, key); owner.ok() && !owner.value().self) {
        found.owner_endpoint = "tcp://" + owner.value().address;
      }
    }
  } else if (!e.target_name.empty()) {
    found.cell = node.registry().find(e.target_name);
    if (!found.cell) found.why = fmt::format("no actor is named '{}' on node {}", e.target_name, endpoint);
  } else {
    found.why = "the message names no target actor";
  }
  return found;
}

std::string target_of(const EnvelopeView& e) {
  return e.target_name.empty() ? fmt::format("actor #{}", e.target_id) : std::string(e.target_name);
}

}  // namespace pulsing::detail
