// What the pulsing benchmark programs whose server is a child process share (pulsing_names,
// pulsing_placement): the server's "sink" actor, which answers W6-style asks (x + 1) and stops
// the server on request, serving a node until then, and checking and waiting on conditions.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <stdexcept>
#include <string>
#include <thread>

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

// A broken expectation ends the run (the program reports it and exits non-zero).
inline void expect(bool ok, const std::string& what) {
  if (!ok) throw std::runtime_error(what);
}

// Waits until `done` holds, checking every 10 ms; throws after `limit`, naming `what`.
inline void wait_until(const std::function<bool()>& done, std::chrono::seconds limit, const char* what) {
  auto deadline = Clock::now() + limit;
  while (!done()) {
    expect(Clock::now() < deadline, std::string("timed out waiting for ") + what);
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
}

}  // namespace bench
