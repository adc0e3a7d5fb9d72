// Flow control: a mailbox over its capacity slows its senders, local and remote, and refuses
// calls past its hard bound (ActorCell::kLimitFactor × capacity) as overloaded; a congested
// actor slows nothing else on its node.
#include <atomic>
#include <future>
#include <memory>

#include <doctest/doctest.h>

#include "test_support.hpp"

namespace pulsing {
namespace {

using namespace std::chrono_literals;
using testing::eventually;

constexpr std::size_t kCapacity = 16;
constexpr std::size_t kLimit = kCapacity * 4;  // ActorCell::kLimitFactor

class Flooder;

// Takes tells and counts them; can be held up two ways: a handler that blocks its thread (its
// turn goes on: senders stay muted), or one suspended on a gate (the turn ends with a handler
// pending: senders are let go, and the hard bound holds the mailbox).
class Sink : public Actor {
 public:
  Sink(std::shared_future<void> blocked, std::shared_ptr<Promise<int>> gate)
      : blocked_(std::move(blocked)), gate_(std::move(gate)) {}
  void take(int) { ++taken_; }
  int taken() const { return taken_; }
  int block() {
    blocked_.wait();
    return 1;
  }
  Task<int> suspend() { co_return co_await gate_->future(); }
  // Starts `flooder` flooding this sink, then, suspended meanwhile, asks it how much it sent.
  Task<int> ask_flooder(ActorRef<Flooder> flooder);
  PULSING_METHODS(Sink, take, taken, block, suspend, ask_flooder)

 private:
  std::shared_future<void> blocked_;
  std::shared_ptr<Promise<int>> gate_;
  int taken_ = 0;
};

// Sends `total` tells to a sink, ten per message, telling itself to go on: muting takes effect
// between its messages.
class Flooder : public Actor {
 public:
  void flood(ActorRef<Sink> target, int total) {
    for (int i = 0; i < 10 && sent_ < total; ++i, ++sent_) target.tell(&Sink::take, sent_);
    if (sent_ < total) self().tell(&Flooder::flood, target, total);
  }
  int sent() const { return sent_; }
  PULSING_METHODS(Flooder, flood, sent)

