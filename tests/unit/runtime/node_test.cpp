// The node as users see it: names, resolve, stop, watch, dead letters, reentrancy, back-pressure
// and shutdown.
#include <atomic>
#include <string>
#include <thread>

#include <doctest/doctest.h>

#include "test_support.hpp"

namespace pulsing {
namespace {

using namespace std::chrono_literals;
using testing::eventually;

class Echo : public Actor {
 public:
  std::string echo(std::string text) { return text; }
  PULSING_METHODS(Echo, echo)
};

class Counter : public Actor {
 public:
  void add(std::int64_t n) { total_ += n; }
  std::int64_t total() const { return total_; }
  PULSING_METHODS(Counter, add, total)

 private:
  std::int64_t total_ = 0;
};

// Waits on a gate (a promise completed from outside) inside a coroutine handler.
class Gatekeeper : public Actor {
 public:
  explicit Gatekeeper(std::shared_ptr<Promise<int>> gate) : gate_(std::move(gate)) {}
  Task<int> wait_gate() {
    int v = co_await gate_->future();
    co_return v;
  }
  Task<int> nap(int ms) {
    co_await sleep_for(std::chrono::milliseconds(ms));
    co_return ms;
  }
  int ping() { return ++pings_; }
  PULSING_METHODS(Gatekeeper, wait_gate, nap, ping)

