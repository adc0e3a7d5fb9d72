#include <atomic>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include <doctest/doctest.h>

#include "test_support.hpp"

namespace pulsing {
namespace {

using namespace std::chrono_literals;
using testing::eventually;

class Calculator : public Actor {
 public:
  explicit Calculator(int initial = 0) : value_(initial) {}
  int add(int n) { return value_ += n; }
  int value() const { return value_; }
  void reset() { value_ = 0; }
  std::string echo(const std::string& text) { return text; }
  int divide(int by) {
    if (by == 0) throw std::invalid_argument("division by zero");
    return value_ / by;
  }
  int explode() { throw std::runtime_error("boom"); }
  int reject(int code) { throw BusinessError(code, "rejected", Value::Map{{"why", "test"}}); }
  Task<int> add_via(ActorRef<Calculator> other, int n) {
    int theirs = co_await other.ask(&Calculator::add, n);
    co_return value_ += theirs;
  }
  PULSING_METHODS(Calculator, add, value, reset, echo, divide, explode, reject, add_via)

 private:
  int value_;
};

// Records the order of what it receives, and whether two handlers ever overlapped.
class Recorder : public Actor {
 public:
  void record(int sender, std::int64_t seq) {
    if (busy_.exchange(true)) overlapped_ = true;
    log_.push_back({sender, seq});
    busy_ = false;
  }
  std::vector<std::int64_t> sequence_of(int sender) const {
    std::vector<std::int64_t> out;
    for (auto& [s, seq] : log_) {
      if (s == sender) out.push_back(seq);
    }
    return out;
  }
  bool overlapped() const { return overlapped_; }
  std::size_t count() const { return log_.size(); }
  PULSING_METHODS(Recorder, record, sequence_of, overlapped, count)

