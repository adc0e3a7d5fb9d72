// Errors by category. Every ask ends in a value or in exactly one of four error classes, and
// the caller catches them by class: BusinessError (the request was refused; the actor goes on),
// SystemError (the actor crashed), TimeoutError, RuntimeError (the framework's own: not found,
// stopped, ...). Exceptions a handler throws are classified by fixed rules.
#include <algorithm>
#include <cctype>
#include <chrono>
#include <iostream>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>

#include <pulsing/pulsing.hpp>

#include "expect.hpp"

using namespace std::chrono_literals;
using pulsing::ErrorCategory;

class Backend : public pulsing::Actor {
 public:
  // A slow backend: it waits half a second (without blocking a worker thread) before answering.
  pulsing::Task<std::string> fetch(std::string url) {
    co_await sleep_for(500ms);
    co_return "contents of " + url;
  }
  PULSING_METHODS(Backend, fetch)
};

// [guide:throwing]
class Service : public pulsing::Actor {
 public:
  explicit Service(pulsing::ActorRef<Backend> backend) : backend_(std::move(backend)) {}

  bool validate(const std::string& data) {
    if (data.empty()) throw pulsing::BusinessError(400, "Data required");
    return true;
  }

  int parse(const std::string& data) {
    auto is_digit = [](unsigned char c) { return std::isdigit(c) != 0; };
    if (data.empty() || !std::all_of(data.begin(), data.end(), is_digit)) {
      throw std::invalid_argument("not a number: '" + data + "'");  // classified: BusinessError(400)
    }
    return std::stoi(data);
  }

  std::string process(const std::string& data) {
    if (data == "corrupt") throw std::runtime_error("checksum mismatch");  // classified: SystemError
    return "processed " + data;
  }

  pulsing::Task<std::string> fetch_with_timeout(std::string url) {
    // The backend's answer, or a TimeoutError after 200 ms that reaches our caller as it is.
    co_return co_await backend_.with_timeout(200ms).ask(&Backend::fetch, url);
  }

  PULSING_METHODS(Service, validate, parse, process, fetch_with_timeout)

 private:
  pulsing::ActorRef<Backend> backend_;
};
// [/guide:throwing]

// Runs one request and reports how it ended: nullopt for a value, else the error's category.
// [guide:catching]
template <typename Request>
std::optional<ErrorCategory> attempt(std::string_view label, Request request) {
  std::cout << std::boolalpha;
  try {
    auto value = request();
    std::cout << label << ": ok: " << value << "\n";
    return std::nullopt;
  } catch (const pulsing::BusinessError& e) {  // refused; the actor keeps its state
    std::cout << label << ": business error " << e.code() << ": " << e.message() << "\n";
    return ErrorCategory::kBusiness;
  } catch (const pulsing::SystemError& e) {  // the actor crashed; its restart policy decides
    std::cout << label << ": system error (recoverable: " << e.recoverable() << "): " << e.error() << "\n";
    return ErrorCategory::kSystem;
  } catch (const pulsing::TimeoutError& e) {
    std::cout << label << ": timeout after " << e.duration_ms() << " ms (" << e.operation() << ")\n";
    return ErrorCategory::kTimeout;
  } catch (const pulsing::RuntimeError& e) {  // the framework's own: not found, stopped, ...
    std::cout << label << ": runtime error " << pulsing::to_string(e.kind()) << ": " << e.message() << "\n";
    return ErrorCategory::kRuntime;
  }
}
// [/guide:catching]

int main() {
  pulsing::init();
  auto backend = Backend::spawn({}).get();
  auto service = Service::spawn({.name = "service"}, backend).get();

  // [guide:errors-use]
  auto validate_empty = attempt("validate(\"\")", [&] { return service.ask(&Service::validate, "").get(); });
  auto parse_word = attempt("parse(\"forty-two\")", [&] { return service.ask(&Service::parse, "forty-two").get(); });
  auto parse_number = attempt("parse(\"42\")", [&] { return service.ask(&Service::parse, "42").get(); });
  auto fetch = attempt("fetch_with_timeout(...)",
                       [&] { return service.ask(&Service::fetch_with_timeout, "https://example.com/slow").get(); });
  auto crash = attempt("process(\"corrupt\")", [&] { return service.ask(&Service::process, "corrupt").get(); });
  // The default restart policy is `never`: the crashed service is gone, and so is its name.
  auto stopped = attempt("process(\"data\")", [&] { return service.ask(&Service::process, "data").get(); });
  auto resolve = attempt("resolve(\"service\")", [] { return Service::resolve("service").get().name(); });
  // [/guide:errors-use]

  expect(validate_empty == ErrorCategory::kBusiness, "a BusinessError thrown by a handler");
  expect(parse_word == ErrorCategory::kBusiness, "std::invalid_argument is classified as BusinessError");
  expect(!parse_number, "the actor goes on after business errors");
  expect(fetch == ErrorCategory::kTimeout, "the backend's answer comes too late");
  expect(crash == ErrorCategory::kSystem, "std::runtime_error is classified as SystemError");
  expect(stopped == ErrorCategory::kRuntime, "asks to a crashed actor fail with ActorStopped");
  expect(resolve == ErrorCategory::kRuntime, "the crashed actor's name is released");
  pulsing::shutdown();
}
