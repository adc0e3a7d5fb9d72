// MemoryNetwork: nodes' transports that reach each other in memory, for tests. Nothing moves
// until the test says so: deliver() hands what was sent to its receivers, in the order it was
// sent, on the calling thread. A test steps the network by hand (as the membership simulator
// steps its clock), and can hold a node's input (a stopped process) or cut a node off (a crash)
// at an exact point of an exchange.
//
// The transports keep Transport's contract (messaging/transport.hpp): one connection per
// (caller, peer), answers on the connection their request came on, identity from the
// connection, outboxes bounded by the same policy as ZeroMQ's (messaging/outbox.hpp), and the
// same callbacks (a peer down, up again, a caller gone). What they leave out: ZeroMQ's own
// buffers, heartbeats and connect timeouts (a peer that does not exist is down at the next
// deliver()), and host names.
//
// Ownership: the network outlives nothing; transports hold it (shared), and it holds them weakly.
// Thread-safety: every member from any thread. deliver() runs handler callbacks on the calling
// thread, one deliverer at a time, with no lock of the network held.
#pragma once

#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <vector>

#include "messaging/frame_buffers.hpp"
#include "messaging/outbox.hpp"
#include "messaging/transport.hpp"

namespace pulsing {

class MemoryTransport;

class MemoryNetwork : public std::enable_shared_from_this<MemoryNetwork> {
 public:
  static std::shared_ptr<MemoryNetwork> create() { return std::shared_ptr<MemoryNetwork>(new MemoryNetwork()); }

  // For NodeConfig::make_transport: each node's transport joins this network, named by its
  // advertised endpoint, else its `listen` ("mem://a").
  TransportFactory factory();

  // Delivers up to `max` frames and events (a peer down or up, a caller gone), oldest first;
  // returns how many. Frames to a held endpoint wait.
  std::size_t deliver(std::size_t max = SIZE_MAX);
  // What waits to be delivered (frames to held endpoints included).
  std::size_t in_flight() const;

  // Holds every frame to `endpoint` (its process stopped): they stay queued, within the
  // senders' bounds, until release().
  void hold(const std::string& endpoint);
  void release(const std::string& endpoint);
  // The transport at `endpoint` vanishes (a crash): its connections close, the others' pending
  // requests to it fail (on_peer_down), and it sends and receives nothing any more.
  void cut(const std::string& endpoint);

 private:
  friend class MemoryTransport;
  MemoryNetwork() = default;

  // A connection: from one transport's peer to another's endpoint.
  struct Connection {
    MemoryTransport* from = nullptr;
    std::string to;    // the peer's endpoint
    std::string name;  // the caller's identity '.' its number, as the receiver sees it
  };
  // Something to hand to a handler: a frame in an outbox (the outbox owner and direction), or
  // an event.
  struct Work {
    enum class Kind : std::uint8_t { kRequests, kAnswers, kPeerDown, kPeerUp, kCallerGone } kind;
    std::weak_ptr<Transport::Peer> peer;  // whose outbox (frames)
    MemoryTransport* transport = nullptr;  // whose handler (events); the sender (frames)
    std::string endpoint;                  // events: the peer, or the caller's name
    std::string why;
    std::size_t dropped = 0;
  };

  void join(MemoryTransport& transport);
  void leave(MemoryTransport& transport, const std::string& why);
  // REQUIRES: mutex_ held.
  MemoryTransport* find(const std::string& endpoint) const;
  void queue(Work work);  // REQUIRES: mutex_ held
  // Takes the next deliverable item: frames become (receiver, sender name, bytes).
  struct Delivery {
    MemoryTransport* to = nullptr;
    std::string sender;
    std::vector<std::byte> frame;
    std::vector<std::function<void()>> room;  // notify_room callbacks now due
    Work event;
    bool is_event = false;
  };
  bool next(Delivery& out);

  mutable std::mutex mutex_;
  std::map<std::string, MemoryTransport*> transports_;  // guarded by mutex_: by endpoint
  std::map<std::string, MemoryTransport*> identities_;  // guarded by mutex_: by identity
  std::deque<Work> work_;                                // guarded by mutex_
  std::deque<Work> held_work_;                           // guarded by mutex_: to held endpoints
  std::set<std::string> held_;                           // guarded by mutex_
  std::uint64_t next_run_ = 1;                           // guarded by mutex_: identities' nonces
  std::vector<std::function<void()>> room_due_;          // guarded by mutex_: notify_room callbacks due
  std::mutex deliver_mutex_;                             // one deliverer at a time
};

// One node's transport on a MemoryNetwork.
class MemoryTransport final : public Transport {
 public:
  class Peer;
  MemoryTransport(std::shared_ptr<MemoryNetwork> network, TransportConfig config, TransportHandler& handler);
  ~MemoryTransport() override;  // stop()

  void start() override {}
  void stop() override;
  const std::string& endpoint() const override { return endpoint_; }
  const std::string& bound_endpoint() const override { return endpoint_; }
  const std::string& identity() const override { return identity_; }
  const TransportConfig& config() const override { return config_; }
  std::shared_ptr<Transport::Peer> peer(const std::string& endpoint) override;
  std::shared_ptr<Transport::Peer> caller(std::string_view identity) override;
  using Transport::send;
  // Never waits: a sender past the bound is told so (nothing would make room while it waited).
  SendResult send(Transport::Peer& peer, const Envelope& envelope, std::chrono::steady_clock::time_point wait_until) override;
  void close_peer(const std::string& endpoint, const std::string& why) override;
  void notify_room(Transport::Peer& peer, std::function<void()> room) override;
  TransportStats stats() const override;
  bool pump(std::chrono::milliseconds) override { return false; }

 private:
  friend class MemoryNetwork;
  // REQUIRES: network mutex held, for all below.
  void peer_down(Peer& peer, const std::string& why);
  void caller_closed(const std::string& name);

  const std::shared_ptr<MemoryNetwork> network_;
  const TransportConfig config_;
  TransportHandler& handler_;
  std::string endpoint_;
  std::string identity_;
  FrameBuffers buffers_;
  // Guarded by the network's mutex:
  bool stopped_ = false;
  std::map<std::string, std::shared_ptr<Peer>> peers_;    // by endpoint
  std::map<std::string, std::shared_ptr<Peer>> callers_;  // by the caller's connection name
  std::uint64_t next_connection_ = 1;
  TransportStats stats_;
};

class MemoryTransport::Peer final : public Transport::Peer {
 public:
  using Transport::Peer::Peer;

 private:
  friend class MemoryTransport;
  friend class MemoryNetwork;
  // Guarded by the network's mutex:
  Outbox outbox_;          // requests (a peer) or answers (a caller)
  std::string connection_;  // a peer: the name its receiver sees us by ("" until connected)
  bool caller_ = false;
  bool gone_ = false;       // a caller: its connection closed (answers are dropped)
  MemoryTransport* owner_ = nullptr;
};

}  // namespace pulsing