 private:
  std::atomic<bool> busy_{false};
  bool overlapped_ = false;
  std::vector<std::pair<int, std::int64_t>> log_;
};

// Sends bursts of tells from an actor (which a node may push to the target together), mixed
// with tells elsewhere and with asks.
class Burster : public Actor {
 public:
  void burst(ActorRef<Recorder> to, ActorRef<Recorder> elsewhere, int id, std::int64_t n) {
    for (std::int64_t i = 0; i < n; ++i) {
      to.tell(&Recorder::record, id, i);
      if (i % 7 == 0) elsewhere.tell(&Recorder::record, id, i);
      if (i % 50 == 0) (void)to.ask(&Recorder::count);
    }
  }
  // Tells `n` times, then asks: the ask comes after every one of them.
  Task<std::int64_t> tell_then_count(ActorRef<Recorder> to, int id, std::int64_t n) {
    for (std::int64_t i = 0; i < n; ++i) to.tell(&Recorder::record, id, i);
    co_return static_cast<std::int64_t>(co_await to.ask(&Recorder::count));
  }
  PULSING_METHODS(Burster, burst, tell_then_count)
};

// Whether `sender`'s records reached `recorder` as 0, 1, ..., count - 1 and nothing else.
bool recorded_in_order(const ActorRef<Recorder>& recorder, int sender, std::int64_t count) {
  auto seq = recorder.ask(&Recorder::sequence_of, sender).get();
  if (seq.size() != static_cast<std::size_t>(count)) return false;
  for (std::size_t i = 0; i < seq.size(); ++i) {
    if (seq[i] != static_cast<std::int64_t>(i)) return false;
  }
  return true;
}

}  // namespace

TEST_CASE("ask returns the handler's result, and state persists between messages") {
  Node node(testing::test_config());
  auto calc = node.spawn<Calculator>({}, 100).get();
  CHECK(calc.ask(&Calculator::add, 50).get() == 150);
  CHECK(calc.ask(&Calculator::add, -20).get() == 130);
  CHECK(calc.ask(&Calculator::echo, std::string("hi")).get() == "hi");
}

TEST_CASE("tell is fire-and-forget, and a later ask sees its effect") {
  Node node(testing::test_config());
  auto calc = node.spawn<Calculator>({}).get();
  for (int i = 0; i < 100; ++i) calc.tell(&Calculator::add, 1);
  CHECK(calc.ask(&Calculator::value).get() == 100);
}

TEST_CASE("a call by name with Value arguments reaches the same handler as a typed call") {
  Node node(testing::test_config());
  auto calc = node.spawn<Calculator>({}, 1).get();
  AnyRef any = calc;
  CHECK(any.ask("add", {41}).get() == Value(42));
  any.tell("add", {8});
  CHECK(calc.ask(&Calculator::value).get() == 50);
  CHECK(any.ask("reset").get().is_null());
}

TEST_CASE("bad calls by name name the problem") {
  Node node(testing::test_config());
  AnyRef any = node.spawn<Calculator>({}).get();

  SUBCASE("unknown method") {
    {
      auto e = testing::expect_error<RuntimeError>([&] { any.ask("multiply", {2}).get(); });
      CHECK(e.kind() == RuntimeErrorKind::kUnknownMethod);
      CHECK(std::string(e.what()).find("'multiply'") != std::string::npos);
      CHECK(std::string(e.what()).find("add") != std::string::npos);
    }
  }
  SUBCASE("wrong argument count") {
    {
      auto e = testing::expect_error<RuntimeError>([&] { any.ask("add", {1, 2}).get(); });
      CHECK(e.kind() == RuntimeErrorKind::kBadArguments);
      CHECK(std::string(e.what()).find("expected 1 argument, got 2") != std::string::npos);
    }
  }
  SUBCASE("wrong argument type") {
    {
      auto e = testing::expect_error<RuntimeError>([&] { any.ask("add", {"seven"}).get(); });
      CHECK(e.kind() == RuntimeErrorKind::kBadArguments);
      std::string what = e.what();
      CHECK(what.find("argument 1") != std::string::npos);
      CHECK(what.find("int") != std::string::npos);
      CHECK(what.find("text") != std::string::npos);
    }
  }
  // The actor is unharmed by bad calls.
  CHECK(any.ask("add", {1}).get() == Value(1));
}

TEST_CASE("errors keep their category: business, system, and the classification rules") {
  Node node(testing::test_config());
  auto calc = node.spawn<Calculator>({}, 10).get();

  {  // std::invalid_argument -> BusinessError(400)
    auto e = testing::expect_error<BusinessError>([&] { calc.ask(&Calculator::divide, 0).get(); });
    CHECK(e.code() == 400);
    CHECK(e.message() == "division by zero");
  }
  {
    auto e = testing::expect_error<BusinessError>([&] { calc.ask(&Calculator::reject, 409).get(); });
    CHECK(e.code() == 409);
    CHECK(e.details().find("why")->as_text() == "test");
  }
  // A BusinessError is not a crash: the state survives.
  CHECK(calc.ask(&Calculator::value).get() == 10);

  {  // any other exception -> SystemError(recoverable)
    auto e = testing::expect_error<SystemError>([&] { calc.ask(&Calculator::explode).get(); });
    CHECK(e.error() == "boom");
    CHECK(e.recoverable());
  }
}

TEST_CASE("classification maps exceptions to categories, identically for every caller") {
  CHECK(classify(std::make_exception_ptr(std::invalid_argument("x"))).category == ErrorCategory::kBusiness);
  CHECK(classify(std::make_exception_ptr(std::domain_error("x"))).category == ErrorCategory::kBusiness);
  CHECK(classify(std::make_exception_ptr(std::runtime_error("x"))).category == ErrorCategory::kSystem);
  CHECK(classify(std::make_exception_ptr(42)).category == ErrorCategory::kSystem);
  CHECK(classify(std::make_exception_ptr(TimeoutError("op", 5))).category == ErrorCategory::kTimeout);
  auto runtime = classify(std::make_exception_ptr(RuntimeError(RuntimeErrorKind::kMailboxFull, "x")));
  CHECK(runtime.category == ErrorCategory::kRuntime);
}

TEST_CASE("errors survive a round trip through Value with category and fields") {
  auto check_round_trip = [](const Error& error) {
    Failure back = failure_from_value(error.to_value());
    CHECK(back.category == error.category());
    CHECK(back.describe() == std::string(error.what()));
  };
  check_round_trip(BusinessError(404, "missing", Value::Map{{"id", 7}}));
  check_round_trip(SystemError("disk on fire", false));
  check_round_trip(TimeoutError("fetch", 5000));
  check_round_trip(RuntimeError(RuntimeErrorKind::kNodeUnreachable, "gone"));
  CHECK(failure_from_value(Value("garbage")).category == ErrorCategory::kRuntime);
}

TEST_CASE("tells an actor sends in bursts arrive in order, between its tells elsewhere and its asks") {
  Node node(testing::test_config());
  auto recorder = node.spawn<Recorder>({.mailbox_capacity = 100'000}).get();
  auto elsewhere = node.spawn<Recorder>({.mailbox_capacity = 100'000}).get();
  constexpr int kSenders = 4;
  constexpr std::int64_t kEach = 5'000;
  for (int s = 0; s < kSenders; ++s) {
    node.spawn<Burster>({}).get().tell(&Burster::burst, recorder, elsewhere, s, kEach);
  }
  REQUIRE(eventually([&] { return recorder.ask(&Recorder::count).get() == kSenders * kEach; }));
  for (int s = 0; s < kSenders; ++s) CHECK(recorded_in_order(recorder, s, kEach));
  CHECK_FALSE(recorder.ask(&Recorder::overlapped).get());
  REQUIRE(eventually([&] { return elsewhere.ask(&Recorder::count).get() == kSenders * ((kEach + 6) / 7); }));
}

TEST_CASE("an ask an actor sends after a burst of tells to the same actor is answered after all of them") {
  Node node(testing::test_config());
  auto recorder = node.spawn<Recorder>({}).get();
  auto burster = node.spawn<Burster>({}).get();
  CHECK(burster.ask(&Burster::tell_then_count, recorder, 0, std::int64_t{1'000}).get() == 1'000);
}

TEST_CASE("messages from one sender arrive in the order sent, and handlers never overlap") {
  Node node(testing::test_config());
  auto recorder = node.spawn<Recorder>({.mailbox_capacity = 100'000}).get();
  constexpr int kSenders = 4;
  constexpr std::int64_t kEach = 5'000;
  std::vector<std::thread> senders;
  for (int s = 0; s < kSenders; ++s) {
    senders.emplace_back([&, s] {
      for (std::int64_t i = 0; i < kEach; ++i) recorder.tell(&Recorder::record, s, i);
    });
  }
  for (auto& t : senders) t.join();
  REQUIRE(eventually([&] { return recorder.ask(&Recorder::count).get() == kSenders * kEach; }));
  CHECK_FALSE(recorder.ask(&Recorder::overlapped).get());
  for (int s = 0; s < kSenders; ++s) CHECK(recorded_in_order(recorder, s, kEach));
}

TEST_CASE("a coroutine handler co_awaits another actor") {
  Node node(testing::test_config());
  auto a = node.spawn<Calculator>({}, 1).get();
  auto b = node.spawn<Calculator>({}, 10).get();
  CHECK(a.ask(&Calculator::add_via, b, 5).get() == 16);  // b becomes 15, a becomes 1 + 15
  CHECK(b.ask(&Calculator::value).get() == 15);
  // References travel as Values too: the same call by name.
  CHECK(AnyRef(a).ask("add_via", {Value(b.address()), 1}).get() == Value(32));
}

TEST_CASE("a cycle of non-reentrant asks ends in a TimeoutError naming the operation") {
  Node node(testing::test_config());
  auto a = node.spawn<Calculator>({}).get();
  // a's handler asks a itself: the inner ask waits behind the suspended handler.
  {
    auto e = testing::expect_error<TimeoutError>([&] { a.with_timeout(300ms).ask(&Calculator::add_via, a.with_timeout(5s), 1).get(); });
    CHECK(e.duration_ms() == 300);
    CHECK(e.operation().find("add_via") != std::string::npos);
  }
}

TEST_CASE("asks to an unreachable reference fail at once") {
  AnyRef nowhere = AnyRef::unreachable(ActorAddress{NodeId{1}, "", ActorId{1}});
  CHECK_THROWS_AS(nowhere.ask("x").get(), RuntimeError);
}

}  // namespace pulsing
