// Client: how a `pulsing` command reaches a cluster without joining it. It runs a small node of
// its own (no gossip; it listens on loopback only so that its connections have an identity) and
// talks to the node service (admin/node_service.hpp) of the node named by --node, which
// resolves names for it; calls then go straight to the actor that serves the name.
//
// Failures are CliErrors carrying the exit code a script can act on (see ExitCode).
// Thread-safety: one thread.
#pragma once

#include <chrono>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "common/address.hpp"
#include "runtime/node.hpp"

namespace pulsing::cli {

// What `pulsing` exits with.
enum ExitCode : int {
  kOk = 0,
  kFailed = 1,       // the call failed: an error from the actor or the runtime, or a timeout
  kUsage = 2,        // a bad flag, bad JSON, an unknown method, the wrong number of arguments
  kNotFound = 3,     // no actor by that name, or no node hosting the kind
  kUnreachable = 4,  // no pulsing node answers at that address
  kNotPermitted = 5, // the key given does not allow this command (an observer's key)
};

class CliError : public std::runtime_error {
 public:
  CliError(ExitCode code, const std::string& message) : std::runtime_error(message), code_(code) {}
  ExitCode code() const { return code_; }

 private:
  ExitCode code_;
};

// "host:port" or "tcp://host:port" as "tcp://host:port". Throws CliError(kUsage) otherwise.
std::string node_endpoint(std::string_view address);

// "5s", "500ms", "2m", or a bare number of seconds. Throws CliError(kUsage) otherwise.
std::chrono::milliseconds parse_duration(std::string_view text, std::string_view flag);

// The error a failed call raised, as a CliError with its exit code and a message that says
// what went wrong. `what` names the call ("ask service.add").
CliError explain(const std::exception& error, std::string_view what);

class Client {
 public:
  // Connects lazily: nothing is sent before the first call. With a `key_file` (a client key
  // file, or a cluster key file; "" looks at PULSING_CLUSTER_KEY_FILE) every connection is
  // encrypted and authenticated (CURVE); without one, connections are plain, as a node without
  // a key expects. Throws CliError(kUsage) when the file cannot be used.
  Client(std::string_view node_address, std::chrono::milliseconds timeout, const std::string& key_file);

  // Calls `method` of the node service; rethrows failures as CliErrors.
  Value call_node(std::string_view method, std::vector<Value> args = {});
  // The instance that serves `name` (the asked node's own first), ready for calls.
  AnyRef instance(const std::string& name);

  const std::string& endpoint() const { return endpoint_; }
  std::string address() const { return endpoint_address(endpoint_); }
  std::chrono::milliseconds timeout() const { return timeout_; }

 private:
  AnyRef node_service();

  const std::string endpoint_;
  const std::chrono::milliseconds timeout_;
  Node node_;
  std::optional<AnyRef> service_;
};

}  // namespace pulsing::cli
