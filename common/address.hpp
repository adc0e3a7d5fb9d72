// Vocabulary shared by every layer: node and actor identities, the address that locates an
// actor anywhere in a cluster, and the clock that deadlines use.
//
// Value types; thread-compatible (safe to copy across threads, not to mutate concurrently).
#pragma once

#include <chrono>
#include <compare>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

namespace pulsing {

// Monotonic time for deadlines, timeouts and backoff. Never wall-clock time.
using Clock = std::chrono::steady_clock;

// Identifies one run of a node: chosen at random when the node starts, so that a restarted node
// at the same endpoint is a different node and stale references to it are detected.
struct NodeId {
  std::uint64_t value = 0;
  friend auto operator<=>(const NodeId&, const NodeId&) = default;
};

// Identifies an actor within its node; never reused while the node runs.
struct ActorId {
  std::uint64_t value = 0;
  friend auto operator<=>(const ActorId&, const ActorId&) = default;
};

// "tcp://host:port" → "host:port", the way people and gossip write a node's address; any other
// text is returned as it is.
std::string endpoint_address(std::string_view endpoint);

// Where an actor lives. `endpoint` is how other processes reach the node ("tcp://host:port");
// it is empty for a node that does not listen on the network.
struct ActorAddress {
  NodeId node;
  std::string endpoint;
  ActorId actor;

  friend bool operator==(const ActorAddress&, const ActorAddress&) = default;

  // "pulsing://<endpoint>/<node hex>/<actor id>"; parse() accepts exactly what this prints.
  std::string to_string() const;
  static std::optional<ActorAddress> parse(std::string_view text);
};

}  // namespace pulsing

template <>
struct std::hash<pulsing::ActorAddress> {
  std::size_t operator()(const pulsing::ActorAddress& a) const noexcept {
    return std::hash<std::uint64_t>{}(a.node.value * 0x9E3779B97F4A7C15ull ^ a.actor.value);
  }
};
