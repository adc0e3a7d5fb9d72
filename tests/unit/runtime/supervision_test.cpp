// Supervision as users see it: crashes, restarts with backoff, messages kept during the backoff,
// names and references that survive restarts.
#include <atomic>
#include <stdexcept>

#include <doctest/doctest.h>

#include "test_support.hpp"

namespace pulsing {
namespace {

using namespace std::chrono_literals;
using testing::eventually;

std::atomic<int> g_constructed{0};

class Fragile : public Actor {
 public:
  explicit Fragile(int start) : count_(start) { ++g_constructed; }
  int bump() { return ++count_; }
  int crash() { throw std::runtime_error("fragile broke"); }
  int refuse() { throw BusinessError(422, "no"); }
  void quit() { stop(); }
  PULSING_METHODS(Fragile, bump, crash, refuse, quit)

 private:
  int count_;
};

SpawnOptions restarting(std::string name, RestartPolicy policy = RestartPolicy::kOnFailure) {
  SpawnOptions options;
  options.name = std::move(name);
  options.supervision = {.policy = policy, .max_restarts = 3, .min_backoff = 20ms, .max_backoff = 200ms, .jitter = 0.0};
  return options;
}

}  // namespace

TEST_CASE("policy never: a crash stops the actor, releases its name, and fails later messages") {
  Node node(testing::test_config());
  auto actor = node.spawn<Fragile>({.name = "fragile"}, 0).get();
  auto stopped = actor.watch();
  CHECK_THROWS_AS(actor.ask(&Fragile::crash).get(), SystemError);
  auto notice = stopped.get();
  CHECK(notice.reason == StopReason::kCrashed);
  REQUIRE(notice.error.has_value());
  CHECK(notice.error->describe().find("fragile broke") != std::string::npos);
  {
    auto e = testing::expect_error<RuntimeError>([&] { actor.ask(&Fragile::bump).get(); });
    CHECK(e.kind() == RuntimeErrorKind::kActorStopped);
  }
  CHECK_THROWS_AS(node.resolve<Fragile>("fragile").get(), RuntimeError);
}

TEST_CASE("policy on_failure: a fresh instance from the same arguments keeps name and reference") {
  Node node(testing::test_config());
  g_constructed = 0;
  auto actor = node.spawn<Fragile>(restarting("phoenix"), 10).get();
  CHECK(actor.ask(&Fragile::bump).get() == 11);
  CHECK_THROWS_AS(actor.ask(&Fragile::crash).get(), SystemError);
  // The old reference reaches the new instance, whose state starts again from 10.
  CHECK(actor.ask(&Fragile::bump).get() == 11);
  CHECK(g_constructed == 2);
  auto by_name = node.resolve<Fragile>("phoenix").get();
  CHECK(by_name == actor);
}

TEST_CASE("a BusinessError is not a crash") {
  Node node(testing::test_config());
  g_constructed = 0;
  auto actor = node.spawn<Fragile>(restarting("steady"), 0).get();
  actor.ask(&Fragile::bump).get();
  CHECK_THROWS_AS(actor.ask(&Fragile::refuse).get(), BusinessError);
  CHECK(actor.ask(&Fragile::bump).get() == 2);
  CHECK(g_constructed == 1);
}

TEST_CASE("messages sent during the backoff wait, and the new instance serves them in order") {
  Node node(testing::test_config());
  auto options = restarting("patient");
  options.supervision.min_backoff = 300ms;
  auto actor = node.spawn<Fragile>(options, 0).get();
  actor.tell(&Fragile::crash);
  std::vector<Future<int>> replies;
  for (int i = 0; i < 5; ++i) replies.push_back(actor.ask(&Fragile::bump));
  for (int i = 0; i < 5; ++i) CHECK(replies[static_cast<std::size_t>(i)].get() == i + 1);
}

TEST_CASE("after max_restarts within the window the actor stops for good") {
  Node node(testing::test_config());
  auto actor = node.spawn<Fragile>(restarting("doomed"), 0).get();
  auto stopped = actor.watch();
  for (int i = 0; i < 4; ++i) {
    CHECK_THROWS_AS(actor.ask(&Fragile::crash).get(), SystemError);
  }
  CHECK(stopped.get().reason == StopReason::kCrashed);
  CHECK_THROWS_AS(actor.ask(&Fragile::bump).get(), RuntimeError);
}

TEST_CASE("policy always also restarts an actor that stopped by itself, on_failure does not") {
  Node node(testing::test_config());
  g_constructed = 0;
  auto always = node.spawn<Fragile>(restarting("again", RestartPolicy::kAlways), 5).get();
  always.tell(&Fragile::quit);
  CHECK(always.ask(&Fragile::bump).get() == 6);  // served by the rebuilt instance
  CHECK(g_constructed == 2);

  auto once = node.spawn<Fragile>(restarting("once"), 5).get();
  auto stopped = once.watch();
  once.tell(&Fragile::quit);
  CHECK(stopped.get().reason == StopReason::kStopped);
}

TEST_CASE("restart delays grow with each crash (backoff) and stay within the maximum") {
  Node node(testing::test_config());
  auto options = restarting("slowing");
  options.supervision.max_restarts = 4;
  options.supervision.min_backoff = 40ms;
  options.supervision.max_backoff = 160ms;
  auto actor = node.spawn<Fragile>(options, 0).get();
  std::vector<Clock::duration> gaps;
  for (int i = 0; i < 4; ++i) {
    // Timed from before the crash, so the gap is a true lower bound on the backoff whatever the
    // scheduling delays (the restart timer starts at the crash, after this point).
    auto before_crash = Clock::now();
    CHECK_THROWS_AS(actor.ask(&Fragile::crash).get(), SystemError);
    actor.ask(&Fragile::bump).get();  // waits for the new instance
    gaps.push_back(Clock::now() - before_crash);
  }
  // Each wait is at least the backoff: 40, 80, 160, 160 ms.
  CHECK(gaps[0] >= 40ms);
  CHECK(gaps[1] >= 80ms);
  CHECK(gaps[2] >= 160ms);
  CHECK(gaps[3] >= 160ms);
}

}  // namespace pulsing
