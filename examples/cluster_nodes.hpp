// What the cluster examples share: a node's settings as a member on 127.0.0.1, and waiting for
// what gossip spreads (a moment passes before every node knows what the others announce).
#pragma once

#include <chrono>
#include <functional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include <pulsing/pulsing.hpp>

#include "expect.hpp"

// A member named `member`, on any free port of 127.0.0.1, joining through `seeds`.
inline pulsing::NodeConfig member_config(const std::string& member, std::vector<std::string> seeds) {
  pulsing::NodeConfig config;
  config.name = member;
  config.listen = "tcp://127.0.0.1:0";  // any free port
  config.membership.name = member;
  config.seeds = std::move(seeds);
  return config;
}

// Waits until `done` holds, 20 s at most (then the example fails, saying `what`).
inline void wait_until(const std::function<bool()>& done, const char* what) {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  while (!done()) {
    expect(std::chrono::steady_clock::now() < deadline, what);
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
}
