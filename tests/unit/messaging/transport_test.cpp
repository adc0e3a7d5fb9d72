// The transport over real sockets on 127.0.0.1.
#include "messaging/transport.hpp"

#include <doctest/doctest.h>

#include <algorithm>
#include <condition_variable>
#include <map>
#include <stdexcept>
#include <mutex>
#include <thread>
#include <zmq.hpp>

#include "../eventually.hpp"

namespace pulsing {
namespace {

using namespace std::chrono_literals;

// Collects what a transport delivers; waits on conditions with deadlines.
class Inbox : public TransportHandler {
 public:
  bool on_envelope(const EnvelopeView& envelope) override {
    std::lock_guard lock(mutex_);
    envelopes_.push_back(envelope.decode({}));
    changed_.notify_all();
    return false;
  }
  bool still_congested() override { return false; }
  void on_caller_gone(const std::string& endpoint) override {
    std::lock_guard lock(mutex_);
    gone_.push_back(endpoint);
    changed_.notify_all();
  }
  void on_peer_down(const std::string& endpoint, const std::string& why, std::size_t dropped) override {
    std::lock_guard lock(mutex_);
    downs_.push_back({endpoint, why, dropped});
    changed_.notify_all();
  }

  bool wait_envelopes(std::size_t n, std::chrono::milliseconds limit = 10s) {
    std::unique_lock lock(mutex_);
    return changed_.wait_for(lock, limit, [&] { return envelopes_.size() >= n; });
  }
  bool wait_downs(std::size_t n, std::chrono::milliseconds limit = 10s) {
    std::unique_lock lock(mutex_);
    return changed_.wait_for(lock, limit, [&] { return downs_.size() >= n; });
  }
  bool wait_gone(const std::string& endpoint, std::chrono::milliseconds limit = 10s) {
    std::unique_lock lock(mutex_);
    return changed_.wait_for(lock, limit, [&] { return std::find(gone_.begin(), gone_.end(), endpoint) != gone_.end(); });
  }
  std::vector<Envelope> envelopes() {
    std::lock_guard lock(mutex_);
    return envelopes_;
  }
  struct Down {
    std::string endpoint, why;
    std::size_t dropped;
  };
  std::vector<Down> downs() {
    std::lock_guard lock(mutex_);
    return downs_;
  }

 private:
  std::mutex mutex_;
  std::condition_variable changed_;
  std::vector<Envelope> envelopes_;
  std::vector<Down> downs_;
  std::vector<std::string> gone_;
};

// An answer to the request `correlation`.
Envelope reply_to(std::uint64_t correlation, std::int64_t value) {
  Envelope e;
  e.kind = EnvelopeKind::kReply;
  e.correlation = correlation;
  e.payload = value;
  return e;
}

Envelope tell(std::uint64_t n) {
  Envelope e;
  e.kind = EnvelopeKind::kTell;
  e.correlation = n;
  e.method = "add";
  e.payload = Value::List{static_cast<std::int64_t>(n)};
  return e;
}

// A short connect timeout (the tests of unreachable peers wait on it); generous heartbeats: a
// heartbeat timeout drops the connection and what ZeroMQ had queued on it, and sanitizer builds
// on a loaded 2-core machine can be slow enough to miss a tight one.
TransportConfig quick_config() {
  TransportConfig config;
  config.connect_timeout = 300ms;
  config.heartbeat_interval = 500ms;
  config.heartbeat_timeout = 10s;
  return config;
}

}  // namespace

TEST_CASE("a transport binds a free port and reports it") {
  Inbox inbox;
  Transport t(quick_config(), inbox);
  t.start();
  CHECK(t.endpoint().starts_with("tcp://127.0.0.1:"));
  CHECK(t.endpoint() != "tcp://127.0.0.1:0");
}

TEST_CASE("binding an address that is taken fails, naming it") {
  Inbox inbox;
  Transport first(quick_config(), inbox);
  first.start();
  TransportConfig config = quick_config();
  config.listen = first.endpoint();
  try {
    Transport second(config, inbox);
    FAIL("expected the bind to fail");
  } catch (const std::runtime_error& e) {
    CHECK(std::string(e.what()).find(first.endpoint()) != std::string::npos);
  }
}

// Two started transports, a (configured as given) sending to b.
struct SendingPair {
  explicit SendingPair(TransportConfig a_config) : a(std::move(a_config), a_inbox), b(quick_config(), b_inbox) {
    a.start();
    b.start();
    to_b = a.peer(b.endpoint());
  }
  // Sends tell(0) .. tell(count - 1), each passed through `shape` first; how many were refused.
  template <typename Shape>
  std::uint64_t send_all(std::uint64_t count, Shape shape) {
    std::uint64_t refused = 0;
    for (std::uint64_t i = 0; i < count; ++i) refused += a.send(*to_b, shape(tell(i), i)) ? 0 : 1;
    return refused;
  }
  // Whether b received exactly tell(0) .. tell(count - 1)'s correlations, in order.
  bool received_in_order(std::uint64_t count) {
    if (!b_inbox.wait_envelopes(count)) return false;
    auto got = b_inbox.envelopes();
    for (std::uint64_t i = 0; i < count; ++i) {
      if (got[i].correlation != i) return false;
    }
    return got.size() == count;
  }

