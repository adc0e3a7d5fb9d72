// The pure parts of placement: which host a spawn goes to (HostChooser), when a node announces
// its load again (LoadAnnouncer), spawn options on the wire, and the kind table with its
// constructor-argument conversion. No sockets.
#include <doctest/doctest.h>

#include <map>
#include <set>
#include <string>
#include <vector>

#include "runtime/host_choice.hpp"
#include "runtime/kind_table.hpp"
#include "runtime/spawner.hpp"
#include "test_support.hpp"

namespace pulsing::detail {
namespace {

using namespace std::chrono_literals;

membership::Member member(std::string name, std::string kinds, std::uint64_t load = 0,
                          membership::MemberState state = membership::MemberState::kAlive) {
  membership::Member m;
  m.address = "10.0.0." + std::to_string(static_cast<int>(name[0])) + ":7000";
  m.name = std::move(name);
  if (!kinds.empty()) m.meta[KindTable::kMetadataKey] = std::move(kinds);
  if (load != 0) m.meta[kLoadKey] = std::to_string(load);
  m.state = state;
  return m;
}

std::string chosen(HostChooser& chooser, const std::vector<membership::Member>& members, const Placement& p,
                   std::string_view kind = "Cart") {
  auto r = chooser.choose(members, "self", kind, p);
  return r.ok() ? r.value().member : "error: " + std::string(to_string(
                                                     dynamic_cast<const RuntimeError&>(*r.failure().error).kind()));
}

class Box : public Actor {
 public:
  Box(int size, std::string label) : size_(size), label_(std::move(label)) {}
  std::string describe() { return label_ + std::to_string(size_); }
  PULSING_METHODS(Box, describe)

