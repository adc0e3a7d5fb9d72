#include "messaging/transport.hpp"

#include <poll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <optional>
#include <stdexcept>
#include <utility>

#include <fmt/format.h>
#include <zmq.hpp>

namespace pulsing {

namespace {
using Clock = std::chrono::steady_clock;

// Reads pass over at most this many inbound frames before the I/O thread looks at its other
// duties (sending, monitors): fairness between directions under load.
constexpr int kReadBurst = 256;

// How often a thread too busy to sleep reads its monitor sockets (connection events).
constexpr auto kMonitorInterval = std::chrono::milliseconds(10);

// Whether ZeroMQ holds input for `socket` (ZMQ_EVENTS, which also takes in its pending news).
bool has_input(zmq::socket_t& socket) { return (socket.get(zmq::sockopt::events) & ZMQ_POLLIN) != 0; }

// A frame that owns `bytes` without a copy; once ZeroMQ has sent it, the buffer goes back to
// `buffers`.
zmq::message_t frame_of(std::vector<std::byte>&& bytes, FrameBuffers& buffers) {
  struct Owned {
    std::vector<std::byte> bytes;
    FrameBuffers& buffers;
  };
  auto* owned = new Owned{std::move(bytes), buffers};
  return zmq::message_t(
      owned->bytes.data(), owned->bytes.size(),
      [](void*, void* hint) {
        auto* frame = static_cast<Owned*>(hint);
        frame->buffers.give(std::move(frame->bytes));
        delete frame;
      },
      owned);
}
}  // namespace

// Everything the I/O thread owns.
class Transport::Io {
 public:
  struct Link {
    std::shared_ptr<Peer> peer;
    zmq::socket_t dealer;
    zmq::socket_t monitor;
    int dealer_fd = -1;   // ZMQ_FD: readable when the socket has news
    int monitor_fd = -1;
    Clock::time_point created;
    std::optional<zmq::message_t> unsent;  // a frame ZeroMQ could not take yet
    std::size_t unsent_count = 0;
    std::size_t unsent_unanswered = 0;
  };

  Io(const TransportConfig& config, TransportHandler& handler, FrameBuffers& buffers)
      : config_(config), handler_(handler), buffers_(buffers), router_(context_, zmq::socket_type::router) {
    wake_fd_ = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (wake_fd_ < 0) throw std::runtime_error(fmt::format("eventfd: {}", std::strerror(errno)));
    router_.set(zmq::sockopt::linger, 0);
    router_.set(zmq::sockopt::rcvhwm, config_.queued_frames);
    // A peer's connection is named by its endpoint (its DEALER's routing id); a restarted peer
    // takes its name over from the connection of its earlier run.
    router_.set(zmq::sockopt::router_handover, 1);
    try {
      router_.bind(config_.listen);
    } catch (const zmq::error_t& e) {
      ::close(wake_fd_);
      throw std::runtime_error(fmt::format("cannot listen on {}: {}", config_.listen, e.what()));
    }
    bound_ = router_.get(zmq::sockopt::last_endpoint);
    router_fd_ = router_.get(zmq::sockopt::fd);
  }
  ~Io() { ::close(wake_fd_); }

  const std::string& bound() const { return bound_; }

  void adopt(std::shared_ptr<Peer> peer) {
    std::lock_guard lock(mutex_);
    new_peers_.push_back(std::move(peer));
  }
  void mark_ready(std::shared_ptr<Peer> peer) {
    std::lock_guard lock(mutex_);
    ready_.push_back(std::move(peer));
  }
  void wake() {
    if (sleeping_.load(std::memory_order_seq_cst)) {
      std::uint64_t one = 1;
      [[maybe_unused]] auto n = ::write(wake_fd_, &one, sizeof(one));
    }
  }

  // The routing id this node's DEALERs present: its advertised endpoint.
  void set_identity(std::string identity) { identity_ = std::move(identity); }
  void run(const std::atomic<bool>& stopping);
  // One pass: send what is ready, wait (at most `max_wait`) for input, read it. False when
  // refused: inside a pass already.
  bool pass(std::chrono::milliseconds max_wait);
  bool in_pass() const { return in_pass_; }
  // Sleeps until a socket has news, something is queued to send, or `max_wait` passed.
  void wait(std::chrono::milliseconds max_wait);
  TransportStats stats() const {
    TransportStats s;
    s.frames_sent = frames_sent_.load();
    s.envelopes_sent = envelopes_sent_.load();
    s.frames_received = frames_received_.load();
    s.envelopes_received = envelopes_received_.load();
    s.frames_rejected = frames_rejected_.load();
    s.envelopes_dropped = envelopes_dropped_.load();
    return s;
  }

