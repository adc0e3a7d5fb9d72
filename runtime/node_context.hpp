// NodeContext: what an actor cell needs from its node (scheduler, timers, counters, names, dead letters),
// without the cell depending on the Node's whole interface. Owned by the Node.
//
// Thread-safety: every member may be used from any thread.
#pragma once

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "common/address.hpp"
#include "runtime/node_metrics.hpp"
#include "runtime/scheduler.hpp"
#include "runtime/timer_service.hpp"

namespace pulsing::detail {

class ActorCell;

class NodeContext {
 public:
  virtual ~NodeContext() = default;

  virtual Scheduler& scheduler() = 0;
  virtual TimerService& timers() = 0;
  virtual NodeMetrics& metrics() = 0;
  virtual NodeId node_id() const = 0;
  virtual const std::string& endpoint() const = 0;
  virtual std::chrono::milliseconds default_ask_timeout() const = 0;
  virtual std::size_t default_mailbox_capacity() const = 0;

  // The actor stopped for good: release its name and forget its id.
  virtual void on_actor_stopped(ActorCell& cell) = 0;
  // A tell that no actor will ever handle.
  virtual void dead_letter(std::string_view target, std::string_view why) = 0;
};

}  // namespace pulsing::detail
