#include "messaging/zap_handler.hpp"

#include <cstring>
#include <string>
#include <string_view>
#include <vector>

#include "messaging/zmq_sockets.hpp"

namespace pulsing::zmq_io {
namespace {

constexpr char kZapEndpoint[] = "inproc://zeromq.zap.01";
// A request has 7 frames for CURVE (version, id, domain, address, identity, mechanism, key);
// more is not a request libzmq makes.
constexpr std::size_t kMaxRequestFrames = 8;
constexpr std::size_t kMaxFrameBytes = 512;

std::string_view text_of(const zmq::message_t& frame) {
  return {static_cast<const char*>(frame.data()), frame.size()};
}

}  // namespace

ZapHandler::ZapHandler(zmq::context_t& context, const CurveAuthority& authority, Counters& counters)
    : authority_(authority), counters_(counters), socket_(context, zmq::socket_type::rep) {
  socket_.set(zmq::sockopt::linger, 0);
  socket_.bind(kZapEndpoint);
  fd_ = socket_.get(zmq::sockopt::fd);
}

void ZapHandler::serve() {
  while (has_input(socket_)) {
    // A message arrives whole: once its first frame is there, so are the others.
    std::vector<zmq::message_t> request;
    bool more = true, oversized = false;
    while (more) {
      zmq::message_t frame;
      if (!socket_.recv(frame, zmq::recv_flags::dontwait)) break;
      more = frame.more();
      if (frame.size() > kMaxFrameBytes || request.size() == kMaxRequestFrames) {
        oversized = true;
      } else {
        request.push_back(std::move(frame));
      }
    }
    if (request.empty()) return;

    std::optional<CallerRole> role;
    if (!oversized && request.size() == 7 && text_of(request[0]) == "1.0" && text_of(request[5]) == "CURVE" &&
        request[6].size() == sizeof(CurvePublicKey)) {
      CurvePublicKey key;
      std::memcpy(key.data(), request[6].data(), key.size());
      role = authority_.admit(key);
    }
    (role ? counters_.callers_admitted : counters_.callers_refused).fetch_add(1, std::memory_order_relaxed);
    // A REP socket answers the request it read last: version, request id, status, text, user id,
    // metadata.
    const std::string_view id = request.size() > 1 ? text_of(request[1]) : std::string_view{};
    const std::string_view user = role ? to_string(*role) : std::string_view{};
    socket_.send(zmq::buffer(std::string_view("1.0")), zmq::send_flags::sndmore);
    socket_.send(zmq::buffer(id), zmq::send_flags::sndmore);
    socket_.send(zmq::buffer(std::string_view(role ? "200" : "400")), zmq::send_flags::sndmore);
    socket_.send(zmq::buffer(std::string_view(role ? "OK" : "key not admitted")), zmq::send_flags::sndmore);
    socket_.send(zmq::buffer(user), zmq::send_flags::sndmore);
    socket_.send(zmq::const_buffer(nullptr, 0), zmq::send_flags::none);
  }
}

void ZapHandler::close() { socket_.close(); }

std::optional<CallerRole> role_of(const zmq::message_t& frame) {
  const char* user = zmq_msg_gets(const_cast<zmq_msg_t*>(frame.handle()), "User-Id");
  if (user == nullptr) return std::nullopt;
  for (CallerRole role : {CallerRole::kNode, CallerRole::kOperator, CallerRole::kObserver}) {
    if (to_string(role) == user) return role;  // the names serve() gives as User-Id
  }
  return std::nullopt;
}

}  // namespace pulsing::zmq_io
