// What the integration tests share: the test process's own node, and short names for the
// helpers (waiting with a deadline, expecting an error) of the unit tests.
#pragma once

#include <chrono>
#include <string>
#include <string_view>

#include "../unit/runtime/test_support.hpp"
#include "process.hpp"
#include "test_actors.hpp"

namespace pulsing::integration {

using namespace std::chrono_literals;
using testing::eventually;
using testing::expect_error;

// The node the test process embeds: on the network, talking to the child nodes.
inline NodeConfig test_process_config() {
  NodeConfig config;
  config.name = "test-process";
  config.listen = "tcp://127.0.0.1:0";
  config.worker_threads = 2;
  config.ask_timeout = 10s;
  config.transport.connect_timeout = 2s;
  return config;
}

// The named actor `name` on `child`, typed.
template <typename T>
ActorRef<T> resolve(Node& node, const NodeProcess& child, std::string_view name) {
  return node.resolve_at<T>(child.endpoint(), name).get();
}

// The kind of the RuntimeError `f` throws.
template <typename F>
RuntimeErrorKind runtime_kind(F&& f) {
  return expect_error<RuntimeError>(std::forward<F>(f)).kind();
}

// Whether `name` is free on the node at `endpoint`: resolving it fails with ActorNotFound.
inline bool name_released(Node& node, const std::string& endpoint, std::string_view name) {
  try {
    node.resolve_at(endpoint, name).get();
    return false;
  } catch (const RuntimeError& e) {
    return e.kind() == RuntimeErrorKind::kActorNotFound;
  }
}

}  // namespace pulsing::integration
