// ZmqTransport::DealerLinks: this node's connections to the peers it sends requests to, one
// "link" each: a DEALER and the monitor that reports its connection going up and down. Requests
// go out on a link; their answers come back on it.
//
// A link is opened with its peer's first request. A peer named by host name is looked up off
// the I/O thread (messaging/host_lookup.hpp) and its DEALER connected to the numeric address
// found, again when the peer is down and the name may point elsewhere. Under CURVE
// (TransportOptions::curve) a link expects the peer to prove one of the server keys
// CurveAuthority::servers_for() names, the first first; a failed handshake moves it to the next
// on a new socket, and a refusal of this node's own key (the peer's ZAP handler) marks it down,
// saying so. A link becomes kUp once its DEALER takes a frame or its monitor reports the
// handshake done; kDown when the connection is
// lost or is not made within connect_timeout, which drops the requests pending for the peer
// and is reported (TransportHandler::on_peer_down). A link down and idle past close_down_after,
// or one close() is asked for, is closed: the peer's next request opens a new one.
//
// Ownership: ZmqTransport::Io owns this, and this owns the links and their sockets (made in the
// Io's context, which outlives them). Peers are shared with ZmqTransport; a link keeps its
// peer alive. The config, handler, buffers, counters and inbound are borrowed and outlive it.
// Thread-safety: none. Every member runs on the transport's I/O thread only (ZeroMQ sockets
// are not thread safe); requests reach it through the peers' outboxes, which are guarded by the
// peers' locks. Only the wake-up a lookup gives (a duplicate of the Io's eventfd) leaves it.
#pragma once

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include <poll.h>

#include <zmq.hpp>

#include "messaging/curve.hpp"
#include "messaging/host_lookup.hpp"
#include "messaging/wake_fd.hpp"
#include "messaging/zmq_counters.hpp"
#include "messaging/zmq_inbound.hpp"
#include "messaging/zmq_transport.hpp"

namespace pulsing {

class ZmqTransport::DealerLinks {
 public:
  // `wake` is the Io's eventfd: a lookup that is done writes a duplicate of it.
  DealerLinks(zmq::context_t& context, const TransportConfig& config, TransportHandler& handler, FrameBuffers& buffers,
              zmq_io::Counters& counters, zmq_io::Inbound& inbound, const WakeFd& wake);
  DealerLinks(const DealerLinks&) = delete;
  DealerLinks& operator=(const DealerLinks&) = delete;

  // The routing id this node's DEALERs present (Transport::identity()), followed by each
  // DEALER's number. REQUIRES: called before open().
  void set_identity(std::string identity) { identity_ = std::move(identity); }

  // Opens a link to `peer` and connects it (or starts looking its host up).
  // REQUIRES: `peer` has no link.
  void open(std::shared_ptr<Peer> peer);
  // Closes the link to `endpoint`, if there is one, for the reason `why`.
  void close(const std::string& endpoint, const std::string& why);
  // Closes the links down and idle past close_down_after.
  void close_idle();
  // Closes every link, sending first what is queued on those that are up (within close_linger).
  void close_all();

  // Connects links whose lookup answered; looks again for peers that are down.
  void update_lookups();
  // Marks down the links still connecting past connect_timeout.
  void check_connect_timeouts();

  // Sends what `peer` has pending on its link, as far as ZeroMQ takes it.
  void flush(const Peer& peer);
  // Sends again the frames ZeroMQ could not take: it may have room now.
  void retry_unsent();

  // Whether some link may hold input its descriptor will not announce (Link::unsettled).
  bool unsettled() const;
  // Reads the unsettled links, up to `burst` frames each. Returns whether it read any.
  bool read(int burst);

  // Appends the descriptors to poll (each link's monitor and DEALER) to `fds`.
  void add_pollfds(std::vector<pollfd>& fds) const;
  // REQUIRES: `fds` are the entries add_pollfds appended, polled; no link opened or closed since.
  void on_polled(std::span<const pollfd> fds);

  bool empty() const { return links_.empty(); }
  // How many links are open; from any thread (TransportStats::links).
  std::size_t open_count() const { return open_count_.load(std::memory_order_relaxed); }

 private:
  using Clock = std::chrono::steady_clock;

  // Our connection to a peer: our requests go out on it, their answers come back.
  struct Link {
    std::shared_ptr<Peer> peer;
    zmq::socket_t dealer;
    zmq::socket_t monitor;
    int dealer_fd = -1;  // ZMQ_FD: readable when the socket has news
    int monitor_fd = -1;
    Clock::time_point created;
    Clock::time_point down_since;  // when it last went down (kDown)
    // For a peer named by a host name: the numeric endpoint ZeroMQ connects to ("" until a
    // lookup answered), the lookup under way, and when to look again while the peer is down.
    bool named = false;
    std::string connected_to;
    std::shared_ptr<HostLookup> lookup;
    Clock::time_point next_lookup;
    // Input may be waiting that the descriptor will not announce: it did announce news, or
    // something was sent (sending takes in the socket's news), or a burst left frames unread;
    // and no read since found the socket empty.
    bool unsettled = false;
    std::optional<zmq::message_t> unsent;  // a frame ZeroMQ could not take yet
    std::size_t unsent_count = 0;
    std::size_t unsent_unanswered = 0;
    // Under CURVE: the server keys the peer may prove (CurveAuthority::servers_for), and the
    // one this socket expects (an index into them).
    std::vector<CurvePublicKey> servers;
    std::size_t server = 0;
  };

  std::unique_ptr<Link> make_link(std::shared_ptr<Peer> peer);
  // Makes `link`'s DEALER and monitor, with its CURVE keys.
  void open_sockets(Link& link);
  // A handshake failed: expect the next server key on a new socket.
  void try_next_server(Link& link);
  // Connects a new link: at once to a numeric address, else once a lookup found one.
  void connect(Link& link);
  void start_lookup(Link& link);
  // Takes the answer of `link`'s lookup, which is done: connects to the address found.
  void take_lookup(Link& link);
  void close_link(std::size_t index, const std::string& why);
  void close_sockets(Link& link);
  Link* find(const Peer& peer);
  void flush(Link& link);
  bool try_send(Link& link);
  // Reads up to `burst` frames; returns whether it read any.
  bool read_dealer(Link& link, int burst);
  void read_monitor(Link& link);
  void peer_down(Link& link, const std::string& why);

  zmq::context_t& context_;
  const TransportConfig& config_;
  TransportHandler& handler_;
  FrameBuffers& buffers_;  // outlives the context: frames go back to it until the context closes
  zmq_io::Counters& counters_;
  zmq_io::Inbound& inbound_;
  const std::shared_ptr<WakeFd> lookup_waker_;  // lookup threads may outlive the transport
  std::string identity_;
  std::uint32_t next_routing_id_ = 0;  // the number the next DEALER adds to identity_
  int next_monitor_ = 0;               // names the next monitor's inproc address
  std::vector<std::unique_ptr<Link>> links_;
  std::size_t named_links_ = 0;  // links to peers named by host name
  std::atomic<std::size_t> open_count_{0};  // links_.size(), for stats()
};

}  // namespace pulsing
