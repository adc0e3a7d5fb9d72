#include "messaging/error.hpp"

#include <stdexcept>

#include <fmt/format.h>

namespace pulsing {

std::string_view to_string(ErrorCategory category) {
  switch (category) {
    case ErrorCategory::kBusiness: return "business";
    case ErrorCategory::kSystem: return "system";
    case ErrorCategory::kTimeout: return "timeout";
    case ErrorCategory::kRuntime: return "runtime";
  }
  return "unknown";
}

std::string_view to_string(RuntimeErrorKind kind) {
  switch (kind) {
    case RuntimeErrorKind::kActorNotFound: return "actor_not_found";
    case RuntimeErrorKind::kActorStopped: return "actor_stopped";
    case RuntimeErrorKind::kNodeUnreachable: return "node_unreachable";
    case RuntimeErrorKind::kMailboxFull: return "mailbox_full";
    case RuntimeErrorKind::kUnknownMethod: return "unknown_method";
    case RuntimeErrorKind::kBadArguments: return "bad_arguments";
    case RuntimeErrorKind::kNameTaken: return "name_taken";
    case RuntimeErrorKind::kInvalidName: return "invalid_name";
    case RuntimeErrorKind::kWrongType: return "wrong_type";
    case RuntimeErrorKind::kProtocol: return "protocol";
    case RuntimeErrorKind::kCancelled: return "cancelled";
    case RuntimeErrorKind::kShutdown: return "shutdown";
    case RuntimeErrorKind::kOverloaded: return "overloaded";
    case RuntimeErrorKind::kNotPermitted: return "not_permitted";
    case RuntimeErrorKind::kNoHost: return "no_host";
    case RuntimeErrorKind::kRefused: return "refused";
  }
  return "unknown";
}

BusinessError::BusinessError(int code, std::string message, Value details)
    : Error(ErrorCategory::kBusiness, fmt::format("business error {}: {}", code, message)),
      code_(code), message_(std::move(message)), details_(std::move(details)) {}

Value BusinessError::to_value() const {
  return Value::Map{{"category", "business"}, {"code", code_}, {"message", message_},
                    {"details", details_}};
}

SystemError::SystemError(std::string error, bool recoverable)
    : Error(ErrorCategory::kSystem,
            fmt::format("system error{}: {}", recoverable ? "" : " (not recoverable)", error)),
      error_(std::move(error)), recoverable_(recoverable) {}

Value SystemError::to_value() const {
  return Value::Map{{"category", "system"}, {"error", error_}, {"recoverable", recoverable_}};
}

TimeoutError::TimeoutError(std::string operation, std::int64_t duration_ms)
    : Error(ErrorCategory::kTimeout,
            fmt::format("timeout: {} did not finish within {} ms", operation, duration_ms)),
      operation_(std::move(operation)), duration_ms_(duration_ms) {}

Value TimeoutError::to_value() const {
  return Value::Map{{"category", "timeout"}, {"operation", operation_},
                    {"duration_ms", duration_ms_}};
}

RuntimeError::RuntimeError(RuntimeErrorKind kind, std::string message)
    : Error(ErrorCategory::kRuntime, fmt::format("{}: {}", to_string(kind), message)),
      kind_(kind), message_(std::move(message)) {}

Value RuntimeError::to_value() const {
  return Value::Map{{"category", "runtime"}, {"kind", std::string(to_string(kind_))},
                    {"message", message_}};
}

Failure classify(std::exception_ptr thrown) {
  try {
    std::rethrow_exception(thrown);
  } catch (const Error& e) {
    return Failure{e.category(), e.clone()};
  } catch (const std::invalid_argument& e) {
    return make_failure<BusinessError>(400, e.what());
  } catch (const std::domain_error& e) {
    return make_failure<BusinessError>(400, e.what());
  } catch (const std::exception& e) {
    return make_failure<SystemError>(e.what(), true);
  } catch (...) {
    return make_failure<SystemError>("unknown exception", true);
  }
}

namespace {

std::optional<RuntimeErrorKind> parse_runtime_kind(std::string_view name) {
  for (int k = 0; k <= static_cast<int>(RuntimeErrorKind::kRefused); ++k) {
    auto kind = static_cast<RuntimeErrorKind>(k);
    if (to_string(kind) == name) return kind;
  }
  return std::nullopt;
}

}  // namespace

Value failure_to_value(const Failure& failure) { return failure.error->to_value(); }

Failure failure_from_value(const Value& value) {
  try {
    const std::string& category = value.as_map().at("category").as_text();
    const auto& map = value.as_map();
    if (category == "business") {
      const Value* details = value.find("details");
      return make_failure<BusinessError>(static_cast<int>(map.at("code").as_int()),
                                         map.at("message").as_text(),
                                         details ? *details : Value{});
    }
    if (category == "system") {
      return make_failure<SystemError>(map.at("error").as_text(), map.at("recoverable").as_bool());
    }
    if (category == "timeout") {
      return make_failure<TimeoutError>(map.at("operation").as_text(),
                                        map.at("duration_ms").as_int());
    }
    if (category == "runtime") {
      auto kind = parse_runtime_kind(map.at("kind").as_text());
      if (kind) return make_failure<RuntimeError>(*kind, map.at("message").as_text());
    }
  } catch (const std::exception&) {
    // falls through to the protocol error below
  }
  return make_failure<RuntimeError>(RuntimeErrorKind::kProtocol,
                                    "unreadable error record: " + value.debug_string());
}

}  // namespace pulsing
