// Helpers shared by the runtime tests: waiting on a condition with a deadline (never a bare
// sleep), and a few small actors.
#pragma once

#include <chrono>
#include <functional>
#include <thread>

#include <pulsing/pulsing.hpp>

namespace pulsing::testing {

// Polls `condition` until it holds or `limit` passes; returns whether it held.
inline bool eventually(const std::function<bool()>& condition,
                       std::chrono::milliseconds limit = std::chrono::seconds(10)) {
  auto deadline = Clock::now() + limit;
  while (!condition()) {
    if (Clock::now() > deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  return true;
}

inline NodeConfig test_config() {
  NodeConfig config;
  config.worker_threads = 2;
  config.ask_timeout = std::chrono::seconds(10);
  return config;
}

}  // namespace pulsing::testing
