// A resilient actor handles the failures it expects and lets the others escape. Bad input is an
// answer ({"success": false, "error": ...}), not an error; an unexpected exception is logged and
// rethrown, which crashes the instance, and the restart policy brings a fresh one.
#include <algorithm>
#include <cctype>
#include <chrono>
#include <cstdint>
#include <iostream>
#include <optional>
#include <stdexcept>
#include <string>

#include <pulsing/pulsing.hpp>

#include "expect.hpp"

using namespace std::chrono_literals;

// [guide:resilient-actor]
struct Outcome {
  bool success = false;
  std::optional<std::int64_t> result;
  std::optional<std::string> error;
  PULSING_FIELDS(Outcome, success, result, error)
};

class ResilientActor : public pulsing::Actor {
 public:
  Outcome risky_operation(const std::string& data) {
    try {
      return {.success = true, .result = process(data)};
    } catch (const std::invalid_argument& e) {  // expected: tell the caller what was wrong
      return {.success = false, .error = e.what()};
    } catch (const std::exception& e) {  // unexpected: leave a trace, and let it crash
      std::cerr << "[resilient] unexpected error: " << e.what() << "\n";
      throw;
    }
  }

  PULSING_METHODS(ResilientActor, risky_operation)

 private:
  static std::int64_t process(const std::string& data) {
    auto is_digit = [](unsigned char c) { return std::isdigit(c) != 0; };
    if (data.empty() || !std::all_of(data.begin(), data.end(), is_digit)) {
      throw std::invalid_argument("not a number: '" + data + "'");
    }
    return 2 * std::stoll(data);  // std::out_of_range past 19 digits: nobody planned for that
  }
};
// [/guide:resilient-actor]

int main() {
  pulsing::init();
  auto actor = ResilientActor::spawn(
                   {.name = "resilient",
                    .supervision = {.policy = pulsing::RestartPolicy::kOnFailure, .min_backoff = 50ms}})
                   .get();

  auto run = [&](const std::string& data) {
    std::string call = "risky_operation(\"" + data + "\") -> ";
    try {
      Outcome outcome = actor.ask(&ResilientActor::risky_operation, data).get();
      std::cout << call << pulsing::to_json_text(pulsing::to_value(outcome)) << "\n";
      return outcome.success;
    } catch (const pulsing::SystemError& e) {
      std::cout << call << "system error: " << e.error() << " (the actor restarts)\n";
      return false;
    }
  };
  expect(run("21"), "a number doubles");
  expect(!run("twenty-one"), "bad input is an answer, not an error");
  expect(!run("99999999999999999999"), "an unexpected error escapes");
  expect(run("5"), "the restarted actor serves again");
  pulsing::shutdown();
}
