// Calls between two nodes over real sockets on 127.0.0.1 (both nodes in this process; the
// multi-process tests are in tests/integration).
#include <functional>
#include <future>
#include <optional>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include <doctest/doctest.h>

#include "messaging/zmq_transport.hpp"
#include "test_support.hpp"

namespace pulsing {
namespace {

using namespace std::chrono_literals;
using testing::eventually;

class Calculator : public Actor {
 public:
  explicit Calculator(int initial = 0) : value_(initial) {}
  int add(int n) { return value_ += n; }
  int value() const { return value_; }
  int divide(int by) {
    if (by == 0) throw std::invalid_argument("division by zero");
    return value_ / by;
  }
  int explode() { throw std::runtime_error("boom"); }
  int reject(int code) { throw BusinessError(code, "rejected", Value::Map{{"why", "test"}}); }
  Task<int> slow(int ms) {
    co_await sleep_for(std::chrono::milliseconds(ms));
    co_return ms;
  }
  PULSING_METHODS(Calculator, add, value, divide, explode, reject, slow)

 private:
  int value_;
};

struct Guard {
  std::shared_ptr<std::atomic<bool>> destroyed;
  ~Guard() { *destroyed = true; }
};

class Producer : public Actor {
 public:
  explicit Producer(std::shared_ptr<std::atomic<bool>> destroyed) : destroyed_(std::move(destroyed)) {}
  Stream<std::int64_t> count_to(int n) {
    for (int i = 1; i <= n; ++i) {
      ++produced_;
      co_yield std::int64_t{i};
    }
  }
  Stream<std::int64_t> forever() {
    Guard guard{destroyed_};
    for (std::int64_t i = 0;; ++i) {
      ++produced_;
      co_yield i;
    }
  }
  Stream<int> fail_after(int n) {
    for (int i = 0; i < n; ++i) co_yield i;
    throw BusinessError(503, "no more items");
  }
  int produced() const { return produced_; }
  PULSING_METHODS(Producer, count_to, forever, fail_after, produced)

 private:
  std::shared_ptr<std::atomic<bool>> destroyed_;
  int produced_ = 0;
};

// Blocks the thread it runs on: what handlers should not do (co_await instead), but may.
class Blocker : public Actor {
 public:
  explicit Blocker(std::shared_future<void> release) : release_(std::move(release)) {}
  int nap(int ms) {
    std::this_thread::sleep_for(std::chrono::milliseconds(ms));
    return ms;
  }
  int hold() {
    release_.wait();
    return 1;
  }
  int relay(ActorRef<Calculator> calc, int n) { return calc.ask(&Calculator::add, n).get(); }
  PULSING_METHODS(Blocker, nap, hold, relay)

