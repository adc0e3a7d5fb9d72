#include "membership/broadcast_queue.hpp"

#include <doctest/doctest.h>

#include <algorithm>
#include <cstddef>
#include <map>
#include <string>
#include <vector>

namespace pulsing::membership {
namespace {

constexpr std::size_t kRoomy = 64 * 1024;
constexpr int kForever = 1'000;

Message alive(const std::string& name, std::uint64_t incarnation = 0, Metadata meta = {}) {
  return Alive{make_identity(name, name + ":7946", std::move(meta)), incarnation};
}

// An update whose size bound is several times that of a plain one.
Message bulky(const std::string& name) {
  Metadata meta;
  for (int i = 0; i < 20; ++i) meta["tag-" + std::to_string(i)] = std::string(40, 'x');
  return alive(name, 0, std::move(meta));
}

// The members the updates are about, in the order taken.
std::vector<std::string> names(const std::vector<Message>& updates) {
  std::vector<std::string> out;
  for (const auto& u : updates) {
    std::visit(
        [&](const auto& m) {
          if constexpr (requires { m.name; }) out.push_back(m.name);
          if constexpr (requires { m.who; }) out.push_back(m.who->name);
        },
        u);
  }
  return out;
}

std::size_t bytes(const std::vector<Message>& updates) {
  std::size_t total = 0;
  for (const auto& u : updates) total += size_bound(u);
  return total;
}

}  // namespace

TEST_CASE("a newer update about a member replaces the older one") {
  BroadcastQueue q;
  q.push("node-a", alive("node-a", 1));
  q.push("node-a", Suspect{"node-a", 1, "node-b"});
  CHECK(q.size() == 1);

  auto taken = q.take(kRoomy, kForever);
  REQUIRE(taken.size() == 1);
  REQUIRE(std::holds_alternative<Suspect>(taken[0]));
  CHECK(std::get<Suspect>(taken[0]).from == "node-b");
}

TEST_CASE("a replaced update starts over as never sent") {
  BroadcastQueue q;
  q.push("node-a", alive("node-a", 1));
  q.take(kRoomy, 2);  // sent once: one more and it would be gone
  q.push("node-a", alive("node-a", 2));
  q.take(kRoomy, 2);
  REQUIRE_FALSE(q.empty());
  auto taken = q.take(kRoomy, 2);
  REQUIRE(taken.size() == 1);
  CHECK(std::get<Alive>(taken[0]).incarnation == 2);
  CHECK(q.empty());
}

TEST_CASE("take fills at most the byte budget") {
  BroadcastQueue q;
  for (const char* name : {"node-a", "node-b", "node-c", "node-d"}) q.push(name, alive(name));
  std::size_t one = size_bound(alive("node-a"));

  // Room for two and a half updates: two are taken.
  auto taken = q.take(2 * one + one / 2, kForever);
  CHECK(taken.size() == 2);
  CHECK(bytes(taken) <= 2 * one + one / 2);

  CHECK(q.take(one - 1, kForever).empty());
  CHECK(q.size() == 4);  // nothing taken is lost while below the limit
}

TEST_CASE("the least-sent updates go first, the newest first among equals") {
  BroadcastQueue q;
  std::size_t one = size_bound(alive("node-a"));
  q.push("node-a", alive("node-a"));
  q.push("node-b", alive("node-b"));
  CHECK(names(q.take(one, kForever)) == std::vector<std::string>{"node-b"});  // both unsent: newer first
  CHECK(names(q.take(one, kForever)) == std::vector<std::string>{"node-a"});  // unsent before sent once

  q.push("node-c", alive("node-c"));
  CHECK(names(q.take(kRoomy, kForever)) == std::vector<std::string>{"node-c", "node-b", "node-a"});
}

TEST_CASE("an update leaves the queue after limit takes") {
  BroadcastQueue q;
  q.push("node-a", alive("node-a"));
  for (int i = 0; i < 3; ++i) {
    CAPTURE(i);
    CHECK(names(q.take(kRoomy, 3)) == std::vector<std::string>{"node-a"});
  }
  CHECK(q.empty());
  CHECK(q.take(kRoomy, 3).empty());
}

TEST_CASE("an update too big for the packet does not hold back smaller ones") {
  BroadcastQueue q;
  q.push("node-a", alive("node-a"));
  q.push("node-big", bulky("node-big"));  // newest: first in line
  std::size_t small = size_bound(alive("node-a"));
  REQUIRE(size_bound(bulky("node-big")) > 2 * small);

  CHECK(names(q.take(2 * small, kForever)) == std::vector<std::string>{"node-a"});
  // The big one is still queued, unsent, and goes when there is room.
  CHECK(q.size() == 2);
  CHECK(names(q.take(kRoomy, kForever)) == std::vector<std::string>{"node-big", "node-a"});
}

TEST_CASE("an update larger than the largest item is refused, counted, and drops the older word") {
  std::size_t small = size_bound(alive("node-a"));
  REQUIRE(size_bound(bulky("node-a")) > 2 * small);
  BroadcastQueue q(2 * small);
  CHECK(q.max_item_bytes() == 2 * small);
  CHECK(q.push("node-a", alive("node-a", 1)));
  CHECK(q.push("node-b", alive("node-b", 1)));

  CHECK_FALSE(q.push("node-a", bulky("node-a")));
  CHECK(q.oversized() == 1);
  // What was queued about node-a is superseded: only node-b is still spread.
  CHECK(q.size() == 1);
  CHECK(names(q.take(kRoomy, kForever)) == std::vector<std::string>{"node-b"});

  // An update of exactly the largest size is queued, and an empty packet of that size takes it.
  BroadcastQueue exact(size_bound(alive("node-c", 0, {{"k", "v"}})));
  CHECK(exact.push("node-c", alive("node-c", 0, {{"k", "v"}})));
  CHECK(names(exact.take(exact.max_item_bytes(), kForever)) == std::vector<std::string>{"node-c"});
  CHECK(exact.oversized() == 0);
}

TEST_CASE("updates that fit in an empty packet but not beside each other never stall the queue") {
  // Twelve bulky updates at the head of the line (newest first), each too big to share a packet
  // with another, and small ones behind them: more than take() skips before it gives up.
  const std::size_t big = size_bound(bulky("node-big-00"));
  const std::size_t room = big + big / 2;
  BroadcastQueue q(room);
  std::map<std::string, int> sent;
  for (int i = 0; i < 4; ++i) {
    std::string name = "node-small-" + std::to_string(i);
    REQUIRE(q.push(name, alive(name)));
    sent[name] = 0;
  }
  for (int i = 10; i < 22; ++i) {
    std::string name = "node-big-" + std::to_string(i);
    REQUIRE(q.push(name, bulky(name)));
    sent[name] = 0;
  }
  constexpr int kLimit = 3;
  const std::size_t packets_bound = sent.size() * kLimit;  // at least one update per packet
  std::size_t packets = 0;
  while (!q.empty() && packets < 2 * packets_bound) {
    // A packet that opens with a ping has less room: it may take nothing at all ...
    for (const auto& name : names(q.take(room - big / 2 - 1, kLimit))) ++sent[name];
    if (q.empty()) break;
    // ... but one that starts empty always takes something.
    auto taken = q.take(room, kLimit);
    CHECK_FALSE(taken.empty());
    CHECK(bytes(taken) <= room);
    for (const auto& name : names(taken)) ++sent[name];
    ++packets;
  }
  CHECK(q.empty());
  CHECK(packets <= packets_bound);
  for (const auto& [name, times] : sent) {
    CAPTURE(name);
    CHECK(times == kLimit);
  }
  CHECK(q.oversized() == 0);
}

TEST_CASE("every queued update is sent limit times while packets keep coming") {
  // Updates of many sizes, the largest exactly what an empty packet holds.
  std::vector<Message> updates;
  for (int i = 0; i < 40; ++i) {
    Metadata meta;
    for (int t = 0; t < i % 7; ++t) meta["tag-" + std::to_string(t)] = std::string(static_cast<std::size_t>(8 * (i % 5)), 'x');
    updates.push_back(alive("node-" + std::to_string(i), 0, std::move(meta)));
  }
  std::size_t room = 0;
  for (const auto& u : updates) room = std::max(room, size_bound(u));
  BroadcastQueue q(room);
  std::map<std::string, int> sent;
  for (std::size_t i = 0; i < updates.size(); ++i) {
    const std::string name = names({updates[i]}).front();
    REQUIRE(q.push(name, updates[i]));
    sent[name] = 0;
  }
  constexpr int kLimit = 4;
  for (std::size_t packet = 0; !q.empty() && packet < updates.size() * kLimit; ++packet) {
    auto taken = q.take(room, kLimit);
    CHECK_FALSE(taken.empty());
    CHECK(bytes(taken) <= room);
    for (const auto& name : names(taken)) ++sent[name];
  }
  CHECK(q.empty());
  for (const auto& [name, times] : sent) {
    CAPTURE(name);
    CHECK(times == kLimit);
  }
}

}  // namespace pulsing::membership