 private:
  int size_;
  std::string label_;
};

}  // namespace

TEST_CASE("the hosts of a kind are the live members that announce it") {
  std::vector<membership::Member> members = {
      member("b", "Cart,Session"), member("a", "Session"), member("c", "Cart"),
      member("d", "Cart", 0, membership::MemberState::kDead), member("e", "Carts"), member("f", "")};
  auto hosts = kind_hosts(members, "c", "Cart");
  REQUIRE(hosts.size() == 2);
  CHECK(hosts[0].member == "b");
  CHECK(hosts[1].member == "c");
  CHECK(hosts[1].self);
  CHECK(kind_hosts(members, "c", "Nothing").empty());
}

TEST_CASE("placements choose: any in turn, by key the same owner, a named member, none when nobody hosts") {
  HostChooser chooser;
  std::vector<membership::Member> members = {member("a", "Cart"), member("b", "Cart"), member("c", "Cart"),
                                             member("d", "Session")};
  std::map<std::string, int> turns;
  for (int i = 0; i < 9; ++i) ++turns[chosen(chooser, members, Placement::any())];
  CHECK(turns == std::map<std::string, int>{{"a", 3}, {"b", 3}, {"c", 3}});

  std::set<std::string> owners;
  for (int i = 0; i < 60; ++i) {
    auto key = "k" + std::to_string(i);
    auto owner = chosen(chooser, members, Placement::by_key(key));
    CHECK(owner == chosen(chooser, members, Placement::by_key(key)));
    owners.insert(owner);
  }
  CHECK(owners == std::set<std::string>{"a", "b", "c"});

  CHECK(chosen(chooser, members, Placement::on("d")) == "d");  // it answers for itself
  CHECK(chosen(chooser, members, Placement::on(members[1].address)) == "b");
  CHECK(chosen(chooser, members, Placement::on("z")) == "error: no_host");
  CHECK(chosen(chooser, members, Placement::any(), "Order") == "error: no_host");
}

TEST_CASE("a key moves only when its owner goes: rendezvous over the hosts") {
  std::vector<membership::Member> three = {member("a", "Cart"), member("b", "Cart"), member("c", "Cart")};
  std::vector<membership::Member> two = {three[0], three[1]};
  HostChooser chooser;
  for (int i = 0; i < 100; ++i) {
    auto key = "k" + std::to_string(i);
    auto before = chosen(chooser, three, Placement::by_key(key));
    auto after = chosen(chooser, two, Placement::by_key(key));
    if (before != "c") CHECK(after == before);
  }
}

TEST_CASE("least loaded: the smallest announced load, counting the spawns sent since it was announced") {
  HostChooser chooser;
  std::vector<membership::Member> members = {member("a", "Cart", 100), member("b", "Cart", 20),
                                             member("c", "Cart", 22)};
  std::map<std::string, int> spawned;
  for (int i = 0; i < 10; ++i) ++spawned[chosen(chooser, members, Placement::least_loaded())];
  // b and c even out at 26 each; a is never chosen.
  CHECK(spawned == std::map<std::string, int>{{"b", 6}, {"c", 4}});
  // b announces a new figure: the count sent to it starts again.
  members[1] = member("b", "Cart", 21);
  CHECK(chosen(chooser, members, Placement::least_loaded()) == "b");
  // A suspect host is chosen only when all are.
  members = {member("a", "Cart", 100), member("b", "Cart", 0, membership::MemberState::kSuspect)};
  CHECK(chosen(chooser, members, Placement::least_loaded()) == "a");
}

TEST_CASE("a load is announced again when it moved by a quarter, at most once per interval") {
  LoadAnnouncer load(5s);
  Clock::time_point t0{};
  CHECK_FALSE(load.due(t0, 10));  // less than the minimum step
  CHECK(load.due(t0, 16));
  CHECK_FALSE(load.due(t0 + 1s, 100));  // within the interval
  CHECK(load.due(t0 + 5s, 100));
  CHECK_FALSE(load.due(t0 + 10s, 120));  // 20 %: less than a quarter
  CHECK(load.due(t0 + 15s, 125));
  CHECK(load.due(t0 + 20s, 0));
  CHECK(load.announced() == 0);
}

TEST_CASE("spawn options cross the wire whole, and unreadable ones are refused") {
  SpawnOptions options{.name = "w", .mailbox_capacity = 64, .reentrant = true};
  options.supervision.policy = RestartPolicy::kOnFailure;
  options.supervision.max_restarts = 7;
  options.supervision.min_backoff = 15ms;
  options.supervision.jitter = 0.5;
  auto back = spawn_options_from_value(spawn_options_to_value(options));
  CHECK(back.name == "w");
  CHECK(back.mailbox_capacity == 64);
  CHECK(back.reentrant);
  CHECK(back.supervision.policy == RestartPolicy::kOnFailure);
  CHECK(back.supervision.max_restarts == 7);
  CHECK(back.supervision.min_backoff == 15ms);
  CHECK(back.supervision.jitter == 0.5);
  CHECK(spawn_options_from_value(Value::Map{}).name.empty());
  CHECK_THROWS_AS(spawn_options_from_value(Value(3)), ConversionError);
  CHECK_THROWS_AS(spawn_options_from_value(Value::Map{{"name", 5}}), ConversionError);
  CHECK_THROWS_AS(spawn_options_from_value(Value::Map{{"supervision", Value::Map{{"policy", "sometimes"}}}}),
                  ConversionError);
  CHECK_THROWS_AS(spawn_options_from_value(Value::Map{{"supervision", Value::Map{{"min_backoff_ms", -1}}}}),
                  ConversionError);
}

TEST_CASE("kinds: names checked, announced sorted, constructor arguments converted or refused by name") {
  Node node(testing::test_config());
  node.register_kind<Box, int, std::string>();
  node.register_kind<Box, int, std::string>();  // the same class again: nothing changes
  CHECK_THROWS_AS((node.register_kind<Box, int, std::string>("bad/name")), std::invalid_argument);
  node.register_kind<Box, int, std::string>("Crate");
  CHECK(node.kinds() == std::vector<std::string>{"Box", "Crate"});
  CHECK(announced_kinds("Box,Crate") == std::vector<std::string_view>{"Box", "Crate"});

  AnyRef box = node.spawn_kind("Box", {}, {Value(3), Value("size ")}).get();
  CHECK(box.ask("describe").get().as_text() == "size 3");
  auto bad = testing::expect_error<RuntimeError>([&] { node.spawn_kind("Box", {}, {Value("x"), Value("y")}).get(); });
  CHECK(bad.kind() == RuntimeErrorKind::kBadArguments);
  CHECK(std::string(bad.what()).find("Box(int32, text): argument 1: expected int32, got text") != std::string::npos);
  CHECK(testing::runtime_error_kind([&] { node.spawn_kind("Box", {}, {Value(1)}).get(); }) ==
        RuntimeErrorKind::kBadArguments);
  CHECK(testing::runtime_error_kind([&] { node.spawn_kind("Barrel", {}).get(); }) == RuntimeErrorKind::kRefused);
  // A node alone hosts what it registered: any placement finds it.
  AnyRef anywhere = node.spawn_kind("Crate", {.placement = Placement::any()}, {Value(1), Value("n")}).get();
  CHECK_FALSE(anywhere.is_remote());
  CHECK(testing::runtime_error_kind([&] { node.spawn_kind("Barrel", {.placement = Placement::any()}).get(); }) ==
        RuntimeErrorKind::kNoHost);
}

}  // namespace pulsing::detail
