// The in-memory network keeps Transport's contract, stepped by hand: nothing arrives before
// deliver(), answers return on their request's connection, identity comes from the connection,
// outboxes are bounded by the same policy as ZeroMQ's, and peers go down and come back.
#include "messaging/memory_transport.hpp"

#include <doctest/doctest.h>

#include "inbox.hpp"

namespace pulsing {
namespace {

using testing::Inbox;
using testing::reply_to;
using testing::tell;

TransportConfig named(const std::string& endpoint) {
  TransportConfig config;
  config.listen = endpoint;
  return config;
}

Envelope ask(std::uint64_t correlation) {
  Envelope e;
  e.kind = EnvelopeKind::kAsk;
  e.correlation = correlation;
  e.method = "get";
  return e;
}

struct Pair {
  std::shared_ptr<MemoryNetwork> net = MemoryNetwork::create();
  Inbox a_inbox, b_inbox;
  MemoryTransport a{net, named("mem://a"), a_inbox};
  MemoryTransport b{net, named("mem://b"), b_inbox};
};

}  // namespace

TEST_CASE("memory network: nothing arrives before deliver(), then everything in order") {
  Pair p;
  auto to_b = p.a.peer("mem://b");
  for (std::uint64_t i = 1; i <= 5; ++i) CHECK(p.a.send(*to_b, tell(i)) == SendResult::kQueued);
  CHECK(p.b_inbox.envelopes().empty());
  CHECK(p.net->in_flight() == 5);
  p.net->deliver();
  auto got = p.b_inbox.envelopes();
  REQUIRE(got.size() == 5);
  for (std::uint64_t i = 0; i < 5; ++i) CHECK(got[i].correlation == i + 1);
  CHECK(to_b->state() == Transport::PeerState::kUp);
  CHECK(p.net->in_flight() == 0);
}

TEST_CASE("memory network: an answer returns on its request's connection, whatever the envelope claims") {
  Pair p;
  Envelope forged = ask(7);
  forged.sender_endpoint = "mem://somebody-else";
  p.a.send(*p.a.peer("mem://b"), forged);
  p.net->deliver();
  auto request = p.b_inbox.envelopes().at(0);
  CHECK(request.sender_endpoint.starts_with(p.a.identity() + "."));
  p.b.send(*p.b.caller(request.sender_endpoint), reply_to(7, 42));
  p.net->deliver();
  auto answer = p.a_inbox.envelopes().at(0);
  CHECK(answer.correlation == 7);
  CHECK(answer.sender_endpoint == "mem://b");
  // A name that never called gets nothing, and it is counted.
  p.b.send(*p.b.caller("mem://a#ffff.1"), reply_to(8, 0));
  p.net->deliver();
  CHECK(p.a_inbox.envelopes().size() == 1);
  CHECK(p.b.stats().envelopes_dropped == 1);
}

TEST_CASE("memory network: a held node's input waits within the senders' bounds, then arrives") {
  auto net = MemoryNetwork::create();
  Inbox a_inbox, b_inbox;
  TransportConfig small = named("mem://a");
  small.max_pending_bytes = 4096;
  MemoryTransport a(net, small, a_inbox);
  MemoryTransport b(net, named("mem://b"), b_inbox);
  auto to_b = a.peer("mem://b");
  net->hold("mem://b");
  std::size_t queued = 0, congested = 0, full = 0;
  for (std::uint64_t i = 1; i <= 2000; ++i) {
    switch (a.send(*to_b, tell(i))) {
      case SendResult::kQueued: ++queued; break;
      case SendResult::kCongested: ++congested; break;
      case SendResult::kFull: ++full; break;
      case SendResult::kDown: FAIL("down"); break;
    }
  }
  net->deliver();
  CHECK(b_inbox.envelopes().empty());
  CHECK(congested > 0);  // past max_pending_bytes: slow down
  CHECK(full > 0);       // past 4 × it: refused, and counted
  CHECK(a.stats().envelopes_refused == full);
  bool room = false;
  a.notify_room(*to_b, [&] { room = true; });
  CHECK_FALSE(room);
  net->release("mem://b");
  net->deliver();
  CHECK(room);
  CHECK(b_inbox.envelopes().size() == queued + congested);
}

TEST_CASE("memory network: a crashed node's peers go down, its callers are gone, and it comes back") {
  Pair p;
  auto to_b = p.a.peer("mem://b");
  p.a.send(*to_b, tell(1));
  p.net->deliver();
  auto b_to_a = p.b.peer("mem://a");
  p.b.send(*b_to_a, tell(2));
  p.net->deliver();
  p.a.send(*to_b, ask(3));  // in flight when b crashes: dropped with the connection
  p.a.send(*to_b, tell(4));
  p.net->cut("mem://b");
  p.net->deliver();
  REQUIRE(p.a_inbox.downs().size() == 1);
  CHECK(p.a_inbox.downs()[0].endpoint == "mem://b");
  CHECK(p.a_inbox.downs()[0].dropped == 1);  // the tell; the ask's sender fails it itself
  CHECK(p.a_inbox.gone().size() == 1);       // b's connection to a closed
  CHECK(to_b->state() == Transport::PeerState::kDown);
  CHECK(p.a.send(*to_b, tell(5)) == SendResult::kDown);

  Inbox again_inbox;
  MemoryTransport again(p.net, named("mem://b"), again_inbox);
  p.net->deliver();
  CHECK(p.a_inbox.ups() == std::vector<std::string>{"mem://b"});
  CHECK(p.a.send(*to_b, tell(6)) == SendResult::kQueued);
  p.net->deliver();
  REQUIRE(again_inbox.envelopes().size() == 1);
  CHECK(again_inbox.envelopes()[0].correlation == 6);
}

TEST_CASE("memory network: a request to nobody fails its peer, and close_peer reconnects anew") {
  Pair p;
  auto nobody = p.a.peer("mem://nobody");
  p.a.send(*nobody, tell(1));
  p.net->deliver();
  REQUIRE(p.a_inbox.downs().size() == 1);
  CHECK(nobody->state() == Transport::PeerState::kDown);

  auto to_b = p.a.peer("mem://b");
  p.a.send(*to_b, tell(2));
  p.net->deliver();
  std::string first = p.b_inbox.envelopes().at(0).sender_endpoint;
  p.a.close_peer("mem://b", "declared dead");
  p.net->deliver();
  CHECK(p.b_inbox.gone() == std::vector<std::string>{first});
  p.a.send(*to_b, tell(3));
  p.net->deliver();
  std::string second = p.b_inbox.envelopes().at(1).sender_endpoint;
  CHECK(second != first);
  CHECK(second.starts_with(p.a.identity() + "."));
}

TEST_CASE("memory network: a second node cannot take an endpoint in use") {
  Pair p;
  Inbox other;
  CHECK_THROWS_AS(MemoryTransport(p.net, named("mem://a"), other), std::runtime_error);
}

}  // namespace pulsing
