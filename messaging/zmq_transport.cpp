#include "messaging/zmq_transport.hpp"

#include "common/thread_role.hpp"

#include <poll.h>
#include <fcntl.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstring>
#include <functional>
#include <optional>
#include <random>
#include <stdexcept>
#include <utility>

#include <fmt/format.h>
#include <zmq.hpp>

namespace pulsing {

namespace {
using Clock = std::chrono::steady_clock;

// Frames read from one socket per pass. Few: between passes the I/O thread runs the turns its
// input woke and sends their answers, so that a burst of requests in several frames is answered
// frame by frame while the rest is still arriving (pipelined, rather than read whole and then
// answered whole). Frames of one-way traffic are large, so that this costs them little.
constexpr int kReadBurst = 2;

// How often a thread too busy to sleep reads its monitor sockets (connection events).
constexpr auto kMonitorInterval = std::chrono::milliseconds(10);

// How long the I/O thread sleeps at most while something it has to send waits for room in
// ZeroMQ that no descriptor announces (a ROUTER's pipe to one caller).
constexpr auto kRetryInterval = std::chrono::milliseconds(1);

// A duplicate of the I/O thread's eventfd, for lookup threads: they may outlive the transport.
struct WakeFd {
  explicit WakeFd(int descriptor) : fd(descriptor) {}
  ~WakeFd() {
    if (fd >= 0) ::close(fd);
  }
  WakeFd(const WakeFd&) = delete;
  WakeFd& operator=(const WakeFd&) = delete;
  void wake() const {
    std::uint64_t one = 1;
    [[maybe_unused]] auto n = ::write(fd, &one, sizeof(one));
  }
  const int fd;
};

// "tcp://host:port" → host and ":port" ("" and "" when it is not that).
std::pair<std::string, std::string> split_endpoint(const std::string& endpoint) {
  auto colon = endpoint.rfind(':');
  if (!endpoint.starts_with("tcp://") || colon == std::string::npos || colon < 6) return {};
  return {endpoint.substr(6, colon - 6), endpoint.substr(colon)};
}

// Whether ZeroMQ holds input for `socket` (ZMQ_EVENTS, which also takes in its pending news).
bool has_input(zmq::socket_t& socket) { return (socket.get(zmq::sockopt::events) & ZMQ_POLLIN) != 0; }

// A frame that owns `bytes` without a copy; once ZeroMQ has sent it, the buffer goes back to
// `buffers`.
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

// A PAIR socket that receives `socket`'s monitor events (`events`), over inproc `address`.
zmq::socket_t open_monitor(zmq::context_t& context, zmq::socket_t& socket, int events, const std::string& address) {
  zmq_socket_monitor(socket.handle(), address.c_str(), events);
  zmq::socket_t monitor(context, zmq::socket_type::pair);
  monitor.set(zmq::sockopt::linger, 0);
  monitor.connect(address);
  return monitor;
}

// One monitor event: its id and value (for connection events, the connection's descriptor).
struct MonitorEvent {
  std::uint16_t id = 0;
  std::uint32_t value = 0;
};
// The next event of `monitor`, if one is waiting.
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


}  // namespace

class ZmqTransport::Io {
 public:
  // Our connection to a peer: our requests go out on it, their answers come back.
  struct Link {
    std::shared_ptr<Peer> peer;
    zmq::socket_t dealer;
    zmq::socket_t monitor;
    int dealer_fd = -1;   // ZMQ_FD: readable when the socket has news
    int monitor_fd = -1;
    Clock::time_point created;
    Clock::time_point down_since;  // when it last went down (kDown)
    // For a peer named by a host name: the numeric endpoint ZeroMQ connects to ("" until a
    // lookup answered), the lookup under way, and when to look again while the peer is down.
    bool named = false;
    std::string connected_to;
    std::shared_ptr<HostLookup> lookup;
    Clock::time_point next_lookup;
    bool news = false;    // the descriptor said so: input (or room) may be waiting
    bool sent = false;    // sent since it last looked for input (see try_send)
    std::optional<zmq::message_t> unsent;  // a frame ZeroMQ could not take yet
    std::size_t unsent_count = 0;
    std::size_t unsent_unanswered = 0;
  };
  // A peer's connection to us: its requests come in on it, our answers go back.
  struct Caller {
    std::shared_ptr<Peer> peer;
    int fd = -1;  // the connection's descriptor (ZMQ_SRCFD), to match its disconnection
    std::optional<zmq::message_t> unsent;
    std::size_t unsent_count = 0;
    bool blocked = false;  // ZeroMQ refused `unsent` for now (its pipe to the caller is full)
  };

