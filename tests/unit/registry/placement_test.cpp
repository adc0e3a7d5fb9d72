#include "registry/placement.hpp"

#include <doctest/doctest.h>

#include <algorithm>
#include <map>
#include <set>
#include <string>

namespace pulsing::registry {
namespace {

std::vector<std::string> members(int n) {
  std::vector<std::string> out;
  for (int i = 0; i < n; ++i) out.push_back("node-" + std::to_string(i));
  return out;
}

std::string name(int i) { return "service-" + std::to_string(i); }

}  // namespace

TEST_CASE("the owners of a name are distinct members, the same whatever order the members came in") {
  Placement a;
  a.set_members(members(10));
  Placement b;
  auto reversed = members(10);
  std::reverse(reversed.begin(), reversed.end());
  for (const auto& m : reversed) b.add(m);
  b.add("node-3");  // a duplicate changes nothing
  for (int i = 0; i < 1'000; ++i) {
    CAPTURE(i);
    auto owners = a.owners(name(i), 3);
    REQUIRE(owners.size() == 3);
    CHECK(std::set<std::string>(owners.begin(), owners.end()).size() == 3);
    CHECK(b.owners(name(i), 3) == owners);
    for (const auto& m : members(10)) {
      CHECK(a.owns(m, name(i), 3) == (std::find(owners.begin(), owners.end(), m) != owners.end()));
    }
  }
}

TEST_CASE("with fewer members than replicas, every member owns every name") {
  Placement p;
  p.set_members(members(2));
  CHECK(p.owners("x", 3).size() == 2);
  CHECK(p.owns("node-0", "x", 3));
  CHECK(p.owns("node-1", "x", 3));
  CHECK(!p.owns("node-9", "x", 3));
  Placement empty;
  CHECK(empty.owners("x", 3).empty());
}

TEST_CASE("a member joining takes names only for itself, and leaving gives back exactly those") {
  Placement p;
  p.set_members(members(20));
  std::map<std::string, std::vector<std::string>> before;
  for (int i = 0; i < 5'000; ++i) before[name(i)] = p.owners(name(i), 3);

  p.add("newcomer");
  int moved = 0;
  for (const auto& [n, owners] : before) {
    auto now = p.owners(n, 3);
    if (now == owners) continue;
    ++moved;
    // The newcomer came in; of the rest, only the least preferred owner went.
    CHECK(std::find(now.begin(), now.end(), "newcomer") != now.end());
    for (const auto& o : now) {
      if (o != "newcomer") CHECK(std::find(owners.begin(), owners.end(), o) != owners.end());
    }
  }
  // About R/(N+1) of the names: 3/21 of 5,000 is 714.
  CHECK(moved > 500);
  CHECK(moved < 950);

  p.remove("newcomer");
  for (const auto& [n, owners] : before) CHECK(p.owners(n, 3) == owners);
}

TEST_CASE("names spread evenly over the members") {
  Placement p;
  p.set_members(members(10));
  std::map<std::string, int> owned;
  for (int i = 0; i < 30'000; ++i) {
    for (const auto& o : p.owners(name(i), 3)) ++owned[o];
  }
  // 9,000 each on average; a member more than 10% off would be a poor hash.
  for (const auto& [member, count] : owned) {
    CAPTURE(member);
    CHECK(count > 8'100);
    CHECK(count < 9'900);
  }
}

}  // namespace pulsing::registry
