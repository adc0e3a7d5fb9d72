// ZmqTransport::RouterCallers: the connections peers make to this node. One ROUTER, bound on the
// listen address, takes them all: a peer's requests come in on its connection, and our answers
// to them go back on that same connection.
//
// A connection is known by its DEALER's routing id (ZmqTransport's identity plus the DEALER's
// number), and each is "a caller": the ZmqTransport::Peer its answers are queued on
// (ZmqTransport::caller()), and the descriptor its frames come on (ZMQ_SRCFD). When that
// connection closes, the caller is gone: the answers pending for it are dropped, ZmqTransport
// forgets it and the handler hears of it (TransportHandler::on_caller_gone). No two connections
// present one routing id, so a second connection presenting a name in use is an impostor: it is
// ignored (ROUTER_HANDOVER is off), never handed the first one's answers.
//
// Under CURVE (TransportOptions::curve) the ROUTER is a CURVE server, and the context's ZAP
// handler (messaging/zap_handler.hpp) admits each connection with a role, which every envelope
// read from it carries (EnvelopeView::role).
//
// Ownership: ZmqTransport::Io owns this, and this owns the ROUTER and its monitor (made in the
// Io's context, which outlives them). A caller's peer is shared with ZmqTransport's table of
// callers (own_caller()), which drops it when the caller is gone (forget_caller()). The config,
// handler, buffers, counters, inbound and owner are borrowed and outlive it.
// Thread-safety: none. Every member runs on the transport's I/O thread only (ZeroMQ sockets
// are not thread safe); answers reach it through the peers' outboxes, which are guarded by the
// peers' locks.
#pragma once

#include <cstddef>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include <poll.h>

#include <zmq.hpp>

#include "messaging/zmq_counters.hpp"
#include "messaging/zmq_inbound.hpp"
#include "messaging/zmq_transport.hpp"

namespace pulsing {

class ZmqTransport::RouterCallers {
 public:
  // Binds the ROUTER on config.listen. Throws std::runtime_error naming the address when it
  // cannot.
  RouterCallers(zmq::context_t& context, const TransportConfig& config, TransportHandler& handler,
                FrameBuffers& buffers, zmq_io::Counters& counters, zmq_io::Inbound& inbound, ZmqTransport& owner);
  RouterCallers(const RouterCallers&) = delete;
  RouterCallers& operator=(const RouterCallers&) = delete;

  // The endpoint the ROUTER is bound to ("tcp://0.0.0.0:40213").
  const std::string& bound() const { return bound_; }

  // Sends the answers pending for `peer`, as far as ZeroMQ takes them; drops them when `peer`
  // is no caller connected now.
  void flush(Peer& peer);
  // Sends again to the callers whose pipe was full.
  void retry_blocked();
  // Some caller's answers wait for room that no descriptor announces (a ROUTER's pipe to one
  // caller): the loop must look again soon.
  bool waiting_to_send() const { return blocked_ > 0; }

  // Whether the ROUTER may hold input its descriptor will not announce: it did announce news,
  // or something was sent on it (sending takes in the socket's news), or a burst left frames
  // unread, and no read since found it empty.
  bool unsettled() const { return unsettled_; }
  // Reads up to `burst` frames from the ROUTER and hands them on; finding it empty settles it.
  // Returns whether it read any.
  bool read(int burst);
  // Reads the ROUTER's monitor: ends the callers whose connection closed.
  void read_monitor();

  // Appends the descriptors to poll (the ROUTER and its monitor) to `fds`.
  void add_pollfds(std::vector<pollfd>& fds) const;
  // REQUIRES: `fds` are the entries add_pollfds appended, polled.
  void on_polled(std::span<const pollfd> fds);

  // Forgets every caller and closes the ROUTER, sending first what it holds (within
  // close_linger).
  void close();

 private:
  // A peer's connection to us: its requests come in on it, our answers go back.
  struct Caller {
    std::shared_ptr<Peer> peer;
    int fd = -1;  // the connection's descriptor (ZMQ_SRCFD), to match its disconnection
    std::optional<zmq::message_t> unsent;
    std::size_t unsent_count = 0;
    bool blocked = false;  // ZeroMQ refused `unsent` for now (its pipe to the caller is full)
  };

  void bind();
  bool try_send(Caller& caller);
  Caller& caller(std::string_view identity);
  // Records that `identity`'s frames come on descriptor `fd` (ZMQ_SRCFD): its disconnection
  // ends the caller.
  void bind_caller(std::string_view identity, int fd);
  void caller_gone(const std::string& endpoint);

  const TransportConfig& config_;
  TransportHandler& handler_;
  FrameBuffers& buffers_;  // outlives the context: frames go back to it until the context closes
  zmq_io::Counters& counters_;
  zmq_io::Inbound& inbound_;
  ZmqTransport& owner_;
  zmq::socket_t router_;
  zmq::socket_t monitor_;
  std::string bound_;
  int router_fd_ = -1;
  int monitor_fd_ = -1;
  std::unordered_map<std::string, Caller> callers_;  // by endpoint
  std::unordered_map<int, std::string> caller_fds_;  // descriptor -> endpoint
  Caller* last_caller_ = nullptr;                    // caller()'s cache
  std::size_t blocked_ = 0;                          // callers whose `blocked` is set
  bool unsettled_ = true;                            // see unsettled()
};

}  // namespace pulsing
