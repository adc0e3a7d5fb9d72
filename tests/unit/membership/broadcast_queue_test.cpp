#include "membership/broadcast_queue.hpp"

#include <doctest/doctest.h>

#include <cstddef>
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

}  // namespace pulsing::membership
