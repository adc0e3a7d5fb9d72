// Scheduler: what stop() promises about late work.
#include <doctest/doctest.h>

#include <atomic>
#include <thread>

#include "runtime/scheduler.hpp"

namespace pulsing::detail {
namespace {

class CountingRunnable final : public Runnable {
 public:
  void run_turn() override {
    turns.fetch_add(1);
    end_turn();
  }
  std::atomic<int> turns{0};
};

TEST_CASE("scheduler: a turn a guest still holds when the pool has stopped runs as the guest leaves, never stranded") {
  Scheduler scheduler(1);
  CountingRunnable runnable;
  std::thread guest([&] {
    scheduler.enter_guest();
    scheduler.schedule(&runnable);  // from a guest outside a turn: the guest's own queue
    CHECK(runnable.turns == 0);
    scheduler.stop();  // the pool stops, and drains what it holds
    scheduler.leave_guest();
  });
  guest.join();
  CHECK(runnable.turns == 1);
  scheduler.schedule(&runnable);  // after stop(): at once, on the calling thread
  CHECK(runnable.turns == 2);
}

}  // namespace
}  // namespace pulsing::detail
