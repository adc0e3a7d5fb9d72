// Streams from an actor on another process: items in order, back-pressure across the wire,
// cancellation by dropping the reader, the producer's error at the reader.
#include <cstdint>
#include <optional>
#include <vector>

#include <doctest/doctest.h>

#include "integration_support.hpp"

namespace pulsing::integration {

namespace {

// How far a producer may run ahead of a reader that reads nothing: a window of credit, plus at
// most a window more in flight or buffered on the way. Memory stays bounded by this.
constexpr std::int64_t kWindow = static_cast<std::int64_t>(AnyRef::kDefaultWindow);
constexpr std::int64_t kStallBound = 2 * kWindow;

}  // namespace

TEST_CASE("a remote stream yields every item in order, then ends") {
  Node node(test_process_config());
  auto child = NodeProcess::start();
  auto producer = resolve<Producer>(node, child, "producer");

  std::vector<std::int64_t> items;
  for (auto item : producer.stream(&Producer::count, 1000)) items.push_back(item);
  REQUIRE(items.size() == 1000);
  for (std::size_t i = 0; i < items.size(); ++i) CHECK(items[i] == static_cast<std::int64_t>(i));

  // By name, as Values.
  auto by_name = AnyRef(producer).stream("count", {3});
  CHECK(by_name.next() == Value(0));
  CHECK(by_name.next() == Value(1));
  CHECK(by_name.next() == Value(2));
  CHECK_FALSE(by_name.next().has_value());
  CHECK(producer.ask(&Producer::active).get() == 0);
}

TEST_CASE("a remote reader that stops reading stalls the producer at the window") {
  Node node(test_process_config());
  auto child = NodeProcess::start();
  auto producer = resolve<Producer>(node, child, "producer");

  auto reader = producer.stream(&Producer::forever);
  // It produces a window of items, then stays parked: two answers in a row agree, within bounds.
  std::int64_t stalled = -1;
  REQUIRE(eventually([&] {
    auto now = producer.ask(&Producer::produced).get();
    bool same = now >= kWindow && now == stalled;
    stalled = now;
    return same;
  }));
  CHECK(stalled <= kStallBound);
  // The actor keeps serving asks while its producer is parked, and the producer stays parked.
  for (int i = 0; i < 20; ++i) CHECK(producer.ask(&Producer::produced).get() == stalled);
  CHECK(reader.buffered() <= static_cast<std::size_t>(kStallBound));

  // Reading resumes it, in order.
  for (std::int64_t i = 0; i < 3 * kWindow; ++i) CHECK(reader.next() == std::optional<std::int64_t>(i));
  REQUIRE(eventually([&] { return producer.ask(&Producer::produced).get() > stalled; }));
}

TEST_CASE("dropping a remote reader cancels the producer") {
  Node node(test_process_config());
  auto child = NodeProcess::start();
  auto producer = resolve<Producer>(node, child, "producer");
  {
    auto reader = producer.stream(&Producer::forever);
    for (std::int64_t i = 0; i < 10; ++i) CHECK(reader.next() == std::optional<std::int64_t>(i));
    CHECK(producer.ask(&Producer::active).get() == 1);
  }  // dropped here
  REQUIRE(eventually([&] { return producer.ask(&Producer::active).get() == 0; }));
  // The actor goes on: a new stream works.
  std::vector<std::int64_t> items;
  for (auto item : producer.stream(&Producer::count, 5)) items.push_back(item);
  CHECK(items == std::vector<std::int64_t>{0, 1, 2, 3, 4});
}

TEST_CASE("a remote producer's error reaches the reader after its items, with its category") {
  Node node(test_process_config());
  auto child = NodeProcess::start();
  auto producer = resolve<Producer>(node, child, "producer");

  {
    auto reader = producer.stream(&Producer::fail_after, 3, false);
    for (std::int64_t i = 0; i < 3; ++i) CHECK(reader.next() == std::optional<std::int64_t>(i));
    auto e = expect_error<BusinessError>([&] { reader.next(); });
    CHECK(e.code() == 503);
    CHECK(e.message() == "no more items");
    CHECK(e.details().find("after")->as_int() == 3);
  }
  {
    auto reader = producer.stream(&Producer::fail_after, 2, true);
    for (std::int64_t i = 0; i < 2; ++i) CHECK(reader.next() == std::optional<std::int64_t>(i));
    auto e = expect_error<SystemError>([&] { reader.next(); });
    CHECK(e.error() == "producer crashed");
  }
}

TEST_CASE("a remote stream whose producer's node is killed ends with NodeUnreachable") {
  Node node(test_process_config());
  auto child = NodeProcess::start();
  auto producer = resolve<Producer>(node, child, "producer");
  auto reader = producer.with_timeout(20s).stream(&Producer::forever);
  CHECK(reader.next() == std::optional<std::int64_t>(0));
  child.kill();
  auto e = expect_error<RuntimeError>([&] {
    while (reader.next()) {
    }
  });
  CHECK(e.kind() == RuntimeErrorKind::kNodeUnreachable);
}

}  // namespace pulsing::integration
