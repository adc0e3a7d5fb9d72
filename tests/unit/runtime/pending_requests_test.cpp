// The table of requests waiting for their answer, on virtual time: each request leaves exactly
// once (answered, expired, its peer lost, or shut down), and the one alarm always stands at the
// earliest deadline still pending.
#include "runtime/pending_requests.hpp"

#include <doctest/doctest.h>

#include "messaging/memory_transport.hpp"
#include "../messaging/inbox.hpp"

namespace pulsing::detail {
namespace {

using namespace std::chrono_literals;

// An alarm that only records what it was set to.
class RecordingAlarm final : public PendingRequests::Alarm {
 public:
  void set(Clock::time_point when) override { at = when; ++sets; }
  void clear() override { at.reset(); }
  std::optional<Clock::time_point> at;
  int sets = 0;
};

// A slot that keeps what it was given, and how often.
class Slot final : public ReplySlot {
 public:
  void deliver(Result<Value> reply) override {
    ++deliveries;
    last.emplace(std::move(reply));
  }
  int deliveries = 0;
  std::optional<Result<Value>> last;
};

struct Fixture {
  Fixture() {
    TransportConfig config;
    config.listen = "mem://here";
    transport = std::make_unique<MemoryTransport>(net, config, inbox);
    b = transport->peer("mem://b");
    c = transport->peer("mem://c");
  }
  // Sends request `correlation` to `peer`, due `after` from t0.
  std::shared_ptr<Slot> send(std::uint64_t correlation, const std::shared_ptr<Transport::Peer>& peer,
                             std::chrono::milliseconds after) {
    auto slot = std::make_shared<Slot>();
    auto refused = table.add(correlation, {slot, peer.get(), after, {nullptr, "test"}}, t0 + after);
    if (refused) FAIL_CHECK("request " << correlation << " refused");
    return slot;
  }
  static void deliver_all(std::vector<PendingRequests::Request> requests, const Failure& why) {
    for (auto& r : requests) r.reply->deliver(why);
  }

  std::shared_ptr<MemoryNetwork> net = MemoryNetwork::create();
  testing::Inbox inbox;
  std::unique_ptr<MemoryTransport> transport;
  std::shared_ptr<Transport::Peer> b, c;
  RecordingAlarm alarm;
  PendingRequests table{alarm};
  Clock::time_point t0 = Clock::now();
};

Failure lost() { return make_failure<RuntimeError>(RuntimeErrorKind::kNodeUnreachable, "lost"); }

}  // namespace

TEST_CASE("pending requests: an answered request leaves, and a second answer finds nothing") {
  Fixture f;
  auto slot = f.send(1, f.b, 100ms);
  auto taken = f.table.take(1);
  REQUIRE(taken);
  CHECK(taken->reply == slot);
  CHECK_FALSE(f.table.take(1));
  CHECK(f.table.size() == 0);
}

TEST_CASE("pending requests: an answer from another peer than the one asked is refused, and the request waits on") {
  Fixture f;
  auto slot = f.send(7, f.b, 100ms);
  bool foreign = false;
  CHECK_FALSE(f.table.take_answer(7, "mem://c", &foreign));  // c forges b's answer
  CHECK(foreign);
  CHECK(f.table.size() == 1);
  foreign = false;
  CHECK_FALSE(f.table.take_answer(8, "mem://c", &foreign));  // no such request: nothing forged
  CHECK_FALSE(foreign);
  auto taken = f.table.take_answer(7, "mem://b", &foreign);
  REQUIRE(taken);
  CHECK(taken->reply == slot);
  CHECK_FALSE(foreign);
  CHECK(f.table.size() == 0);
}

TEST_CASE("pending requests: the alarm stands at the earliest deadline and follows it as requests expire") {
  Fixture f;
  f.send(1, f.b, 300ms);
  CHECK(f.alarm.at == f.t0 + 300ms);
  f.send(2, f.b, 100ms);  // earlier: the alarm moves
  CHECK(f.alarm.at == f.t0 + 100ms);
  f.send(3, f.c, 200ms);  // later than the alarm: it stays
  CHECK(f.alarm.at == f.t0 + 100ms);

  // The alarm goes off at t0+100ms: only request 2 is due.
  auto expired = f.table.expire(f.t0 + 100ms);
  REQUIRE(expired.size() == 1);
  CHECK(expired[0].timeout == 100ms);
  CHECK(f.alarm.at == f.t0 + 200ms);
  // Request 3 is answered before its deadline; its deadline still surfaces, and expires nothing.
  CHECK(f.table.take(3));
  CHECK(f.table.expire(f.t0 + 200ms).empty());
  CHECK(f.alarm.at == f.t0 + 300ms);
  CHECK(f.table.expire(f.t0 + 300ms).size() == 1);
  CHECK(f.table.size() == 0);
}

TEST_CASE("pending requests: an early alarm expires nothing and is set again") {
  Fixture f;
  f.send(1, f.b, 100ms);
  CHECK(f.table.expire(f.t0 + 50ms).empty());
  CHECK(f.alarm.at == f.t0 + 100ms);
  CHECK(f.table.size() == 1);
}

TEST_CASE("pending requests: a lost peer takes exactly its own requests") {
  Fixture f;
  auto to_b1 = f.send(1, f.b, 100ms);
  auto to_c = f.send(2, f.c, 100ms);
  auto to_b2 = f.send(3, f.b, 200ms);
  Fixture::deliver_all(f.table.take_peer("mem://b"), lost());
  CHECK(to_b1->deliveries == 1);
  CHECK(to_b2->deliveries == 1);
  CHECK(to_c->deliveries == 0);
  CHECK(f.table.size() == 1);
  // Their deadlines, left behind, expire nothing; the other request expires at its own.
  CHECK(f.table.expire(f.t0 + 100ms).size() == 1);
  CHECK(f.table.expire(f.t0 + 200ms).empty());
}

TEST_CASE("pending requests: close hands back every request once, then keeps nothing") {
  Fixture f;
  f.send(1, f.b, 100ms);
  f.send(2, f.c, 200ms);
  CHECK(f.table.close().size() == 2);
  CHECK_FALSE(f.alarm.at);
  CHECK(f.table.close().empty());
  auto slot = std::make_shared<Slot>();
  auto refused = f.table.add(3, {slot, f.b.get(), 100ms, {nullptr, "late"}}, f.t0 + 100ms);
  REQUIRE(refused);
  CHECK(refused->reply == slot);
  CHECK(f.table.size() == 0);
  CHECK_FALSE(f.alarm.at);
}

TEST_CASE("pending requests: deadlines of answered requests do not pile up") {
  // A long-lived request keeps the alarm far away while many short ones are answered at once:
  // their deadlines would stay in the heap until they surfaced, were they never swept.
  Fixture f;
  f.send(1, f.b, 1h);
  bool all_answered = true;
  for (std::uint64_t i = 2; i < 100'000; ++i) {
    f.send(i, f.b, 10min);
    all_answered = f.table.take(i).has_value() && all_answered;
  }
  CHECK(all_answered);
  CHECK(f.table.size() == 1);
  CHECK(f.table.deadlines_kept() <= 2 * f.table.size() + 65);
  // The table still expires correctly after all that sweeping.
  CHECK(f.table.expire(f.t0 + 10min).empty());
  CHECK(f.table.expire(f.t0 + 1h).size() == 1);
}

}  // namespace pulsing::detail
