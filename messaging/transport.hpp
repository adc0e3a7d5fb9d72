// Transport: how a node's envelopes reach other nodes. The runtime (runtime/remote.hpp) talks to
// this interface only; ZmqTransport (messaging/zmq_transport.hpp) is the network, and
// MemoryTransport (messaging/memory_transport.hpp) an in-memory network that tests step by hand.
//
// The contract every implementation keeps:
// - One connection per exchange: a request (ask, tell, stream open, resolve, ...) travels on the
//   asking node's connection to the other, and its answers (replies, stream items and ends,
//   travels_back()) return on that same connection. An answer never overtakes the loss of the
//   connection its request came on.
// - Identity comes from the connection, never from an envelope: a received envelope's
//   sender_endpoint names the connection it came on (the caller's identity() and the
//   connection's number), and answers go to caller(that name).
// - Peers: our connection to a peer is opened with its first request; it is `kConnecting`
//   until up, `kUp` while it is, and `kDown` when it was lost or could not be made. Going down
//   drops the requests pending for the peer and is reported (on_peer_down); a caller's
//   connection closing drops the answers pending for it (on_caller_gone).
// - Memory: what waits for each peer is bounded, each way (messaging/outbox.hpp). Only a sender
//   that asks to (a user's thread, to a deadline) ever waits for room; the others learn that the
//   peer is congested (SendResult) and slow down without blocking. Reading never pauses: the
//   handler pushes back per target (runtime/remote_flow.hpp).
// - Handler callbacks run on one thread at a time (the implementation's I/O thread).
// Thread-safety: peer(), caller(), send(), close_peer(), notify_room(), endpoint(), stats() from
// any thread.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <fmt/format.h>

#include "messaging/envelope.hpp"
#include "messaging/host_lookup.hpp"

