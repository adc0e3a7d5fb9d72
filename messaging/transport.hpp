// Transport: a node's ZeroMQ sockets — one ROUTER bound on the node's listen address, and one
// DEALER per peer it sends requests to — owned by a single I/O thread (ZeroMQ sockets are not
// thread safe; no other thread touches them).
//
// One connection per exchange: a request (ask, tell, stream open, resolve, ...) travels on the
// asking node's DEALER to the other's ROUTER, and its answers (replies, stream items and ends,
// travels_back()) return on that same connection, through the ROUTER. So a node that only
// answers opens no connection of its own, and an answer never overtakes the loss of the
// connection its request came on. A DEALER's routing id is its node's advertised endpoint: the
// receiver learns where answers go from the connection, and envelopes need not carry it.
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
// connection to us closing drops the answers pending for it (on_caller_gone). ZMTP heartbeats
// detect a peer that vanished without closing its connections (kill -9, a cut cable).
//
// Memory: each outbox's pending bytes are capped (`max_pending_bytes`), and so are ZeroMQ's
// queues (`queued_frames` × `max_frame_bytes`). send() then waits for room, at most `send_wait`,
// and reports failure after that; on the I/O thread it runs I/O passes meanwhile, except inside
// a pass (answers to what is being read), where it queues beyond the cap. Inbound, the handler
// may declare itself congested: the I/O thread then stops reading until it is not, and TCP
// pushes back on senders.
//
// Untrusted input: every frame whose envelope headers do not decode is dropped and counted; the
// node goes on. Payloads are decoded, and checked, by the handler.
// Thread-safety: peer(), send(), endpoint(), stats() from any thread. Handler callbacks run on
// the I/O thread.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "common/spin_lock.hpp"
#include "messaging/envelope.hpp"
#include "messaging/host_lookup.hpp"
#include "messaging/frame_buffers.hpp"

