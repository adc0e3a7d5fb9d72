// EntityTable: what a node does with a call for an entity — activate it, deliver, forward it to
// the owner, hold it, refuse it — and the hand-over when the hosts change.
#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "registry/entity_table.hpp"

namespace pulsing::registry {
namespace {

using namespace std::chrono_literals;
using Action = EntityTable::Action;

const Clock::time_point t0{};

// A key that `owner` owns among `hosts` (and `then` among `later`, if given).
std::string key_owned_by(const std::vector<std::string>& hosts, const std::string& owner,
                         const std::vector<std::string>& later = {}, const std::string& then = {}) {
  EntityTable before({.self = "probe"});
  EntityTable after({.self = "probe"});
  before.set_hosts("Cart", hosts, t0);
  after.set_hosts("Cart", later, t0);
  for (int i = 0;; ++i) {
    std::string key = "k" + std::to_string(i);
    if (before.owner("Cart", key) == owner && (later.empty() || after.owner("Cart", key) == then)) return key;
  }
}

}  // namespace

TEST_CASE("the owner activates on the first call and delivers the next ones, with no host it is refused") {
  EntityTable a({.self = "a"});
  CHECK(a.arrive("Cart", "k1", 0, t0).action == Action::kNoHost);
  a.set_hosts("Cart", {"a"}, t0);
  auto first = a.arrive("Cart", "k1", 0, t0 + 1h);
  CHECK(first.action == Action::kActivate);
  CHECK(first.member.empty());  // no one to ask for a release
  CHECK(a.arrive("Cart", "k1", 0, t0 + 1h).action == Action::kDeliver);  // calls wait for the activation
  a.activated("Cart", "k1");
  CHECK(a.arrive("Cart", "k1", 0, t0 + 1h).action == Action::kDeliver);
  CHECK(a.active() == 1);
  CHECK(a.arrive("Order", "k1", 0, t0).action == Action::kNoHost);
}

TEST_CASE("a node that does not own a key forwards its calls to the owner it sees, a bounded number of times") {
  const std::vector<std::string> hosts = {"a", "b"};
  EntityTable a({.self = "a"});
  a.set_hosts("Cart", hosts, t0);
  const std::string key = key_owned_by(hosts, "b");
  auto arrival = a.arrive("Cart", key, 0, t0);
  CHECK(arrival.action == Action::kForward);
  CHECK(arrival.member == "b");
  CHECK(a.arrive("Cart", key, EntityTable::kMaxHops, t0).action == Action::kRefuse);
  CHECK_FALSE(a.holds("Cart", key));
}

TEST_CASE("hand-over: a host that joins takes its keys, after the old owner released them") {
  EntityTable a({.self = "a"});
  EntityTable c({.self = "c"});
  a.set_hosts("Cart", {"a", "b"}, t0);
  const std::string moving = key_owned_by({"a", "b"}, "a", {"a", "b", "c"}, "c");
  const std::string staying = key_owned_by({"a", "b"}, "a", {"a", "b", "c"}, "a");
  for (const auto& key : {moving, staying}) REQUIRE(a.arrive("Cart", key, 0, t0).action == Action::kActivate);
  a.activated("Cart", moving);
  a.activated("Cart", staying);

  // c joins: a passivates what c owns now and forwards its calls there.
  auto moved = a.set_hosts("Cart", {"a", "b", "c"}, t0 + 10s);
  CHECK(moved == std::vector<std::string>{moving});
  auto late = a.arrive("Cart", moving, 0, t0 + 10s);
  CHECK(late.action == Action::kForward);
  CHECK(late.member == "c");
  CHECK(a.arrive("Cart", staying, 0, t0 + 10s).action == Action::kDeliver);

  // c, whose view changed moments ago, asks a (the owner before) to release it first.
  c.set_hosts("Cart", {"a", "b"}, t0);
  c.set_hosts("Cart", {"a", "b", "c"}, t0 + 10s);
  auto activation = c.arrive("Cart", moving, 1, t0 + 11s);
  CHECK(activation.action == Action::kActivate);
  CHECK(activation.member == "a");
  CHECK(a.release("Cart", moving, "c") == EntityTable::Release::kPassivating);
  CHECK(a.passivated("Cart", moving) == std::vector<std::string>{"c"});  // answer c now
  CHECK(a.release("Cart", moving, "c") == EntityTable::Release::kReleased);
  // a refuses to release what it owns in its own view.
  CHECK(a.release("Cart", staying, "c") == EntityTable::Release::kRefused);
  CHECK(a.holds("Cart", staying));

  // Long after the change, an activation asks no one.
  EntityTable late_c({.self = "c"});
  late_c.set_hosts("Cart", {"a", "b"}, t0);
  late_c.set_hosts("Cart", {"a", "b", "c"}, t0 + 10s);
  CHECK(late_c.arrive("Cart", moving, 0, t0 + 10s + 1h).member.empty());
}

TEST_CASE("idle passivation holds the calls that arrive meanwhile for the next activation") {
  EntityTable a({.self = "a"});
  a.set_hosts("Cart", {"a"}, t0);
  REQUIRE(a.arrive("Cart", "k", 0, t0).action == Action::kActivate);
  CHECK_FALSE(a.begin_passivation("Cart", "k"));  // not running yet
  a.activated("Cart", "k");
  CHECK(a.begin_passivation("Cart", "k"));
  CHECK(a.arrive("Cart", "k", 0, t0).action == Action::kHold);
  CHECK(a.passivated("Cart", "k").empty());
  CHECK(a.arrive("Cart", "k", 0, t0).action == Action::kActivate);
}

}  // namespace pulsing::registry
