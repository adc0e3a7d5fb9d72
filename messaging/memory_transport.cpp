#include "messaging/memory_transport.hpp"

#include <algorithm>
#include <thread>

#include <fmt/format.h>

namespace pulsing {

// ---------------------------------------------------------------- MemoryNetwork

TransportFactory MemoryNetwork::factory() {
  return [network = shared_from_this()](TransportConfig config, TransportHandler& handler) {
    return std::make_unique<MemoryTransport>(network, std::move(config), handler);
  };
}

void MemoryNetwork::join(MemoryTransport& transport) {
  std::lock_guard lock(mutex_);
  if (find(transport.endpoint_) != nullptr) {
    throw std::runtime_error(fmt::format("cannot listen on {}: a node is there already", transport.endpoint_));
  }
  transport.identity_ = Transport::identity_of(transport.endpoint_, next_run_++);
  transports_[transport.endpoint_] = &transport;
  identities_[transport.identity_] = &transport;
  // Whoever lost its connection to this endpoint has it back (ZeroMQ reconnects on its own).
  for (auto& [endpoint, other] : transports_) {
    auto it = other->peers_.find(transport.endpoint_);
    if (it == other->peers_.end() || it->second->state() != Transport::PeerState::kDown) continue;
    it->second->set_state(Transport::PeerState::kUp);
    queue({.kind = Work::Kind::kPeerUp, .transport = other, .endpoint = transport.endpoint_});
  }
}

void MemoryNetwork::leave(MemoryTransport& transport, const std::string& why) {
  std::lock_guard lock(mutex_);
  if (transport.stopped_) return;
  transport.stopped_ = true;
  transports_.erase(transport.endpoint_);
  identities_.erase(transport.identity_);
  // Nothing of it is delivered any more, and nothing to it.
  auto of_it = [&](const Work& w) {
    if (w.transport == &transport) return true;
    auto peer = w.peer.lock();
    return peer && static_cast<MemoryTransport::Peer&>(*peer).owner_ == &transport;
  };
  std::erase_if(work_, of_it);
  std::erase_if(held_work_, of_it);
  for (auto& [endpoint, other] : transports_) {
    // The others' connections to it are lost, and its connections to them close.
    if (auto it = other->peers_.find(transport.endpoint_); it != other->peers_.end()) {
      other->peer_down(*it->second, fmt::format("lost the connection to {}: {}", transport.endpoint_, why));
    }
    for (auto& [to, peer] : transport.peers_) {
      if (to == endpoint && !peer->connection_.empty()) other->caller_closed(peer->connection_);
    }
  }
}

MemoryTransport* MemoryNetwork::find(const std::string& endpoint) const {
  auto it = transports_.find(endpoint);
  return it == transports_.end() ? nullptr : it->second;
}

void MemoryNetwork::queue(Work work) { work_.push_back(std::move(work)); }

void MemoryNetwork::hold(const std::string& endpoint) {
  std::lock_guard lock(mutex_);
  held_.insert(endpoint);
}

void MemoryNetwork::release(const std::string& endpoint) {
  std::lock_guard lock(mutex_);
  held_.erase(endpoint);
  // In their order, behind what is queued now: nothing overtakes within a connection.
  for (auto& w : held_work_) work_.push_back(std::move(w));
  held_work_.clear();
}

void MemoryNetwork::cut(const std::string& endpoint) {
  MemoryTransport* transport;
  {
    std::lock_guard lock(mutex_);
    transport = find(endpoint);
  }
  if (transport != nullptr) leave(*transport, "it crashed");
}

std::size_t MemoryNetwork::in_flight() const {
  std::lock_guard lock(mutex_);
  std::size_t n = 0;
  for (const auto* queue : {&work_, &held_work_}) {
    for (const auto& w : *queue) {
      auto peer = w.peer.lock();
      n += peer ? static_cast<MemoryTransport::Peer&>(*peer).outbox_.count() : 1;
    }
  }
  return n;
}

bool MemoryNetwork::next(Delivery& out) {
  std::lock_guard lock(mutex_);
  for (auto& room : room_due_) out.room.push_back(std::move(room));
  room_due_.clear();
  while (!work_.empty()) {
    Work w = std::move(work_.front());
    work_.pop_front();
    if (w.kind != Work::Kind::kRequests && w.kind != Work::Kind::kAnswers) {
      out.is_event = true;
      out.to = w.transport;
      out.event = std::move(w);
      return true;
    }
    auto held = w.peer.lock();
    if (!held) continue;
    auto& peer = static_cast<MemoryTransport::Peer&>(*held);
    MemoryTransport& from = *peer.owner_;
    if (peer.outbox_.empty()) continue;  // cleared since (its peer went down): nothing to send
    MemoryTransport* to = nullptr;
    std::string sender;
    if (w.kind == Work::Kind::kRequests) {
      to = find(peer.endpoint());
      if (to == nullptr) {
        from.peer_down(peer, fmt::format("could not connect to {}: no node is there", peer.endpoint()));
        continue;
      }
      sender = peer.connection_;
    } else {
      // Answers go back on the connection their requests came on, while it is open.
      auto dot = peer.endpoint().rfind('.');
      auto it = identities_.find(peer.endpoint().substr(0, dot == std::string::npos ? 0 : dot));
      MemoryTransport* origin = it == identities_.end() ? nullptr : it->second;
      auto link = origin ? origin->peers_.find(from.endpoint_) : decltype(origin->peers_.end()){};
      if (origin == nullptr || link == origin->peers_.end() || link->second->connection_ != peer.endpoint()) {
        from.stats_.envelopes_dropped += peer.outbox_.clear().first;
        continue;
      }
      to = origin;
      sender = from.endpoint_;
    }
    if (held_.contains(to->endpoint_)) {
      held_work_.push_back(std::move(w));
      continue;
    }
    auto chunk = peer.outbox_.take();
    if (!chunk) continue;
    if (peer.outbox_.empty()) {
      peer.outbox_.flagged = false;
    } else {
      work_.push_back(w);  // its next frame after the others'
    }
    if (w.kind == Work::Kind::kRequests) {
      if (peer.state() == Transport::PeerState::kConnecting) peer.set_state(Transport::PeerState::kUp);
      auto [caller, fresh] = to->callers_.try_emplace(sender);
      if (fresh) {
        caller->second = std::make_shared<MemoryTransport::Peer>(sender);
        caller->second->caller_ = true;
        caller->second->owner_ = to;
      }
      if (!peer.outbox_.on_room.empty() && peer.outbox_.bytes() <= from.config_.max_pending_bytes / 2) {
        out.room.swap(peer.outbox_.on_room);
      }
    }
    ++from.stats_.frames_sent;
    from.stats_.envelopes_sent += chunk->envelopes;
    ++to->stats_.frames_received;
    out.is_event = false;
    out.to = to;
    out.sender = std::move(sender);
    out.frame = std::move(chunk->bytes);
    return true;
  }
  return false;
}

std::size_t MemoryNetwork::deliver(std::size_t max) {
  std::lock_guard deliverer(deliver_mutex_);
  std::size_t done = 0;
  Delivery d;
  auto run_room = [&] {
    for (auto& room : d.room) room();
    d.room.clear();
  };
  while (done < max && next(d)) {
    ++done;
    run_room();
    TransportHandler& handler = d.to->handler_;
    if (d.is_event) {
      switch (d.event.kind) {
        case Work::Kind::kPeerDown: handler.on_peer_down(d.event.endpoint, d.event.why, d.event.dropped); break;
        case Work::Kind::kPeerUp: handler.on_peer_up(d.event.endpoint); break;
        case Work::Kind::kCallerGone: handler.on_caller_gone(d.event.endpoint); break;
        default: break;
      }
      continue;
    }
    std::size_t envelopes = 0;
    try {
      decode_frame(
          d.frame,
          [&](const EnvelopeView& envelope) {
            ++envelopes;
            handler.on_envelope(envelope);
          },
          d.to->config_.limits, d.sender);
    } catch (const DecodeError&) {
      std::lock_guard lock(mutex_);
      ++d.to->stats_.frames_rejected;
    }
    handler.after_frame();
    std::lock_guard lock(mutex_);
    d.to->stats_.envelopes_received += envelopes;
    d.to->buffers_.give(std::move(d.frame));
  }
  run_room();
  return done;
}

// ---------------------------------------------------------------- MemoryTransport

MemoryTransport::MemoryTransport(std::shared_ptr<MemoryNetwork> network, TransportConfig config,
                                 TransportHandler& handler)
    : network_(std::move(network)),
      config_(std::move(config)),
      handler_(handler),
      endpoint_(config_.advertise.empty() ? config_.listen : config_.advertise),
      buffers_(config_.max_frame_bytes, static_cast<std::size_t>(config_.queued_frames)) {
  if (endpoint_.empty() || endpoint_.size() > kMaxEndpoint) {
    throw std::runtime_error(fmt::format("the endpoint '{}' must have 1 to {} characters", endpoint_, kMaxEndpoint));
  }
  network_->join(*this);
}

MemoryTransport::~MemoryTransport() { stop(); }

void MemoryTransport::stop() {
  // No delivery to this transport may be under way once it is gone (unless this thread is the
  // one delivering: a handler that stops its own node).
  std::unique_lock deliverer(network_->deliver_mutex_, std::try_to_lock);
  while (!deliverer.owns_lock()) {
    {
      std::lock_guard lock(network_->mutex_);
      if (stopped_) return;
    }
    if (deliverer.try_lock()) break;
    std::this_thread::yield();
  }
  network_->leave(*this, "it stopped");
}

std::shared_ptr<Transport::Peer> MemoryTransport::peer(const std::string& endpoint) {
  std::lock_guard lock(network_->mutex_);
  auto [it, fresh] = peers_.try_emplace(endpoint);
  if (fresh) {
    it->second = std::make_shared<Peer>(endpoint);
    it->second->owner_ = this;
  }
  return it->second;
}

std::shared_ptr<Transport::Peer> MemoryTransport::caller(std::string_view identity) {
  std::lock_guard lock(network_->mutex_);
  auto [it, fresh] = callers_.try_emplace(std::string(identity));
  if (fresh) {  // never called: what is sent to it is dropped
    it->second = std::make_shared<Peer>(std::string(identity));
    it->second->caller_ = true;
    it->second->gone_ = true;
    it->second->owner_ = this;
  }
  return it->second;
}

SendResult MemoryTransport::send(Transport::Peer& to, const Envelope& envelope, std::chrono::steady_clock::time_point) {
  auto& peer = static_cast<Peer&>(to);
  EncodedEnvelope encoded(envelope);
  const bool answer = travels_back(envelope.kind);
  std::lock_guard lock(network_->mutex_);
  if (stopped_ || (!answer && peer.state() == PeerState::kDown)) return SendResult::kDown;
  if (answer && peer.gone_) {
    ++stats_.envelopes_dropped;
    return SendResult::kQueued;  // as ZeroMQ's: dropped on its way, and counted
  }
  auto admission = peer.outbox_.admit(envelope.kind, encoded.size(), config_.max_pending_bytes, false);
  if (admission == Outbox::Admission::kRefuse) {
    ++stats_.envelopes_refused;
    return SendResult::kFull;
  }
  if (!answer && peer.connection_.empty()) {
    peer.connection_ = fmt::format("{}.{:x}", identity_, next_connection_++);
    ++stats_.connections;
  }
  peer.outbox_.append(encoded, envelope.kind, {config_.max_frame_bytes, config_.max_awaited_frame_bytes}, buffers_);
  if (!std::exchange(peer.outbox_.flagged, true)) {
    network_->queue({.kind = answer ? MemoryNetwork::Work::Kind::kAnswers : MemoryNetwork::Work::Kind::kRequests,
                     .peer = peer.weak_from_this(),
                     .transport = this});
  }
  return admission == Outbox::Admission::kCongested ? SendResult::kCongested : SendResult::kQueued;
}

void MemoryTransport::peer_down(Peer& peer, const std::string& why) {
  if (peer.state() == PeerState::kUp) ++stats_.connections_lost;
  peer.set_state(PeerState::kDown);
  auto [count, not_requests] = peer.outbox_.clear();
  stats_.envelopes_dropped += count;
  // Its waiters go on (at the next deliver(), with no lock held): there is no room to wait for.
  for (auto& room : peer.outbox_.on_room) network_->room_due_.push_back(std::move(room));
  peer.outbox_.on_room.clear();
  network_->queue({.kind = MemoryNetwork::Work::Kind::kPeerDown,
                   .transport = this,
                   .endpoint = peer.endpoint(),
                   .why = why,
                   .dropped = not_requests});
}

void MemoryTransport::caller_closed(const std::string& name) {
  auto it = callers_.find(name);
  if (it == callers_.end()) return;
  it->second->gone_ = true;
  stats_.envelopes_dropped += it->second->outbox_.clear().first;
  callers_.erase(it);
  network_->queue({.kind = MemoryNetwork::Work::Kind::kCallerGone, .transport = this, .endpoint = name});
}

void MemoryTransport::close_peer(const std::string& endpoint, const std::string& why) {
  std::lock_guard lock(network_->mutex_);
  auto it = peers_.find(endpoint);
  if (it == peers_.end()) return;
  Peer& peer = *it->second;
  if (MemoryTransport* other = network_->find(endpoint); other && !peer.connection_.empty()) {
    other->caller_closed(peer.connection_);
  }
  peer_down(peer, why);
  peer.connection_.clear();  // the next request connects anew
  peer.set_state(PeerState::kConnecting);
}

void MemoryTransport::notify_room(Transport::Peer& to, std::function<void()> room) {
  auto& peer = static_cast<Peer&>(to);
  {
    std::lock_guard lock(network_->mutex_);
    if (peer.outbox_.bytes() > config_.max_pending_bytes / 2 && peer.state() != PeerState::kDown) {
      peer.outbox_.on_room.push_back(std::move(room));
      return;
    }
  }
  room();
}

TransportStats MemoryTransport::stats() const {
  std::lock_guard lock(network_->mutex_);
  TransportStats s = stats_;
  s.links = static_cast<std::uint64_t>(
      std::count_if(peers_.begin(), peers_.end(), [](const auto& p) { return !p.second->connection_.empty(); }));
  return s;
}

}  // namespace pulsing
