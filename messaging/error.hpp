// The error taxonomy every caller sees, locally and across the network:
//   BusinessError{code, message, details}  an expected failure of a request; the actor goes on.
//   SystemError{error, recoverable}        an unexpected failure inside the actor (a crash).
//   TimeoutError{operation, duration_ms}   something did not finish in time.
//   RuntimeError{kind, message}            the framework's own failures (not found, stopped, ...).
// classify() turns whatever a handler threw into exactly one of these, by fixed rules.
//
// All types are immutable values; safe to share across threads.
#pragma once

#include <cstdint>
#include <cstdlib>
#include <exception>
#include <memory>
#include <string>
#include <string_view>

#include "messaging/value.hpp"

namespace pulsing {

enum class ErrorCategory : std::uint8_t { kBusiness, kSystem, kTimeout, kRuntime };
std::string_view to_string(ErrorCategory category);

enum class RuntimeErrorKind : std::uint8_t {
  kActorNotFound,    // no actor by that name or address
  kActorStopped,     // the actor stopped before (or while) handling the message
  kNodeUnreachable,  // the actor's node cannot be reached
  kMailboxFull,      // the mailbox stayed full until the deadline
  kUnknownMethod,    // the actor has no method by that name
  kBadArguments,     // wrong argument count or types for the method
  kNameTaken,        // spawn with a name already in use
  kInvalidName,      // a name that breaks the naming rules
  kWrongType,        // a reference asked for as the wrong actor class
  kProtocol,         // a malformed or unreadable message
  kCancelled,        // the caller gave up (a dropped stream reader)
  kShutdown,         // the node is shutting down
  kOverloaded,       // refused at once: the receiver is at a bound on its memory (retry later)
  kNotPermitted,     // the caller's key does not allow this request (an observer's ask)
  kNoHost,           // a placement found no live member hosting the actor kind (or no such member)
  kRefused,          // the node asked to host an actor refused (it does not host the kind, or stops)
};
std::string_view to_string(RuntimeErrorKind kind);

// Base of every pulsing exception. what() is a one-line description for logs.
class Error : public std::exception {
 public:
  ErrorCategory category() const { return category_; }
  const char* what() const noexcept override { return what_.c_str(); }

  // The error as a Value map ({"category": ..., fields...}) and back: how errors cross the wire
  // with their category and fields intact.
  virtual Value to_value() const = 0;
  // Throws a copy of this error as its own class (so `catch (const BusinessError&)` works).
  [[noreturn]] virtual void raise() const = 0;
  virtual std::shared_ptr<const Error> clone() const = 0;

 protected:
  Error(ErrorCategory category, std::string what) : category_(category), what_(std::move(what)) {}

 private:
  ErrorCategory category_;
  std::string what_;
};

class BusinessError : public Error {
 public:
  BusinessError(int code, std::string message, Value details = {});
  int code() const { return code_; }
  const std::string& message() const { return message_; }
  const Value& details() const { return details_; }
  Value to_value() const override;
  [[noreturn]] void raise() const override { throw *this; }
  std::shared_ptr<const Error> clone() const override { return std::make_shared<BusinessError>(*this); }

 private:
  int code_;
  std::string message_;
  Value details_;
};

class SystemError : public Error {
 public:
  explicit SystemError(std::string error, bool recoverable = true);
  const std::string& error() const { return error_; }
  bool recoverable() const { return recoverable_; }
  Value to_value() const override;
  [[noreturn]] void raise() const override { throw *this; }
  std::shared_ptr<const Error> clone() const override { return std::make_shared<SystemError>(*this); }

 private:
  std::string error_;
  bool recoverable_;
};

class TimeoutError : public Error {
 public:
  TimeoutError(std::string operation, std::int64_t duration_ms);
  const std::string& operation() const { return operation_; }
  std::int64_t duration_ms() const { return duration_ms_; }
  Value to_value() const override;
  [[noreturn]] void raise() const override { throw *this; }
  std::shared_ptr<const Error> clone() const override { return std::make_shared<TimeoutError>(*this); }

 private:
  std::string operation_;
  std::int64_t duration_ms_;
};

class RuntimeError : public Error {
 public:
  RuntimeError(RuntimeErrorKind kind, std::string message);
  RuntimeErrorKind kind() const { return kind_; }
  const std::string& message() const { return message_; }
  Value to_value() const override;
  [[noreturn]] void raise() const override { throw *this; }
  std::shared_ptr<const Error> clone() const override { return std::make_shared<RuntimeError>(*this); }

 private:
  RuntimeErrorKind kind_;
  std::string message_;
};

// An error as futures and replies carry it: always holds one of the four classes above. Shared
// and immutable, so that it crosses threads freely; raise() throws a fresh copy each time.
struct Failure {
  ErrorCategory category = ErrorCategory::kSystem;
  std::shared_ptr<const Error> error;

  [[noreturn]] void raise() const {
    error->raise();
    std::abort();  // not reached: g++ does not carry [[noreturn]] through the virtual call
  }
  std::string describe() const { return error->what(); }
};

// Classification of whatever a handler threw:
//   a pulsing Error                              -> itself
//   std::invalid_argument, std::domain_error     -> BusinessError(400, what())
//   any other std::exception                     -> SystemError(what(), recoverable = true)
//   anything else                                -> SystemError("unknown exception", true)
Failure classify(std::exception_ptr thrown);

template <typename E, typename... Args>
Failure make_failure(Args&&... args) {
  auto error = std::make_shared<const E>(std::forward<Args>(args)...);
  ErrorCategory category = error->category();
  return Failure{category, std::move(error)};
}

// The held error as Error::to_value() (how it crosses the wire).
Value failure_to_value(const Failure& failure);

// Rebuilds an error from Error::to_value(); a map it cannot read becomes a
// RuntimeError(kProtocol) naming the problem.
Failure failure_from_value(const Value& value);

}  // namespace pulsing
