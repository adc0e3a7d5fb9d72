// What the security tests share.
#pragma once

#include <doctest/doctest.h>

#include <string>

#include "security/cluster_key.hpp"

namespace pulsing::security::testing {

// Runs `f`, which must throw KeyError, and returns its message.
template <typename F>
std::string key_error(F&& f) {
  try {
    f();
  } catch (const KeyError& e) {
    return e.what();
  }
  FAIL("no KeyError was thrown");
  return {};
}

}  // namespace pulsing::security::testing