  Io(const TransportConfig& config, TransportHandler& handler, FrameBuffers& buffers, ZmqTransport& owner)
      : config_(config),
        handler_(handler),
        buffers_(buffers),
        owner_(owner),
        router_(context_, zmq::socket_type::router) {
    wake_fd_ = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (wake_fd_ < 0) throw std::runtime_error(fmt::format("eventfd: {}", std::strerror(errno)));
    lookup_waker_ = std::make_shared<WakeFd>(::fcntl(wake_fd_, F_DUPFD_CLOEXEC, 0));
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
    try {
      router_.bind(config_.listen);
    } catch (const zmq::error_t& e) {
      ::close(wake_fd_);
      throw std::runtime_error(fmt::format("cannot listen on {}: {}", config_.listen, e.what()));
    }
    bound_ = router_.get(zmq::sockopt::last_endpoint);
    router_fd_ = router_.get(zmq::sockopt::fd);
    router_monitor_ = open_monitor(context_, router_, ZMQ_EVENT_DISCONNECTED, "inproc://pulsing-monitor-router");
    router_monitor_fd_ = router_monitor_.get(zmq::sockopt::fd);
  }
  ~Io() { ::close(wake_fd_); }

  const std::string& bound() const { return bound_; }

  // The routing id this node's DEALERs present (Transport::identity()).
  void set_identity(std::string identity) { identity_ = std::move(identity); }

  void adopt(std::shared_ptr<Peer> peer) {
    std::lock_guard lock(mutex_);
    new_peers_.push_back(std::move(peer));
  }
  void close_peer(std::string endpoint, std::string why) {
    std::lock_guard lock(mutex_);
    to_close_.emplace_back(std::move(endpoint), std::move(why));
  }
  std::size_t links() const { return links_open_.load(std::memory_order_relaxed); }
  // `peer` has requests (or answers) pending.
  void mark_ready(std::shared_ptr<Peer> peer, bool answers) {
    std::lock_guard lock(mutex_);
    (answers ? ready_answers_ : ready_).push_back(std::move(peer));
  }
  void wake() {
    if (sleeping_.load(std::memory_order_seq_cst)) {
      std::uint64_t one = 1;
      [[maybe_unused]] auto n = ::write(wake_fd_, &one, sizeof(one));
    }
  }

  void run(const std::atomic<bool>& stopping);
  // One pass: send what is ready, wait (at most `max_wait`) for input, read it. False when
  // refused: inside a pass already.
  bool pass(std::chrono::milliseconds max_wait);
  bool in_pass() const { return in_pass_; }
  void count_refused() { envelopes_refused_.fetch_add(1, std::memory_order_relaxed); }
  TransportStats stats() const {
    TransportStats s;
    s.frames_sent = frames_sent_.load();
    s.envelopes_sent = envelopes_sent_.load();
    s.frames_received = frames_received_.load();
    s.envelopes_received = envelopes_received_.load();
    s.frames_rejected = frames_rejected_.load();
    s.envelopes_dropped = envelopes_dropped_.load();
    s.envelopes_refused = envelopes_refused_.load();
    s.links = links_open_.load();
    s.connections = connections_.load();
    s.connections_lost = connections_lost_.load();
    return s;
  }

 private:
  // Sleeps until a socket has news, something is queued to send, or `max_wait` passed (0: only
  // looks).
  void wait(std::chrono::milliseconds max_wait);
  void connect_new_peers();
  // Closes the links close_peer() asked for, and those down and idle past close_down_after.
  void close_links();
  void close_link(std::size_t index, const std::string& why);
  void close_all();
  void flush_ready();
  void flush(Link& link);
  bool try_send(Link& link);
  void flush_answers(Peer& peer);
  bool try_send(Caller& caller);
  void read_router();
  void read_dealer(Link& link);
  // Hands the envelopes of `frame`, from the node at `sender` ("" when unknown), to the handler.
  void deliver(const zmq::message_t& frame, std::string_view sender);
  void read_monitor(Link& link);
  void read_router_monitor();
  void read_monitors();
  void check_connect_timeouts();
  // Connects a new link: at once to a numeric address, else once a lookup found one.
  void connect(Link& link);
  void start_lookup(Link& link);
  // Connects links whose lookup answered; looks again for peers that are down.
  void update_lookups();
  void peer_down(Link& link, const std::string& why);
  void caller_gone(const std::string& endpoint);
  Caller& caller(std::string_view identity);
  // Records that `identity`'s frames come on descriptor `fd` (ZMQ_SRCFD): its disconnection
  // ends the caller.
  void bind_caller(std::string_view identity, int fd);
  Link* find(const Peer* peer);
  // Some caller's answers wait for room that no descriptor announces.
  bool waiting_to_send() const { return blocked_callers_ > 0; }

