// ZmqTransport: the Transport (messaging/transport.hpp) over ZeroMQ: a node's sockets — one ROUTER bound on the node's listen address, and one
// DEALER per peer it sends requests to — owned by a single I/O thread (ZeroMQ sockets are not
// thread safe; no other thread touches them).
//
// One connection per exchange: a request (ask, tell, stream open, resolve, ...) travels on the
// asking node's DEALER to the other's ROUTER, and its answers (replies, stream items and ends,
// travels_back()) return on that same connection, through the ROUTER. So a node that only
// answers opens no connection of its own, and an answer never overtakes the loss of the
// connection its request came on.
//
// Identity: a DEALER's routing id is its node's advertised endpoint, a nonce drawn for the
// transport's life (together identity()), and the DEALER's own number
// ("tcp://10.0.0.5:7000#9f2c41d07a1be355.3"): the receiver learns who calls, and where answers
// go, from the connection alone; nothing an envelope says changes it. Answers are keyed on that
// connection (caller()). No two connections ever present one name — a restarted node draws a new
// nonce, and two DEALERs of one node that reach the same ROUTER by different addresses
// (127.0.0.1 and the host's name) have different numbers — so a second connection presenting a
// name already connected is an impostor: it is ignored, never handed the first one's answers.
//
// Sending: any thread encodes its envelope and appends it to the peer's pending chunks (one
// outbox for requests, one for answers) under a short lock; the I/O thread sends each chunk as
// one frame (batching under load, one envelope per frame when idle). The I/O thread asks the
// kernel (poll) only when ZeroMQ reports no input and nothing is queued, and a sender writes its
// eventfd only while it sleeps there.
//
// Peers: our connection to a peer is opened with its first request; it is `kConnecting` until
// up, `kUp` while it is, and `kDown` when it was lost or could not be made within
// `connect_timeout` (ZeroMQ keeps reconnecting; a peer that comes back is `kUp` again). Going
// down drops the requests pending for the peer and is reported (on_peer_down); a caller's
// connection to us closing drops the answers pending for it, and the transport forgets it
// (on_caller_gone). ZMTP heartbeats detect a peer that vanished without closing its connections
// (a cut cable, a machine that froze).
//
// Memory: each outbox's pending bytes are bounded (`max_pending_bytes`, see there), and so are
// ZeroMQ's queues (`queued_frames` × `max_frame_bytes`). Only a sender that asks to (a user's
// thread, to a deadline) ever waits for room; the others learn that the peer is congested
// (SendResult) and slow down without blocking. Inbound, reading never pauses: the handler
// pushes back per target (runtime/remote_flow.hpp).
//
// Security: with TransportOptions::curve, every connection either way runs ZeroMQ's CURVE, and a
// ZAP handler, installed before the ROUTER binds, admits callers by key, each with a role
// (messaging/curve.hpp); without it connections are plain and every caller is a node.
//
// Untrusted input: every frame whose envelope headers do not decode is dropped and counted; the
// node goes on. Payloads are decoded, and checked, by the handler. A frame larger than
// `limits.frame_limit_bytes()` closes its connection before ZeroMQ buffers it.
// Thread-safety: peer(), caller(), send(), endpoint(), stats() from any thread. Handler callbacks
// run on the I/O thread.
#pragma once

#include <atomic>
#include <chrono>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <unordered_map>

#include "common/spin_lock.hpp"
#include "messaging/frame_buffers.hpp"
#include "messaging/outbox.hpp"
#include "messaging/transport.hpp"

namespace pulsing {

class ZmqTransport final : public Transport {
 public:
  class Peer;

  // Binds. Throws std::runtime_error naming the address when it cannot, or when it binds every
  // interface and no advertised address is set.
  ZmqTransport(TransportConfig config, TransportHandler& handler);
  // Starts the I/O thread.
  void start() override;
  ~ZmqTransport() override;  // stop()
  // Closes every socket and joins the I/O thread.
  void stop() override;

  const std::string& endpoint() const override { return endpoint_; }
  // The endpoint the ROUTER is bound to ("tcp://0.0.0.0:40213"): the port port 0 picked.
  const std::string& bound_endpoint() const override;
  const std::string& identity() const override { return identity_; }
  const TransportConfig& config() const override { return config_; }

  std::shared_ptr<Transport::Peer> peer(const std::string& endpoint) override;
  std::shared_ptr<Transport::Peer> caller(std::string_view identity) override;
  using Transport::send;
  SendResult send(Transport::Peer& peer, const Envelope& envelope, std::chrono::steady_clock::time_point wait_until) override;
  // Done by the I/O thread, soon.
  void close_peer(const std::string& endpoint, const std::string& why) override;
  void notify_room(Transport::Peer& peer, std::function<void()> room) override;
  TransportStats stats() const override;
  bool pump(std::chrono::milliseconds max_wait) override;

 private:
  // The I/O thread's loop (zmq_transport.cpp), and the two sides it polls: the links to peers
  // this node calls (messaging/zmq_links.hpp) and the callers that call it
  // (messaging/zmq_callers.hpp). Nested, for the peers' outboxes and the table of callers.
  class Io;
  class DealerLinks;
  class RouterCallers;

  const TransportConfig config_;
  std::string endpoint_;
  std::string identity_;
  FrameBuffers buffers_;  // before io_: frames the I/O thread sends return here
  std::unique_ptr<Io> io_;
  std::shared_ptr<Peer> own_caller(std::string_view identity);  // caller(), as this transport's own
  // `peer`, a caller that is gone: a later caller() of its identity makes a new one.
  void forget_caller(const Peer& peer);

  std::mutex peers_mutex_;
  std::unordered_map<std::string, std::shared_ptr<Peer>> peers_;    // guarded by peers_mutex_
  std::unordered_map<std::string, std::shared_ptr<Peer>> callers_;  // guarded by peers_mutex_
  std::thread thread_;
  std::atomic<bool> stopping_{false};
};

// A peer, and what waits for the I/O thread to send to it (messaging/outbox.hpp).
class ZmqTransport::Peer final : public Transport::Peer {
 public:
  using Transport::Peer::Peer;

 private:
  friend class ZmqTransport;
  // Held for a copy into a chunk or for taking one out: a spin lock costs a fraction of a mutex.
  SpinLock mutex_;
  Outbox requests_;          // guarded by mutex_: on our connection
  Outbox answers_;           // guarded by mutex_: on its connection to us
  bool connecting_ = false;  // guarded by mutex_: handed to the I/O thread to connect
};

}  // namespace pulsing
