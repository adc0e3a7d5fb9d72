#include "runtime/registry_wire.hpp"

#include <doctest/doctest.h>

#include <stdexcept>

namespace pulsing::detail {
namespace {

registry::Announce sample_announce() {
  return {"node-a", "tcp://10.0.0.1:7000", 0xfeedfacecafebeefULL, true,
          {{"service", 3, "Calculator"}, {"pool/7", 9, "Worker"}}};
}

}  // namespace

TEST_CASE("registry updates survive the trip through a Value") {
  auto back = std::get<registry::Announce>(registry_update_from_value(registry_update_to_value(sample_announce()), 16));
  auto sent = sample_announce();
  CHECK(back.member == sent.member);
  CHECK(back.endpoint == sent.endpoint);
  CHECK(back.node_id == sent.node_id);
  CHECK(back.complete);
  CHECK(back.names == sent.names);

  registry::Withdraw w{"node-b", 42, {{"job", 5, {}}}};
  auto withdrawn = std::get<registry::Withdraw>(registry_update_from_value(registry_update_to_value(w), 16));
  CHECK(withdrawn.member == "node-b");
  CHECK(withdrawn.node_id == 42);
  CHECK(withdrawn.names == w.names);
}

TEST_CASE("lookup answers survive the trip through a Value") {
  std::vector<registry::Instance> instances{{"node-a", "tcp://10.0.0.1:7000", 1, 2, "Calculator"},
                                            {"node-b", "tcp://10.0.0.2:7000", 3, 4, "Calculator"}};
  CHECK(instances_from_value(instances_to_value(instances), 8) == instances);
  CHECK(instances_from_value(instances_to_value({}), 8).empty());
}

TEST_CASE("malformed or oversized registry payloads are refused, naming the problem") {
  Value missing = registry_update_to_value(sample_announce());
  missing.as_map().erase("node");
  CHECK_THROWS_WITH_AS(registry_update_from_value(missing, 16), "registry message without 'node'", std::invalid_argument);

  Value wrong = registry_update_to_value(sample_announce());
  wrong.as_map()["complete"] = Value("yes");
  CHECK_THROWS_WITH_AS(registry_update_from_value(wrong, 16), "registry message field 'complete' is text, not bool",
                       std::invalid_argument);

  Value unknown = registry_update_to_value(sample_announce());
  unknown.as_map()["kind"] = Value("merge");
  CHECK_THROWS_WITH_AS(registry_update_from_value(unknown, 16), "unknown registry message kind 'merge'",
                       std::invalid_argument);

  CHECK_THROWS_WITH_AS(registry_update_from_value(registry_update_to_value(sample_announce()), 1),
                       "registry message of 2 names exceeds the limit of 1", std::invalid_argument);
  CHECK_THROWS_AS(registry_update_from_value(Value(7), 16), std::invalid_argument);
  CHECK_THROWS_WITH_AS(instances_from_value(Value("x"), 8), "a lookup answer that is not a list", std::invalid_argument);
  std::vector<registry::Instance> three(3);
  CHECK_THROWS_WITH_AS(instances_from_value(instances_to_value(three), 2),
                       "a lookup answer of 3 instances exceeds the limit of 2", std::invalid_argument);
}

}  // namespace pulsing::detail
