#include "messaging/zmq_inbound.hpp"

#include <cstddef>
#include <span>

namespace pulsing::zmq_io {

bool Inbound::single_frame(zmq::socket_t& socket, zmq::message_t& frame) {
  if (!frame.more()) return true;
  while (frame.more()) {  // not ours: drained, so that the next read starts a message
    if (!socket.recv(frame, zmq::recv_flags::dontwait)) break;
  }
  counters_.frames_received.fetch_add(1, std::memory_order_relaxed);
  counters_.frames_rejected.fetch_add(1, std::memory_order_relaxed);
  return false;
}

void Inbound::deliver(const zmq::message_t& frame, std::string_view sender, CallerRole role) {
  counters_.frames_received.fetch_add(1, std::memory_order_relaxed);
  try {
    decode_frame(
        {static_cast<const std::byte*>(frame.data()), frame.size()},
        [&](const EnvelopeView& envelope) {
          counters_.envelopes_received.fetch_add(1, std::memory_order_relaxed);
          handler_.on_envelope(envelope);
        },
        limits_, sender, role);
  } catch (const DecodeError&) {
    // Counted; the envelopes before the bad one were delivered. The node stays up.
    counters_.frames_rejected.fetch_add(1, std::memory_order_relaxed);
  }
  handler_.after_frame();
}

}  // namespace pulsing::zmq_io
