// What an operator asks a node about itself, as Values: the one source for the admin endpoint's
// JSON (/members, /actors), the node service's answers (the `pulsing` command line) and
// `pulsing inspect`. Rows are maps with fixed keys, documented beside each function.
//
// Stateless functions; safe from any thread.
#pragma once

#include <cstdint>
#include <map>

#include "messaging/value.hpp"
#include "runtime/node.hpp"

namespace pulsing::admin {

// [{"name", "address", "state" ("alive" | "suspect" | "dead" | "left"), "incarnation",
//   "since_ms" (how long it has been in that state, as this node saw it), "self" (bool)}],
// sorted by name.
Value members_view(const Node& node);

// [{"name", "class", "id", "endpoint", "queued"}]: this node's actors, by name (anonymous ones
// after, by id).
Value actors_view(const Node& node);

// {"node", "endpoint", "members": {state: count}, "actors", "queued", "max_queued",
//  "messages_handled", "asks_in", "asks_out", "tells_in", "tells_out", "streams_in",
//  "streams_out", "ask_timeouts", "errors": {category: count}, "restarts", "dead_letters",
//  "registry_entries", "gossip_bytes_in", "gossip_bytes_out"}
Value stats_view(const Node& node);

// How many members the node sees in each state, every state present (0 when none).
std::map<membership::MemberState, std::uint64_t> members_by_state(const Node& node);

// Whether the node is part of a cluster: it founded one (no seeds), or sees another member alive.
bool joined(const Node& node);

}  // namespace pulsing::admin
