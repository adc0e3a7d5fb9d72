// Streams as users see them: items in order, back-pressure, cancellation, errors.
#include <algorithm>
#include <atomic>
#include <memory>
#include <string>

#include <doctest/doctest.h>

#include "test_support.hpp"

namespace pulsing {
namespace {

using namespace std::chrono_literals;
using testing::eventually;

struct Guard {
  std::shared_ptr<std::atomic<bool>> destroyed;
  ~Guard() { *destroyed = true; }
};

class Producer : public Actor {
 public:
  explicit Producer(std::shared_ptr<std::atomic<bool>> destroyed) : destroyed_(std::move(destroyed)) {}

  Stream<std::string> count_to(int n) {
    for (int i = 1; i <= n; ++i) {
      ++produced_;
      co_yield std::to_string(i);
    }
  }
  Stream<std::int64_t> forever() {
    Guard guard{destroyed_};
    for (std::int64_t i = 0;; ++i) {
      ++produced_;
      co_yield i;
    }
  }
  Stream<int> fail_after(int n, bool crash) {
    for (int i = 0; i < n; ++i) co_yield i;
    if (crash) throw std::runtime_error("producer crashed");
    throw BusinessError(503, "no more items");
  }
  // Waits on a future nobody completes.
  Stream<int> silent() { co_yield co_await never_.future(); }
  int produced() const { return produced_; }
  PULSING_METHODS(Producer, count_to, forever, fail_after, silent, produced)

 private:
  std::shared_ptr<std::atomic<bool>> destroyed_;
  int produced_ = 0;
  Promise<int> never_;
};

// Reads a whole stream inside a coroutine handler, without blocking its worker.
class Reader : public Actor {
 public:
  Task<std::string> read_all(ActorRef<Producer> producer, int n) {
    auto reader = producer.stream(&Producer::count_to, n);
    std::string joined;
    while (auto item = co_await reader.next_async()) joined += *item + " ";
    co_return joined;
  }
  PULSING_METHODS(Reader, read_all)
};

}  // namespace

TEST_CASE("an actor reads a stream with co_await next_async()") {
  Node node(testing::test_config());
  auto producer = node.spawn<Producer>({}, std::make_shared<std::atomic<bool>>(false)).get();
  auto reader = node.spawn<Reader>({}).get();
  CHECK(reader.ask(&Reader::read_all, producer, 5).get() == "1 2 3 4 5 ");
  // Longer than the credit window: the reader's credits keep the producer going to the end.
  auto hundred = reader.ask(&Reader::read_all, producer, 100).get();
  CHECK(std::count(hundred.begin(), hundred.end(), ' ') == 100);
  CHECK(hundred.ends_with(" 99 100 "));
}

TEST_CASE("a stream yields every item in order, then ends") {
  Node node(testing::test_config());
  auto producer = node.spawn<Producer>({}, std::make_shared<std::atomic<bool>>(false)).get();
  std::vector<std::string> items;
  for (auto& item : producer.stream(&Producer::count_to, 100)) items.push_back(item);
  REQUIRE(items.size() == 100);
  CHECK(items.front() == "1");
  CHECK(items.back() == "100");
}

TEST_CASE("a stream called by name yields Values") {
  Node node(testing::test_config());
  AnyRef any = node.spawn<Producer>({}, std::make_shared<std::atomic<bool>>(false)).get();
  auto reader = any.stream("count_to", {3});
  CHECK(reader.next() == Value("1"));
  CHECK(reader.next() == Value("2"));
  CHECK(reader.next() == Value("3"));
  CHECK_FALSE(reader.next().has_value());
  // ask() on a stream method is refused with a clear error.
  {
    auto e = testing::expect_error<RuntimeError>([&] { any.ask("count_to", {3}).get(); });
    CHECK(e.kind() == RuntimeErrorKind::kBadArguments);
    CHECK(std::string(e.what()).find("stream()") != std::string::npos);
  }
}

TEST_CASE("a reader that stops reading stalls the producer: memory stays bounded") {
  Node node(testing::test_config());
  auto producer = node.spawn<Producer>({}, std::make_shared<std::atomic<bool>>(false)).get();
  auto reader = producer.stream(&Producer::forever);
  constexpr int kWindow = static_cast<int>(AnyRef::kDefaultWindow);
  REQUIRE(eventually([&] { return producer.ask(&Producer::produced).get() == kWindow; }));
  // The actor keeps serving asks while its producer is parked, and the producer stays parked:
  // each ask is a full turn of the actor in which an unparked producer would have run.
  for (int i = 0; i < 20; ++i) CHECK(producer.ask(&Producer::produced).get() == kWindow);
  CHECK(reader.buffered() == static_cast<std::size_t>(kWindow));
  // Reading resumes it.
  for (int i = 0; i < kWindow; ++i) CHECK(reader.next() == std::optional<std::int64_t>(i));
  REQUIRE(eventually([&] { return producer.ask(&Producer::produced).get() > kWindow; }));
  CHECK(reader.buffered() <= static_cast<std::size_t>(kWindow));
}

TEST_CASE("dropping the reader cancels the producer at its next yield") {
  Node node(testing::test_config());
  auto destroyed = std::make_shared<std::atomic<bool>>(false);
  auto producer = node.spawn<Producer>({}, destroyed).get();
  {
    auto reader = producer.stream(&Producer::forever);
    CHECK(reader.next() == std::optional<std::int64_t>(0));
  }
  CHECK(eventually([&] { return destroyed->load(); }));
  int produced = producer.ask(&Producer::produced).get();
  CHECK(produced <= 1 + static_cast<int>(AnyRef::kDefaultWindow));
  CHECK(producer.ask(&Producer::produced).get() == produced);  // and it stays stopped
}

TEST_CASE("a producer's error reaches the reader after the items before it") {
  Node node(testing::test_config());
  auto producer = node.spawn<Producer>({}, std::make_shared<std::atomic<bool>>(false)).get();

  SUBCASE("a business error: the actor goes on") {
    auto reader = producer.stream(&Producer::fail_after, 3, false);
    for (int i = 0; i < 3; ++i) CHECK(reader.next() == std::optional<int>(i));
    {
      auto e = testing::expect_error<BusinessError>([&] { reader.next(); });
      CHECK(e.code() == 503);
    }
    CHECK(producer.ask(&Producer::produced).get() == 0);
  }
  SUBCASE("an unexpected exception: a SystemError, and a crash") {
    auto stopped = producer.watch();
    auto reader = producer.stream(&Producer::fail_after, 2, true);
    CHECK(reader.next() == std::optional<int>(0));
    CHECK(reader.next() == std::optional<int>(1));
    CHECK_THROWS_AS(reader.next(), SystemError);
    CHECK(stopped.get().reason == StopReason::kCrashed);
  }
}

TEST_CASE("a reader waiting on a silent producer gets a TimeoutError") {
  Node node(testing::test_config());
  auto producer = node.spawn<Producer>({}, std::make_shared<std::atomic<bool>>(false)).get();
  auto reader = producer.with_timeout(100ms).stream(&Producer::silent);
  {
    auto e = testing::expect_error<TimeoutError>([&] { reader.next(); });
    CHECK(e.duration_ms() == 100);
  }
  CHECK(producer.ask(&Producer::produced).get() == 0);  // the actor is still serving
}

}  // namespace pulsing
