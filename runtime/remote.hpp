// The runtime's network side.
//   RemoteLink   a node's link to other nodes: owns its Transport, sends asks / tells / resolves
//                and matches their replies (with timeouts, and failing them at once when the
//                peer goes down), and dispatches inbound calls into local actors.
//   RemoteActor  what a reference holds for an actor on another node.
// Calls cross the wire by name with Value arguments; errors keep their category and fields
// (Error::to_value). Internal to the runtime.
//
// Inbound back-pressure: a call posted to a mailbox over its capacity pauses the link's reading
// until that mailbox drains to half; TCP then slows the sender, whose transport makes its
// callers wait. Memory stays bounded on both sides.
// Thread-safety: every public member may be called from any thread.
#pragma once

#include <atomic>
#include <chrono>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "messaging/transport.hpp"
#include "runtime/future.hpp"

namespace pulsing {
class AnyRef;
namespace detail {

class ActorCell;
class NodeCore;

class RemoteLink final : public TransportHandler {
 public:
  // Binds `config.listen`. Throws std::runtime_error naming the address if it cannot.
  RemoteLink(NodeCore& node, TransportConfig config);
  ~RemoteLink() override;

  const std::string& endpoint() const { return transport_->endpoint(); }
  std::shared_ptr<Transport::Peer> peer(const std::string& endpoint) { return transport_->peer(endpoint); }
  TransportStats stats() const { return transport_->stats(); }

  // Sends an ask (or a resolve) and completes with the reply's payload, its error, a
  // TimeoutError after `timeout`, or NodeUnreachable when the peer is or goes down.
  Future<Value> request(Transport::Peer& peer, Envelope envelope, std::chrono::milliseconds timeout,
                        std::string operation);
  // Sends a tell; one that cannot be sent is counted as a dead letter.
  void tell(Transport::Peer& peer, Envelope envelope, std::string_view target);
  Future<AnyRef> resolve(const std::string& endpoint, const std::string& name, std::chrono::milliseconds timeout);

  // An envelope from this node (sender fields filled in).
  Envelope envelope(EnvelopeKind kind) const;

  // Fails every outstanding request with kShutdown and stops the transport. Idempotent.
  void stop();

  // TransportHandler (on the I/O thread).
  bool on_envelope(Envelope&& envelope) override;
  bool still_congested() override;
  void on_peer_down(const std::string& endpoint, const std::string& why, std::size_t dropped) override;

 private:
  struct Outstanding {
    std::shared_ptr<Promise<Value>> promise;
    std::string peer;
  };

  bool on_call(Envelope&& envelope);  // true: the target is over capacity
  void on_reply(Envelope&& envelope);
  void on_resolve(Envelope&& envelope);
  void reply(const Envelope& request, Result<Value> result);
  void send_reply(Transport::Peer& peer, std::uint64_t correlation, Result<Value> result);
  // Completes and forgets an outstanding request; false if it was no longer outstanding.
  bool complete(std::uint64_t correlation, Result<Value> result);
  std::shared_ptr<ActorCell> find_target(const Envelope& envelope, std::string& why);

  NodeCore& node_;
  std::mutex mutex_;
  std::unordered_map<std::uint64_t, Outstanding> outstanding_;  // guarded by mutex_
  bool stopped_ = false;                                        // guarded by mutex_
  std::atomic<std::uint64_t> next_correlation_{1};
  std::vector<std::shared_ptr<ActorCell>> congested_;  // I/O thread only
  std::unique_ptr<Transport> transport_;               // last: its thread uses the above
};

class RemoteActor {
 public:
  RemoteActor(std::shared_ptr<NodeCore> node, std::shared_ptr<Transport::Peer> peer, ActorAddress address,
              std::string name, std::string class_name);

  Future<Value> ask(std::string_view method, std::vector<Value> args, std::chrono::milliseconds timeout) const;
  void tell(std::string_view method, std::vector<Value> args) const;

  const ActorAddress& address() const { return address_; }
  const std::string& name() const { return name_; }
  const std::string& class_name() const { return class_name_; }
  std::string describe() const;  // "actor 'calc' (Calculator #3) at tcp://127.0.0.1:7000"
  std::chrono::milliseconds default_timeout() const;

 private:
  Envelope call(EnvelopeKind kind, std::string_view method, std::vector<Value> args) const;

  std::shared_ptr<NodeCore> node_;
  std::shared_ptr<Transport::Peer> peer_;
  ActorAddress address_;
  std::string name_;
  std::string class_name_;
};

}  // namespace detail
}  // namespace pulsing
