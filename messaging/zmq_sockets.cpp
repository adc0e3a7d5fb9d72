#include "messaging/zmq_sockets.hpp"

#include <atomic>
#include <cstring>

namespace pulsing::zmq_io {

std::pair<std::string, std::string> split_endpoint(const std::string& endpoint) {
  auto colon = endpoint.rfind(':');
  if (!endpoint.starts_with("tcp://") || colon == std::string::npos || colon < 6) return {};
  return {endpoint.substr(6, colon - 6), endpoint.substr(colon)};
}

bool has_input(zmq::socket_t& socket) { return (socket.get(zmq::sockopt::events) & ZMQ_POLLIN) != 0; }

zmq::message_t frame_of(std::vector<std::byte>&& bytes, FrameBuffers& buffers) {
  struct Owned {
    std::vector<std::byte> bytes;
    FrameBuffers& buffers;
    // ZeroMQ frees the frame on its own thread, through synchronisation ThreadSanitizer cannot
    // see (libzmq is not instrumented): without this pair it took the buffer's next writer,
    // after give() and take(), for a race with the writer of its last frame.
    std::atomic<bool> handed_over{false};
  };
  auto* owned = new Owned{std::move(bytes), buffers};
  owned->handed_over.store(true, std::memory_order_release);
  return zmq::message_t(
      owned->bytes.data(), owned->bytes.size(),
      [](void*, void* hint) {
        auto* frame = static_cast<Owned*>(hint);
        [[maybe_unused]] bool handed = frame->handed_over.load(std::memory_order_acquire);
        frame->buffers.give(std::move(frame->bytes));
        delete frame;
      },
      owned);
}

zmq::socket_t open_monitor(zmq::context_t& context, zmq::socket_t& socket, int events, const std::string& address) {
  zmq_socket_monitor(socket.handle(), address.c_str(), events);
  zmq::socket_t monitor(context, zmq::socket_type::pair);
  monitor.set(zmq::sockopt::linger, 0);
  monitor.connect(address);
  (void)has_input(monitor);  // primes its descriptor
  return monitor;
}

std::optional<MonitorEvent> next_event(zmq::socket_t& monitor) {
  while (true) {
    zmq::message_t event;
    if (!monitor.recv(event, zmq::recv_flags::dontwait)) return std::nullopt;
    zmq::message_t address;
    if (event.more()) (void)monitor.recv(address, zmq::recv_flags::dontwait);
    if (event.size() < sizeof(std::uint16_t) + sizeof(std::uint32_t)) continue;
    MonitorEvent e;
    std::memcpy(&e.id, event.data(), sizeof(e.id));
    std::memcpy(&e.value, static_cast<const char*>(event.data()) + sizeof(e.id), sizeof(e.value));
    return e;
  }
}

}  // namespace pulsing::zmq_io
