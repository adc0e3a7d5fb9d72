// ControlServices: the runtime's own requests from other nodes, answered at once on the I/O
// thread, never queued behind calls: resolve (an actor by name or id), watch (an actor's stop),
// stop, ping (membership's probe over TCP), and the registry's updates and lookups for this
// node's shard.
//
// Ownership: the node and the answers outlive it, and (once attached) the transport (RemoteLink
// owns them all). It owns the watches held here by other nodes (WatchedActors), which an actor
// may outlive: their replies go through the node.
// Thread-safety: on_request() on the transport's I/O thread only; watched() from any thread.
#pragma once

#include <memory>

#include "messaging/envelope.hpp"
#include "messaging/transport.hpp"
#include "runtime/remote_watches.hpp"

namespace pulsing::detail {

class Answers;
class NodeCore;

class ControlServices {
 public:
  ControlServices(NodeCore& node, Answers& answers);
  ControlServices(const ControlServices&) = delete;
  ControlServices& operator=(const ControlServices&) = delete;

  // REQUIRES: once, before the first request arrives.
  void attach(Transport& transport) { limits_ = transport.config().limits; }

  // Answers a kResolve, kWatch, kStop, kPing, kRegistry or kLookup. REQUIRES: one of those.
  void on_request(const EnvelopeView& request);

  // The watches other nodes hold on this node's actors.
  WatchedActors& watched() { return *watched_; }
  const WatchedActors& watched() const { return *watched_; }

 private:
  void on_resolve(const EnvelopeView& e);
  void on_watch(const EnvelopeView& e);
  void on_stop(const EnvelopeView& e);
  void on_ping(const EnvelopeView& e);
  void on_registry(const EnvelopeView& e);  // an update for this node's registry shard
  void on_lookup(const EnvelopeView& e);

  NodeCore& node_;
  Answers& answers_;
  DecodeLimits limits_;
  std::shared_ptr<WatchedActors> watched_;
};

}  // namespace pulsing::detail