 private:
  int sent_ = 0;
};

Task<int> Sink::ask_flooder(ActorRef<Flooder> flooder) {
  flooder.tell(&Flooder::flood, self(), 1'000);
  co_await sleep_for(20ms);  // the flood fills this mailbox: the flooder is muted
  co_return co_await flooder.ask(&Flooder::sent);
}

// Tells a sink once, as it starts, and counts that it did.
class TellsOnce : public Actor {
 public:
  TellsOnce(ActorRef<Sink> sink, std::shared_ptr<std::atomic<int>> told) : sink_(std::move(sink)), told_(std::move(told)) {}
  void on_start() override {
    sink_.tell(&Sink::take, 1);
    told_->fetch_add(1);
  }
  void noop() {}
  PULSING_METHODS(TellsOnce, noop)

 private:
  ActorRef<Sink> sink_;
  std::shared_ptr<std::atomic<int>> told_;
};

class Echo : public Actor {
 public:
  int echo(int v) { return v; }
  PULSING_METHODS(Echo, echo)
};

NodeConfig small_mailboxes(std::string name, bool networked) {
  NodeConfig config = testing::test_config();
  config.name = std::move(name);
  config.mailbox_capacity = kCapacity;
  if (networked) {
    config.listen = "tcp://127.0.0.1:0";
    config.transport.heartbeat_interval = 500ms;
    config.transport.heartbeat_timeout = 10s;
  }
  return config;
}

// A sink and what holds it up.
struct HeldSink {
  std::promise<void> unblock;
  std::shared_ptr<Promise<int>> gate = std::make_shared<Promise<int>>();
  ActorRef<Sink> ref;
  explicit HeldSink(Node& node) : ref(node.spawn<Sink>({.name = "sink"}, unblock.get_future().share(), gate).get()) {}
};

}  // namespace

TEST_CASE("a sink suspended on a gate holds at most its bound: the rest of a flood is refused as overloaded, and counted") {
  Node node(small_mailboxes("local", false));
  HeldSink sink(node);
  auto waiting = sink.ref.ask(&Sink::suspend);
  auto flooder = node.spawn<Flooder>({}).get();
  flooder.tell(&Flooder::flood, sink.ref, 1'000);
  REQUIRE(eventually([&] { return flooder.ask(&Flooder::sent).get() == 1'000; }));
  auto stats = node.stats();
  CHECK(stats.max_queued <= kLimit);
  CHECK(stats.mailbox_refused >= 1'000 - kLimit);
  CHECK(stats.dead_letters >= stats.mailbox_refused);

  // A thread's ask past the bound fails at once, as overloaded.
  auto e = testing::expect_error<RuntimeError>([&] { sink.ref.ask(&Sink::taken).get(); });
  CHECK(e.kind() == RuntimeErrorKind::kOverloaded);
  CHECK(std::string(e.what()).find("overloaded") != std::string::npos);

  sink.gate->set_value(7);
  CHECK(waiting.get() == 7);
  // Nothing vanished: each tell was taken or refused (and so was the ask).
  REQUIRE(eventually([&] { return node.stats().queued == 0; }));
  CHECK(static_cast<std::uint64_t>(sink.ref.ask(&Sink::taken).get()) + node.stats().mailbox_refused == 1'001);
}

TEST_CASE("many actors that each tell a held-up sink once all get through: none of them was asked to slow down before") {
  Node node(small_mailboxes("local", false));
  HeldSink sink(node);
  auto blocked = sink.ref.ask(&Sink::block);  // its turn goes on: whoever it mutes stays muted
  constexpr int kSenders = 3 * static_cast<int>(kLimit);
  auto told = std::make_shared<std::atomic<int>>(0);
  for (int i = 0; i < kSenders; ++i) node.spawn<TellsOnce>({}, sink.ref, told).get();
  REQUIRE(eventually([&] { return told->load() == kSenders; }));
  // Past the bound by one message per actor, each muted by it; nothing refused.
  CHECK(node.stats().mailbox_refused == 0);
  CHECK(node.stats().max_queued <= kLimit + kSenders);

  sink.unblock.set_value();
  CHECK(blocked.get() == 1);
  // Drained first: a thread's ask while the mailbox is still past its bound would be refused.
  REQUIRE(eventually([&] { return node.stats().queued == 0; }));
  CHECK(sink.ref.ask(&Sink::taken).get() == kSenders);
  CHECK(node.stats().dead_letters == 0);
}

TEST_CASE("an actor suspended awaiting the sender it muted lets that sender go, and both go on") {
  Node node(small_mailboxes("local", false));
  HeldSink sink(node);
  auto flooder = node.spawn<Flooder>({}).get();
  // Without letting it go (after ActorCell::kSuspensionGrace), the two would wait on each other
  // until the ask timed out.
  CHECK(sink.ref.ask(&Sink::ask_flooder, flooder).get() >= static_cast<int>(kCapacity));
  REQUIRE(eventually([&] { return flooder.ask(&Flooder::sent).get() == 1'000; }));
}

TEST_CASE("a congested actor on another node mutes the remote actor flooding it, and its node goes on answering others") {
  Node a(small_mailboxes("a", true));
  Node b(small_mailboxes("b", true));
  HeldSink sink(b);
  b.spawn<Echo>({.name = "echo"}).get();
  auto blocked = sink.ref.ask(&Sink::block);  // holds a worker of b's: its turn goes on
  auto remote_sink = a.resolve_at<Sink>(b.endpoint(), "sink").get();
  auto echo = a.resolve_at<Echo>(b.endpoint(), "echo").get();
  auto flooder = a.spawn<Flooder>({}).get();
  flooder.tell(&Flooder::flood, remote_sink, 2'000);

  // The sink told a that it is congested; the flooder is muted, its node still answers.
  REQUIRE(eventually([&] { return a.stats().congested_targets == 1; }));
  for (int i = 0; i < 20; ++i) CHECK(echo.ask(&Echo::echo, i).get() == i);
  CHECK(b.stats().max_queued <= kLimit);

  sink.unblock.set_value();
  CHECK(blocked.get() == 1);
  // Room again: the flood goes on to its end, and each tell was taken or refused, none lost.
  REQUIRE(eventually([&] { return flooder.ask(&Flooder::sent).get() == 2'000; }));
  std::uint64_t asks_refused = 0;
  REQUIRE(eventually([&] {
    if (b.stats().queued != 0) return false;
    try {
      auto taken = static_cast<std::uint64_t>(sink.ref.ask(&Sink::taken).get());
      return taken + b.stats().mailbox_refused == 2'000 + asks_refused;
    } catch (const RuntimeError& e) {
      // The last of the flood still arriving (sent is not delivered): the mailbox was at its
      // bound again, and this ask was refused, and counted, like the tells past it.
      if (e.kind() != RuntimeErrorKind::kOverloaded) throw;
      ++asks_refused;
      return false;
    }
  }));
  CHECK(eventually([&] { return a.stats().congested_targets == 0; }));
}

TEST_CASE("a remote ask to an actor past its bound fails at once as overloaded, and other actors are answered") {
  Node a(small_mailboxes("a", true));
  Node b(small_mailboxes("b", true));
  HeldSink sink(b);
  b.spawn<Echo>({.name = "echo"}).get();
  auto waiting = sink.ref.ask(&Sink::suspend);  // its muted senders are let go: the bound holds
  auto remote_sink = a.resolve_at<Sink>(b.endpoint(), "sink").get();
  auto echo = a.resolve_at<Echo>(b.endpoint(), "echo").get();
  auto flooder = a.spawn<Flooder>({}).get();
  flooder.tell(&Flooder::flood, remote_sink, 1'000);
  REQUIRE(eventually([&] { return flooder.ask(&Flooder::sent).get() == 1'000; }));
  REQUIRE(eventually([&] { return b.stats().mailbox_refused >= 1'000 - kLimit; }));
  CHECK(b.stats().max_queued <= kLimit);

  auto e = testing::expect_error<RuntimeError>([&] { remote_sink.ask(&Sink::taken).get(); });
  CHECK(e.kind() == RuntimeErrorKind::kOverloaded);
  CHECK(echo.ask(&Echo::echo, 5).get() == 5);

  sink.gate->set_value(1);
  CHECK(waiting.get() == 1);
  REQUIRE(eventually([&] { return b.stats().queued == 0; }));
  CHECK(static_cast<std::uint64_t>(sink.ref.ask(&Sink::taken).get()) + b.stats().mailbox_refused == 1'001);
}

}  // namespace pulsing
