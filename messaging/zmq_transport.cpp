#include "messaging/zmq_transport.hpp"

#include "common/thread_role.hpp"

#include <poll.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <functional>
#include <random>
#include <span>
#include <stdexcept>
#include <utility>
#include <vector>

#include <fmt/format.h>
#include <zmq.hpp>

#include "messaging/host_lookup.hpp"
#include "messaging/wake_fd.hpp"
#include "messaging/zap_handler.hpp"
#include "messaging/zmq_callers.hpp"
#include "messaging/zmq_counters.hpp"
#include "messaging/zmq_inbound.hpp"
#include "messaging/zmq_links.hpp"
#include "messaging/zmq_sockets.hpp"

namespace pulsing {

namespace {
using Clock = std::chrono::steady_clock;

// How long a busy I/O thread (one that reads frames on every pass) may go without looking at
// the descriptors of its other sockets: their news waits at most this long.
constexpr auto kBusyLookInterval = std::chrono::microseconds(100);

// How long the I/O thread sleeps at most while something it has to send waits for room in
// ZeroMQ that no descriptor announces (a ROUTER's pipe to one caller).
constexpr auto kRetryInterval = std::chrono::milliseconds(1);
}  // namespace

// The I/O thread's loop: it owns the ZeroMQ context and both sides of the node's traffic — the
// links to peers it calls (DealerLinks) and the callers that call it (RouterCallers) — takes
// what other threads hand over (peers to connect or close, outboxes that are ready), and polls.
class ZmqTransport::Io {
 public:
  Io(const TransportConfig& config, TransportHandler& handler, FrameBuffers& buffers, ZmqTransport& owner)
      : handler_(handler),
        inbound_(config.limits, handler, counters_),
        zap_(config.curve ? std::make_unique<zmq_io::ZapHandler>(context_, *config.curve, counters_) : nullptr),
        callers_(context_, config, handler, buffers, counters_, inbound_, owner),
        links_(context_, config, handler, buffers, counters_, inbound_, wake_fd_) {}

  const std::string& bound() const { return callers_.bound(); }

  // The routing id this node's DEALERs present (Transport::identity()).
  void set_identity(std::string identity) { links_.set_identity(std::move(identity)); }

  void adopt(std::shared_ptr<Peer> peer) {
    std::lock_guard lock(mutex_);
    new_peers_.push_back(std::move(peer));
  }
  void close_peer(std::string endpoint, std::string why) {
    std::lock_guard lock(mutex_);
    to_close_.emplace_back(std::move(endpoint), std::move(why));
  }
  // `peer` has requests (or answers) pending.
  void mark_ready(std::shared_ptr<Peer> peer, bool answers) {
    std::lock_guard lock(mutex_);
    (answers ? ready_answers_ : ready_).push_back(std::move(peer));
  }
  void wake() {
    if (sleeping_.load(std::memory_order_seq_cst)) wake_fd_.wake();
  }

  void run(const std::atomic<bool>& stopping);
  // One pass: send what is ready, wait (at most `max_wait`) for input, read it. False when
  // refused: inside a pass already.
  bool pass(std::chrono::milliseconds max_wait);
  bool in_pass() const { return in_pass_; }
  void count_refused() { counters_.envelopes_refused.fetch_add(1, std::memory_order_relaxed); }
  TransportStats stats() const {
    TransportStats s = counters_.stats();
    s.links = links_.open_count();
    return s;
  }

 private:
  // Sleeps until a socket has news, something is queued to send, or `max_wait` passed (0: only
  // looks). Marks the sockets whose descriptor announced news unsettled; serves the ZAP handler
  // and reads monitors that have news.
  void wait(std::chrono::milliseconds max_wait);
  // Reads the sockets that may hold input, up to `burst` frames each; returns whether any frame
  // was read or a socket is still unsettled (a burst left frames unread).
  bool read_unsettled(int burst);
  // Whether another thread handed over something to do since the last pass.
  bool handed_over();
  void connect_new_peers();
  // Closes the links close_peer() asked for, and those down and idle past close_down_after.
  void close_links();
  void close_all();
  void flush_ready();

  TransportHandler& handler_;
  zmq_io::Counters counters_;
  zmq_io::Inbound inbound_;
  zmq::context_t context_{1};  // before the sockets: they close before it does
  WakeFd wake_fd_;
  // With CURVE: who may connect. Before the ROUTER, which must never listen without it.
  std::unique_ptr<zmq_io::ZapHandler> zap_;
  RouterCallers callers_;
  DealerLinks links_;
  std::atomic<bool> sleeping_{false};
  bool in_pass_ = false;
  std::vector<pollfd> pollfds_;
  Clock::time_point polled_;  // when wait() last looked at the descriptors

  std::mutex mutex_;
  std::vector<std::shared_ptr<Peer>> new_peers_;               // guarded by mutex_
  std::vector<std::pair<std::string, std::string>> to_close_;  // guarded by mutex_: endpoint, why
  std::vector<std::shared_ptr<Peer>> ready_;                   // guarded by mutex_
  std::vector<std::shared_ptr<Peer>> ready_answers_;           // guarded by mutex_
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
  links_.update_lookups();
  flush_ready();
  links_.check_connect_timeouts();
  links_.retry_unsent();  // ZeroMQ was full: it may have room now
  callers_.retry_blocked();