namespace pulsing {

class CurveAuthority;

class TransportHandler {
 public:
  virtual ~TransportHandler() = default;
  // One envelope, its header decoded (the view is valid during the call only: copy what must
  // outlive it). Reading never pauses: a congested receiver pushes back per target itself.
  virtual void on_envelope(const EnvelopeView& envelope) = 0;
  // Every envelope of a frame has been handed to on_envelope (a handler may hold some back to
  // deliver them together).
  virtual void after_frame() {}
  // Our connection to `endpoint` went down. `dropped` envelopes that were pending for it are
  // lost, not counting requests (expects_reply()): their senders fail them on their own.
  virtual void on_peer_down(const std::string& endpoint, const std::string& why, std::size_t dropped) = 0;
  // Our connection to `endpoint` is up again after it went down (ZeroMQ reconnected): what was
  // lost with it may be sent again.
  virtual void on_peer_up(const std::string& /*endpoint*/) {}
  // The connection of the caller `identity` (Transport::identity() of the node that called,
  // '.', the connection's number) closed: the answers pending for it were dropped, and later ones will be.
  virtual void on_caller_gone(const std::string& identity) = 0;
  // The I/O thread starts, and ends (called on it).
  virtual void on_io_thread_start() {}
  virtual void on_io_thread_end() {}
  // Between I/O passes, on the I/O thread: room for the handler's own short work. What it
  // sends goes out at the start of the next pass. Transport::pump() may be called from here.
  virtual void after_io_pass() {}
};

// How the transport behaves (NodeConfig::transport). TransportConfig adds where it listens.
struct TransportOptions {
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
  // Bytes queued for one peer, each way, before senders are slowed down (8 MiB: far above a
  // healthy backlog). Past it, a request's sender waits for room if it may (a user's thread, to
  // its call's deadline; send()'s `wait_until`), else its request is queued and send() says
  // kCongested (the runtime mutes the sending actor until notify_room()); past
  // kPendingLimitFactor times it, requests are refused (kFull). Replies to a caller past it are
  // refused (a caller that does not read its answers); stream items (bounded by the reader's
  // credit) and flow notices are not. Held for calls and for control traffic separately
  // (Outbox's two lanes), so that a backlog of calls never refuses control.
  std::size_t max_pending_bytes = std::size_t{8} << 20;
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
  // A connection of ours that is down, with nothing to send, is closed after this long: its
  // DEALER, monitor and descriptors would otherwise live, reconnecting every 2 s, as long as the
  // transport (one per address ever called). The next request to that peer connects anew.
  // Members declared dead are closed at once (close_peer()).
  std::chrono::milliseconds close_down_after{60'000};
  // CURVE: when set, every connection is encrypted and authenticated, and only the client keys
  // it admits may call (messaging/curve.hpp). The node sets it from its cluster key; null: plain
  // connections, every caller a node (the developer mode on loopback).
  std::shared_ptr<const CurveAuthority> curve;
};

struct TransportConfig : TransportOptions {
  // Where the ROUTER binds: "tcp://host:port"; port 0 picks a free port (see endpoint()).
  std::string listen = "tcp://127.0.0.1:0";
  // The address peers use to reach this node, when it differs from the bound one (NAT,
  // containers). Empty: the bound address; then `listen` may not be a wildcard bind like
  // tcp://0.0.0.0:7000, which names no address (the constructor refuses it, saying so).
  std::string advertise;
};

// What became of an envelope given to Transport::send().
enum class SendResult : std::uint8_t {
  kQueued,     // on its way
  kCongested,  // queued, but the outbox is past max_pending_bytes: slow down (notify_room)
  kDown,       // not sent: the peer is down (requests), or the transport stopped
  kFull,       // not sent: the outbox is at its bound (TransportStats::envelopes_refused)
};
inline bool was_sent(SendResult r) { return r == SendResult::kQueued || r == SendResult::kCongested; }

struct TransportStats {
  std::uint64_t frames_sent = 0;
  std::uint64_t envelopes_sent = 0;
  std::uint64_t frames_received = 0;
  std::uint64_t envelopes_received = 0;
  std::uint64_t frames_rejected = 0;  // undecodable input, dropped
  std::uint64_t envelopes_dropped = 0;  // pending for a peer that went down, or a caller gone
  std::uint64_t envelopes_refused = 0;  // not queued: the peer's outbox was at its bound (kFull)
  std::uint64_t connections = 0;        // opened by this node (to peers it sent requests to)
  std::uint64_t connections_lost = 0;   // of those, times one was up and went down (heartbeat, close)
  std::uint64_t links = 0;              // connections of this node's open now (up, or trying)
  // Connections made to this node that presented a CURVE key: admitted, and refused (an
  // unknown key: without the cluster key, or a client not listed). Zero without CURVE.
  std::uint64_t callers_admitted = 0;
  std::uint64_t callers_refused = 0;
};

class Transport {
 public:
  enum class PeerState : std::uint8_t { kConnecting, kUp, kDown };
  class Peer;

  virtual ~Transport() = default;
  Transport() = default;
  Transport(const Transport&) = delete;
  Transport& operator=(const Transport&) = delete;

  // Starts delivering: from now on the handler receives callbacks. Separate from the
  // constructor so that the handler (often the transport's owner) is fully built first.
  // REQUIRES: called once.
  virtual void start() = 0;
  // Stops: nothing is sent or delivered any more. Idempotent.
  virtual void stop() = 0;