 private:
  void connect_new_peers();
  void close_all();
  void flush_ready();
  void flush(Link& link);
  bool try_send(Link& link);
  void read_router();
  void read_monitor(Link& link);
  void check_connect_timeouts();
  void peer_down(Link& link, const std::string& why);
  Link* find(const Peer* peer);

  const TransportConfig& config_;
  TransportHandler& handler_;
  FrameBuffers& buffers_;  // outlives the context: frames go back to it until the context closes
  zmq::context_t context_{1};
  zmq::socket_t router_;
  std::string bound_;
  std::string identity_;
  int wake_fd_ = -1;
  std::atomic<bool> sleeping_{false};
  bool paused_ = false;  // reading stopped: the receiver is congested
  bool in_pass_ = false;
  int router_fd_ = -1;
  std::vector<pollfd> pollfds_;
  Clock::time_point monitors_read_;
  int next_monitor_ = 0;

  std::mutex mutex_;
  std::vector<std::shared_ptr<Peer>> new_peers_;  // guarded by mutex_
  std::vector<std::shared_ptr<Peer>> ready_;      // guarded by mutex_
  std::vector<std::unique_ptr<Link>> links_;      // I/O thread only

  std::atomic<std::uint64_t> frames_sent_{0}, envelopes_sent_{0}, frames_received_{0},
      envelopes_received_{0}, frames_rejected_{0}, envelopes_dropped_{0};
};

void Transport::Io::run(const std::atomic<bool>& stopping) {
  handler_.on_io_thread_start();
  while (!stopping.load(std::memory_order_acquire)) {
    pass(std::chrono::milliseconds(100));
    handler_.after_io_pass();
  }
  handler_.on_io_thread_end();
  close_all();
}

bool Transport::Io::pass(std::chrono::milliseconds max_wait) {
  if (in_pass_) return false;
  in_pass_ = true;
  connect_new_peers();
  flush_ready();
  check_connect_timeouts();
  if (paused_ && !handler_.still_congested()) paused_ = false;

  // ZeroMQ's own account (ZMQ_EVENTS) says whether input is waiting; the kernel is asked only
  // when there is nothing to do, so a busy pass costs no poll() at all.
  for (auto& link : links_) {
    if (link->unsent) flush(*link);  // ZeroMQ was full: it may have room now
  }
  bool input = !paused_ && has_input(router_);
  if (!input) wait(max_wait);
  if (!paused_ && (input || has_input(router_))) read_router();
  // Monitor events (connected, disconnected) are also read by the wait when it sleeps; a thread
  // that never sleeps reads them here, every few milliseconds.
  auto now = Clock::now();
  if (now - monitors_read_ > kMonitorInterval) {
    monitors_read_ = now;
    for (std::size_t i = 0; i < links_.size(); ++i) read_monitor(*links_[i]);
  }
  in_pass_ = false;
  return true;
}

void Transport::Io::wait(std::chrono::milliseconds max_wait) {
  // A sender that queues after this store writes the eventfd because it sees `sleeping_`.
  sleeping_.store(true, std::memory_order_seq_cst);
  bool ready_now;
  {
    std::lock_guard lock(mutex_);
    ready_now = !ready_.empty() || !new_peers_.empty();
  }
  if (ready_now) {
    sleeping_.store(false, std::memory_order_seq_cst);
    return;
  }
  // A ZeroMQ socket's descriptor is readable when the socket has news, not necessarily input:
  // what it means is learnt from ZMQ_EVENTS afterwards (has_input, flush, read_monitor).
  auto& fds = pollfds_;
  fds.clear();
  fds.push_back({wake_fd_, POLLIN, 0});
  fds.push_back({paused_ ? -1 : router_fd_, POLLIN, 0});
  for (auto& link : links_) {
    fds.push_back({link->monitor_fd, POLLIN, 0});
    fds.push_back({link->unsent ? link->dealer_fd : -1, POLLIN, 0});
  }
  auto timeout = paused_ ? std::min(max_wait, std::chrono::milliseconds(1)) : max_wait;
  ::poll(fds.data(), fds.size(), static_cast<int>(timeout.count()));
  sleeping_.store(false, std::memory_order_seq_cst);

  if (fds[0].revents & POLLIN) {
    std::uint64_t count;
    [[maybe_unused]] auto n = ::read(wake_fd_, &count, sizeof(count));
  }
  for (std::size_t i = 0; 2 + 2 * i + 1 < fds.size(); ++i) {
    if (fds[2 + 2 * i].revents & POLLIN) read_monitor(*links_[i]);
    if (fds[3 + 2 * i].revents & POLLIN) flush(*links_[i]);
  }
}

void Transport::Io::close_all() {
  // Closed here, by the thread that owns them, and now: peers must see this node's connections
  // go away when it stops, even if the Transport object itself lives on (references held
  // elsewhere). What is queued goes out first (the last replies of a node that shuts down),
  // within the linger time.
  flush_ready();
  for (auto& link : links_) {
    if (link->peer->state() == PeerState::kUp) {
      flush(*link);
      link->dealer.set(zmq::sockopt::linger, static_cast<int>(config_.close_linger.count()));
    }
    zmq_socket_monitor(link->dealer.handle(), nullptr, 0);
    link->monitor.close();
    link->dealer.close();
  }
  links_.clear();
  router_.close();
  context_.close();
}

void Transport::Io::connect_new_peers() {
  std::vector<std::shared_ptr<Peer>> fresh;
  {
    std::lock_guard lock(mutex_);
    fresh.swap(new_peers_);
  }
  for (auto& peer : fresh) {
    auto link = std::make_unique<Link>();
    link->peer = peer;
    link->created = Clock::now();
    link->dealer = zmq::socket_t(context_, zmq::socket_type::dealer);
    link->dealer.set(zmq::sockopt::linger, 0);
    link->dealer.set(zmq::sockopt::routing_id, identity_);
    link->dealer.set(zmq::sockopt::sndhwm, config_.queued_frames);
    link->dealer.set(zmq::sockopt::immediate, 1);  // queue nothing on a connection not yet up
    link->dealer.set(zmq::sockopt::reconnect_ivl, 100);
    link->dealer.set(zmq::sockopt::reconnect_ivl_max, 2'000);
    link->dealer.set(zmq::sockopt::heartbeat_ivl, static_cast<int>(config_.heartbeat_interval.count()));
    link->dealer.set(zmq::sockopt::heartbeat_timeout, static_cast<int>(config_.heartbeat_timeout.count()));
    std::string monitor_address = fmt::format("inproc://pulsing-monitor-{}", next_monitor_++);
    zmq_socket_monitor(link->dealer.handle(), monitor_address.c_str(),
                       ZMQ_EVENT_CONNECTED | ZMQ_EVENT_DISCONNECTED);
    link->monitor = zmq::socket_t(context_, zmq::socket_type::pair);
    link->monitor.set(zmq::sockopt::linger, 0);
    link->monitor.connect(monitor_address);
    link->dealer_fd = link->dealer.get(zmq::sockopt::fd);
    link->monitor_fd = link->monitor.get(zmq::sockopt::fd);
    try {
      link->dealer.connect(peer->endpoint());
    } catch (const zmq::error_t& e) {
      links_.push_back(std::move(link));
      peer_down(*links_.back(), fmt::format("cannot connect to {}: {}", peer->endpoint(), e.what()));
      continue;
    }
    links_.push_back(std::move(link));
  }
}

Transport::Io::Link* Transport::Io::find(const Peer* peer) {
  for (auto& link : links_) {
    if (link->peer.get() == peer) return link.get();
  }
  return nullptr;
}

void Transport::Io::flush_ready() {
  std::vector<std::shared_ptr<Peer>> ready;
  {
    std::lock_guard lock(mutex_);
    ready.swap(ready_);
  }
  for (auto& peer : ready) {
    if (Link* link = find(peer.get())) flush(*link);
  }
}

void Transport::Io::flush(Link& link) {
  Peer& peer = *link.peer;
  while (true) {
    if (link.unsent && !try_send(link)) return;  // ZeroMQ is full: the next pass retries
    Peer::Chunk chunk;
    {
      std::lock_guard lock(peer.mutex_);
      if (peer.pending_.empty()) {
        peer.flagged_ = false;
        return;
      }
      chunk = std::move(peer.pending_.front());
      peer.pending_.pop_front();
      peer.pending_bytes_ -= chunk.bytes.size();
      peer.pending_count_ -= chunk.envelopes;
      peer.pending_unanswered_ -= chunk.unanswered;
    }
    link.unsent.emplace(frame_of(std::move(chunk.bytes), buffers_));
    link.unsent_count = chunk.envelopes;
    link.unsent_unanswered = chunk.unanswered;
  }
}

bool Transport::Io::try_send(Link& link) {
  if (link.peer->state() == PeerState::kDown) return false;
  auto sent = link.dealer.send(*link.unsent, zmq::send_flags::dontwait);
  if (!sent) return false;  // not connected yet, or at the high-water mark
  frames_sent_.fetch_add(1, std::memory_order_relaxed);
  envelopes_sent_.fetch_add(link.unsent_count, std::memory_order_relaxed);
  link.unsent.reset();
  link.unsent_count = 0;
  link.unsent_unanswered = 0;
  return true;
}

void Transport::Io::read_router() {
  for (int i = 0; i < kReadBurst && !paused_; ++i) {
    // A DEALER's frame arrives as [identity][payload].
    zmq::message_t identity;
    if (!router_.recv(identity, zmq::recv_flags::dontwait)) return;
    zmq::message_t frame;
    if (!identity.more() || !router_.recv(frame, zmq::recv_flags::dontwait)) {
      frames_rejected_.fetch_add(1, std::memory_order_relaxed);
      continue;
    }
    frames_received_.fetch_add(1, std::memory_order_relaxed);
    bool extra = frame.more();
    while (frame.more()) {  // not ours: a pulsing peer sends one payload frame
      if (!router_.recv(frame, zmq::recv_flags::dontwait)) break;
    }
    if (extra) {
      frames_rejected_.fetch_add(1, std::memory_order_relaxed);
      continue;
    }
    // A pulsing peer's routing id is its endpoint; ZeroMQ's own ids (of other clients) start with
    // a zero byte and name no endpoint.
    std::string_view sender(static_cast<const char*>(identity.data()), identity.size());
    if (!sender.empty() && sender.front() == '\0') sender = {};
    try {
      decode_frame(
          {static_cast<const std::byte*>(frame.data()), frame.size()},
          [&](const EnvelopeView& envelope) {
            envelopes_received_.fetch_add(1, std::memory_order_relaxed);
            if (handler_.on_envelope(envelope)) paused_ = true;
          },
          config_.limits, sender);
    } catch (const DecodeError&) {
      // Counted; the envelopes before the bad one were delivered. The node stays up.
      frames_rejected_.fetch_add(1, std::memory_order_relaxed);
    }
    if (handler_.after_frame()) paused_ = true;
  }
}

void Transport::Io::read_monitor(Link& link) {
  while (true) {
    zmq::message_t event;
    if (!link.monitor.recv(event, zmq::recv_flags::dontwait)) return;
    zmq::message_t address;
    if (event.more()) (void)link.monitor.recv(address, zmq::recv_flags::dontwait);
    if (event.size() < sizeof(std::uint16_t)) continue;
    std::uint16_t id = 0;
    std::memcpy(&id, event.data(), sizeof(id));
    if (id == ZMQ_EVENT_CONNECTED) {
      link.peer->state_.store(PeerState::kUp, std::memory_order_release);
      flush(link);
    } else if (id == ZMQ_EVENT_DISCONNECTED && link.peer->state() == PeerState::kUp) {
      peer_down(link, fmt::format("lost the connection to {}", link.peer->endpoint()));
    }
  }
}

void Transport::Io::check_connect_timeouts() {
  auto now = Clock::now();
  for (auto& link : links_) {
    if (link->peer->state() == PeerState::kConnecting && now - link->created > config_.connect_timeout) {
      peer_down(*link, fmt::format("could not connect to {} within {} ms", link->peer->endpoint(),
                                   config_.connect_timeout.count()));
    }
  }
}

void Transport::Io::peer_down(Link& link, const std::string& why) {
  Peer& peer = *link.peer;
  peer.state_.store(PeerState::kDown, std::memory_order_release);
  std::size_t dropped = link.unsent_count;
  std::size_t unanswered = link.unsent_unanswered;
  link.unsent.reset();
  link.unsent_count = 0;
  link.unsent_unanswered = 0;
  {
    std::lock_guard lock(peer.mutex_);
    dropped += peer.pending_count_;
    unanswered += peer.pending_unanswered_;
    peer.pending_.clear();
    peer.pending_bytes_ = 0;
    peer.pending_count_ = 0;
    peer.pending_unanswered_ = 0;
    peer.flagged_ = false;
  }
  envelopes_dropped_.fetch_add(dropped, std::memory_order_relaxed);
  handler_.on_peer_down(peer.endpoint(), why, unanswered);
}

// ---------------------------------------------------------------- Transport

Transport::Transport(TransportConfig config, TransportHandler& handler)
    : config_(std::move(config)),
      buffers_(config_.max_frame_bytes, static_cast<std::size_t>(config_.queued_frames)),
      io_(std::make_unique<Io>(config_, handler, buffers_)) {
  endpoint_ = config_.advertise.empty() ? io_->bound() : config_.advertise;
  if (endpoint_.empty() || endpoint_.size() > 255) {
    throw std::runtime_error(fmt::format("the advertised endpoint '{}' must have 1 to 255 characters", endpoint_));
  }
  io_->set_identity(endpoint_);
}

namespace {
// The transport whose I/O thread is the calling thread, if any.
thread_local const Transport* tls_io_of = nullptr;
}  // namespace

bool Transport::pump(std::chrono::milliseconds max_wait) {
  if (stopping_.load(std::memory_order_acquire)) return false;
  return io_->pass(max_wait);
}

void Transport::start() {
  thread_ = std::thread([this] {
    tls_io_of = this;
    io_->run(stopping_);
  });
}

Transport::~Transport() { stop(); }

void Transport::stop() {
  if (stopping_.exchange(true)) return;
  io_->wake();
  // The I/O thread may be in a poll that started before `stopping_`: its timeout bounds this.
  if (thread_.joinable()) thread_.join();
}

std::shared_ptr<Transport::Peer> Transport::peer(const std::string& endpoint) {
  std::lock_guard lock(peers_mutex_);
  auto [it, inserted] = peers_.try_emplace(endpoint);
  if (inserted) {
    it->second = std::make_shared<Peer>(endpoint);
    io_->adopt(it->second);
    io_->wake();
  }
  return it->second;
}

bool Transport::send(Peer& peer, const Envelope& envelope) {
  EncodedEnvelope encoded(envelope);
  std::optional<Clock::time_point> deadline;  // set when it first has to wait
  auto pause = std::chrono::microseconds(20);
  // The I/O thread is the one that makes room: it waits by running I/O passes, and not at all
  // inside a pass (it is delivering input: what it sends there answers what it reads).
  const bool on_io_thread = tls_io_of == this;
  const bool may_wait = !on_io_thread || !io_->in_pass();
  while (true) {
    if (stopping_.load(std::memory_order_acquire) || peer.state() == PeerState::kDown) return false;
    bool queued = false;
    bool first = false;  // the peer had nothing pending: put it on the I/O thread's ready list
    {
      std::lock_guard lock(peer.mutex_);
      if (!may_wait || peer.pending_.empty() ||
          peer.pending_bytes_ + encoded.size() <= config_.max_pending_bytes) {
        if (peer.pending_.empty() || peer.pending_.back().bytes.size() + encoded.size() > config_.max_frame_bytes) {
          peer.pending_.push_back({buffers_.take()});
        }
        auto& chunk = peer.pending_.back();
        std::size_t at = chunk.bytes.size();
        chunk.bytes.resize(at + encoded.size());
        encoded.write_to(chunk.bytes.data() + at);
        ++chunk.envelopes;
        const bool unanswered = !expects_reply(envelope.kind);
        chunk.unanswered += unanswered;
        peer.pending_unanswered_ += unanswered;
        peer.pending_bytes_ += encoded.size();
        ++peer.pending_count_;
        queued = true;
        first = !std::exchange(peer.flagged_, true);
      }
    }
    if (queued) {
      if (first) {
        io_->mark_ready(peer.shared_from_this());
        io_->wake();
      }
      return true;
    }
    if (!deadline) {
      deadline = Clock::now() + config_.send_wait;
    } else if (Clock::now() > *deadline) {
      return false;
    }
    if (on_io_thread) {
      io_->pass(std::chrono::milliseconds(1));
      continue;
    }
    std::this_thread::sleep_for(pause);
    pause = std::min(pause * 2, std::chrono::microseconds(1'000));
  }
}

TransportStats Transport::stats() const { return io_->stats(); }

const std::string& Transport::bound_endpoint() const { return io_->bound(); }

}  // namespace pulsing