  const TransportConfig& config_;
  TransportHandler& handler_;
  FrameBuffers& buffers_;  // outlives the context: frames go back to it until the context closes
  ZmqTransport& owner_;
  zmq::context_t context_{1};
  zmq::socket_t router_;
  zmq::socket_t router_monitor_;
  std::string bound_;
  std::string identity_;
  std::uint32_t next_routing_id_ = 0;  // the number the next DEALER adds to identity_
  int wake_fd_ = -1;
  std::shared_ptr<WakeFd> lookup_waker_;
  std::size_t named_links_ = 0;  // links to peers named by host name (I/O thread only)
  std::atomic<std::size_t> links_open_{0};  // links_.size(), for stats()
  std::atomic<bool> sleeping_{false};
  bool in_pass_ = false;
  int router_fd_ = -1;
  int router_monitor_fd_ = -1;
  std::vector<pollfd> pollfds_;
  Clock::time_point monitors_read_;
  int next_monitor_ = 0;

  std::mutex mutex_;
  std::vector<std::shared_ptr<Peer>> new_peers_;      // guarded by mutex_
  std::vector<std::pair<std::string, std::string>> to_close_;  // guarded by mutex_: endpoint, why
  std::vector<std::shared_ptr<Peer>> ready_;          // guarded by mutex_
  std::vector<std::shared_ptr<Peer>> ready_answers_;  // guarded by mutex_
  std::vector<std::unique_ptr<Link>> links_;          // I/O thread only
  std::unordered_map<std::string, Caller> callers_;   // I/O thread only: by endpoint
  std::unordered_map<int, std::string> caller_fds_;   // I/O thread only: descriptor -> endpoint
  Caller* last_caller_ = nullptr;                     // I/O thread only: caller()'s cache
  std::size_t blocked_callers_ = 0;                   // I/O thread only

