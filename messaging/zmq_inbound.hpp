// zmq_io::Inbound: where the frames ZmqTransport reads go. It hands each frame's envelopes to the
// transport's handler and counts them, and rejects what no pulsing peer sends (a message of
// several payload frames, a frame whose envelopes do not decode).
//
// Ownership: borrows the limits, the handler and the counters, which outlive it
// (ZmqTransport::Io owns it and the counters; ZmqTransport, the limits; the node, the handler).
// Thread-safety: none; it runs on the transport's I/O thread only, as do the handler's
// callbacks it makes.
#pragma once

#include <string_view>

#include <zmq.hpp>

#include "messaging/envelope.hpp"
#include "messaging/transport.hpp"
#include "messaging/zmq_counters.hpp"

namespace pulsing::zmq_io {

class Inbound {
 public:
  Inbound(const DecodeLimits& limits, TransportHandler& handler, Counters& counters)
      : limits_(limits), handler_(handler), counters_(counters) {}

  // REQUIRES: `frame` is the first payload frame of a message just read from `socket`. Reads
  // the message's other frames, if any: then it is counted as received and rejected, and this
  // returns false (a pulsing peer sends one payload frame).
  bool single_frame(zmq::socket_t& socket, zmq::message_t& frame);
  // Hands the envelopes of `frame`, from the node at `sender` ("" when unknown) on a connection
  // admitted as `role`, to the handler.
  void deliver(const zmq::message_t& frame, std::string_view sender, CallerRole role = CallerRole::kNode);

 private:
  const DecodeLimits& limits_;
  TransportHandler& handler_;
  Counters& counters_;
};

}  // namespace pulsing::zmq_io