namespace pulsing {

class TransportHandler {
 public:
  virtual ~TransportHandler() = default;
  // One envelope, its header decoded (the view is valid during the call only: copy what must
  // outlive it). Returns true when the receiver is over capacity (reading pauses).
  virtual bool on_envelope(const EnvelopeView& envelope) = 0;
  // Every envelope of a frame has been handed to on_envelope (a handler may hold some back to
  // deliver them together). Returns as on_envelope does.
  virtual bool after_frame() { return false; }
  // Polled while reading is paused: whether the receiver is still congested.
  virtual bool still_congested() = 0;
  // Our connection to `endpoint` went down. `dropped` envelopes that were pending for it are
  // lost, not counting requests (expects_reply()): their senders fail them on their own.
  virtual void on_peer_down(const std::string& endpoint, const std::string& why, std::size_t dropped) = 0;
  // Our connection to `endpoint` is up again after it went down (ZeroMQ reconnected): what was
  // lost with it may be sent again.
  virtual void on_peer_up(const std::string& /*endpoint*/) {}
  // The connection `endpoint` called us on closed: the answers pending for it were dropped, and
  // answers to it can no longer be delivered until it calls again.
  virtual void on_caller_gone(const std::string& endpoint) = 0;
  // The I/O thread starts, and ends (called on it).
  virtual void on_io_thread_start() {}
  virtual void on_io_thread_end() {}
  // Between I/O passes, on the I/O thread: room for the handler's own short work. What it
  // sends goes out at the start of the next pass. Transport::pump() may be called from here.
  virtual void after_io_pass() {}
};

struct TransportConfig {
  // Where the ROUTER binds: "tcp://host:port"; port 0 picks a free port (see endpoint()).
  std::string listen = "tcp://127.0.0.1:0";
  // The address peers use to reach this node, when it differs from the bound one (NAT,
  // containers, or a wildcard bind like tcp://0.0.0.0:7000). Empty: the bound address.
  std::string advertise;
  // How long a new peer may take to accept a connection before it is declared down.
  std::chrono::milliseconds connect_timeout{2'000};
  // ZMTP heartbeat: a silent connection is declared lost after `heartbeat_timeout`, and what
  // was in flight on it with it (requests fail as unreachable, tells become dead letters,
  // answers to a caller are dropped). For cluster members membership decides first: it declares
  // a silent member dead after a probe and a suspicion timeout (about 4 s at its default timings
  // under 10 nodes, 7 s under 100, up to 6× longer while unconfirmed), and the node then fails
  // the requests pending on it (RemoteLink::member_dead). So this is the backstop, for peers that
  // are not members (clients) and for TCP failing while gossip still flows; it must not be
  // shorter than membership's verdict, or a node that stalls for a few seconds (a starved
  // container, a paused VM, a sanitizer's slowdown) loses its connections while membership still
  // gives it the benefit of the doubt. 10 s: above that verdict up to 1,000 members (and
  // memberlist's own TCP timeout). A process that exits closes its connections at once anyway.
  std::chrono::milliseconds heartbeat_interval{1'000};
  std::chrono::milliseconds heartbeat_timeout{10'000};
  // Bytes queued for one peer before senders wait (8 MiB: far above a healthy backlog).
  std::size_t max_pending_bytes = std::size_t{8} << 20;
  // How long send() waits for room before it gives up on the envelope.
  std::chrono::milliseconds send_wait{30'000};
  // On stop, how long what is still queued for connected peers may take to go out.
  std::chrono::milliseconds close_linger{1'000};
  // The largest frame sent at once (more pending data goes in the next frame): 64 KiB holds
  // hundreds of small envelopes, so batching is not limited by it, and stays below the size at
  // which the allocator maps fresh pages for every block (ZeroMQ allocates each large frame it
  // receives).
  std::size_t max_frame_bytes = std::size_t{64} << 10;
  // A frame that carries something a caller waits for (a request that expects an answer, or an
  // answer) is cut at this size instead: the receiver starts on the first of a burst while the
  // rest are still on their way, and its answers travel back meanwhile, so that both nodes work
  // at once (64 asks in flight: +15% round trips/s here). One-way traffic (tells) keeps the
  // large frames, which cost less per envelope.
  std::size_t max_awaited_frame_bytes = 2048;
  // Frames ZeroMQ may queue per connection, in each direction (its high-water marks count
  // frames, not bytes). With max_frame_bytes this bounds ZeroMQ's own buffers per peer to
  // 4 MiB each way; beyond that, frames wait in `pending` (bounded above) or in TCP. Also the
  // number of idle frame buffers kept for reuse.
  int queued_frames = 64;
  DecodeLimits limits = {};
  // Looks up a peer's host name (messaging/host_lookup.hpp), on a thread of its own: ZeroMQ
  // would do it on its I/O thread, where a lookup that hangs stalls every peer. While a peer is
  // down its name is looked up again every `lookup_interval`, so that a peer that comes back at
  // another address (a restarted container) is reached there. Empty: getaddrinfo. Tests put a
  // lookup of their own here.
  LookupFunction lookup;
  std::chrono::milliseconds lookup_interval{2'000};
};

struct TransportStats {
  std::uint64_t frames_sent = 0;
  std::uint64_t envelopes_sent = 0;
  std::uint64_t frames_received = 0;
  std::uint64_t envelopes_received = 0;
  std::uint64_t frames_rejected = 0;  // undecodable input, dropped
  std::uint64_t envelopes_dropped = 0;  // pending for a peer that went down, or a caller gone
  std::uint64_t connections = 0;        // opened by this node (to peers it sent requests to)
  std::uint64_t connections_lost = 0;   // of those, times one was up and went down (heartbeat, close)
};

class Transport {
 public:
  enum class PeerState : std::uint8_t { kConnecting, kUp, kDown };
  class Peer;

  // Binds. Throws std::runtime_error naming the address when it cannot.
  Transport(TransportConfig config, TransportHandler& handler);
  // Starts the I/O thread: from now on the handler receives callbacks. Separate from the
  // constructor so that the handler (often the transport's owner) is fully built first.
  // REQUIRES: called once.
  void start();
  ~Transport();  // stop()
  Transport(const Transport&) = delete;
  Transport& operator=(const Transport&) = delete;

  // The advertised endpoint ("tcp://127.0.0.1:40213"): what peers send to.
  const std::string& endpoint() const { return endpoint_; }
  const TransportConfig& config() const { return config_; }
  // The endpoint the ROUTER is bound to ("tcp://0.0.0.0:40213"): the port port 0 picked.
  const std::string& bound_endpoint() const;

  // The peer at `endpoint`, created on first use (its connection with the first request).
  // Stable for the transport's life: callers may keep it.
  std::shared_ptr<Peer> peer(const std::string& endpoint);
  // Queues `envelope` for `peer`: a request on our connection to it, an answer (travels_back())
  // on its connection to us. False when it cannot be sent: the peer is down (requests), the
  // transport stopped, or no room came within `send_wait`. An answer to a caller that is gone
  // is dropped (and counted) by the I/O thread.
  bool send(Peer& peer, const Envelope& envelope);

  TransportStats stats() const;
  // Closes every socket and joins the I/O thread. Idempotent.
  void stop();

  // Runs one I/O pass now, waiting at most `max_wait` for something to do: for a handler that
  // must wait for the network on the I/O thread itself, from after_io_pass() (a blocking call
  // inside work it runs there). False, doing nothing, when called from inside a pass (a
  // handler callback) or when the transport is stopping.
  // REQUIRES: called on the I/O thread.
  bool pump(std::chrono::milliseconds max_wait);

 private:
  class Io;

  const TransportConfig config_;
  std::string endpoint_;
  FrameBuffers buffers_;  // before io_: frames the I/O thread sends return here
  std::unique_ptr<Io> io_;
  std::mutex peers_mutex_;
  std::unordered_map<std::string, std::shared_ptr<Peer>> peers_;  // guarded by peers_mutex_
  std::thread thread_;
  std::atomic<bool> stopping_{false};
};

class Transport::Peer : public std::enable_shared_from_this<Peer> {
 public:
  explicit Peer(std::string endpoint) : endpoint_(std::move(endpoint)) {}
  const std::string& endpoint() const { return endpoint_; }
  // The state of our connection to it (kConnecting until the first request opens it).
  PeerState state() const { return state_.load(std::memory_order_acquire); }

 private:
  friend class Transport;
  // What waits for the I/O thread: whole envelopes, length-prefixed, in chunks of at most
  // max_frame_bytes (one envelope larger than that has a chunk of its own). A chunk becomes one
  // frame as it is, with no copy.
  struct Chunk {
    std::vector<std::byte> bytes;
    std::size_t envelopes = 0;
    std::size_t unanswered = 0;  // of them, not requests
    bool awaited = false;        // holds a request that expects an answer, or an answer
  };
  // One direction of what goes to the peer: requests (our connection), answers (its connection).
  struct Outbox {
    std::deque<Chunk> pending;
    std::size_t bytes = 0;
    std::size_t count = 0;       // envelopes
    std::size_t unanswered = 0;  // of them, not requests
    bool flagged = false;        // on the I/O thread's ready list
    // The oldest chunk, taken out; none (and no longer flagged) when empty.
    std::optional<Chunk> take();
    // Takes everything out: the number of envelopes dropped, and of them, not requests.
    std::pair<std::size_t, std::size_t> clear();
  };

  const std::string endpoint_;
  std::atomic<PeerState> state_{PeerState::kConnecting};
  // Held for a copy into a chunk or for taking one out: a spin lock costs a fraction of a mutex.
  SpinLock mutex_;
  Outbox requests_;       // guarded by mutex_
  Outbox answers_;        // guarded by mutex_
  bool connecting_ = false;  // guarded by mutex_: handed to the I/O thread to connect
};

}  // namespace pulsing