  Inbox a_inbox, b_inbox;
  Transport a;
  Transport b;
  std::shared_ptr<Transport::Peer> to_b;
};

TEST_CASE("envelopes arrive in the order sent, many per frame under load") {
  SendingPair pair(quick_config());
  constexpr std::uint64_t kCount = 20'000;
  REQUIRE(pair.send_all(kCount, [](Envelope e, std::uint64_t) { return e; }) == 0);
  CHECK(pair.received_in_order(kCount));
  CHECK(pair.b_inbox.envelopes().back().payload == Value::List{static_cast<std::int64_t>(kCount - 1)});
  auto stats = pair.a.stats();
  CHECK(stats.envelopes_sent == kCount);
  CHECK(stats.frames_sent < kCount);  // batched
  CHECK(pair.to_b->state() == Transport::PeerState::kUp);
}

TEST_CASE("with small frames and a small pending cap, every envelope still arrives, in order") {
  TransportConfig small = quick_config();
  small.max_frame_bytes = 1024;     // about a dozen of these envelopes
  small.max_pending_bytes = 16384;  // senders wait for the I/O thread often
  SendingPair pair(small);
  constexpr std::uint64_t kCount = 5'000;
  auto some_large = [](Envelope e, std::uint64_t i) {
    if (i % 1'000 == 500) e.payload = Value::List{std::string(4'000, 'x')};  // larger than a frame
    return e;
  };
  REQUIRE(pair.send_all(kCount, some_large) == 0);
  CHECK(pair.received_in_order(kCount));
  CHECK(pair.b_inbox.envelopes()[1'500].payload == Value::List{std::string(4'000, 'x')});
  CHECK(pair.a.stats().frames_sent >= kCount / 16);  // cut by size
}

TEST_CASE("garbage frames are dropped and counted, the transport keeps serving") {
  Inbox inbox;
  Transport t(quick_config(), inbox);
  t.start();
  zmq::context_t context;
  zmq::socket_t raw(context, zmq::socket_type::dealer);
  raw.set(zmq::sockopt::linger, 0);
  raw.connect(t.endpoint());
  raw.send(zmq::str_buffer("not a frame at all"), zmq::send_flags::none);
  raw.send(zmq::buffer(std::string(64, '\xff')), zmq::send_flags::none);
  raw.send(zmq::str_buffer("two"), zmq::send_flags::sndmore);  // an extra frame
  raw.send(zmq::str_buffer("parts"), zmq::send_flags::none);
  std::vector<std::byte> good;
  append_envelope(good, tell(7));
  raw.send(zmq::buffer(good.data(), good.size()), zmq::send_flags::none);
  REQUIRE(inbox.wait_envelopes(1));
  CHECK(inbox.envelopes()[0].correlation == 7);
  CHECK(t.stats().frames_rejected == 3);
}

