// What the pulsing benchmark programs whose server is a child process share (pulsing_names,
// pulsing_placement): the server's "sink" actor, which answers W6-style asks (x + 1) and stops
// the server on request, and serving a node until then.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include <pulsing/pulsing.hpp>

#include "remote_util.hpp"

namespace bench {

class Sink : public pulsing::Actor {
 public:
  explicit Sink(std::shared_ptr<pulsing::Promise<void>> stop) : stop_(std::move(stop)) {}
  std::int64_t inc(std::int64_t x) { return x + 1; }
  void stop_server() { stop_->set_value(); }
  PULSING_METHODS(Sink, inc, stop_server)

 private:
  std::shared_ptr<pulsing::Promise<void>> stop_;
};

// Spawns "sink" on `node`, tells the client the node's port (remote::announce_port), waits
// until the client calls sink.stop_server(), then shuts the node down.
inline void serve_sink(pulsing::Node& node) {
  auto stop = std::make_shared<pulsing::Promise<void>>();
  auto stopped = stop->future();
  node.spawn<Sink>({.name = "sink"}, stop).get();
  const std::string& endpoint = node.endpoint();
  remote::announce_port(std::stoi(endpoint.substr(endpoint.rfind(':') + 1)));
  stopped.get();
  node.shutdown();
}

}  // namespace bench
