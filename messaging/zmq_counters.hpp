// zmq_io::Counters: the traffic ZmqTransport counts, read back as TransportStats.
//
// Ownership: ZmqTransport::Io owns it; the parts of the I/O thread that send and read
// (messaging/zmq_links.hpp, messaging/zmq_callers.hpp, messaging/zmq_inbound.hpp) borrow it.
// Thread-safety: envelopes_refused is counted by sending threads, everything else by the I/O
// thread; stats() from any thread. Each counter stands alone: no order among them is promised.
#pragma once

#include <atomic>
#include <cstdint>

#include "messaging/transport.hpp"

namespace pulsing::zmq_io {

struct Counters {
  std::atomic<std::uint64_t> frames_sent{0}, envelopes_sent{0}, frames_received{0}, envelopes_received{0},
      frames_rejected{0}, envelopes_dropped{0}, envelopes_refused{0}, connections{0}, connections_lost{0},
      callers_admitted{0}, callers_refused{0};

  // Every field but `links`, which is no counter: the owner of the links fills it in.
  TransportStats stats() const {
    TransportStats s;
    s.frames_sent = frames_sent.load();
    s.envelopes_sent = envelopes_sent.load();
    s.frames_received = frames_received.load();
    s.envelopes_received = envelopes_received.load();
    s.frames_rejected = frames_rejected.load();
    s.envelopes_dropped = envelopes_dropped.load();
    s.envelopes_refused = envelopes_refused.load();
    s.connections = connections.load();
    s.connections_lost = connections_lost.load();
    s.callers_admitted = callers_admitted.load();
    s.callers_refused = callers_refused.load();
    return s;
  }
};

}  // namespace pulsing::zmq_io