 private:
  std::shared_future<void> release_;
};

NodeConfig networked(std::string name) {
  NodeConfig config = testing::test_config();
  config.name = std::move(name);
  config.listen = "tcp://127.0.0.1:0";
  config.transport.connect_timeout = 500ms;
  // Generous: a heartbeat timeout drops the connection (and what is in flight on it), and
  // sanitizer builds on a loaded machine are slow.
  config.transport.heartbeat_interval = 500ms;
  config.transport.heartbeat_timeout = 10s;
  return config;
}

}  // namespace

TEST_CASE("a class's method table is its own, even beside a same-named class in another file") {
  // actor_test.cpp has another Calculator in its anonymous namespace; g++ once merged the two
  // tables' entries (pointer template arguments), and calls by name reached the wrong class.
  const MethodEntry* add = Calculator::pulsing_method_table().find(&Calculator::add);
  REQUIRE(add != nullptr);
  CHECK(add->pointer<int (Calculator::*)(int)>() == &Calculator::add);
  CHECK(Calculator::pulsing_method_table().find(&Calculator::slow) != nullptr);
}

TEST_CASE("a node listens on a free port and reports it") {
  Node node(networked("a"));
  CHECK(node.endpoint().starts_with("tcp://127.0.0.1:"));
  Node local(testing::test_config());
  CHECK(local.endpoint().empty());
  auto e = testing::expect_error<RuntimeError>([&] { local.resolve_at("tcp://127.0.0.1:1", "x").get(); });
  CHECK(e.kind() == RuntimeErrorKind::kNodeUnreachable);
}

TEST_CASE("resolve_at reaches a named actor on another node, and asks and tells work as locally") {
  Node a(networked("a"));
  Node b(networked("b"));
  b.spawn<Calculator>({.name = "calc"}, 100).get();

  auto calc = a.resolve_at<Calculator>(b.endpoint(), "calc").get();
  CHECK(calc.is_remote());
  CHECK(calc.class_name() == "Calculator");
  CHECK(calc.ask(&Calculator::add, 50).get() == 150);
  for (int i = 0; i < 100; ++i) calc.tell(&Calculator::add, 1);
  CHECK(calc.ask(&Calculator::value).get() == 250);  // FIFO: the tells came first
  AnyRef any = calc;
  CHECK(any.ask("add", {1}).get() == Value(251));
}

TEST_CASE("errors keep their category and fields across the wire") {
  Node a(networked("a"));
  Node b(networked("b"));
  b.spawn<Calculator>({.name = "calc"}, 10).get();
  auto calc = a.resolve_at<Calculator>(b.endpoint(), "calc").get();

  auto business = testing::expect_error<BusinessError>([&] { calc.ask(&Calculator::reject, 409).get(); });
  CHECK(business.code() == 409);
  CHECK(business.message() == "rejected");
  CHECK(business.details().find("why")->as_text() == "test");
  CHECK(testing::expect_error<BusinessError>([&] { calc.ask(&Calculator::divide, 0).get(); }).code() == 400);
  auto unknown = testing::expect_error<RuntimeError>([&] { AnyRef(calc).ask("multiply", {2}).get(); });
  CHECK(unknown.kind() == RuntimeErrorKind::kUnknownMethod);
  CHECK(std::string(unknown.what()).find("'multiply'") != std::string::npos);
  auto bad = testing::expect_error<RuntimeError>([&] { AnyRef(calc).ask("add", {"x"}).get(); });
  CHECK(bad.kind() == RuntimeErrorKind::kBadArguments);
  auto timeout = testing::expect_error<TimeoutError>(
      [&] { calc.with_timeout(100ms).ask(&Calculator::slow, 5'000).get(); });
  CHECK(timeout.duration_ms() == 100);
  auto system = testing::expect_error<SystemError>([&] { calc.ask(&Calculator::explode).get(); });
  CHECK(system.error() == "boom");
  CHECK(system.recoverable());
  // The crash stopped it (policy never): the next call says so, as it would locally.
  auto stopped = testing::expect_error<RuntimeError>([&] { calc.ask(&Calculator::value).get(); });
  CHECK(stopped.kind() == RuntimeErrorKind::kActorStopped);
}

TEST_CASE("a tell from another node that cannot run is a dead letter on the receiving node") {
  Node a(networked("a"));
  Node b(networked("b"));
  b.spawn<Calculator>({.name = "calc"}, 10).get();
  auto calc = a.resolve_at<Calculator>(b.endpoint(), "calc").get();
  auto before = b.dead_letters();
  AnyRef(calc).tell("multiply", {2});          // no such method
  AnyRef(calc).tell("add", {"x"});              // the wrong type
  AnyRef(calc).tell("add", {1, 2});             // the wrong count
  CHECK(eventually([&] { return b.dead_letters() == before + 3; }));
  CHECK(calc.ask(&Calculator::value).get() == 10);  // and nothing ran
}

TEST_CASE("arguments the receiving node cannot read are refused, naming the problem") {
  Node a(networked("a"));
  Node b(networked("b"));
  b.spawn<Calculator>({.name = "calc"}, 10).get();
  auto calc = a.resolve_at<Calculator>(b.endpoint(), "calc").get();
  Value deep = 1;
  for (int i = 0; i < 100; ++i) deep = Value::List{deep};  // beyond the nesting limit (64)
  auto e = testing::expect_error<RuntimeError>([&] { AnyRef(calc).ask("add", {deep}).get(); });
  CHECK(e.kind() == RuntimeErrorKind::kBadArguments);
  CHECK(std::string(e.what()).find("nested deeper than 64") != std::string::npos);
  CHECK(calc.ask(&Calculator::add, 1).get() == 11);  // the actor goes on
}

TEST_CASE("a remote ask times out at its own deadline, whatever asks came and went before it") {
  Node a(networked("a"));
  Node b(networked("b"));
  b.spawn<Calculator>({.name = "calc"}).get();
  auto calc = a.resolve_at<Calculator>(b.endpoint(), "calc").get();
  // Answered asks leave their (far) deadlines behind on the asking side.
  for (int i = 1; i <= 1'000; ++i) REQUIRE(calc.with_timeout(20s).ask(&Calculator::add, 1).get() == i);
  // A long call occupies the actor; an ask sent after it with a shorter timeout expires first.
  auto slow = calc.with_timeout(20s).ask(&Calculator::slow, 10'000);
  auto late = testing::expect_error<TimeoutError>([&] { calc.with_timeout(100ms).ask(&Calculator::value).get(); });
  CHECK(late.duration_ms() == 100);
  CHECK(std::string(late.what()).find("calc") != std::string::npos);
  CHECK(!slow.ready());
}

// Inbound calls may run on the receiving node's I/O thread (Scheduler::enter_guest); these
// check that blocking handlers neither deadlock there nor hold the node's network up.
TEST_CASE("a handler that blocks on a call to another node still gets its answer") {
  Node a(networked("a"));
  Node b(networked("b"));
  auto calc = a.spawn<Calculator>({}, 10).get();
  std::promise<void> never;
  b.spawn<Blocker>({.name = "blocker"}, never.get_future().share()).get();
  auto blocker = a.resolve_at<Blocker>(b.endpoint(), "blocker").get();
  CHECK(blocker.ask(&Blocker::relay, calc, 5).get() == 15);
  CHECK(blocker.ask(&Blocker::relay, calc, 1).get() == 16);
}

TEST_CASE("an actor whose turns take long does not hold up its node's traffic") {
  Node a(networked("a"));
  Node b(networked("b"));
  std::promise<void> release;
  b.spawn<Blocker>({.name = "blocker"}, release.get_future().share()).get();
  b.spawn<Calculator>({.name = "calc"}, 10).get();
  auto blocker = a.resolve_at<Blocker>(b.endpoint(), "blocker").get();
  auto calc = a.resolve_at<Calculator>(b.endpoint(), "calc").get();
  CHECK(blocker.ask(&Blocker::nap, 20).get() == 20);  // a long turn: from now on, a worker's
  auto held = blocker.ask(&Blocker::hold);
  // Answered while the blocker still holds its thread (if that were the I/O thread, this would
  // wait for the release below, which comes only after it).
  auto answered = calc.ask(&Calculator::add, 1).result();
  release.set_value();
  REQUIRE(answered.ok());
  CHECK(answered.value() == 11);
  CHECK(held.get() == 1);
}

TEST_CASE("an actor on another node can be watched, and stopped through its reference") {
  Node a(networked("a"));
  Node b(networked("b"));
  b.spawn<Calculator>({.name = "calc"}, 10).get();
  auto calc = a.resolve_at<Calculator>(b.endpoint(), "calc").get();
  auto watched = calc.watch();
  CHECK(calc.ask(&Calculator::add, 1).get() == 11);
  CHECK(!watched.ready());  // it lives
  calc.stop();
  StopNotice notice = watched.get();
  CHECK(notice.reason == StopReason::kStopped);
  CHECK(notice.name == "calc");
  CHECK(notice.address == calc.address());
  CHECK(testing::runtime_error_kind([&] { calc.ask(&Calculator::value).get(); }) == RuntimeErrorKind::kActorStopped);
  CHECK(calc.watch().get().reason == StopReason::kStopped);  // at once, as locally
}

TEST_CASE("a remote watch reports a crash with its error, and its node's end") {
  Node a(networked("a"));
  auto b = std::make_unique<Node>(networked("b"));
  b->spawn<Calculator>({.name = "crashy"}).get();
  b->spawn<Calculator>({.name = "calm"}).get();
  auto crashy = a.resolve_at<Calculator>(b->endpoint(), "crashy").get();
  auto calm = a.resolve_at<Calculator>(b->endpoint(), "calm").get();
  auto crashed = crashy.watch();
  auto ended = calm.watch();
  testing::expect_error<SystemError>([&] { crashy.ask(&Calculator::explode).get(); });
  StopNotice notice = crashed.get();
  CHECK(notice.reason == StopReason::kCrashed);
  REQUIRE(notice.error.has_value());
  CHECK(notice.error->category == ErrorCategory::kSystem);
  b.reset();
  // The notice (kShutdown) goes out if b sends it before its network closes; else the lost
  // connection ends the watch: either is right.
  auto end = ended.result();
  if (end.ok()) {
    CHECK(end.value().reason == StopReason::kShutdown);
  } else {
    CHECK(testing::runtime_error_kind([&] { end.failure().raise(); }) == RuntimeErrorKind::kNodeUnreachable);
  }
}

TEST_CASE("many watches of one remote actor are one watch on its node, and all learn of its stop") {
  Node a(networked("a"));
  Node b(networked("b"));
  b.spawn<Calculator>({.name = "calc"}).get();
  auto calc = a.resolve_at<Calculator>(b.endpoint(), "calc").get();
  std::vector<Future<StopNotice>> watches;
  for (int i = 0; i < 50; ++i) watches.push_back(calc.watch());
  REQUIRE(eventually([&] { return b.stats().watches_held == 1; }));
  CHECK(calc.ask(&Calculator::add, 1).get() == 1);  // asked after the watches: they are all out
  CHECK(b.stats().watches_held == 1);
  calc.stop();
  for (auto& watch : watches) CHECK(watch.get().reason == StopReason::kStopped);
  CHECK(b.stats().watches_held == 0);
}

TEST_CASE("the watches of a node that goes away are forgotten by the watched node") {
  Node b(networked("b"));
  b.spawn<Calculator>({.name = "one"}).get();
  b.spawn<Calculator>({.name = "two"}).get();
  {
    Node a(networked("a"));
    auto one = a.resolve_at<Calculator>(b.endpoint(), "one").get();
    auto two = a.resolve_at<Calculator>(b.endpoint(), "two").get();
    auto watching_one = one.watch();
    auto watching_two = two.watch();
    REQUIRE(eventually([&] { return b.stats().watches_held == 2; }));
  }  // a shuts down: its connection to b closes
  CHECK(eventually([&] { return b.stats().watches_held == 0; }));
}

TEST_CASE("watches past a caller's bound are refused as overloaded, and counted") {
  Node a(networked("a"));
  NodeConfig config = networked("b");
  config.max_watches_per_caller = 2;
  Node b(config);
  std::vector<ActorRef<Calculator>> calcs;
  for (const char* name : {"c1", "c2", "c3"}) {
    b.spawn<Calculator>({.name = name}).get();
    calcs.push_back(a.resolve_at<Calculator>(b.endpoint(), name).get());
  }
  auto first = calcs[0].watch();
  auto second = calcs[1].watch();
  REQUIRE(eventually([&] { return b.stats().watches_held == 2; }));
  auto e = testing::expect_error<RuntimeError>([&] { calcs[2].watch().get(); });
  CHECK(e.kind() == RuntimeErrorKind::kOverloaded);
  CHECK(std::string(e.what()).find("max_watches_per_caller") != std::string::npos);
  CHECK(b.stats().watches_refused == 1);
  calcs[0].stop();
  CHECK(first.get().reason == StopReason::kStopped);
  CHECK(eventually([&] { return b.stats().watches_held == 1; }));
  auto third = calcs[2].watch();  // room again
  CHECK(eventually([&] { return b.stats().watches_held == 2; }));
}

TEST_CASE("stream opens past a caller's bound are refused as overloaded, and counted") {
  Node a(networked("a"));
  NodeConfig config = networked("b");
  config.max_streams_per_caller = 2;
  Node b(config);
  b.spawn<Producer>({.name = "producer"}, std::make_shared<std::atomic<bool>>(false)).get();
  auto producer = a.resolve_at<Producer>(b.endpoint(), "producer").get();
  // Two endless streams nobody reads: their producers wait for credit.
  auto first = std::make_optional(producer.stream(&Producer::forever));
  auto second = std::make_optional(producer.stream(&Producer::forever));
  REQUIRE(eventually([&] { return b.stats().streams_producing == 2; }));
  auto third = producer.stream(&Producer::count_to, 3);
  auto e = testing::expect_error<RuntimeError>([&] { third.next(); });
  CHECK(e.kind() == RuntimeErrorKind::kOverloaded);
  CHECK(std::string(e.what()).find("max_streams_per_caller") != std::string::npos);
  CHECK(b.stats().streams_refused == 1);
  // The readers leave: their producers stop, and there is room again.
  first.reset();
  second.reset();
  REQUIRE(eventually([&] { return b.stats().streams_producing == 0; }));
  std::vector<std::int64_t> items;
  for (auto item : producer.stream(&Producer::count_to, 3)) items.push_back(item);
  CHECK(items == std::vector<std::int64_t>{1, 2, 3});
  CHECK(b.stats().streams_refused == 1);
}

TEST_CASE("stopping or watching a remote actor that never existed is refused clearly") {
  Node a(networked("a"));
  Node b(networked("b"));
  auto ghost = detail::ref_from_address(ActorAddress{NodeId{0}, b.endpoint(), ActorId{9'999}});
  auto e = testing::expect_error<RuntimeError>([&] { ghost.watch().get(); });
  CHECK(e.kind() == RuntimeErrorKind::kActorNotFound);
  CHECK(std::string(e.what()).find("9999") != std::string::npos);
  ghost.stop();  // a dead letter on b
  CHECK(eventually([&] { return b.dead_letters() > 0; }));
}

TEST_CASE("resolving an unknown name on another node fails with ActorNotFound naming both") {
  Node a(networked("a"));
  Node b(networked("b"));
  auto e = testing::expect_error<RuntimeError>([&] { a.resolve_at(b.endpoint(), "nobody").get(); });
  CHECK(e.kind() == RuntimeErrorKind::kActorNotFound);
  CHECK(std::string(e.what()).find("'nobody'") != std::string::npos);
  CHECK(std::string(e.what()).find(b.endpoint()) != std::string::npos);
}

TEST_CASE("asks pending on a node that shuts down fail, and the node is then unreachable") {
  Node a(networked("a"));
  auto b = std::make_unique<Node>(networked("b"));
  b->spawn<Calculator>({.name = "calc"}).get();
  auto calc = a.resolve_at<Calculator>(b->endpoint(), "calc").get();
  CHECK(calc.ask(&Calculator::add, 1).get() == 1);
  auto pending = calc.ask(&Calculator::slow, 10'000);  // running or queued when b shuts down
  b.reset();
  // b answers ActorStopped; but its answer travels on b's connection to a, while a may first see
  // its own connection to b close (the two are not ordered): then the ask fails as unreachable.
  auto kind = testing::runtime_error_kind([&] { pending.get(); });
  CHECK((kind == RuntimeErrorKind::kActorStopped || kind == RuntimeErrorKind::kNodeUnreachable));
  REQUIRE(eventually([&] {
    try {
      calc.ask(&Calculator::add, 1).get();
      return false;
    } catch (const RuntimeError& e) {
      return e.kind() == RuntimeErrorKind::kNodeUnreachable;
    }
  }));
  auto before = a.dead_letters();
  calc.tell(&Calculator::add, 1);
  CHECK(a.dead_letters() == before + 1);
}

TEST_CASE("a resolve waiting for a name fails when its node shuts down, and so does every later one") {
  Node node(networked("alone"));
  auto waiting = node.resolve_any("nobody", 60s);  // an uncached name: a lookup at its owner
  node.shutdown();
  REQUIRE(eventually([&] { return waiting.ready(); }));
  CHECK(testing::runtime_error_kind([&] { waiting.get(); }) == RuntimeErrorKind::kShutdown);
  auto later = node.resolve_any("nobody", 60s);
  REQUIRE(eventually([&] { return later.ready(); }));
  CHECK(testing::runtime_error_kind([&] { later.get(); }) == RuntimeErrorKind::kShutdown);
  auto all = node.resolve_all("nobody");
  REQUIRE(eventually([&] { return all.ready(); }));
  CHECK(testing::runtime_error_kind([&] { all.get(); }) == RuntimeErrorKind::kShutdown);
}

TEST_CASE("a node that never answers is unreachable within the connect timeout") {
  Node a(networked("a"));
  std::string vacant;
  {
    Node gone(networked("gone"));
    vacant = gone.endpoint();
  }
  auto e = testing::expect_error<RuntimeError>([&] { a.resolve_at(vacant, "calc", 10s).get(); });
  CHECK(e.kind() == RuntimeErrorKind::kNodeUnreachable);
  CHECK(std::string(e.what()).find(vacant) != std::string::npos);
}

TEST_CASE("a stream from another node yields every item in order, typed and by name") {
  Node a(networked("a"));
  Node b(networked("b"));
  b.spawn<Producer>({.name = "producer"}, std::make_shared<std::atomic<bool>>(false)).get();
  auto producer = a.resolve_at<Producer>(b.endpoint(), "producer").get();
  std::int64_t expected = 1;
  bool in_order = true;
  for (auto item : producer.stream(&Producer::count_to, 1'000)) in_order = in_order && item == expected++;
  CHECK(in_order);
  CHECK(expected == 1'001);  // longer than the credit window: credit crossed the wire

  auto by_name = AnyRef(producer).stream("count_to", {3});
  CHECK(by_name.next() == Value(1));
  CHECK(by_name.next() == Value(2));
  CHECK(by_name.next() == Value(3));
  CHECK_FALSE(by_name.next().has_value());
}

TEST_CASE("a remote reader that stops reading stalls the producer at the credit window") {
  Node a(networked("a"));
  Node b(networked("b"));
  auto local = b.spawn<Producer>({.name = "producer"}, std::make_shared<std::atomic<bool>>(false)).get();
  auto producer = a.resolve_at<Producer>(b.endpoint(), "producer").get();
  auto reader = producer.stream(&Producer::forever);
  constexpr int kWindow = static_cast<int>(AnyRef::kDefaultWindow);
  REQUIRE(eventually([&] { return local.ask(&Producer::produced).get() == kWindow; }));
  for (int i = 0; i < 20; ++i) CHECK(local.ask(&Producer::produced).get() == kWindow);
  for (int i = 0; i < kWindow; ++i) CHECK(reader.next() == std::optional<std::int64_t>(i));
  REQUIRE(eventually([&] { return local.ask(&Producer::produced).get() > kWindow; }));
  CHECK(reader.buffered() <= static_cast<std::size_t>(kWindow));
}

TEST_CASE("dropping a remote reader cancels the producer on the other node") {
  Node a(networked("a"));
  Node b(networked("b"));
  auto destroyed = std::make_shared<std::atomic<bool>>(false);
  b.spawn<Producer>({.name = "producer"}, destroyed).get();
  auto producer = a.resolve_at<Producer>(b.endpoint(), "producer").get();
  {
    auto reader = producer.stream(&Producer::forever);
    CHECK(reader.next() == std::optional<std::int64_t>(0));
  }
  CHECK(eventually([&] { return destroyed->load(); }));
}

TEST_CASE("a remote producer's error reaches the reader with its category") {
  Node a(networked("a"));
  Node b(networked("b"));
  b.spawn<Producer>({.name = "producer"}, std::make_shared<std::atomic<bool>>(false)).get();
  auto producer = a.resolve_at<Producer>(b.endpoint(), "producer").get();
  auto reader = producer.stream(&Producer::fail_after, 2);
  CHECK(reader.next() == std::optional<int>(0));
  CHECK(reader.next() == std::optional<int>(1));
  auto e = testing::expect_error<BusinessError>([&] { reader.next(); });
  CHECK(e.code() == 503);
  // Asking a remote stream for an unknown method ends it with that error.
  auto unknown = AnyRef(producer).stream("nope", {});
  CHECK(testing::expect_error<RuntimeError>([&] { unknown.next(); }).kind() == RuntimeErrorKind::kUnknownMethod);
}

TEST_CASE("when the reader's node goes away, the producer is cancelled") {
  auto a = std::make_unique<Node>(networked("a"));
  Node b(networked("b"));
  auto destroyed = std::make_shared<std::atomic<bool>>(false);
  b.spawn<Producer>({.name = "producer"}, destroyed).get();
  auto producer = a->resolve_at<Producer>(b.endpoint(), "producer").get();
  auto reader = producer.stream(&Producer::forever);
  CHECK(reader.next().has_value());
  a.reset();  // the reader's node shuts down
  CHECK(eventually([&] { return destroyed->load(); }));
}

}  // namespace pulsing

namespace pulsing {
namespace {

// A node that speaks the wire itself: `script` handles each envelope it receives (on its I/O
// thread), answering with what the test wants a peer to say.
class ScriptedPeer final : public TransportHandler {
 public:
  using Script = std::function<void(const EnvelopeView&, Transport&)>;
  explicit ScriptedPeer(Script script) : script_(std::move(script)), transport_(TransportConfig{}, *this) {
    transport_.start();
  }
  const std::string& endpoint() const { return transport_.endpoint(); }

  void on_envelope(const EnvelopeView& e) override { script_(e, transport_); }
  void on_peer_down(const std::string&, const std::string&, std::size_t) override {}
  void on_caller_gone(const std::string&) override {}

 private:
  Script script_;
  ZmqTransport transport_;
};

// A producer that ignores credit: it answers a resolve with an actor of its own, and sends 10
// more items than the window granted for any stream opened.
void greedy_producer(const EnvelopeView& e, Transport& transport) {
  auto caller = transport.caller(e.sender_endpoint);
  Envelope out;
  out.correlation = e.correlation;
  if (e.kind == EnvelopeKind::kResolve) {
    out.kind = EnvelopeKind::kReply;
    out.payload = Value::Map{{"address", Value(ActorAddress{NodeId{7}, transport.endpoint(), ActorId{1}})},
                             {"class", std::string("Greedy")}};
    transport.send(*caller, out);
  } else if (e.kind == EnvelopeKind::kStreamOpen) {
    out.kind = EnvelopeKind::kStreamItem;
    for (std::uint32_t i = 0; i < e.credit + 10; ++i) {
      out.payload = Value(static_cast<std::int64_t>(i));
      transport.send(*caller, out);
    }
  }
}

// A resolver that answers every resolve with a map that names no actor.
void forgetful_resolver(const EnvelopeView& e, Transport& transport) {
  if (e.kind != EnvelopeKind::kResolve) return;
  Envelope out;
  out.kind = EnvelopeKind::kReply;
  out.correlation = e.correlation;
  out.payload = Value::Map{{"class", std::string("Nameless")}};
  transport.send(*transport.caller(e.sender_endpoint), out);
}

}  // namespace

TEST_CASE("a remote producer that sends past the credit it was granted fails its stream, and the reader's memory stays bounded") {
  ScriptedPeer greedy(greedy_producer);
  Node a(networked("a"));
  auto producer = a.resolve_at(greedy.endpoint(), "greedy").get();
  const auto received_before = a.stats().transport.envelopes_received;
  auto reader = producer.stream("anything", {});
  // Read nothing until all of them arrived: no credit was granted past the window meanwhile.
  REQUIRE(eventually([&] {
    return a.stats().transport.envelopes_received >= received_before + AnyRef::kDefaultWindow + 10;
  }));
  std::size_t items = 0;
  auto e = testing::expect_error<RuntimeError>([&] {
    while (reader.next()) ++items;
  });
  CHECK(e.kind() == RuntimeErrorKind::kProtocol);
  CHECK(std::string(e.what()).find("more items than") != std::string::npos);
  CHECK(items <= AnyRef::kDefaultWindow);
}

}  // namespace pulsing

namespace pulsing {

TEST_CASE("a resolve answered with no address fails as a protocol error, and the node goes on") {
  ScriptedPeer forgetful(forgetful_resolver);
  Node a(networked("a"));
  auto e = testing::expect_error<RuntimeError>([&] { a.resolve_at(forgetful.endpoint(), "someone").get(); });
  CHECK(e.kind() == RuntimeErrorKind::kProtocol);
  CHECK(std::string(e.what()).find("no address or class") != std::string::npos);
  Node b(networked("b"));
  b.spawn<Calculator>({.name = "calc"}, 1).get();
  CHECK(a.resolve_at<Calculator>(b.endpoint(), "calc").get().ask(&Calculator::add, 1).get() == 2);
}

}  // namespace pulsing
