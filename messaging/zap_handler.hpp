// ZapHandler: the ZeroMQ authentication handler (ZAP, ZeroMQ RFC 27) of one ZeroMQ context. A
// CURVE server socket of the context asks it, for each connection during the handshake, whether
// to admit the client key presented; it answers from CurveAuthority::admit(), and gives an
// admitted connection its role as User-Id ("node", "operator", "observer"), which every frame
// on that connection then carries (role_of()).
//
// It is always installed while the transport runs CURVE: without a handler, libzmq admits
// every client. Requests come from libzmq itself, yet are checked (frame count and sizes) and a
// malformed one is refused.
//
// Ownership: owns its socket, made in the context it is given, which must outlive it; borrows the
// authority and the counters.
// Thread-safety: none; the transport's I/O thread only.
#pragma once

#include <optional>

#include <zmq.hpp>

#include "messaging/curve.hpp"
#include "messaging/zmq_counters.hpp"

namespace pulsing::zmq_io {

class ZapHandler {
 public:
  // Binds the context's ZAP endpoint. REQUIRES: before any socket of `context` binds as a
  // CURVE server.
  ZapHandler(zmq::context_t& context, const CurveAuthority& authority, Counters& counters);
  ZapHandler(const ZapHandler&) = delete;
  ZapHandler& operator=(const ZapHandler&) = delete;

  // The descriptor to poll: readable when the socket has news (then call serve()).
  int fd() const { return fd_; }
  // Answers every request waiting.
  void serve();
  void close();

 private:
  const CurveAuthority& authority_;
  Counters& counters_;
  zmq::socket_t socket_;
  int fd_ = -1;
};

// The role of the connection `frame` came on (its User-Id); nullopt when it has none (a
// connection that was not authenticated).
std::optional<CallerRole> role_of(const zmq::message_t& frame);

}  // namespace pulsing::zmq_io
