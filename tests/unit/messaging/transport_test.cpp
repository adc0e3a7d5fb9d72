// The transport over real sockets on 127.0.0.1.
#include "messaging/zmq_transport.hpp"

#include <doctest/doctest.h>

#include <algorithm>
#include <cstring>
#include <condition_variable>
#include <map>
#include <set>
#include <stdexcept>
#include <mutex>
#include <thread>
#include <fmt/format.h>
#include <zmq.hpp>

#include "../eventually.hpp"
#include "inbox.hpp"

namespace pulsing {
namespace {

using namespace std::chrono_literals;
using testing::Inbox;
using testing::reply_to;
using testing::tell;

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
  ZmqTransport t(quick_config(), inbox);
  t.start();
  CHECK(t.endpoint().starts_with("tcp://127.0.0.1:"));
  CHECK(t.endpoint() != "tcp://127.0.0.1:0");
}

TEST_CASE("binding every interface without an advertised address is refused, saying what to set") {
  Inbox inbox;
  TransportConfig config = quick_config();
  config.listen = "tcp://0.0.0.0:0";
  CHECK_THROWS_WITH_AS(ZmqTransport(config, inbox), doctest::Contains("advertise one they can reach"), std::runtime_error);
  config.advertise = "tcp://127.0.0.1:7000";
  ZmqTransport advertised(config, inbox);
  CHECK(advertised.endpoint() == "tcp://127.0.0.1:7000");
}

TEST_CASE("binding an address that is taken fails, naming it") {
  Inbox inbox;
  ZmqTransport first(quick_config(), inbox);
  first.start();
  TransportConfig config = quick_config();
  config.listen = first.endpoint();
  try {
    ZmqTransport second(config, inbox);
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
  // Sends tell(0) .. tell(count - 1), each passed through `shape` first, as a user's thread
  // does: waiting for room (at most 10 s each). How many were refused.
  template <typename Shape>
  std::uint64_t send_all(std::uint64_t count, Shape shape) {
    std::uint64_t refused = 0;
    for (std::uint64_t i = 0; i < count; ++i) {
      refused += was_sent(a.send(*to_b, shape(tell(i), i), std::chrono::steady_clock::now() + 10s)) ? 0 : 1;
    }
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
  ZmqTransport a;
  ZmqTransport b;
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

TEST_CASE("a sender that may not wait is told the peer is congested, then refused past the bound, and told of room") {
  TransportConfig config = quick_config();
  config.max_pending_bytes = 4096;
  Inbox inbox, b_inbox;
  ZmqTransport b(quick_config(), b_inbox);
  b.start();
  ZmqTransport t(config, inbox);  // not started yet: nothing drains its outboxes
  auto to_b = t.peer(b.endpoint());
  std::map<SendResult, int> results;
  for (int i = 0; i < 2'000; ++i) ++results[t.send(*to_b, tell(static_cast<std::uint64_t>(i)))];
  CHECK(results[SendResult::kQueued] > 0);
  CHECK(results[SendResult::kCongested] > 0);
  CHECK(results[SendResult::kFull] > 0);
  CHECK(results[SendResult::kDown] == 0);
  CHECK(t.stats().envelopes_refused == static_cast<std::uint64_t>(results[SendResult::kFull]));
  std::atomic<bool> room{false};
  t.notify_room(*to_b, [&] { room = true; });
  CHECK_FALSE(room.load());
  t.start();  // the queue drains to the peer: room
  CHECK(testing::eventually([&] { return room.load(); }));
  const auto sent = static_cast<std::size_t>(results[SendResult::kQueued] + results[SendResult::kCongested]);
  CHECK(b_inbox.wait_envelopes(sent));
}

TEST_CASE("a closed connection fails what was pending on it, and the next request connects anew") {
  SendingPair pair(quick_config());
  REQUIRE(was_sent(pair.a.send(*pair.to_b, tell(1))));
  REQUIRE(pair.b_inbox.wait_envelopes(1));
  CHECK(pair.a.stats().links == 1);
  pair.a.close_peer(pair.b.endpoint(), "membership declared it dead");
  REQUIRE(pair.a_inbox.wait_downs(1));
  CHECK(pair.a_inbox.downs()[0].why.find("membership declared it dead") != std::string::npos);
  CHECK(testing::eventually([&] { return pair.a.stats().links == 0; }));
  REQUIRE(was_sent(pair.a.send(*pair.to_b, tell(2))));
  REQUIRE(pair.b_inbox.wait_envelopes(2));
  CHECK(pair.a.stats().links == 1);
  CHECK(pair.a.stats().connections == 2);
}

TEST_CASE("a connection down and idle for close_down_after is closed") {
  TransportConfig config = quick_config();
  config.close_down_after = 100ms;
  Inbox inbox;
  ZmqTransport t(config, inbox);
  t.start();
  Inbox b_inbox;
  auto b = std::make_unique<ZmqTransport>(quick_config(), b_inbox);
  b->start();
  auto to_b = t.peer(b->endpoint());
  REQUIRE(was_sent(t.send(*to_b, tell(1))));
  REQUIRE(b_inbox.wait_envelopes(1));
  b.reset();  // its node goes away: our connection goes down, and stays down
  REQUIRE(inbox.wait_downs(1));
  CHECK(testing::eventually([&] { return t.stats().links == 0; }));
}

TEST_CASE("garbage frames are dropped and counted, the transport keeps serving") {
  Inbox inbox;
  ZmqTransport t(quick_config(), inbox);
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

TEST_CASE("a frame larger than decoding accepts closes its connection before it is buffered") {
  Inbox inbox;
  TransportConfig config = quick_config();
  config.limits.traversal_limit_words = 1024;  // frames up to 32 KiB
  ZmqTransport t(config, inbox);
  t.start();
  zmq::context_t context;
  zmq::socket_t raw(context, zmq::socket_type::dealer);
  raw.set(zmq::sockopt::linger, 0);
  zmq::socket_t monitor(context, zmq::socket_type::pair);
  zmq_socket_monitor(raw.handle(), "inproc://raw-monitor", ZMQ_EVENT_DISCONNECTED);
  monitor.connect("inproc://raw-monitor");
  monitor.set(zmq::sockopt::rcvtimeo, 10'000);
  raw.connect(t.endpoint());
  std::vector<std::byte> huge(config.limits.frame_limit_bytes() + 1, std::byte{0});
  raw.send(zmq::buffer(huge.data(), huge.size()), zmq::send_flags::none);
  zmq::message_t event;
  REQUIRE(monitor.recv(event));  // the transport closed the connection: ZMQ_EVENT_DISCONNECTED
  std::uint16_t id = 0;
  std::memcpy(&id, event.data(), sizeof(id));
  CHECK(id == ZMQ_EVENT_DISCONNECTED);
  // The sender's next connection is served as any other.
  std::vector<std::byte> good;
  append_envelope(good, tell(7));
  raw.send(zmq::buffer(good.data(), good.size()), zmq::send_flags::none);
  REQUIRE(inbox.wait_envelopes(1));
  CHECK(inbox.envelopes()[0].correlation == 7);
  CHECK(t.stats().frames_received == 1);  // the oversized one never reached the node
  zmq_socket_monitor(raw.handle(), nullptr, 0);
}

TEST_CASE("a caller is who its connection says, whatever its envelopes claim") {
  SendingPair pair(quick_config());
  // A bare DEALER with no routing id of its own names no node: nothing it sends can be answered
  // to, or credit and cancel, another caller.
  zmq::context_t context;
  zmq::socket_t raw(context, zmq::socket_type::dealer);
  raw.set(zmq::sockopt::linger, 0);
  raw.connect(pair.b.endpoint());
  Envelope forged = tell(9);
  forged.sender_endpoint = pair.a.endpoint();  // not sent: nothing carries it
  std::vector<std::byte> frame;
  append_envelope(frame, forged);
  raw.send(zmq::buffer(frame.data(), frame.size()), zmq::send_flags::none);
  REQUIRE(was_sent(pair.a.send(*pair.to_b, tell(10))));
  REQUIRE(pair.b_inbox.wait_envelopes(2));
  std::map<std::uint64_t, std::string> senders;
  for (const auto& e : pair.b_inbox.envelopes()) senders[e.correlation] = e.sender_endpoint;
  CHECK(senders[9].empty());
  CHECK(senders[10].starts_with(pair.a.identity() + "."));
}

TEST_CASE("callers that reconnect on a reused descriptor are told apart: each is answered, only the gone are ended") {
  Inbox inbox;
  ZmqTransport t(quick_config(), inbox);
  t.start();
  zmq::context_t context;
  std::vector<std::byte> frame;
  append_envelope(frame, tell(1));
  // One caller after another, each closing just before the next connects: the kernel hands the
  // next connection the descriptor the last one had, and its first frame may be read before
  // the report that the last one closed.
  std::string previous;
  for (int round = 0; round < 20; ++round) {
    std::string identity = fmt::format("tcp://127.0.0.1:1#{:016x}", round);
    zmq::socket_t raw(context, zmq::socket_type::dealer);
    raw.set(zmq::sockopt::linger, 0);
    raw.set(zmq::sockopt::routing_id, identity);
    raw.set(zmq::sockopt::rcvtimeo, 10'000);
    raw.connect(t.endpoint());
    raw.send(zmq::buffer(frame.data(), frame.size()), zmq::send_flags::none);
    REQUIRE(inbox.wait_envelopes(static_cast<std::size_t>(round) + 1));
    if (!previous.empty()) REQUIRE(inbox.wait_gone(previous));
    REQUIRE(was_sent(t.send(*t.caller(identity), reply_to(1, round))));
    zmq::message_t answer;
    REQUIRE(raw.recv(answer));  // the live caller was not taken for the one that left
    std::vector<Envelope> got;
    decode_frame({static_cast<const std::byte*>(answer.data()), answer.size()},
                 [&](const EnvelopeView& e) { got.push_back(e.decode({})); });
    REQUIRE(got.size() == 1);
    CHECK(got[0].payload == Value(std::int64_t{round}));
    previous = identity;
  }
}

TEST_CASE("a peer that never answers is declared down, and sends to it fail") {
  Inbox inbox;
  ZmqTransport t(quick_config(), inbox);
  t.start();
  // A port that was free a moment ago: bind a transport, note its endpoint, close it.
  std::string vacant;
  {
    Inbox other;
    ZmqTransport gone(quick_config(), other);
    gone.start();
    vacant = gone.endpoint();
  }
  auto peer = t.peer(vacant);
  CHECK(was_sent(t.send(*peer, tell(1))));  // queued while connecting
  REQUIRE(inbox.wait_downs(1));
  auto down = inbox.downs()[0];
  CHECK(down.endpoint == vacant);
  CHECK(down.why.find("could not connect") != std::string::npos);
  CHECK(down.dropped == 1);
  CHECK(peer->state() == Transport::PeerState::kDown);
  CHECK_FALSE(was_sent(t.send(*peer, tell(2))));
}

TEST_CASE("a peer that goes away is declared down, when it comes back it is up again") {
  Inbox a_inbox;
  ZmqTransport a(quick_config(), a_inbox);
  a.start();
  std::string endpoint;
  auto b_inbox = std::make_unique<Inbox>();
  auto b = std::make_unique<ZmqTransport>(quick_config(), *b_inbox);
  b->start();
  endpoint = b->endpoint();
  auto peer = a.peer(endpoint);
  REQUIRE(was_sent(a.send(*peer, tell(1))));
  REQUIRE(b_inbox->wait_envelopes(1));
  b.reset();
  REQUIRE(a_inbox.wait_downs(1));
  CHECK(a_inbox.downs()[0].why.find("lost the connection") != std::string::npos);

  // The same address again (a restarted node).
  TransportConfig config = quick_config();
  config.listen = endpoint;
  Inbox revived_inbox;
  ZmqTransport revived(config, revived_inbox);
  revived.start();
  auto deadline = std::chrono::steady_clock::now() + 10s;
  while (peer->state() != Transport::PeerState::kUp && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(5ms);
  }
  REQUIRE(peer->state() == Transport::PeerState::kUp);
  REQUIRE(was_sent(a.send(*peer, tell(2))));
  REQUIRE(revived_inbox.wait_envelopes(1));
  CHECK(revived_inbox.envelopes()[0].correlation == 2);
}

TEST_CASE("answers return on the connection their request came on: a node that only answers opens none") {
  SendingPair pair(quick_config());
  REQUIRE(was_sent(pair.a.send(*pair.to_b, tell(7))));
  REQUIRE(pair.b_inbox.wait_envelopes(1));
  Envelope request = pair.b_inbox.envelopes()[0];
  CHECK(request.sender_endpoint.starts_with(pair.a.identity() + "."));  // from a's connection, not the envelope
  CHECK(pair.a.identity().starts_with(pair.a.endpoint() + "#"));
  auto to_a = pair.b.caller(request.sender_endpoint);
  for (std::int64_t i = 0; i < 100; ++i) REQUIRE(was_sent(pair.b.send(*to_a, reply_to(7, i))));
  REQUIRE(pair.a_inbox.wait_envelopes(100));
  auto answers = pair.a_inbox.envelopes();
  for (std::int64_t i = 0; i < 100; ++i) CHECK(answers[static_cast<std::size_t>(i)].payload == Value(i));
  CHECK(answers[0].sender_endpoint == pair.b.endpoint());
  CHECK(pair.a.stats().connections == 1);
  CHECK(pair.b.stats().connections == 0);
}

TEST_CASE("a caller whose connection closes is reported gone, and answers to it are dropped and counted") {
  Inbox b_inbox;
  ZmqTransport b(quick_config(), b_inbox);
  b.start();
  std::string a_identity;
  {
    Inbox a_inbox;
    ZmqTransport a(quick_config(), a_inbox);
    a.start();
    REQUIRE(was_sent(a.send(*a.peer(b.endpoint()), tell(1))));
    REQUIRE(b_inbox.wait_envelopes(1));
    a_identity = b_inbox.envelopes()[0].sender_endpoint;
  }  // a stops: its connection closes
  REQUIRE(b_inbox.wait_gone(a_identity));
  CHECK(was_sent(b.send(*b.caller(a_identity), reply_to(1, 5))));  // queued; nowhere to go
  CHECK(testing::eventually([&] { return b.stats().envelopes_dropped == 1; }));
}

namespace {

// A lookup for the tests: names map to addresses set by the test; "stuck.test" hangs until
// released (a name server that does not answer). Its state is shared with the lookup threads,
// which may outlive the resolver (and the transport).
class FakeResolver {
 public:
  ~FakeResolver() { release(); }
  LookupFunction function() {
    return [state = state_](const std::string& host) -> std::string {
      std::unique_lock lock(state->mutex);
      if (host == "stuck.test") {
        ++state->stuck;
        state->changed.notify_all();
        state->changed.wait(lock, [&] { return state->released; });
        throw std::runtime_error("gave up");
      }
      auto it = state->addresses.find(host);
      if (it == state->addresses.end()) throw std::runtime_error("no such host");
      return it->second;
    };
  }
  void set(const std::string& host, const std::string& address) {
    std::lock_guard lock(state_->mutex);
    state_->addresses[host] = address;
  }
  bool wait_stuck() {
    std::unique_lock lock(state_->mutex);
    return state_->changed.wait_for(lock, 10s, [&] { return state_->stuck > 0; });
  }
  void release() {
    std::lock_guard lock(state_->mutex);
    state_->released = true;
    state_->changed.notify_all();
  }

 private:
  struct State {
    std::mutex mutex;
    std::condition_variable changed;
    std::map<std::string, std::string> addresses;
    int stuck = 0;
    bool released = false;
  };
  std::shared_ptr<State> state_ = std::make_shared<State>();
};

// ":PORT" of "tcp://HOST:PORT".
std::string port_of(const std::string& endpoint) { return endpoint.substr(endpoint.rfind(':')); }

}  // namespace

TEST_CASE("a node reaching one peer by two addresses is answered on both connections") {
  // As `pulsing ask --node 127.0.0.1:7000` run on node1 does: the name resolves through
  // 127.0.0.1, then the actor is called at the endpoint node1 advertises.
  FakeResolver names;
  names.set("node1.test", "127.0.0.1");
  TransportConfig config = quick_config();
  config.lookup = names.function();
  // The lookup runs on a thread of its own first: under a sanitizer on a loaded machine that
  // can outlast quick_config's 300 ms, and the peer would be declared down with the request.
  config.connect_timeout = 10s;
  SendingPair pair(config);
  auto by_name = pair.a.peer("tcp://node1.test" + port_of(pair.b.endpoint()));
  REQUIRE(was_sent(pair.a.send(*pair.to_b, tell(1))));
  REQUIRE(was_sent(pair.a.send(*by_name, tell(2))));
  REQUIRE(pair.b_inbox.wait_envelopes(2));
  auto requests = pair.b_inbox.envelopes();
  CHECK(requests[0].sender_endpoint != requests[1].sender_endpoint);
  for (const auto& request : requests) {
    REQUIRE(was_sent(pair.b.send(*pair.b.caller(request.sender_endpoint), reply_to(request.correlation, 0))));
  }
  REQUIRE(pair.a_inbox.wait_envelopes(2));
  std::set<std::uint64_t> answered;
  for (const auto& answer : pair.a_inbox.envelopes()) answered.insert(answer.correlation);
  CHECK(answered == std::set<std::uint64_t>{1, 2});
}

TEST_CASE("a host name that takes forever to look up stalls no other peer, and is declared down") {
  FakeResolver names;
  TransportConfig config = quick_config();
  config.lookup = names.function();
  Inbox inbox;
  ZmqTransport t(config, inbox);
  t.start();
  Inbox b_inbox;
  ZmqTransport b(quick_config(), b_inbox);
  b.start();

  auto stuck = t.peer("tcp://stuck.test" + port_of(b.endpoint()));
  CHECK(was_sent(t.send(*stuck, tell(1))));
  REQUIRE(names.wait_stuck());
  auto other = t.peer(b.endpoint());  // numeric: no lookup
  for (std::uint64_t i = 2; i <= 4; ++i) REQUIRE(was_sent(t.send(*other, tell(i))));
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
  ZmqTransport t(config, inbox);
  t.start();
  auto peer = t.peer("tcp://nowhere.test:7000");
  CHECK(was_sent(t.send(*peer, tell(1))));
  REQUIRE(inbox.wait_downs(1));
  CHECK(inbox.downs()[0].why == "cannot resolve nowhere.test: no such host");
  CHECK_FALSE(was_sent(t.send(*peer, tell(2))));
}

TEST_CASE("a peer named by host name that comes back at another address is reached there") {
  FakeResolver names;
  TransportConfig config = quick_config();
  config.lookup = names.function();
  config.lookup_interval = 50ms;
  Inbox inbox;
  ZmqTransport t(config, inbox);
  t.start();

  auto first_inbox = std::make_unique<Inbox>();
  auto first = std::make_unique<ZmqTransport>(quick_config(), *first_inbox);
  first->start();
  const std::string port = port_of(first->endpoint());
  names.set("moving.test", "127.0.0.1");
  auto peer = t.peer("tcp://moving.test" + port);
  REQUIRE(was_sent(t.send(*peer, tell(1))));
  REQUIRE(first_inbox->wait_envelopes(1));

  first.reset();  // the node goes away...
  REQUIRE(inbox.wait_downs(1));
  TransportConfig moved = quick_config();
  moved.listen = "tcp://127.0.0.2" + port;  // ...and comes back elsewhere, under the same name
  Inbox moved_inbox;
  ZmqTransport again(moved, moved_inbox);
  again.start();
  names.set("moving.test", "127.0.0.2");

  CHECK(testing::eventually([&] { return peer->state() == Transport::PeerState::kUp; }));
  REQUIRE(was_sent(t.send(*peer, tell(2))));
  REQUIRE(moved_inbox.wait_envelopes(1));
  CHECK(moved_inbox.envelopes()[0].correlation == 2);
}

}  // namespace pulsing
