// Supervision: a worker that crashes is rebuilt from the same constructor arguments after a
// backoff. Callers see the crash as a SystemError; the name and the references they hold keep
// working, and reach the fresh instance. In-memory state starts over (as in the seed: restart
// restores the actor, not its state).
#include <atomic>
#include <chrono>
#include <iostream>
#include <memory>
#include <stdexcept>
#include <string>
#include <utility>

#include <pulsing/pulsing.hpp>

#include "expect.hpp"

using namespace std::chrono_literals;

// [guide:reliable-worker]
class ReliableWorker : public pulsing::Actor {
 public:
  explicit ReliableWorker(std::shared_ptr<std::atomic<int>> starts) : starts_(std::move(starts)) {}

  void on_start() override { ++*starts_; }  // each new instance runs this before its first message

  std::string process(const std::string& data) {
    if (data == "poison") throw std::runtime_error("cannot digest '" + data + "'");  // a crash
    ++processed_;
    return "processed '" + data + "' (" + std::to_string(processed_) + " since this instance started)";
  }

  PULSING_METHODS(ReliableWorker, process)

 private:
  std::shared_ptr<std::atomic<int>> starts_;  // shared with main: outlives every instance
  int processed_ = 0;                         // in-memory state: a new instance starts at 0
};
// [/guide:reliable-worker]

int main() {
  pulsing::init();
  auto starts = std::make_shared<std::atomic<int>>(0);

  // [guide:restart-policy]
  auto worker = ReliableWorker::spawn({.name = "reliable-worker",
                                       .supervision = {.policy = pulsing::RestartPolicy::kOnFailure,
                                                       .max_restarts = 3,
                                                       .min_backoff = 100ms,
                                                       .max_backoff = 2s}},
                                      starts)
                    .get();
  // [/guide:restart-policy]

  std::cout << worker.ask(&ReliableWorker::process, "a").get() << "\n";
  std::cout << worker.ask(&ReliableWorker::process, "b").get() << "\n";

  // [guide:crash-and-restart]
  try {
    worker.ask(&ReliableWorker::process, "poison").get();
  } catch (const pulsing::SystemError& e) {
    std::cout << "crashed: " << e.error() << " (recoverable: " << std::boolalpha << e.recoverable() << ")\n";
  }
  // The same reference reaches the new instance; this ask waits out the backoff in the mailbox.
  std::string after = worker.ask(&ReliableWorker::process, "c").get();
  // [/guide:crash-and-restart]
  std::cout << after << "\n";
  expect(after.find("(1 since") != std::string::npos, "the new instance starts with fresh state");

  auto by_name = ReliableWorker::resolve("reliable-worker").get();
  std::cout << "the name still resolves to the same actor: " << (by_name == worker ? "yes" : "no") << "\n";
  std::cout << "instances started: " << starts->load() << "\n";
  expect(by_name == worker, "the name survives the restart");
  expect(starts->load() == 2, "one crash, one restart");

  pulsing::shutdown();
}
