#include "cli/client.hpp"

#include <charconv>
#include <cstdlib>

#include <fmt/format.h>

#include "admin/host_port.hpp"
#include "admin/node_service.hpp"
#include "common/log.hpp"
#include "messaging/error.hpp"
#include "security/curve_keys.hpp"
#include "security/key_file.hpp"

namespace pulsing::cli {
namespace {

// The keys a client calls with, into `config`: a client key file makes it a client; a cluster
// key file, a holder of the cluster key (it calls with a node's rights).
void add_keys(NodeConfig& config, std::string key_file) {
  if (key_file.empty()) {
    const char* cluster = std::getenv("PULSING_CLUSTER_KEY_FILE");
    if (cluster == nullptr || *cluster == '\0') return;
    key_file = cluster;
  }
  try {
    if (security::is_client_key_file(key_file)) {
      config.client_key = std::make_shared<const security::ClientKey>(security::read_client_key_file(key_file));
    } else {
      config.cluster_keys = std::make_shared<const security::Keyring>(security::read_key_file(key_file));
    }
  } catch (const security::KeyError& e) {
    throw CliError(kUsage, fmt::format("--key-file: {}", e.what()));
  }
}

NodeConfig client_config(std::chrono::milliseconds timeout, const std::string& key_file) {
  NodeConfig config;
  add_keys(config, key_file);
  config.name = "pulsing-cli";
  config.worker_threads = 1;
  config.listen = "tcp://127.0.0.1:0";
  config.gossip = false;
  config.ask_timeout = timeout;
  config.shutdown_grace = std::chrono::milliseconds(500);
  // Within the call's timeout, so that a node that is not there is reported as unreachable.
  config.transport.connect_timeout = std::min(timeout / 2, config.transport.connect_timeout);
  return config;
}

std::string unreachable_hint(const std::string& endpoint) {
  return fmt::format("is a pulsing node running at {}? (the address comes from --node or PULSING_NODE)",
                     endpoint_address(endpoint));
}

}  // namespace

std::string node_endpoint(std::string_view address) {
  admin::HostPort parsed;
  try {
    parsed = admin::split_host_port(endpoint_address(address));
  } catch (const std::invalid_argument&) {
    throw CliError(kUsage, fmt::format("'{}' is not a node address: write HOST:PORT, like 127.0.0.1:7000", address));
  }
  if (parsed.port == 0) throw CliError(kUsage, fmt::format("'{}' needs a port other than 0", address));
  return "tcp://" + admin::join_host_port(parsed.host, parsed.port);
}

std::chrono::milliseconds parse_duration(std::string_view text, std::string_view flag) {
  double number = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), number);
  std::string_view unit(end, static_cast<std::size_t>(text.data() + text.size() - end));
  double scale = unit == "ms" ? 1 : unit == "s" || unit.empty() ? 1e3 : unit == "m" ? 60e3 : -1;
  if (ec != std::errc() || scale < 0 || number < 0) {
    throw CliError(kUsage, fmt::format("{} takes a duration like 500ms, 5s or 2m, not '{}'", flag, text));
  }
  return std::chrono::milliseconds(static_cast<std::int64_t>(number * scale));
}

CliError explain(const std::exception& error, std::string_view what) {
  if (const auto* cli = dynamic_cast<const CliError*>(&error)) return *cli;
  if (const auto* runtime = dynamic_cast<const RuntimeError*>(&error)) {
    switch (runtime->kind()) {
      case RuntimeErrorKind::kActorNotFound:
      case RuntimeErrorKind::kNoHost: return {kNotFound, fmt::format("{}: {}", what, error.what())};
      case RuntimeErrorKind::kNodeUnreachable: return {kUnreachable, fmt::format("{}: {}", what, error.what())};
      case RuntimeErrorKind::kNotPermitted: return {kNotPermitted, fmt::format("{}: {}", what, error.what())};
      case RuntimeErrorKind::kUnknownMethod:
      case RuntimeErrorKind::kBadArguments:
      case RuntimeErrorKind::kInvalidName: return {kUsage, fmt::format("{}: {}", what, error.what())};
      default: break;
    }
  }
  return {kFailed, fmt::format("{}: {}", what, error.what())};
}

Client::Client(std::string_view node_address, std::chrono::milliseconds timeout, const std::string& key_file)
    : endpoint_(node_endpoint(node_address)), timeout_(timeout), node_(client_config(timeout, key_file)) {
  // What goes wrong is the command's error message; the runtime's warnings would say it twice.
  log().set_level(spdlog::level::err);
}

AnyRef Client::node_service() {
  if (service_) return *service_;
  try {
    service_ = node_.resolve_at(endpoint_, std::string(admin::kNodeServiceName), timeout_).get();
  } catch (const RuntimeError& e) {
    if (e.kind() == RuntimeErrorKind::kActorNotFound) {
      throw CliError(kUnreachable, fmt::format("the node at {} serves no '{}': it is not run by `pulsing node` "
                                               "(an application can serve pulsing::admin::NodeService)",
                                               endpoint_address(endpoint_), admin::kNodeServiceName));
    }
    throw CliError(kUnreachable, fmt::format("cannot reach {}: {}; {}", endpoint_address(endpoint_), e.what(),
                                             unreachable_hint(endpoint_)));
  } catch (const TimeoutError&) {
    throw CliError(kUnreachable, fmt::format("cannot reach {}: no answer within {} ms; {}", endpoint_address(endpoint_),
                                             timeout_.count(), unreachable_hint(endpoint_)));
  }
  return *service_;
}

Value Client::call_node(std::string_view method, std::vector<Value> args) {
  AnyRef service = node_service();
  try {
    return service.ask(method, std::move(args)).get();
  } catch (const std::exception& e) {
    throw explain(e, fmt::format("{} on {}", method, endpoint_address(endpoint_)));
  }
}

AnyRef Client::instance(const std::string& name) {
  Value rows;
  try {
    rows = call_node("instances", {name});
  } catch (const CliError& e) {
    if (e.code() != kNotFound) throw;
    throw CliError(kNotFound, fmt::format("no actor named '{}' in the cluster, as {} sees it (`pulsing actors` lists "
                                          "a node's actors)",
                                          name, endpoint_address(endpoint_)));
  }
  const Value& first = rows.as_list().front();
  const std::string& endpoint = first.find("endpoint")->as_text();
  try {
    return node_.resolve_at(endpoint, name, timeout_).get();
  } catch (const std::exception& e) {
    throw explain(e, fmt::format("reaching '{}' at {}", name, endpoint_address(endpoint)));
  }
}

}  // namespace pulsing::cli
