// What the integration tests share: the test process's own node, and short names for the
// helpers (waiting with a deadline, expecting an error) of the unit tests; a child's admin
// endpoint and the counters its /metrics shows.
#pragma once

#include <chrono>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <string_view>

#include "../unit/runtime/test_support.hpp"
#include "admin/host_port.hpp"
#include "admin/http_client.hpp"
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

// Where a child gossips ("127.0.0.1:PORT"): a seed for other members.
inline std::string gossip_address(const NodeProcess& child) {
  return child.endpoint().substr(std::string("tcp://").size());
}

// Three node processes (b and c join through a) and this process's node, "client", a member of
// their cluster. The constructor waits for nothing: each test waits for what it needs.
struct ThreeNodeCluster {
  NodeProcess a = NodeProcess::start({"--member", "a"});
  NodeProcess b = NodeProcess::start({"--member", "b", "--seed", gossip_address(a)});
  NodeProcess c = NodeProcess::start({"--member", "c", "--seed", gossip_address(a)});
  Node node{client_config(gossip_address(a))};

  static NodeConfig client_config(const std::string& seed) {
    NodeConfig config = test_process_config();
    config.seeds = {seed};
    config.membership.name = "client";
    return config;
  }
};

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

// The admin endpoint a child named on its ready line ("admin http://127.0.0.1:PORT"): host and
// port. Throws std::runtime_error when it named none.
inline admin::HostPort admin_of(const NodeProcess& child) {
  const std::string& rest = child.ready_rest();
  if (!rest.starts_with("admin http://")) {
    throw std::runtime_error("the node named no admin endpoint on its ready line ('" + rest + "')");
  }
  return admin::split_host_port(rest.substr(13));
}

// GET `path` from a child's admin endpoint (with its bearer token, if it has one).
inline admin::HttpResult admin_get(const NodeProcess& child, const std::string& path,
                                   const std::string& bearer_token = {}) {
  auto where = admin_of(child);
  return admin::http_get(where.host, where.port, path, 5s, bearer_token);
}

// The value of `sample` (a metric's name with its labels, as /metrics writes them:
// "pulsing_refused_total{bound=\"outbox\"}") in Prometheus text. Throws std::runtime_error when
// the text has no such line.
inline std::uint64_t metric_value(const std::string& text, std::string_view sample) {
  for (std::size_t at = 0; at < text.size();) {
    std::size_t end = text.find('\n', at);
    if (end == std::string::npos) end = text.size();
    std::string_view line(text.data() + at, end - at);
    if (line.size() > sample.size() && line.starts_with(sample) && line[sample.size()] == ' ') {
      return std::stoull(std::string(line.substr(sample.size() + 1)));
    }
    at = end + 1;
  }
  throw std::runtime_error("no sample '" + std::string(sample) + "' in /metrics");
}

}  // namespace pulsing::integration
