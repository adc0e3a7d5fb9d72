// Two nodes on the in-memory network (messaging/memory_transport.hpp): the remote runtime's
// logic — correlation, answers, peer loss — stepped by hand, with no socket and no sleep. Nothing
// crosses between the nodes except inside net->deliver(), called by the test.
#include <doctest/doctest.h>

#include "messaging/memory_transport.hpp"
#include "test_support.hpp"

namespace pulsing {
namespace {

using testing::eventually;

class Tally : public Actor {
 public:
  int add(int n) { return total_ += n; }
  PULSING_METHODS(Tally, add)

 private:
  int total_ = 0;
};

NodeConfig on(const std::shared_ptr<MemoryNetwork>& net, const std::string& name) {
  NodeConfig config = testing::test_config();
  config.gossip = false;
  config.listen = name;
  config.make_transport = net->factory();
  return config;
}

// Steps the network until `future` is ready (or the deadline of eventually() passes).
template <typename F>
bool settle(MemoryNetwork& net, const F& future) {
  return eventually([&] {
    net.deliver();
    return future.ready();
  });
}

// Node a holds a reference to "tally" on node b, resolved over the network.
struct Pair {
  Pair() {
    b.spawn<Tally>({.name = "tally"}).get();
    auto resolved = a.resolve_at<Tally>("mem://b", "tally");
    REQUIRE(settle(*net, resolved));
    tally = resolved.get();
  }
  std::shared_ptr<MemoryNetwork> net = MemoryNetwork::create();
  Node a{on(net, "mem://a")};
  Node b{on(net, "mem://b")};
  ActorRef<Tally> tally;
};

}  // namespace

TEST_CASE("memory network: a resolve and an ask cross only when the network delivers") {
  auto net = MemoryNetwork::create();
  Node a(on(net, "mem://a"));
  Node b(on(net, "mem://b"));
  b.spawn<Tally>({.name = "tally"}).get();

  auto resolved = a.resolve_at<Tally>("mem://b", "tally");
  CHECK_FALSE(resolved.ready());  // nothing moved yet
  REQUIRE(settle(*net, resolved));
  auto tally = resolved.get();
  CHECK(tally.is_remote());

  auto sum = tally.ask(&Tally::add, 5);
  REQUIRE(settle(*net, sum));
  CHECK(sum.get() == 5);
  for (int i = 0; i < 10; ++i) tally.tell(&Tally::add, 1);
  auto after = tally.ask(&Tally::add, 0);
  REQUIRE(settle(*net, after));
  CHECK(after.get() == 15);  // the tells came first
}

TEST_CASE("memory network: an ask in flight when its node crashes fails as unreachable, and so does the next") {
  Pair p;
  auto& net = p.net;
  auto& tally = p.tally;

  auto pending = tally.ask(&Tally::add, 1);  // sent, never delivered
  net->cut("mem://b");
  REQUIRE(settle(*net, pending));
  CHECK(testing::runtime_error_kind([&] { pending.get(); }) == RuntimeErrorKind::kNodeUnreachable);

  auto later = tally.ask(&Tally::add, 1);
  REQUIRE(settle(*net, later));
  CHECK(testing::runtime_error_kind([&] { later.get(); }) == RuntimeErrorKind::kNodeUnreachable);
}

TEST_CASE("memory network: a held node's answers wait, and arrive in order once it is released") {
  Pair p;
  auto& net = p.net;
  auto& tally = p.tally;

  net->hold("mem://b");  // b's process is stopped: what is sent to it waits
  auto first = tally.ask(&Tally::add, 1);
  auto second = tally.ask(&Tally::add, 2);
  net->deliver();
  CHECK_FALSE(first.ready());
  CHECK(net->in_flight() >= 1);
  net->release("mem://b");
  REQUIRE(settle(*net, second));
  REQUIRE(settle(*net, first));
  CHECK(first.get() == 1);
  CHECK(second.get() == 3);
}

TEST_CASE("memory network: a resolve sent behind a backlog of tells is answered before the tells arrive") {
  Pair p;
  auto& net = p.net;
  constexpr int kTells = 20'000;  // some 30 frames
  for (int i = 0; i < kTells; ++i) p.tally.tell(&Tally::add, 1);
  auto resolved = p.a.resolve_at<Tally>("mem://b", "tally");
  // One frame at a time: the resolve goes ahead of the tells queued before it.
  REQUIRE(eventually([&] {
    net->deliver(1);
    return resolved.ready();
  }));
  CHECK(resolved.get().is_remote());
  auto on_b = p.b.resolve<Tally>("tally").get();
  CHECK(on_b.ask(&Tally::add, 0).get() < kTells);
  CHECK(net->in_flight() > 0);
  // And every tell arrives, in order, after it.
  auto total = p.tally.ask(&Tally::add, 0);
  REQUIRE(settle(*net, total));
  CHECK(total.get() == kTells);
}

}  // namespace pulsing