TEST_CASE("a peer that never answers is declared down, and sends to it fail") {
  Inbox inbox;
  Transport t(quick_config(), inbox);
  t.start();
  // A port that was free a moment ago: bind a transport, note its endpoint, close it.
  std::string vacant;
  {
    Inbox other;
    Transport gone(quick_config(), other);
    gone.start();
    vacant = gone.endpoint();
  }
  auto peer = t.peer(vacant);
  CHECK(t.send(*peer, tell(1)));  // queued while connecting
  REQUIRE(inbox.wait_downs(1));
  auto down = inbox.downs()[0];
  CHECK(down.endpoint == vacant);
  CHECK(down.why.find("could not connect") != std::string::npos);
  CHECK(down.dropped == 1);
  CHECK(peer->state() == Transport::PeerState::kDown);
  CHECK_FALSE(t.send(*peer, tell(2)));
}

TEST_CASE("a peer that goes away is declared down, when it comes back it is up again") {
  Inbox a_inbox;
  Transport a(quick_config(), a_inbox);
  a.start();
  std::string endpoint;
  auto b_inbox = std::make_unique<Inbox>();
  auto b = std::make_unique<Transport>(quick_config(), *b_inbox);
  b->start();
  endpoint = b->endpoint();
  auto peer = a.peer(endpoint);
  REQUIRE(a.send(*peer, tell(1)));
  REQUIRE(b_inbox->wait_envelopes(1));
  b.reset();
  REQUIRE(a_inbox.wait_downs(1));
  CHECK(a_inbox.downs()[0].why.find("lost the connection") != std::string::npos);

  // The same address again (a restarted node).
  TransportConfig config = quick_config();
  config.listen = endpoint;
  Inbox revived_inbox;
  Transport revived(config, revived_inbox);
  revived.start();
  auto deadline = std::chrono::steady_clock::now() + 10s;
  while (peer->state() != Transport::PeerState::kUp && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(5ms);
  }
  REQUIRE(peer->state() == Transport::PeerState::kUp);
  REQUIRE(a.send(*peer, tell(2)));
  REQUIRE(revived_inbox.wait_envelopes(1));
  CHECK(revived_inbox.envelopes()[0].correlation == 2);
}

TEST_CASE("answers return on the connection their request came on: a node that only answers opens none") {
  SendingPair pair(quick_config());
  REQUIRE(pair.a.send(*pair.to_b, tell(7)));
  REQUIRE(pair.b_inbox.wait_envelopes(1));
  Envelope request = pair.b_inbox.envelopes()[0];
  CHECK(request.sender_endpoint == pair.a.endpoint());  // from a's connection, not the envelope
  auto to_a = pair.b.peer(request.sender_endpoint);
  for (std::int64_t i = 0; i < 100; ++i) REQUIRE(pair.b.send(*to_a, reply_to(7, i)));
  REQUIRE(pair.a_inbox.wait_envelopes(100));
  auto answers = pair.a_inbox.envelopes();
  for (std::int64_t i = 0; i < 100; ++i) CHECK(answers[static_cast<std::size_t>(i)].payload == Value(i));
  CHECK(answers[0].sender_endpoint == pair.b.endpoint());
  CHECK(pair.a.stats().connections == 1);
  CHECK(pair.b.stats().connections == 0);
}

TEST_CASE("a caller whose connection closes is reported gone, and answers to it are dropped and counted") {
  Inbox b_inbox;
  Transport b(quick_config(), b_inbox);
  b.start();
  std::string a_endpoint;
  {
    Inbox a_inbox;
    Transport a(quick_config(), a_inbox);
    a.start();
    a_endpoint = a.endpoint();
    REQUIRE(a.send(*a.peer(b.endpoint()), tell(1)));
    REQUIRE(b_inbox.wait_envelopes(1));
  }  // a stops: its connection closes
  REQUIRE(b_inbox.wait_gone(a_endpoint));
  CHECK(b.send(*b.peer(a_endpoint), reply_to(1, 5)));  // queued; nowhere to go
  CHECK(testing::eventually([&] { return b.stats().envelopes_dropped == 1; }));
}