  std::atomic<std::uint64_t> frames_sent_{0}, envelopes_sent_{0}, frames_received_{0},
      envelopes_received_{0}, frames_rejected_{0}, envelopes_dropped_{0}, envelopes_refused_{0}, connections_{0},
      connections_lost_{0};
};

void ZmqTransport::Io::run(const std::atomic<bool>& stopping) {
  handler_.on_io_thread_start();
  while (!stopping.load(std::memory_order_acquire)) {
    pass(std::chrono::milliseconds(100));
    handler_.after_io_pass();
  }
  handler_.on_io_thread_end();
  close_all();
}

bool ZmqTransport::Io::pass(std::chrono::milliseconds max_wait) {
  if (in_pass_) return false;
  in_pass_ = true;
  connect_new_peers();
  close_links();
  update_lookups();
  flush_ready();
  check_connect_timeouts();

  // ZeroMQ's own account (ZMQ_EVENTS) says whether input is waiting on the ROUTER; the kernel is
  // asked only when there is nothing to do, or (once, without waiting) about the DEALERs when
  // the ROUTER keeps the thread busy.
  for (auto& link : links_) {
    if (link->unsent) flush(*link);  // ZeroMQ was full: it may have room now
  }
  if (waiting_to_send()) {
    std::vector<std::shared_ptr<Peer>> retry;  // flush_answers may end a caller
    for (auto& [endpoint, caller] : callers_) {
      if (caller.blocked) retry.push_back(caller.peer);
    }
    for (auto& peer : retry) flush_answers(*peer);
  }
  bool input = has_input(router_);
  bool news = false;
  for (auto& link : links_) {
    if (std::exchange(link->sent, false) && has_input(link->dealer)) link->news = true;
    news |= link->news;
  }
  if (!input && !news) {
    wait(max_wait);
  } else if (input && !links_.empty()) {
    wait(std::chrono::milliseconds(0));  // the ROUTER keeps the thread busy: look at the DEALERs
  }
  if (input || has_input(router_)) read_router();
  for (std::size_t i = 0; i < links_.size(); ++i) {
    if (links_[i]->news) read_dealer(*links_[i]);
  }
  // Monitor events (connected, disconnected) are also read by the wait when it sleeps; a thread
  // that never sleeps reads them here, every few milliseconds.
  auto now = Clock::now();
  if (now - monitors_read_ > kMonitorInterval) {
    monitors_read_ = now;
    read_monitors();
  }
  in_pass_ = false;
  return true;
}

void ZmqTransport::Io::wait(std::chrono::milliseconds max_wait) {
  if (max_wait.count() > 0) {
    // A sender that queues after this store writes the eventfd because it sees `sleeping_`.
    sleeping_.store(true, std::memory_order_seq_cst);
    bool ready_now;
    {
      std::lock_guard lock(mutex_);
      ready_now = !ready_.empty() || !ready_answers_.empty() || !new_peers_.empty();
    }
    if (ready_now) {
      sleeping_.store(false, std::memory_order_seq_cst);
      return;
    }
  }
  // A ZeroMQ socket's descriptor is readable when the socket has news, not necessarily input:
  // what it means is learnt from ZMQ_EVENTS afterwards (has_input, flush, read_monitor).
  auto& fds = pollfds_;
  fds.clear();
  fds.push_back({wake_fd_, POLLIN, 0});
  fds.push_back({router_fd_, POLLIN, 0});
  fds.push_back({router_monitor_fd_, POLLIN, 0});
  constexpr std::size_t kFixed = 3;
  for (auto& link : links_) {
    fds.push_back({link->monitor_fd, POLLIN, 0});
    fds.push_back({link->dealer_fd, POLLIN, 0});
  }
  auto timeout = max_wait;
  if (waiting_to_send()) timeout = std::min(timeout, kRetryInterval);
  ::poll(fds.data(), fds.size(), static_cast<int>(timeout.count()));
  sleeping_.store(false, std::memory_order_seq_cst);

  if (fds[0].revents & POLLIN) {
    std::uint64_t count;
    [[maybe_unused]] auto n = ::read(wake_fd_, &count, sizeof(count));
  }
  if (fds[2].revents & POLLIN) read_router_monitor();
  for (std::size_t i = 0; kFixed + 2 * i + 1 < fds.size(); ++i) {
    if (fds[kFixed + 2 * i].revents & POLLIN) read_monitor(*links_[i]);
    if (fds[kFixed + 2 * i + 1].revents & POLLIN) {
      links_[i]->news = true;
      if (links_[i]->unsent) flush(*links_[i]);
    }
  }
}

void ZmqTransport::Io::close_all() {
  // Closed here, by the thread that owns them, and now: peers must see this node's connections
  // go away when it stops, even if the Transport object itself lives on (references held
  // elsewhere). What is queued goes out first (the last answers of a node that shuts down),
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
  links_open_.store(0, std::memory_order_relaxed);
  last_caller_ = nullptr;
  callers_.clear();
  zmq_socket_monitor(router_.handle(), nullptr, 0);
  router_monitor_.close();
  router_.set(zmq::sockopt::linger, static_cast<int>(config_.close_linger.count()));
  router_.close();
  context_.close();
}

void ZmqTransport::Io::connect_new_peers() {
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
    link->dealer.set(zmq::sockopt::routing_id, fmt::format("{}.{:x}", identity_, next_routing_id_++));
    link->dealer.set(zmq::sockopt::sndhwm, config_.queued_frames);
    link->dealer.set(zmq::sockopt::rcvhwm, config_.queued_frames);
    link->dealer.set(zmq::sockopt::maxmsgsize, static_cast<std::int64_t>(config_.limits.frame_limit_bytes()));
    link->dealer.set(zmq::sockopt::immediate, 1);  // queue nothing on a connection not yet up
    link->dealer.set(zmq::sockopt::reconnect_ivl, 100);
    link->dealer.set(zmq::sockopt::reconnect_ivl_max, 2'000);
    link->dealer.set(zmq::sockopt::heartbeat_ivl, static_cast<int>(config_.heartbeat_interval.count()));
    link->dealer.set(zmq::sockopt::heartbeat_timeout, static_cast<int>(config_.heartbeat_timeout.count()));
    link->monitor = open_monitor(context_, link->dealer, ZMQ_EVENT_CONNECTED | ZMQ_EVENT_DISCONNECTED,
                                 fmt::format("inproc://pulsing-monitor-{}", next_monitor_++));
    link->dealer_fd = link->dealer.get(zmq::sockopt::fd);
    link->monitor_fd = link->monitor.get(zmq::sockopt::fd);
    connections_.fetch_add(1, std::memory_order_relaxed);
    links_.push_back(std::move(link));
    links_open_.store(links_.size(), std::memory_order_relaxed);
    connect(*links_.back());
  }
}

void ZmqTransport::Io::connect(Link& link) {
  const std::string& endpoint = link.peer->endpoint();
  const std::string host = split_endpoint(endpoint).first;
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

void ZmqTransport::Io::start_lookup(Link& link) {
  link.lookup = HostLookup::start(split_endpoint(link.peer->endpoint()).first, config_.lookup,
                                  [waker = lookup_waker_] { waker->wake(); });
  link.next_lookup = Clock::now() + config_.lookup_interval;
}

void ZmqTransport::Io::update_lookups() {
  if (named_links_ == 0) return;
  const auto now = Clock::now();
  for (auto& owned : links_) {
    Link& link = *owned;
    if (link.lookup && link.lookup->done()) {
      auto lookup = std::move(link.lookup);
      std::string address = lookup->address();
      if (address.empty()) {
        if (link.peer->state() == PeerState::kConnecting) {
          peer_down(link, fmt::format("cannot resolve {}: {}", lookup->host(), lookup->error()));
        }
        continue;
      }
      std::string numeric = "tcp://" + address + split_endpoint(link.peer->endpoint()).second;
      if (numeric == link.connected_to) continue;
      try {
        if (!link.connected_to.empty()) link.dealer.disconnect(link.connected_to);
        link.dealer.connect(numeric);
        link.connected_to = numeric;
      } catch (const zmq::error_t& e) {
        if (link.peer->state() == PeerState::kConnecting) {
          peer_down(link, fmt::format("cannot connect to {} ({}): {}", link.peer->endpoint(), numeric, e.what()));
        }
      }
    } else if (link.named && !link.lookup && link.peer->state() == PeerState::kDown && now >= link.next_lookup) {
      start_lookup(link);  // it may be back elsewhere
    }
  }
}

ZmqTransport::Io::Link* ZmqTransport::Io::find(const Peer* peer) {
  for (auto& link : links_) {
    if (link->peer.get() == peer) return link.get();
  }
  return nullptr;
}

void ZmqTransport::Io::flush_ready() {
  std::vector<std::shared_ptr<Peer>> ready, answers;
  {
    std::lock_guard lock(mutex_);
    ready.swap(ready_);
    answers.swap(ready_answers_);
  }
  for (auto& peer : ready) {
    if (Link* link = find(peer.get())) flush(*link);
  }
  for (auto& peer : answers) flush_answers(*peer);
}

void ZmqTransport::Io::flush(Link& link) {
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
    link.unsent.emplace(frame_of(std::move(chunk->bytes), buffers_));
    link.unsent_count = chunk->envelopes;
    link.unsent_unanswered = chunk->unanswered;
  }
}

bool ZmqTransport::Io::try_send(Link& link) {
  if (link.peer->state() == PeerState::kDown) return false;
  // Sending may take in the socket's news (an answer arrived) and so leave its descriptor
  // quiet: the next pass looks (ZMQ_EVENTS) for input.
  link.sent = true;
  auto sent = link.dealer.send(*link.unsent, zmq::send_flags::dontwait);
  if (!sent) return false;  // not connected yet, or at the high-water mark
  // ZeroMQ takes frames only on a completed connection (ZMQ_IMMEDIATE): it is up, whether or
  // not its monitor has said so yet.
  if (link.peer->state() == PeerState::kConnecting) link.peer->set_state(PeerState::kUp);
  frames_sent_.fetch_add(1, std::memory_order_relaxed);
  envelopes_sent_.fetch_add(link.unsent_count, std::memory_order_relaxed);
  link.unsent.reset();
  link.unsent_count = 0;
  link.unsent_unanswered = 0;
  return true;
}

void ZmqTransport::Io::flush_answers(Peer& peer) {
  auto it = callers_.find(peer.endpoint());
  if (it == callers_.end() || it->second.peer.get() != &peer) {
    // Its connection closed (or never was; or this is an earlier connection's peer): the answers
    // cannot be delivered.
    std::size_t dropped;
    {
      std::lock_guard lock(peer.mutex_);
      dropped = peer.answers_.clear().first;
    }
    envelopes_dropped_.fetch_add(dropped, std::memory_order_relaxed);
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
    caller.unsent.emplace(frame_of(std::move(chunk->bytes), buffers_));
    caller.unsent_count = chunk->envelopes;
  }
}

bool ZmqTransport::Io::try_send(Caller& caller) {
  const std::string& endpoint = caller.peer->endpoint();
  try {
    if (!router_.send(zmq::buffer(endpoint), zmq::send_flags::sndmore | zmq::send_flags::dontwait)) {
      blocked_callers_ += !std::exchange(caller.blocked, true);  // its pipe is full
      return false;
    }
    (void)router_.send(*caller.unsent, zmq::send_flags::dontwait);
  } catch (const zmq::error_t& e) {
    if (e.num() != EHOSTUNREACH) throw;
    caller_gone(endpoint);  // erases `caller`
    return false;
  }
  frames_sent_.fetch_add(1, std::memory_order_relaxed);
  envelopes_sent_.fetch_add(caller.unsent_count, std::memory_order_relaxed);
  caller.unsent.reset();
  caller.unsent_count = 0;
  blocked_callers_ -= std::exchange(caller.blocked, false);
  return true;
}

ZmqTransport::Io::Caller& ZmqTransport::Io::caller(std::string_view identity) {
  if (last_caller_ != nullptr && last_caller_->peer->endpoint() == identity) return *last_caller_;
  auto it = callers_.find(std::string(identity));
  if (it == callers_.end()) {
    std::string name(identity);
    it = callers_.emplace(name, Caller{owner_.own_caller(name)}).first;
  }
  last_caller_ = &it->second;
  return it->second;
}

void ZmqTransport::Io::read_router() {
  for (int i = 0; i < kReadBurst; ++i) {
    // A DEALER's frame arrives as [identity][payload].
    zmq::message_t identity;
    if (!router_.recv(identity, zmq::recv_flags::dontwait)) return;
    zmq::message_t frame;
    if (!identity.more() || !router_.recv(frame, zmq::recv_flags::dontwait)) {
      frames_rejected_.fetch_add(1, std::memory_order_relaxed);
      continue;
    }
    bool extra = frame.more();
    while (frame.more()) {  // not ours: a pulsing peer sends one payload frame
      if (!router_.recv(frame, zmq::recv_flags::dontwait)) break;
    }
    if (extra) {
      frames_received_.fetch_add(1, std::memory_order_relaxed);
      frames_rejected_.fetch_add(1, std::memory_order_relaxed);
      continue;
    }
    // A pulsing peer's routing id is its endpoint; ZeroMQ's own ids (of other clients) start with
    // a zero byte and name no endpoint.
    std::string_view sender(static_cast<const char*>(identity.data()), identity.size());
    if (!sender.empty() && sender.front() == '\0') sender = {};
    if (!sender.empty()) bind_caller(sender, frame.get(ZMQ_SRCFD));
    deliver(frame, sender);
  }
}

void ZmqTransport::Io::bind_caller(std::string_view identity, int fd) {
  // Known on this descriptor already: no connection presents another's routing id, so this is
  // the same connection (the common case: one look at a cached pointer per frame).
  if (last_caller_ != nullptr && last_caller_->fd == fd && last_caller_->peer->endpoint() == identity) return;
  // A descriptor is closed only after its connection's disconnection was reported, and the
  // connection that reuses it sends nothing before it is accepted: so the report about an
  // earlier connection on `fd` is waiting on the monitor now. Read it before `fd` is bound to
  // this frame's caller, or it would end the wrong one (or this one, reconnected on the same
  // descriptor).
  read_router_monitor();
  Caller& from = caller(identity);
  if (fd == from.fd) return;
  if (from.fd >= 0) caller_fds_.erase(from.fd);
  from.fd = fd;
  if (fd >= 0) caller_fds_[fd] = from.peer->endpoint();
}

void ZmqTransport::Io::read_dealer(Link& link) {
  // Its descriptor announced news: drain it, and look (ZMQ_EVENTS) whether more came meanwhile.
  for (int i = 0; i < kReadBurst; ++i) {
    zmq::message_t frame;
    if (!link.dealer.recv(frame, zmq::recv_flags::dontwait)) {
      if (has_input(link.dealer)) continue;
      link.news = false;
      return;
    }
    bool extra = frame.more();
    while (frame.more()) {
      if (!link.dealer.recv(frame, zmq::recv_flags::dontwait)) break;
    }
    if (extra) {
      frames_received_.fetch_add(1, std::memory_order_relaxed);
      frames_rejected_.fetch_add(1, std::memory_order_relaxed);
      continue;
    }
    deliver(frame, link.peer->endpoint());
  }
  // A burst's worth: `news` stays set, and the next pass goes on.
}

void ZmqTransport::Io::deliver(const zmq::message_t& frame, std::string_view sender) {
  frames_received_.fetch_add(1, std::memory_order_relaxed);
  try {
    decode_frame(
        {static_cast<const std::byte*>(frame.data()), frame.size()},
        [&](const EnvelopeView& envelope) {
          envelopes_received_.fetch_add(1, std::memory_order_relaxed);
          handler_.on_envelope(envelope);
        },
        config_.limits, sender);
  } catch (const DecodeError&) {
    // Counted; the envelopes before the bad one were delivered. The node stays up.
    frames_rejected_.fetch_add(1, std::memory_order_relaxed);
  }
  handler_.after_frame();
}

void ZmqTransport::Io::read_monitors() {
  read_router_monitor();
  for (std::size_t i = 0; i < links_.size(); ++i) read_monitor(*links_[i]);
}

void ZmqTransport::Io::read_monitor(Link& link) {
  while (auto event = next_event(link.monitor)) {
    if (event->id == ZMQ_EVENT_CONNECTED) {
      PeerState was = link.peer->exchange_state(PeerState::kUp);
      flush(link);
      if (was == PeerState::kDown) handler_.on_peer_up(link.peer->endpoint());
    } else if (event->id == ZMQ_EVENT_DISCONNECTED && link.peer->state() == PeerState::kUp) {
      // What arrived on the connection before it closed is answered first: an answer that came
      // is delivered, not failed as unreachable.
      while (link.news || has_input(link.dealer)) {
        link.news = true;
        read_dealer(link);
      }
      peer_down(link, fmt::format("lost the connection to {}", link.peer->endpoint()));
    }
  }
}

void ZmqTransport::Io::read_router_monitor() {
  while (auto event = next_event(router_monitor_)) {
    if (event->id != ZMQ_EVENT_DISCONNECTED) continue;
    auto it = caller_fds_.find(static_cast<int>(event->value));
    if (it == caller_fds_.end()) continue;  // a connection that never called, or an earlier one
    std::string endpoint = it->second;
    caller_gone(endpoint);
  }
}

void ZmqTransport::Io::close_links() {
  std::vector<std::pair<std::string, std::string>> asked;
  {
    std::lock_guard lock(mutex_);
    asked.swap(to_close_);
  }
  for (auto& [endpoint, why] : asked) {
    for (std::size_t i = 0; i < links_.size(); ++i) {
      if (links_[i]->peer->endpoint() == endpoint) {
        close_link(i, why);
        break;
      }
    }
  }
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

void ZmqTransport::Io::close_link(std::size_t index, const std::string& why) {
  Link& link = *links_[index];
  Peer& peer = *link.peer;
  if (peer.state() != PeerState::kDown) peer_down(link, fmt::format("connection to {} closed: {}", peer.endpoint(), why));
  zmq_socket_monitor(link.dealer.handle(), nullptr, 0);
  link.monitor.close();
  link.dealer.close();
  named_links_ -= link.named ? 1 : 0;
  {
    // As a peer never called: the next request connects anew.
    std::lock_guard lock(peer.mutex_);
    peer.connecting_ = false;
    peer.set_state(PeerState::kConnecting);
  }
  links_.erase(links_.begin() + static_cast<std::ptrdiff_t>(index));
  links_open_.store(links_.size(), std::memory_order_relaxed);
}

void ZmqTransport::Io::check_connect_timeouts() {
  auto now = Clock::now();
  for (auto& link : links_) {
    if (link->peer->state() == PeerState::kConnecting && now - link->created > config_.connect_timeout) {
      peer_down(*link, fmt::format("could not connect to {} within {} ms", link->peer->endpoint(),
                                   config_.connect_timeout.count()));
    }
  }
}

void ZmqTransport::Io::peer_down(Link& link, const std::string& why) {
  Peer& peer = *link.peer;
  link.down_since = Clock::now();
  if (peer.exchange_state(PeerState::kDown) == PeerState::kUp) {
    connections_lost_.fetch_add(1, std::memory_order_relaxed);
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
  envelopes_dropped_.fetch_add(dropped, std::memory_order_relaxed);
  handler_.on_peer_down(peer.endpoint(), why, unanswered);
}

void ZmqTransport::Io::caller_gone(const std::string& endpoint) {
  auto it = callers_.find(endpoint);
  if (it == callers_.end()) return;
  Caller& caller = it->second;
  std::size_t dropped = caller.unsent_count;
  {
    std::lock_guard lock(caller.peer->mutex_);
    dropped += caller.peer->answers_.clear().first;
  }
  envelopes_dropped_.fetch_add(dropped, std::memory_order_relaxed);
  if (caller.fd >= 0) caller_fds_.erase(caller.fd);
  if (last_caller_ == &caller) last_caller_ = nullptr;
  blocked_callers_ -= caller.blocked;
  std::string name = endpoint;  // `endpoint` may be the erased entry's
  owner_.forget_caller(*caller.peer);
  callers_.erase(it);
  handler_.on_caller_gone(name);
}

// ---------------------------------------------------------------- Transport

ZmqTransport::ZmqTransport(TransportConfig config, TransportHandler& handler)
    : config_(std::move(config)),
      buffers_(config_.max_frame_bytes, static_cast<std::size_t>(config_.queued_frames)),
      io_(std::make_unique<Io>(config_, handler, buffers_, *this)) {
  if (config_.advertise.empty() && is_wildcard_host(split_endpoint(io_->bound()).first)) {
    throw std::runtime_error(fmt::format(
        "listening on {} (every interface) gives other nodes no address to reach this one at: "
        "advertise one they can reach (NodeConfig::advertise; pulsing node --advertise HOST:PORT)",
        config_.listen));
  }
  endpoint_ = config_.advertise.empty() ? io_->bound() : config_.advertise;
  if (endpoint_.empty() || endpoint_.size() > kMaxEndpoint) {
    throw std::runtime_error(
        fmt::format("the advertised endpoint '{}' must have 1 to {} characters", endpoint_, kMaxEndpoint));
  }
  std::random_device entropy;
  std::uint64_t nonce = (std::uint64_t{entropy()} << 32) | entropy();
  identity_ = fmt::format("{}#{:016x}", endpoint_, nonce);
  io_->set_identity(identity_);
}

std::shared_ptr<Transport::Peer> ZmqTransport::caller(std::string_view identity) { return own_caller(identity); }

std::shared_ptr<ZmqTransport::Peer> ZmqTransport::own_caller(std::string_view identity) {
  std::lock_guard lock(peers_mutex_);
  auto [it, inserted] = callers_.try_emplace(std::string(identity));
  if (inserted) it->second = std::make_shared<Peer>(it->first);
  return it->second;
}

void ZmqTransport::forget_caller(const Peer& peer) {
  std::lock_guard lock(peers_mutex_);
  auto it = callers_.find(peer.endpoint());
  if (it != callers_.end() && it->second.get() == &peer) callers_.erase(it);
}

namespace {
// The transport whose I/O thread is the calling thread, if any.
thread_local const ZmqTransport* tls_io_of = nullptr;
}  // namespace

bool ZmqTransport::pump(std::chrono::milliseconds max_wait) {
  if (stopping_.load(std::memory_order_acquire)) return false;
  return io_->pass(max_wait);
}

void ZmqTransport::start() {
  thread_ = std::thread([this] {
    tls_io_of = this;
    mark_runtime_thread();
    io_->run(stopping_);
  });
}

ZmqTransport::~ZmqTransport() { stop(); }

void ZmqTransport::stop() {
  if (stopping_.exchange(true)) return;
  io_->wake();
  // The I/O thread may be in a poll that started before `stopping_`: its timeout bounds this.
  if (thread_.joinable()) thread_.join();
}

std::shared_ptr<Transport::Peer> ZmqTransport::peer(const std::string& endpoint) {
  std::lock_guard lock(peers_mutex_);
  auto [it, inserted] = peers_.try_emplace(endpoint);
  if (inserted) it->second = std::make_shared<Peer>(endpoint);
  return it->second;
}

SendResult ZmqTransport::send(Transport::Peer& to, const Envelope& envelope, Clock::time_point wait_until) {
  auto& peer = static_cast<Peer&>(to);  // every peer of this transport is one of its own
  EncodedEnvelope encoded(envelope);
  const bool answer = travels_back(envelope.kind);
  auto pause = std::chrono::microseconds(20);
  // The I/O thread makes room: it waits by running I/O passes, and not at all inside a pass.
  const bool on_io_thread = tls_io_of == this;
  const bool may_wait = !on_io_thread || !io_->in_pass();
  while (true) {
    if (stopping_.load(std::memory_order_acquire) || (!answer && peer.state() == PeerState::kDown)) {
      return SendResult::kDown;
    }
    bool first = false;    // nothing was pending: put the peer on the I/O thread's ready list
    bool connect = false;  // its first request: the I/O thread opens the connection
    Outbox::Admission admission;
    {
      std::lock_guard lock(peer.mutex_);
      auto& box = answer ? peer.answers_ : peer.requests_;
      admission = box.admit(envelope.kind, encoded.size(), config_.max_pending_bytes,
                            may_wait && Clock::now() < wait_until);
      if (admission == Outbox::Admission::kRefuse) {
        io_->count_refused();
        return SendResult::kFull;
      }
      if (admission != Outbox::Admission::kWait) {
        box.append(encoded, envelope.kind, {config_.max_frame_bytes, config_.max_awaited_frame_bytes}, buffers_);
        first = !std::exchange(box.flagged, true);
        connect = !answer && !std::exchange(peer.connecting_, true);
      }
    }
    if (admission != Outbox::Admission::kWait) {
      auto self = std::static_pointer_cast<Peer>(peer.shared_from_this());
      if (connect) io_->adopt(self);
      if (first) io_->mark_ready(self, answer);
      if (first || connect) io_->wake();
      return admission == Outbox::Admission::kCongested ? SendResult::kCongested : SendResult::kQueued;
    }
    // Past the bound, and this sender may wait: for room, until its deadline.
    if (on_io_thread) {
      io_->pass(std::chrono::milliseconds(1));
      continue;
    }
    std::this_thread::sleep_for(pause);
    pause = std::min(pause * 2, std::chrono::microseconds(1'000));
  }
}

void ZmqTransport::close_peer(const std::string& endpoint, const std::string& why) {
  io_->close_peer(endpoint, why);
  io_->wake();
}

void ZmqTransport::notify_room(Transport::Peer& to, std::function<void()> room) {
  auto& peer = static_cast<Peer&>(to);
  {
    std::lock_guard lock(peer.mutex_);
    if (peer.requests_.bytes() > config_.max_pending_bytes / 2 && peer.state() != PeerState::kDown) {
      peer.requests_.on_room.push_back(std::move(room));
      return;
    }
  }
  room();
}

TransportStats ZmqTransport::stats() const { return io_->stats(); }

const std::string& ZmqTransport::bound_endpoint() const { return io_->bound(); }

}  // namespace pulsing
