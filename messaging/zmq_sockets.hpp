// ZeroMQ socket helpers shared by ZmqTransport's I/O thread and the two sides it polls
// (messaging/zmq_links.hpp, messaging/zmq_callers.hpp): news on a socket, zero-copy frames,
// monitor sockets and their events, endpoints taken apart.
//
// Ownership: frame_of() hands the bytes to ZeroMQ, which returns them to the FrameBuffers once
// the frame is sent; open_monitor() returns a socket the caller owns.
// Thread-safety: the functions keep no state; a socket passed in is used by its owning thread
// only (ZeroMQ sockets are not thread safe).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <zmq.hpp>

#include "messaging/frame_buffers.hpp"

namespace pulsing::zmq_io {

// Frames read from one socket per pass. Few: between passes the I/O thread runs the turns its
// input woke and sends their answers, so that a burst of requests in several frames is answered
// frame by frame while the rest is still arriving (pipelined, rather than read whole and then
// answered whole). Frames of one-way traffic are large, so that this costs them little.
inline constexpr int kReadBurst = 2;
// Frames read from a socket whose news woke the I/O thread. One: in request-reply traffic it
// is all there is, and looking for a second costs ZeroMQ two system calls that the look before
// the thread next sleeps makes anyway (W6s: 110 µs per ask with one, 145 µs with two).
inline constexpr int kWokenBurst = 1;

// "tcp://host:port" → host and ":port" ("" and "" when it is not that).
std::pair<std::string, std::string> split_endpoint(const std::string& endpoint);

// Whether ZeroMQ holds input for `socket` (ZMQ_EVENTS, which also takes in its pending news).
bool has_input(zmq::socket_t& socket);

// A frame that owns `bytes` without a copy; once ZeroMQ has sent it, the buffer goes back to
// `buffers`.
zmq::message_t frame_of(std::vector<std::byte>&& bytes, FrameBuffers& buffers);

// A PAIR socket that receives `socket`'s monitor events (`events`), over inproc `address`. Its
// descriptor announces every event: it is primed (looked at once, finding nothing), since a
// socket that connects over inproc hears of no news until it has once found its pipe empty.
// REQUIRES: `address` is unique within `context`; `socket` has neither bound nor connected yet
// (no event is waiting).
zmq::socket_t open_monitor(zmq::context_t& context, zmq::socket_t& socket, int events, const std::string& address);

// One monitor event: its id and value (for connection events, the connection's descriptor).
struct MonitorEvent {
  std::uint16_t id = 0;
  std::uint32_t value = 0;
};
// The next event of `monitor`, if one is waiting.
std::optional<MonitorEvent> next_event(zmq::socket_t& monitor);

}  // namespace pulsing::zmq_io
