#include "messaging/zmq_links.hpp"

#include <algorithm>
#include <functional>
#include <utility>

#include <fmt/format.h>

#include "messaging/zmq_sockets.hpp"

namespace pulsing {

ZmqTransport::DealerLinks::DealerLinks(zmq::context_t& context, const TransportConfig& config, TransportHandler& handler,
                                       FrameBuffers& buffers, zmq_io::Counters& counters, zmq_io::Inbound& inbound,
                                       const WakeFd& wake)
    : context_(context),
      config_(config),
      handler_(handler),
      buffers_(buffers),
      counters_(counters),
      inbound_(inbound),
      lookup_waker_(wake.duplicate()) {}

// ---------------------------------------------------------------- opening and closing

void ZmqTransport::DealerLinks::open(std::shared_ptr<Peer> peer) {
  links_.push_back(make_link(std::move(peer)));
  counters_.connections.fetch_add(1, std::memory_order_relaxed);
  open_count_.store(links_.size(), std::memory_order_relaxed);
  connect(*links_.back());
}

std::unique_ptr<ZmqTransport::DealerLinks::Link> ZmqTransport::DealerLinks::make_link(std::shared_ptr<Peer> peer) {
  auto link = std::make_unique<Link>();
  link->peer = std::move(peer);
  link->created = Clock::now();
  if (config_.curve) link->servers = config_.curve->servers_for(link->peer->endpoint());
  open_sockets(*link);
  return link;
}

void ZmqTransport::DealerLinks::open_sockets(Link& link) {
  link.dealer = zmq::socket_t(context_, zmq::socket_type::dealer);
  link.dealer.set(zmq::sockopt::linger, 0);
  link.dealer.set(zmq::sockopt::routing_id, fmt::format("{}.{:x}", identity_, next_routing_id_++));
  link.dealer.set(zmq::sockopt::sndhwm, config_.queued_frames);
  link.dealer.set(zmq::sockopt::rcvhwm, config_.queued_frames);
  link.dealer.set(zmq::sockopt::maxmsgsize, static_cast<std::int64_t>(config_.limits.frame_limit_bytes()));
  link.dealer.set(zmq::sockopt::immediate, 1);  // queue nothing on a connection not yet up
  link.dealer.set(zmq::sockopt::reconnect_ivl, 100);
  link.dealer.set(zmq::sockopt::reconnect_ivl_max, 2'000);
  link.dealer.set(zmq::sockopt::heartbeat_ivl, static_cast<int>(config_.heartbeat_interval.count()));
  link.dealer.set(zmq::sockopt::heartbeat_timeout, static_cast<int>(config_.heartbeat_timeout.count()));
  if (!link.servers.empty()) {
    // The server must prove it holds the secret key of the public key expected here, and this
    // node presents its own pair (admitted, or not, by the peer's ZAP handler).
    CurvePair own = config_.curve->client_pair();
    const CurvePublicKey& server = link.servers[link.server % link.servers.size()];
    link.dealer.set(zmq::sockopt::curve_serverkey, zmq::const_buffer(server.data(), server.size()));
    link.dealer.set(zmq::sockopt::curve_publickey, zmq::const_buffer(own.public_key.data(), own.public_key.size()));
    link.dealer.set(zmq::sockopt::curve_secretkey, zmq::const_buffer(own.secret_key.data(), own.secret_key.size()));
  }
  link.monitor = zmq_io::open_monitor(context_, link.dealer,
                                      ZMQ_EVENT_HANDSHAKE_SUCCEEDED | ZMQ_EVENT_DISCONNECTED |
                                          ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL | ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL |
                                          ZMQ_EVENT_HANDSHAKE_FAILED_AUTH,
                                      fmt::format("inproc://pulsing-monitor-{}", next_monitor_++));
  link.dealer_fd = link.dealer.get(zmq::sockopt::fd);
  link.monitor_fd = link.monitor.get(zmq::sockopt::fd);
}

void ZmqTransport::DealerLinks::try_next_server(Link& link) {
  // The server did not prove the key expected: the peer may hold another key of the ring (a
  // rotation under way), or what is known of it changed. Ask again, and try the next key on a
  // new socket (ZeroMQ fixes a socket's keys when it connects).
  auto servers = config_.curve->servers_for(link.peer->endpoint());
  const CurvePublicKey tried = link.servers[link.server % link.servers.size()];
  link.servers = std::move(servers);
  if (link.servers.empty()) return;
  link.server = 0;
  while (link.server < link.servers.size() && link.servers[link.server] != tried) ++link.server;
  link.server = link.server < link.servers.size() ? link.server + 1 : 0;
  if (link.servers.size() == 1 && link.servers[0] == tried) return;  // nothing else to try: ZeroMQ retries
  close_sockets(link);
  open_sockets(link);
  if (!link.connected_to.empty()) link.dealer.connect(link.connected_to);
}

void ZmqTransport::DealerLinks::connect(Link& link) {
  const std::string& endpoint = link.peer->endpoint();
  const std::string host = zmq_io::split_endpoint(endpoint).first;
  if (!host.empty() && !is_numeric_host(host)) {
    link.named = true;
    ++named_links_;
    start_lookup(link);
    return;
  }
  try {
    link.dealer.connect(endpoint);
    link.connected_to = endpoint;
  } catch (const zmq::error_t& e) {
    peer_down(link, fmt::format("cannot connect to {}: {}", endpoint, e.what()));
  }
}

void ZmqTransport::DealerLinks::close(const std::string& endpoint, const std::string& why) {
  for (std::size_t i = 0; i < links_.size(); ++i) {
    if (links_[i]->peer->endpoint() == endpoint) {
      close_link(i, why);
      return;
    }
  }
}

void ZmqTransport::DealerLinks::close_idle() {
  // A link down for long with nothing to send: its DEALER would go on reconnecting forever.
  auto now = Clock::now();
  for (std::size_t i = links_.size(); i-- > 0;) {
    Link& link = *links_[i];
    if (link.peer->state() != PeerState::kDown || now - link.down_since < config_.close_down_after) continue;
    bool idle;
    {
      std::lock_guard lock(link.peer->mutex_);
      idle = link.peer->requests_.empty();
    }
    if (idle) close_link(i, "down and idle");
  }
}

void ZmqTransport::DealerLinks::close_link(std::size_t index, const std::string& why) {
  Link& link = *links_[index];
  Peer& peer = *link.peer;
  if (peer.state() != PeerState::kDown) peer_down(link, fmt::format("connection to {} closed: {}", peer.endpoint(), why));
  close_sockets(link);
  named_links_ -= link.named ? 1 : 0;
  {
    // As a peer never called: the next request connects anew.
    std::lock_guard lock(peer.mutex_);
    peer.connecting_ = false;
    peer.set_state(PeerState::kConnecting);
  }
  links_.erase(links_.begin() + static_cast<std::ptrdiff_t>(index));
  open_count_.store(links_.size(), std::memory_order_relaxed);
}

void ZmqTransport::DealerLinks::close_all() {
  for (auto& link : links_) {
    if (link->peer->state() == PeerState::kUp) {
      flush(*link);
      link->dealer.set(zmq::sockopt::linger, static_cast<int>(config_.close_linger.count()));
    }
    close_sockets(*link);
  }
  links_.clear();
  open_count_.store(0, std::memory_order_relaxed);
}

void ZmqTransport::DealerLinks::close_sockets(Link& link) {
  zmq_socket_monitor(link.dealer.handle(), nullptr, 0);
  link.monitor.close();
  link.dealer.close();
}

// ---------------------------------------------------------------- lookups and timeouts

void ZmqTransport::DealerLinks::start_lookup(Link& link) {
  link.lookup = HostLookup::start(zmq_io::split_endpoint(link.peer->endpoint()).first, config_.lookup,
                                  [waker = lookup_waker_] { waker->wake(); });
  link.next_lookup = Clock::now() + config_.lookup_interval;
}

void ZmqTransport::DealerLinks::update_lookups() {
  if (named_links_ == 0) return;
  const auto now = Clock::now();
  for (auto& owned : links_) {
    Link& link = *owned;
    if (link.lookup && link.lookup->done()) {
      take_lookup(link);
    } else if (link.named && !link.lookup && link.peer->state() == PeerState::kDown && now >= link.next_lookup) {
      start_lookup(link);  // it may be back elsewhere
    }
  }
}

void ZmqTransport::DealerLinks::take_lookup(Link& link) {
  auto lookup = std::move(link.lookup);
  std::string address = lookup->address();
  if (address.empty()) {
    if (link.peer->state() == PeerState::kConnecting) {
      peer_down(link, fmt::format("cannot resolve {}: {}", lookup->host(), lookup->error()));
    }
    return;
  }
  std::string numeric = "tcp://" + address + zmq_io::split_endpoint(link.peer->endpoint()).second;
  if (numeric == link.connected_to) return;
  try {
    if (!link.connected_to.empty()) link.dealer.disconnect(link.connected_to);
    link.dealer.connect(numeric);
    link.connected_to = numeric;
  } catch (const zmq::error_t& e) {
    if (link.peer->state() == PeerState::kConnecting) {
      peer_down(link, fmt::format("cannot connect to {} ({}): {}", link.peer->endpoint(), numeric, e.what()));
    }
  }
}

void ZmqTransport::DealerLinks::check_connect_timeouts() {
  auto now = Clock::now();
  for (auto& link : links_) {
    if (link->peer->state() == PeerState::kConnecting && now - link->created > config_.connect_timeout) {
      peer_down(*link, fmt::format("could not connect to {} within {} ms", link->peer->endpoint(),
                                   config_.connect_timeout.count()));
    }
  }
}

void ZmqTransport::DealerLinks::peer_down(Link& link, const std::string& why) {
  Peer& peer = *link.peer;
  link.down_since = Clock::now();
  if (peer.exchange_state(PeerState::kDown) == PeerState::kUp) {
    counters_.connections_lost.fetch_add(1, std::memory_order_relaxed);
  }
  std::size_t dropped = link.unsent_count;
  std::size_t unanswered = link.unsent_unanswered;
  link.unsent.reset();
  link.unsent_count = 0;
  link.unsent_unanswered = 0;
  std::vector<std::function<void()>> room;  // nothing waits for a peer that is down
  {
    std::lock_guard lock(peer.mutex_);
    auto [count, not_requests] = peer.requests_.clear();
    dropped += count;
    unanswered += not_requests;
    room.swap(peer.requests_.on_room);
  }
  for (auto& f : room) f();
  counters_.envelopes_dropped.fetch_add(dropped, std::memory_order_relaxed);
  handler_.on_peer_down(peer.endpoint(), why, unanswered);
}

// ---------------------------------------------------------------- sending

ZmqTransport::DealerLinks::Link* ZmqTransport::DealerLinks::find(const Peer& peer) {
  for (auto& link : links_) {
    if (link->peer.get() == &peer) return link.get();
  }
  return nullptr;
}

void ZmqTransport::DealerLinks::flush(const Peer& peer) {
  if (Link* link = find(peer)) flush(*link);
}

void ZmqTransport::DealerLinks::retry_unsent() {
  for (auto& link : links_) {
    if (link->unsent) flush(*link);
  }
}

void ZmqTransport::DealerLinks::flush(Link& link) {
  Peer& peer = *link.peer;
  while (true) {
    if (link.unsent && !try_send(link)) return;  // ZeroMQ is full: the next pass retries
    std::optional<Outbox::Chunk> chunk;
    std::vector<std::function<void()>> room;
    {
      std::lock_guard lock(peer.mutex_);
      chunk = peer.requests_.take();
      if (!peer.requests_.on_room.empty() && peer.requests_.bytes() <= config_.max_pending_bytes / 2) {
        room.swap(peer.requests_.on_room);
      }
    }
    for (auto& f : room) f();
    if (!chunk) return;
    link.unsent.emplace(zmq_io::frame_of(std::move(chunk->bytes), buffers_));
    link.unsent_count = chunk->envelopes;
    link.unsent_unanswered = chunk->unanswered;
  }
}

bool ZmqTransport::DealerLinks::try_send(Link& link) {
  if (link.peer->state() == PeerState::kDown) return false;
  // Sending may take in the socket's news (an answer arrived) and so leave its descriptor
  // quiet: the next read looks.
  link.unsettled = true;
  auto sent = link.dealer.send(*link.unsent, zmq::send_flags::dontwait);
  if (!sent) return false;  // not connected yet, or at the high-water mark
  // ZeroMQ takes frames only on a completed connection (ZMQ_IMMEDIATE): it is up, whether or
  // not its monitor has said so yet.
  if (link.peer->state() == PeerState::kConnecting) link.peer->set_state(PeerState::kUp);
  counters_.frames_sent.fetch_add(1, std::memory_order_relaxed);
  counters_.envelopes_sent.fetch_add(link.unsent_count, std::memory_order_relaxed);
  link.unsent.reset();
  link.unsent_count = 0;
  link.unsent_unanswered = 0;
  return true;
}

// ---------------------------------------------------------------- reading

bool ZmqTransport::DealerLinks::unsettled() const {
  return std::any_of(links_.begin(), links_.end(), [](const auto& link) { return link->unsettled; });
}

bool ZmqTransport::DealerLinks::read(int burst) {
  bool got = false;
  for (std::size_t i = 0; i < links_.size(); ++i) {
    if (links_[i]->unsettled) got |= read_dealer(*links_[i], burst);
  }
  return got;
}

bool ZmqTransport::DealerLinks::read_dealer(Link& link, int burst) {
  for (int i = 0; i < burst; ++i) {
    zmq::message_t frame;
    if (!link.dealer.recv(frame, zmq::recv_flags::dontwait)) {
      // ZeroMQ took in the socket's news and found nothing: the descriptor tells of more.
      link.unsettled = false;
      return i > 0;
    }
    if (inbound_.single_frame(link.dealer, frame)) inbound_.deliver(frame, link.peer->endpoint());
  }
  return true;  // a burst's worth: still unsettled, the next pass goes on
}

void ZmqTransport::DealerLinks::read_monitor(Link& link) {
  while (auto event = zmq_io::next_event(link.monitor)) {
    if (event->id == ZMQ_EVENT_HANDSHAKE_SUCCEEDED) {
      PeerState was = link.peer->exchange_state(PeerState::kUp);
      flush(link);
      if (was == PeerState::kDown) handler_.on_peer_up(link.peer->endpoint());
    } else if (event->id == ZMQ_EVENT_DISCONNECTED && link.peer->state() == PeerState::kUp) {
      // What arrived on the connection before it closed is answered first: an answer that came
      // is delivered, not failed as unreachable.
      link.unsettled = true;
      while (link.unsettled) read_dealer(link, zmq_io::kReadBurst);
      peer_down(link, fmt::format("lost the connection to {}", link.peer->endpoint()));
    } else if (event->id == ZMQ_EVENT_HANDSHAKE_FAILED_AUTH) {
      // The peer's ZAP handler refused this node's key: no retry will change that.
      if (link.peer->state() != PeerState::kDown) {
        peer_down(link, fmt::format("{} refused this node's key (status {}): it holds another cluster key, or "
                                    "does not list this client",
                                    link.peer->endpoint(), event->value));
      }
    } else if (event->id == ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL || event->id == ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL) {
      if (!link.servers.empty()) {
        try_next_server(link);
        return;  // a new monitor
      }
      if (event->id == ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL && link.peer->state() != PeerState::kDown) {
        // The two ends speak different security (ZeroMQ's mechanisms): one encrypts, the other not.
        peer_down(link, fmt::format("{} refused the handshake: it encrypts its connections (CURVE), and only a "
                                    "holder of its cluster key or of a client key it lists may call it",
                                    link.peer->endpoint()));
      }
    }
  }
}

// ---------------------------------------------------------------- polling

void ZmqTransport::DealerLinks::add_pollfds(std::vector<pollfd>& fds) const {
  for (auto& link : links_) {
    fds.push_back({link->monitor_fd, POLLIN, 0});
    fds.push_back({link->dealer_fd, POLLIN, 0});
  }
}

void ZmqTransport::DealerLinks::on_polled(std::span<const pollfd> fds) {
  for (std::size_t i = 0; 2 * i + 1 < fds.size(); ++i) {
    if (fds[2 * i].revents & POLLIN) read_monitor(*links_[i]);
    if (fds[2 * i + 1].revents & POLLIN) {
      links_[i]->unsettled = true;
      if (links_[i]->unsent) flush(*links_[i]);
    }
  }
}

}  // namespace pulsing
