// Helpers shared by the runtime tests: waiting on a condition with a deadline (eventually.hpp),
// and a few small actors.
#pragma once

#include <chrono>
#include <functional>
#include <stdexcept>
#include <string>
#include <typeinfo>
#include <thread>

#include <pulsing/pulsing.hpp>

#include "../eventually.hpp"

namespace pulsing::testing {

// Runs `f`, which must throw an E; returns it for further checks. A test fails (with a message
// naming E) when nothing or something else is thrown.
template <typename E, typename F>
E expect_error(F&& f) {
  try {
    f();
  } catch (const E& e) {
    return e;
  }
  throw std::logic_error(std::string("expected an exception of type ") + typeid(E).name());
}

// The kind of the RuntimeError that `f` throws.
template <typename F>
RuntimeErrorKind runtime_error_kind(F&& f) {
  return expect_error<RuntimeError>(std::forward<F>(f)).kind();
}

inline NodeConfig test_config() {
  NodeConfig config;
  config.worker_threads = 2;
  config.ask_timeout = std::chrono::seconds(10);
  return config;
}

}  // namespace pulsing::testing
