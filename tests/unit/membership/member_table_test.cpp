#include "membership/member_table.hpp"

#include <doctest/doctest.h>

#include <map>
#include <random>
#include <string>

namespace pulsing::membership {
namespace {

MemberTable::Record record(const std::string& name, std::uint64_t incarnation = 0) {
  return {make_identity(name, name + ":7946"), incarnation, {}, MemberState::kAlive};
}

}  // namespace

TEST_CASE("records are found by name and numbered in insertion order") {
  MemberTable table;
  CHECK(table.find("node-a") == nullptr);
  table.insert(record("node-a", 1));
  table.insert(record("node-b", 2));
  REQUIRE(table.size() == 2);
  CHECK(table.at(0).name() == "node-a");
  CHECK(table.at(1).name() == "node-b");
  REQUIRE(table.find("node-b") != nullptr);
  CHECK(table.find("node-b")->incarnation == 2);
  CHECK(table.find("node-c") == nullptr);
}

TEST_CASE("erasing moves the last record into the hole and returns the hole's number") {
  MemberTable table;
  for (const char* name : {"a", "b", "c"}) table.insert(record(name));
  CHECK(table.erase("a") == std::optional<std::size_t>(0));
  CHECK(table.size() == 2);  // "c", numbered 2 before, took number 0
  CHECK(table.at(0).name() == "c");
  CHECK(table.find("a") == nullptr);
  CHECK(table.find("c") == &table.at(0));
  CHECK(table.erase("b") == std::optional<std::size_t>(1));  // the last: nothing moves
  CHECK(table.size() == 1);
  CHECK(table.find("c") == &table.at(0));
  CHECK(table.erase("c") == std::optional<std::size_t>(0));
  CHECK(table.empty());
  CHECK_FALSE(table.erase("nobody").has_value());
}

TEST_CASE("many inserts and erases agree with a map") {
  MemberTable table;
  std::map<std::string, std::uint64_t> expected;
  std::mt19937_64 random(3);
  for (int step = 0; step < 20'000; ++step) {
    std::string name = "node-" + std::to_string(random() % 500);
    if (random() % 3 == 0) {
      table.erase(name);
      expected.erase(name);
    } else if (table.find(name) == nullptr) {
      table.insert(record(name, static_cast<std::uint64_t>(step)));
      expected[name] = static_cast<std::uint64_t>(step);
    }
  }
  REQUIRE(table.size() == expected.size());
  for (const auto& [name, incarnation] : expected) {
    const auto* r = table.find(name);
    REQUIRE(r != nullptr);
    CHECK(r->incarnation == incarnation);
  }
  std::size_t numbered = 0;
  for (std::size_t i = 0; i < table.size(); ++i) numbered += table.find(table.at(i).name()) == &table.at(i);
  CHECK(numbered == table.size());
}

}  // namespace pulsing::membership