namespace {

// A lookup for the tests: names map to addresses set by the test; "stuck.test" hangs until
// released (a name server that does not answer).
class FakeResolver {
 public:
  ~FakeResolver() { release(); }
  LookupFunction function() {
    return [this](const std::string& host) -> std::string {
      std::unique_lock lock(mutex_);
      if (host == "stuck.test") {
        ++stuck_;
        changed_.notify_all();
        changed_.wait(lock, [&] { return released_; });
        throw std::runtime_error("gave up");
      }
      auto it = addresses_.find(host);
      if (it == addresses_.end()) throw std::runtime_error("no such host");
      return it->second;
    };
  }
  void set(const std::string& host, const std::string& address) {
    std::lock_guard lock(mutex_);
    addresses_[host] = address;
  }
  bool wait_stuck() {
    std::unique_lock lock(mutex_);
    return changed_.wait_for(lock, 10s, [&] { return stuck_ > 0; });
  }
  void release() {
    std::lock_guard lock(mutex_);
    released_ = true;
    changed_.notify_all();
  }

 private:
  std::mutex mutex_;
  std::condition_variable changed_;
  std::map<std::string, std::string> addresses_;
  int stuck_ = 0;
  bool released_ = false;
};

// ":PORT" of "tcp://HOST:PORT".
std::string port_of(const std::string& endpoint) { return endpoint.substr(endpoint.rfind(':')); }

}  // namespace

TEST_CASE("a host name that takes forever to look up stalls no other peer, and is declared down") {
  FakeResolver names;
  TransportConfig config = quick_config();
  config.lookup = names.function();
  Inbox inbox;
  Transport t(config, inbox);
  t.start();
  Inbox b_inbox;
  Transport b(quick_config(), b_inbox);
  b.start();

  auto stuck = t.peer("tcp://stuck.test" + port_of(b.endpoint()));
  CHECK(t.send(*stuck, tell(1)));
  REQUIRE(names.wait_stuck());
  auto other = t.peer(b.endpoint());  // numeric: no lookup
  for (std::uint64_t i = 2; i <= 4; ++i) REQUIRE(t.send(*other, tell(i)));
  REQUIRE(b_inbox.wait_envelopes(3));
  CHECK(b_inbox.envelopes()[0].correlation == 2);

  REQUIRE(inbox.wait_downs(1));
  CHECK(inbox.downs()[0].endpoint == stuck->endpoint());
  CHECK(inbox.downs()[0].why.find("could not connect") != std::string::npos);
}

TEST_CASE("a host name that does not resolve makes its peer down, saying so") {
  FakeResolver names;
  TransportConfig config = quick_config();
  config.connect_timeout = 10s;  // the lookup's failure is what declares it down
  config.lookup = names.function();
  Inbox inbox;
  Transport t(config, inbox);
  t.start();
  auto peer = t.peer("tcp://nowhere.test:7000");
  CHECK(t.send(*peer, tell(1)));
  REQUIRE(inbox.wait_downs(1));
  CHECK(inbox.downs()[0].why == "cannot resolve nowhere.test: no such host");
  CHECK_FALSE(t.send(*peer, tell(2)));
}

TEST_CASE("a peer named by host name that comes back at another address is reached there") {
  FakeResolver names;
  TransportConfig config = quick_config();
  config.lookup = names.function();
  config.lookup_interval = 50ms;
  Inbox inbox;
  Transport t(config, inbox);
  t.start();

  auto first_inbox = std::make_unique<Inbox>();
  auto first = std::make_unique<Transport>(quick_config(), *first_inbox);
  first->start();
  const std::string port = port_of(first->endpoint());
  names.set("moving.test", "127.0.0.1");
  auto peer = t.peer("tcp://moving.test" + port);
  REQUIRE(t.send(*peer, tell(1)));
  REQUIRE(first_inbox->wait_envelopes(1));

  first.reset();  // the node goes away...
  REQUIRE(inbox.wait_downs(1));
  TransportConfig moved = quick_config();
  moved.listen = "tcp://127.0.0.2" + port;  // ...and comes back elsewhere, under the same name
  Inbox moved_inbox;
  Transport again(moved, moved_inbox);
  again.start();
  names.set("moving.test", "127.0.0.2");

  CHECK(testing::eventually([&] { return peer->state() == Transport::PeerState::kUp; }));
  REQUIRE(t.send(*peer, tell(2)));
  REQUIRE(moved_inbox.wait_envelopes(1));
  CHECK(moved_inbox.envelopes()[0].correlation == 2);
}

}  // namespace pulsing
