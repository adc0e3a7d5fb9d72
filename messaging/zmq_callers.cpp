#include "messaging/zmq_callers.hpp"

#include <cerrno>
#include <cstdint>
#include <stdexcept>
#include <utility>

#include <fmt/format.h>

#include "messaging/curve.hpp"
#include "messaging/zap_handler.hpp"
#include "messaging/zmq_sockets.hpp"

namespace pulsing {

ZmqTransport::RouterCallers::RouterCallers(zmq::context_t& context, const TransportConfig& config,
                                           TransportHandler& handler, FrameBuffers& buffers,
                                           zmq_io::Counters& counters, zmq_io::Inbound& inbound, ZmqTransport& owner)
    : config_(config),
      handler_(handler),
      buffers_(buffers),
      counters_(counters),
      inbound_(inbound),
      owner_(owner),
      router_(context, zmq::socket_type::router) {
  monitor_ = zmq_io::open_monitor(context, router_, ZMQ_EVENT_DISCONNECTED, "inproc://pulsing-monitor-router");
  monitor_fd_ = monitor_.get(zmq::sockopt::fd);
  bind();
  router_fd_ = router_.get(zmq::sockopt::fd);
}

void ZmqTransport::RouterCallers::bind() {
  router_.set(zmq::sockopt::linger, 0);
  router_.set(zmq::sockopt::rcvhwm, config_.queued_frames);
  router_.set(zmq::sockopt::sndhwm, config_.queued_frames);
  // A frame larger than decoding accepts closes its connection as its size is read, before
  // ZeroMQ allocates it.
  router_.set(zmq::sockopt::maxmsgsize, static_cast<std::int64_t>(config_.limits.frame_limit_bytes()));
  // Answers to a caller that is gone fail (EHOSTUNREACH) instead of vanishing, and a full pipe
  // says so (EAGAIN) instead of dropping.
  router_.set(zmq::sockopt::router_mandatory, 1);
  // A caller's connection is named by its DEALER's routing id: its endpoint, its run's nonce
  // and the DEALER's number. No two connections share one, so none ever needs to take over
  // another's name, and none may (a second connection presenting a name in use is ignored).
  router_.set(zmq::sockopt::router_handover, 0);
  router_.set(zmq::sockopt::heartbeat_ivl, static_cast<int>(config_.heartbeat_interval.count()));
  router_.set(zmq::sockopt::heartbeat_timeout, static_cast<int>(config_.heartbeat_timeout.count()));
  if (config_.curve) {
    // Every connection is encrypted, and admitted by the context's ZAP handler (ZapHandler),
    // which gives it its role.
    CurvePair pair = config_.curve->server_pair();
    router_.set(zmq::sockopt::curve_server, 1);
    router_.set(zmq::sockopt::curve_secretkey, zmq::const_buffer(pair.secret_key.data(), pair.secret_key.size()));
    router_.set(zmq::sockopt::zap_domain, "pulsing");
  }
  try {
    router_.bind(config_.listen);
  } catch (const zmq::error_t& e) {
    throw std::runtime_error(fmt::format("cannot listen on {}: {}", config_.listen, e.what()));
  }
  bound_ = router_.get(zmq::sockopt::last_endpoint);
}

void ZmqTransport::RouterCallers::close() {
  last_caller_ = nullptr;
  callers_.clear();
  zmq_socket_monitor(router_.handle(), nullptr, 0);
  monitor_.close();
  router_.set(zmq::sockopt::linger, static_cast<int>(config_.close_linger.count()));
  router_.close();
}

// ---------------------------------------------------------------- callers

ZmqTransport::RouterCallers::Caller& ZmqTransport::RouterCallers::caller(std::string_view identity) {
  if (last_caller_ != nullptr && last_caller_->peer->endpoint() == identity) return *last_caller_;
  auto it = callers_.find(std::string(identity));
  if (it == callers_.end()) {
    std::string name(identity);
    it = callers_.emplace(name, Caller{owner_.own_caller(name)}).first;
  }
  last_caller_ = &it->second;
  return it->second;
}

void ZmqTransport::RouterCallers::bind_caller(std::string_view identity, int fd) {
  // Known on this descriptor already: no connection presents another's routing id, so this is
  // the same connection (the common case: one look at a cached pointer per frame).
  if (last_caller_ != nullptr && last_caller_->fd == fd && last_caller_->peer->endpoint() == identity) return;
  // A descriptor is closed only after its connection's disconnection was reported, and the
  // connection that reuses it sends nothing before it is accepted: so the report about an
  // earlier connection on `fd` is waiting on the monitor now. Read it before `fd` is bound to
  // this frame's caller, or it would end the wrong one (or this one, reconnected on the same
  // descriptor).
  read_monitor();
  Caller& from = caller(identity);
  if (fd == from.fd) return;
  if (from.fd >= 0) caller_fds_.erase(from.fd);
  from.fd = fd;
  if (fd >= 0) caller_fds_[fd] = from.peer->endpoint();
}

void ZmqTransport::RouterCallers::caller_gone(const std::string& endpoint) {
  auto it = callers_.find(endpoint);
  if (it == callers_.end()) return;
  Caller& caller = it->second;
  std::size_t dropped = caller.unsent_count;
  {
    std::lock_guard lock(caller.peer->mutex_);
    dropped += caller.peer->answers_.clear().first;
  }
  counters_.envelopes_dropped.fetch_add(dropped, std::memory_order_relaxed);
  if (caller.fd >= 0) caller_fds_.erase(caller.fd);
  if (last_caller_ == &caller) last_caller_ = nullptr;
  blocked_ -= caller.blocked;
  std::string name = endpoint;  // `endpoint` may be the erased entry's
  owner_.forget_caller(*caller.peer);
  callers_.erase(it);
  handler_.on_caller_gone(name);
}

// ---------------------------------------------------------------- sending

void ZmqTransport::RouterCallers::flush(Peer& peer) {
  auto it = callers_.find(peer.endpoint());
  if (it == callers_.end() || it->second.peer.get() != &peer) {
    // Its connection closed (or never was; or this is an earlier connection's peer): the answers
    // cannot be delivered.
    std::size_t dropped;
    {
      std::lock_guard lock(peer.mutex_);
      dropped = peer.answers_.clear().first;
    }
    counters_.envelopes_dropped.fetch_add(dropped, std::memory_order_relaxed);
    if (it == callers_.end()) owner_.forget_caller(peer);
    return;
  }
  Caller& caller = it->second;
  while (true) {
    if (caller.unsent && !try_send(caller)) return;  // full (the next pass retries), or gone
    std::optional<Outbox::Chunk> chunk;
    {
      std::lock_guard lock(peer.mutex_);
      chunk = peer.answers_.take();
    }
    if (!chunk) return;
    caller.unsent.emplace(zmq_io::frame_of(std::move(chunk->bytes), buffers_));
    caller.unsent_count = chunk->envelopes;
  }
}

void ZmqTransport::RouterCallers::retry_blocked() {
  if (!waiting_to_send()) return;
  std::vector<std::shared_ptr<Peer>> retry;  // flush may end a caller
  for (auto& [endpoint, caller] : callers_) {
    if (caller.blocked) retry.push_back(caller.peer);
  }
  for (auto& peer : retry) flush(*peer);
}

bool ZmqTransport::RouterCallers::try_send(Caller& caller) {
  const std::string& endpoint = caller.peer->endpoint();
  // Sending may take in the socket's news (a request arrived) and so leave its descriptor
  // quiet: the next read looks.
  unsettled_ = true;
  try {
    if (!router_.send(zmq::buffer(endpoint), zmq::send_flags::sndmore | zmq::send_flags::dontwait)) {
      blocked_ += !std::exchange(caller.blocked, true);  // its pipe is full
      return false;
    }
    (void)router_.send(*caller.unsent, zmq::send_flags::dontwait);
  } catch (const zmq::error_t& e) {
    if (e.num() != EHOSTUNREACH) throw;
    caller_gone(endpoint);  // erases `caller`
    return false;
  }
  counters_.frames_sent.fetch_add(1, std::memory_order_relaxed);
  counters_.envelopes_sent.fetch_add(caller.unsent_count, std::memory_order_relaxed);
  caller.unsent.reset();
  caller.unsent_count = 0;
  blocked_ -= std::exchange(caller.blocked, false);
  return true;
}

// ---------------------------------------------------------------- reading

bool ZmqTransport::RouterCallers::read(int burst) {
  bool got = false;
  for (int i = 0; i < burst; ++i) {
    // A DEALER's frame arrives as [identity][payload].
    zmq::message_t identity;
    if (!router_.recv(identity, zmq::recv_flags::dontwait)) {
      unsettled_ = false;  // ZeroMQ took in its news and found nothing: the descriptor tells of more
      return got;
    }
    got = true;
    zmq::message_t frame;
    if (!identity.more() || !router_.recv(frame, zmq::recv_flags::dontwait)) {
      counters_.frames_rejected.fetch_add(1, std::memory_order_relaxed);
      continue;
    }
    if (!inbound_.single_frame(router_, frame)) continue;
    // A pulsing peer's routing id is its endpoint; ZeroMQ's own ids (of other clients) start with
    // a zero byte and name no endpoint.
    std::string_view sender(static_cast<const char*>(identity.data()), identity.size());
    if (!sender.empty() && sender.front() == '\0') sender = {};
    if (!sender.empty()) bind_caller(sender, frame.get(ZMQ_SRCFD));
    // Under CURVE a connection has the role its key was admitted with (and one without is
    // refused outright); plain connections are all nodes.
    CallerRole role = CallerRole::kNode;
    if (config_.curve) {
      auto admitted = zmq_io::role_of(frame);
      if (!admitted) {
        counters_.frames_rejected.fetch_add(1, std::memory_order_relaxed);
        continue;
      }
      role = *admitted;
    }
    inbound_.deliver(frame, sender, role);
  }
  return got;  // a burst's worth: still unsettled, the next pass goes on
}

void ZmqTransport::RouterCallers::read_monitor() {
  while (auto event = zmq_io::next_event(monitor_)) {
    if (event->id != ZMQ_EVENT_DISCONNECTED) continue;
    auto it = caller_fds_.find(static_cast<int>(event->value));
    if (it == caller_fds_.end()) continue;  // a connection that never called, or an earlier one
    std::string endpoint = it->second;
    caller_gone(endpoint);
  }
}

// ---------------------------------------------------------------- polling

void ZmqTransport::RouterCallers::add_pollfds(std::vector<pollfd>& fds) const {
  fds.push_back({router_fd_, POLLIN, 0});
  fds.push_back({monitor_fd_, POLLIN, 0});
}

void ZmqTransport::RouterCallers::on_polled(std::span<const pollfd> fds) {
  if (fds[0].revents & POLLIN) unsettled_ = true;
  if (fds[1].revents & POLLIN) read_monitor();
}

}  // namespace pulsing