  // A ZeroMQ socket's descriptor announces news only once: after that, and after every send
  // (which may take the news in), input is learnt by reading until ZeroMQ finds the socket
  // empty. So the sockets that may hold input are read first, and the thread sleeps only when
  // none can. Each look costs ZeroMQ two system calls; none is made for a socket that is
  // settled (bench/README.md, "Security on", counts them per round trip).
  if (read_unsettled(zmq_io::kReadBurst)) {
    // Busy: the other descriptors are looked at too, but not on every pass (a look is a system
    // call, and a busy pass reads only a burst).
    if (Clock::now() - polled_ >= kBusyLookInterval) wait(std::chrono::milliseconds(0));
  } else {
    wait(max_wait);
    read_unsettled(zmq_io::kWokenBurst);
  }
  in_pass_ = false;
  return true;
}

bool ZmqTransport::Io::read_unsettled(int burst) {
  bool got = callers_.unsettled() && callers_.read(burst);
  got |= links_.read(burst);
  return got || callers_.unsettled() || links_.unsettled();
}

bool ZmqTransport::Io::handed_over() {
  std::lock_guard lock(mutex_);
  return !ready_.empty() || !ready_answers_.empty() || !new_peers_.empty();
}

void ZmqTransport::Io::wait(std::chrono::milliseconds max_wait) {
  if (max_wait.count() > 0) {
    // A sender that queues after this store writes the eventfd because it sees `sleeping_`.
    sleeping_.store(true, std::memory_order_seq_cst);
    if (handed_over()) {
      sleeping_.store(false, std::memory_order_seq_cst);
      return;
    }
  }
  // A ZeroMQ socket's descriptor is readable when the socket has news, not necessarily input:
  // what it means is learnt by reading it afterwards (read_unsettled, flush, monitors).
  auto& fds = pollfds_;
  fds.clear();
  fds.push_back({wake_fd_.fd(), POLLIN, 0});
  if (zap_) fds.push_back({zap_->fd(), POLLIN, 0});
  const std::size_t first_caller = fds.size();
  callers_.add_pollfds(fds);
  const std::size_t first_link = fds.size();
  links_.add_pollfds(fds);
  auto timeout = max_wait;
  if (callers_.waiting_to_send()) timeout = std::min(timeout, kRetryInterval);
  ::poll(fds.data(), fds.size(), static_cast<int>(timeout.count()));
  polled_ = Clock::now();
  sleeping_.store(false, std::memory_order_seq_cst);

  if (fds[0].revents & POLLIN) wake_fd_.clear();
  // Served as soon as asked: a handshake waits for the answer. Serving reads until ZeroMQ finds
  // the socket empty, so its descriptor tells of the next request.
  if (zap_ && (fds[1].revents & POLLIN)) zap_->serve();
  const std::span<const pollfd> polled(fds);
  callers_.on_polled(polled.subspan(first_caller, first_link - first_caller));
  links_.on_polled(polled.subspan(first_link));
}

void ZmqTransport::Io::close_all() {
  // Closed here, by the thread that owns them, and now: peers must see this node's connections
  // go away when it stops, even if the Transport object itself lives on (references held
  // elsewhere). What is queued goes out first (the last answers of a node that shuts down),
  // within the linger time.
  flush_ready();
  links_.close_all();
  callers_.close();
  if (zap_) zap_->close();
  context_.close();
}

void ZmqTransport::Io::connect_new_peers() {
  std::vector<std::shared_ptr<Peer>> fresh;
  {
    std::lock_guard lock(mutex_);
    fresh.swap(new_peers_);
  }
  for (auto& peer : fresh) links_.open(std::move(peer));
}

void ZmqTransport::Io::close_links() {
  std::vector<std::pair<std::string, std::string>> asked;
  {
    std::lock_guard lock(mutex_);
    asked.swap(to_close_);
  }
  for (auto& [endpoint, why] : asked) links_.close(endpoint, why);
  links_.close_idle();
}

void ZmqTransport::Io::flush_ready() {
  std::vector<std::shared_ptr<Peer>> ready, answers;
  {
    std::lock_guard lock(mutex_);
    ready.swap(ready_);
    answers.swap(ready_answers_);
  }
  for (auto& peer : ready) links_.flush(*peer);
  for (auto& peer : answers) callers_.flush(*peer);
}

// ---------------------------------------------------------------- Transport

ZmqTransport::ZmqTransport(TransportConfig config, TransportHandler& handler)
    : config_(std::move(config)),
      buffers_(config_.max_frame_bytes, static_cast<std::size_t>(config_.queued_frames)),
      io_(std::make_unique<Io>(config_, handler, buffers_, *this)) {
  if (config_.advertise.empty() && is_wildcard_host(zmq_io::split_endpoint(io_->bound()).first)) {
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
  identity_ = identity_of(endpoint_, nonce);
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