 private:
  std::shared_ptr<Promise<int>> gate_;
  int pings_ = 0;
};

// Floods a counter from inside an actor: back-pressure mutes it, never drops anything.
class Flooder : public Actor {
 public:
  void flood(ActorRef<Counter> target, int bursts, int per_burst) {
    for (int i = 0; i < per_burst; ++i) target.tell(&Counter::add, 1);
    if (bursts > 1) self().tell(&Flooder::flood, target, bursts - 1, per_burst);
  }
  PULSING_METHODS(Flooder, flood)
};

}  // namespace

TEST_CASE("spawn with a name, resolve it, stop it by name: the name is released") {
  Node node(testing::test_config());
  auto echo = node.spawn<Echo>({.name = "echo"}).get();
  auto found = node.resolve<Echo>("echo").get();
  CHECK(found == echo);
  CHECK(found.ask(&Echo::echo, std::string("x")).get() == "x");
  CHECK(node.resolve_any("echo").get().name() == "echo");
  CHECK(node.actors().size() == 1);

  auto notice = node.stop("echo").get();
  CHECK(notice.reason == StopReason::kStopped);
  CHECK(notice.name == "echo");
  CHECK(node.actors().empty());
  {
    auto e = testing::expect_error<RuntimeError>([&] { node.resolve<Echo>("echo").get(); });
    CHECK(e.kind() == RuntimeErrorKind::kActorNotFound);
    CHECK(std::string(e.what()).find("'echo'") != std::string::npos);
  }
  // The name can be used again.
  CHECK(node.spawn<Echo>({.name = "echo"}).get().valid());
}

TEST_CASE("spawn and resolve refuse bad names, taken names and wrong classes, saying why") {
  Node node(testing::test_config());
  node.spawn<Echo>({.name = "svc"}).get();
  {
    auto e = testing::expect_error<RuntimeError>([&] { node.spawn<Echo>({.name = "svc"}).get(); });
    CHECK(e.kind() == RuntimeErrorKind::kNameTaken);
    CHECK(std::string(e.what()).find("'svc'") != std::string::npos);
  }
  for (const char* bad : {"has space", "-dash-first", "x\n", "caf\xc3\xa9"}) {
    CAPTURE(bad);
    CHECK(testing::runtime_error_kind([&] { node.spawn<Echo>({.name = bad}).get(); }) ==
          RuntimeErrorKind::kInvalidName);
  }
  CHECK(node.spawn<Echo>({.name = std::string(128, 'n')}).get().valid());
  CHECK(testing::runtime_error_kind([&] { node.spawn<Echo>({.name = std::string(129, 'n')}).get(); }) ==
        RuntimeErrorKind::kInvalidName);
  {
    auto e = testing::expect_error<RuntimeError>([&] { node.resolve<Counter>("svc").get(); });
    CHECK(e.kind() == RuntimeErrorKind::kWrongType);
    CHECK(std::string(e.what()).find("Echo") != std::string::npos);
  }
}

TEST_CASE("resolve with a wait finds a name spawned later, or times out") {
  Node node(testing::test_config());
  auto pending = node.resolve<Echo>("late", 5s);
  CHECK_FALSE(pending.ready());
  auto echo = node.spawn<Echo>({.name = "late"}).get();
  CHECK(pending.get() == echo);

  {
    auto e = testing::expect_error<TimeoutError>([&] { node.resolve<Echo>("never", 50ms).get(); });
    CHECK(e.operation().find("'never'") != std::string::npos);
  }
}

TEST_CASE("a reference that follows a name reaches whichever actor holds the name at each call") {
  Node node(testing::test_config());
  auto follow = node.follow<Counter>("counter");
  CHECK(testing::runtime_error_kind([&] { follow.ask(&Counter::total).get(); }) == RuntimeErrorKind::kActorNotFound);
  follow.tell(&Counter::add, 1);  // nobody holds the name: a dead letter
  CHECK(eventually([&] { return node.dead_letters() == 1; }, 5s));

  auto first = node.spawn<Counter>({.name = "counter"}).get();
  follow.tell(&Counter::add, 2);
  CHECK(follow.ask(&Counter::total).get() == 2);
  CHECK(follow.current().get() == first);
  node.stop("counter").get();
  auto second = node.spawn<Counter>({.name = "counter"}).get();
  CHECK(follow.ask(&Counter::total).get() == 0);
  CHECK(follow.current().get() == second);
  // The pinned reference stays with the actor it was given.
  CHECK(testing::runtime_error_kind([&] { first.ask(&Counter::total).get(); }) == RuntimeErrorKind::kActorStopped);

  auto bad = node.follow<Counter>("no spaces");
  CHECK(testing::runtime_error_kind([&] { bad.ask(&Counter::total).get(); }) == RuntimeErrorKind::kInvalidName);
  auto wrong = node.follow<Echo>("counter");
  CHECK(testing::runtime_error_kind([&] { wrong.ask(&Echo::echo, std::string("x")).get(); }) ==
        RuntimeErrorKind::kWrongType);
}

TEST_CASE("resolve_all on a node alone lists its one actor of that name") {
  Node node(testing::test_config());
  auto echo = node.spawn<Echo>({.name = "echo"}).get();
  auto all = node.resolve_all("echo").get();
  REQUIRE(all.size() == 1);
  CHECK(all.front() == AnyRef(echo));
  CHECK(testing::runtime_error_kind([&] { node.resolve_all("none").get(); }) == RuntimeErrorKind::kActorNotFound);
  CHECK(testing::runtime_error_kind([&] { node.resolve_all("").get(); }) == RuntimeErrorKind::kInvalidName);
}

TEST_CASE("watch completes when the actor stops, at once if it already has") {
  Node node(testing::test_config());
  auto echo = node.spawn<Echo>({}).get();
  auto watched = echo.watch();
  CHECK_FALSE(watched.ready());
  echo.stop();
  CHECK(watched.get().reason == StopReason::kStopped);
  CHECK(echo.watch().get().reason == StopReason::kStopped);
}

TEST_CASE("tells to a stopped actor are counted as dead letters, asks fail with ActorStopped") {
  Node node(testing::test_config());
  auto counter = node.spawn<Counter>({}).get();
  counter.stop();
  counter.watch().get();
  for (int i = 0; i < 10; ++i) counter.tell(&Counter::add, 1);
  AnyRef(counter).tell("add", {1});
  CHECK(eventually([&] { return node.dead_letters() == 11; }));
  {
    auto e = testing::expect_error<RuntimeError>([&] { counter.ask(&Counter::total).get(); });
    CHECK(e.kind() == RuntimeErrorKind::kActorStopped);
  }
}

TEST_CASE("non-reentrant by default: the next message waits while a handler is suspended") {
  Node node(testing::test_config());
  auto gate = std::make_shared<Promise<int>>();
  auto keeper = node.spawn<Gatekeeper>({}, gate).get();
  auto waiting = keeper.ask(&Gatekeeper::wait_gate);
  auto ping = keeper.ask(&Gatekeeper::ping);
  // The ping is queued behind the suspended handler; it is served only after the gate opens.
  CHECK_FALSE(ping.ready());
  std::this_thread::yield();
  CHECK_FALSE(ping.ready());
  gate->set_value(7);
  CHECK(waiting.get() == 7);
  CHECK(ping.get() == 1);
}

TEST_CASE("reentrant actors serve other messages while a handler is suspended") {
  Node node(testing::test_config());
  auto gate = std::make_shared<Promise<int>>();
  auto keeper = node.spawn<Gatekeeper>({.reentrant = true}, gate).get();
  auto waiting = keeper.ask(&Gatekeeper::wait_gate);
  CHECK(keeper.ask(&Gatekeeper::ping).get() == 1);  // served while wait_gate is suspended
  CHECK_FALSE(waiting.ready());
  gate->set_value(3);
  CHECK(waiting.get() == 3);
}

TEST_CASE("sleep_for completes after its delay") {
  Node node(testing::test_config());
  auto sleeper = node.spawn<Gatekeeper>({}, std::make_shared<Promise<int>>()).get();
  CHECK(sleeper.ask(&Gatekeeper::nap, 20).get() == 20);
}

TEST_CASE("sleep_for waits without blocking: a reentrant actor serves others meanwhile") {
  auto node = std::make_unique<Node>(testing::test_config());
  auto sleeper = node->spawn<Gatekeeper>({.reentrant = true}, std::make_shared<Promise<int>>()).get();
  auto napping = sleeper.ask(&Gatekeeper::nap, 10'000);
  CHECK(sleeper.ask(&Gatekeeper::ping).get() == 1);
  CHECK_FALSE(napping.ready());
  node->shutdown();  // a pending sleep does not hold up shutdown; its caller gets an error
  CHECK_THROWS_AS(napping.get(), RuntimeError);
}

TEST_CASE("a flooding actor is slowed down by a small mailbox, and nothing is lost") {
  Node node(testing::test_config());
  auto counter = node.spawn<Counter>({.mailbox_capacity = 64}).get();
  auto flooder = node.spawn<Flooder>({}).get();
  flooder.tell(&Flooder::flood, counter, 200, 100);
  CHECK(eventually([&] { return counter.ask(&Counter::total).get() == 20'000; }));
}

TEST_CASE("a thread flooding a small mailbox is slowed down, and nothing is lost") {
  Node node(testing::test_config());
  auto counter = node.spawn<Counter>({.mailbox_capacity = 16}).get();
  for (int i = 0; i < 5'000; ++i) counter.tell(&Counter::add, 1);
  CHECK(eventually([&] { return counter.ask(&Counter::total).get() == 5'000; }));
}

TEST_CASE("shutdown with work in flight: every ask completes, nothing hangs") {
  auto node = std::make_unique<Node>(testing::test_config());
  auto gate = std::make_shared<Promise<int>>();
  auto keeper = node->spawn<Gatekeeper>({}, gate).get();
  auto suspended = keeper.ask(&Gatekeeper::wait_gate);  // never released
  auto queued = keeper.ask(&Gatekeeper::ping);          // waits behind it
  node->shutdown();
  CHECK_THROWS_AS(suspended.get(), RuntimeError);
  CHECK_THROWS_AS(queued.get(), RuntimeError);
  // After shutdown, references fail at once, and spawning is refused.
  CHECK_THROWS_AS(keeper.ask(&Gatekeeper::ping).get(), RuntimeError);
  {
    auto e = testing::expect_error<RuntimeError>([&] { node->spawn<Echo>({}).get(); });
    CHECK(e.kind() == RuntimeErrorKind::kShutdown);
  }
  node.reset();  // references may outlive the node
  CHECK_THROWS_AS(keeper.ask(&Gatekeeper::ping).get(), RuntimeError);
}

namespace {
class Quitter : public Actor {
 public:
  explicit Quitter(Node* node) : node_(node) {}
  void shut_everything_down() { node_->shutdown(); }
  PULSING_METHODS(Quitter, shut_everything_down)

 private:
  Node* node_;
};
}  // namespace

TEST_CASE("shutdown from inside the node's own actor is refused with a clear error") {
  Node node(testing::test_config());
  auto quitter = node.spawn<Quitter>({}, &node).get();
  auto e = testing::expect_error<RuntimeError>([&] { quitter.ask(&Quitter::shut_everything_down).get(); });
  CHECK(e.kind() == RuntimeErrorKind::kShutdown);
  CHECK(std::string(e.what()).find("inside") != std::string::npos);
}

TEST_CASE("the process-wide default node mirrors the seed's global API") {
  CHECK_THROWS_AS(default_node(), RuntimeError);
  init(testing::test_config());
  auto echo = Echo::spawn({.name = "service"}).get();
  auto proxy = Echo::resolve("service").get();
  CHECK(proxy == echo);
  CHECK(proxy.ask(&Echo::echo, std::string("hello")).get() == "hello");
  shutdown();
  CHECK_THROWS_AS(default_node(), RuntimeError);
}

}  // namespace pulsing