  // The advertised endpoint ("tcp://127.0.0.1:40213"): what peers send to.
  virtual const std::string& endpoint() const = 0;
  // Where it listens (for ZeroMQ, the bound address: the port port 0 picked).
  virtual const std::string& bound_endpoint() const = 0;
  // The name this node's connections present to the peers it calls: endpoint() '#' a nonce;
  // each connection adds '.' and its own number (hexadecimal).
  virtual const std::string& identity() const = 0;
  // The identity of one run of the node at `endpoint` (`nonce` drawn for the run), and whether
  // a caller's `identity` belongs to some run of that node: the one place the format is kept.
  static std::string identity_of(std::string_view endpoint, std::uint64_t nonce) {
    return fmt::format("{}#{:016x}", endpoint, nonce);
  }
  static bool identity_is_of(std::string_view identity, std::string_view endpoint) {
    return identity.size() > endpoint.size() && identity.starts_with(endpoint) && identity[endpoint.size()] == '#';
  }
  // The endpoint of the node whose run presents `identity` ("" when it names none).
  static std::string_view endpoint_of_identity(std::string_view identity) {
    const auto hash = identity.rfind('#');
    return hash == std::string_view::npos ? std::string_view{} : identity.substr(0, hash);
  }
  // An advertised endpoint has at most this many characters (a ZeroMQ routing id, at most 255
  // bytes, holds it, the nonce and a connection's number).
  static constexpr std::size_t kMaxEndpoint = 229;
  virtual const TransportConfig& config() const = 0;

  // The peer at `endpoint`, created on first use (its connection with the first request).
  // Stable for the transport's life: callers may keep it.
  virtual std::shared_ptr<Peer> peer(const std::string& endpoint) = 0;
  // Where answers to the connection `identity` go: the sender_endpoint of a request that came
  // in. Answers to a caller that is gone, or never called, are dropped and counted; the
  // transport forgets it.
  virtual std::shared_ptr<Peer> caller(std::string_view identity) = 0;
  // Queues `envelope` for `peer`: a request on our connection to it, an answer (travels_back())
  // on its connection to us; see max_pending_bytes for an outbox past its bound. A sender waits
  // for room only until `wait_until` (the default, the epoch: never), and never on the I/O
  // thread inside a pass. An answer to a caller that is gone is dropped (and counted).
  virtual SendResult send(Peer& peer, const Envelope& envelope, std::chrono::steady_clock::time_point wait_until) = 0;
  SendResult send(Peer& peer, const Envelope& envelope) { return send(peer, envelope, {}); }
  // Closes our connection to `endpoint`, if any (soon): what is pending for it fails as if it
  // went down (on_peer_down, saying `why`), and the next request to it connects anew. For a
  // member declared dead: nothing is left reconnecting to it.
  virtual void close_peer(const std::string& endpoint, const std::string& why) = 0;
  // Calls `room` (on the I/O thread, or here if it has room now) once `peer`'s requests drain to
  // half of max_pending_bytes, or the peer goes down. Keep it short.
  virtual void notify_room(Peer& peer, std::function<void()> room) = 0;
  virtual TransportStats stats() const = 0;

  // Runs one I/O pass now, waiting at most `max_wait` for something to do: for a handler that
  // must wait for the network on the I/O thread itself (a blocking call inside work it runs
  // there). False, doing nothing, when called from inside a pass (a handler callback), when the
  // transport is stopping, or when it has no such passes.
  // REQUIRES: called on the I/O thread.
  virtual bool pump(std::chrono::milliseconds max_wait) = 0;
};

// Makes a transport for a node (NodeConfig::make_transport).
using TransportFactory = std::function<std::unique_ptr<Transport>(TransportConfig config, TransportHandler& handler)>;

// One end of a connection: a peer we send requests to (Transport::peer), or a caller we answer
// (Transport::caller). Implementations derive their own, with what waits to go to it.
class Transport::Peer : public std::enable_shared_from_this<Peer> {
 public:
  explicit Peer(std::string endpoint) : endpoint_(std::move(endpoint)) {}
  virtual ~Peer() = default;
  const std::string& endpoint() const { return endpoint_; }
  // The state of our connection to it (kConnecting until the first request opens it).
  PeerState state() const { return state_.load(std::memory_order_acquire); }

 protected:
  void set_state(PeerState state) { state_.store(state, std::memory_order_release); }
  PeerState exchange_state(PeerState state) { return state_.exchange(state, std::memory_order_acq_rel); }

 private:
  const std::string endpoint_;
  std::atomic<PeerState> state_{PeerState::kConnecting};
};

}  // namespace pulsing
