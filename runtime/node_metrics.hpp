// NodeMetrics: the counters a node keeps for its operators (Node::stats(), the admin endpoint's
// /metrics). Each is bumped where the event happens; all are monotonic and cheap enough for the
// hot path (relaxed atomics; the per-message one sharded so that workers do not share a line).
// Internal to the runtime; Node::stats() is the public snapshot.
//
// Thread-safety: every member from any thread.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>

#include "common/sharded_counter.hpp"
#include "messaging/error.hpp"

namespace pulsing::detail {

struct NodeMetrics {
  using Counter = std::atomic<std::uint64_t>;

  ShardedCounter messages_handled;  // by this node's actors: asks, tells, stream starts
  // Calls that crossed the network, counted by the node's I/O side.
  Counter asks_in{0}, tells_in{0}, streams_in{0};
  Counter asks_out{0}, tells_out{0}, streams_out{0};
  Counter ask_timeouts{0};  // remote asks (and lookups) that got no answer in time
  Counter foreign_replies{0};  // replies that did not come from the node asked: dropped
  Counter not_permitted_operator{0}, not_permitted_observer{0};  // NodeStats::not_permitted
  // Failures returned by this node's handlers, by ErrorCategory.
  std::array<Counter, 4> handler_errors{};
  Counter restarts{0};
  Counter entity_activations{0}, entity_passivations{0};  // NodeStats::entity_*
  // Calls refused at a mailbox's hard bound (ActorCell::kLimitFactor × its capacity).
  Counter mailbox_refused{0};

  void count_error(ErrorCategory category) {
    handler_errors[static_cast<std::size_t>(category)].fetch_add(1, std::memory_order_relaxed);
  }
  static void bump(Counter& counter) { counter.fetch_add(1, std::memory_order_relaxed); }
};

}  // namespace pulsing::detail
