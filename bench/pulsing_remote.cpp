// pulsing_remote: the remote workloads W5–W7 of bench/README.md on pulsing, in the same shapes as
// raw_zmq_remote.cpp and caf/caf_remote.cpp (bench/README.md has the contract).
//
//   pulsing_remote --workload W5|W6|W7|W5s|W6s|W7s [--scale F]
//
// The process is the client node; it starts its server node as a child process
// (remote_util.hpp), reaches the server's "sink" actor with resolve_at, warms up with 1,000
// asks, and times only its own work. Then it asks the server to stop. W5's tells come from the
// main thread; W6's and W7's asks from a client actor that awaits them (as in caf_remote.cpp).
#include <cstdio>
#include <deque>
#include <memory>
#include <string>
#include <vector>

#include <pulsing/pulsing.hpp>

#include "bench_util.hpp"
#include "remote_util.hpp"

namespace {

namespace remote = bench::remote;
constexpr const char* kSystem = "pulsing";
constexpr const char* kUsage = "usage: pulsing_remote --workload W5|W6|W7|W5s|W6s|W7s [--scale F]";

// The server's actor: counts 64-byte tells, answers x + 1, and stops the server on request.
class Sink : public pulsing::Actor {
 public:
  explicit Sink(std::shared_ptr<pulsing::Promise<void>> stop) : stop_(std::move(stop)) {}
  void tell_text(const std::string& text) {
    if (text.size() == 64) ++counted_;
  }
  std::int64_t count() const { return counted_; }
  std::int64_t inc(std::int64_t x) { return x + 1; }
  void stop_server() { stop_->set_value(); }
  PULSING_METHODS(Sink, tell_text, count, inc, stop_server)

 private:
  std::shared_ptr<pulsing::Promise<void>> stop_;
  std::int64_t counted_ = 0;
};

// A secure run's nodes hold the benchmark's cluster key: gossip sealed, connections under CURVE.
pulsing::NodeConfig node_config(const char* name, bool secure) {
  pulsing::NodeConfig config;
  config.name = name;
  config.listen = "tcp://127.0.0.1:0";
  config.ask_timeout = std::chrono::milliseconds(remote::kTimeoutMs);
  if (secure) {
    config.cluster_keys = std::make_shared<const pulsing::security::Keyring>(
        std::vector{pulsing::security::ClusterKey::parse(remote::kBenchClusterKey)});
  }
  return config;
}

int serve(const std::string& workload) {
  auto stop = std::make_shared<pulsing::Promise<void>>();
  auto stopped = stop->future();
  pulsing::Node node(node_config("server", remote::is_secure(workload)));
  node.spawn<Sink>({.name = "sink"}, stop).get();
  const std::string& endpoint = node.endpoint();
  remote::announce_port(std::stoi(endpoint.substr(endpoint.rfind(':') + 1)));
  stopped.get();
  node.shutdown();
  return 0;
}

void expect(bool ok, const char* what) {
  if (!ok) throw std::runtime_error(what);
}

void w5(pulsing::ActorRef<Sink>& sink, const std::string& workload, double scale) {
  std::int64_t n = bench::scaled(remote::kW5Tells, scale);
  const std::string text = remote::tell_text();
  auto t0 = bench::Clock::now();
  for (std::int64_t i = 0; i < n; ++i) sink.tell(&Sink::tell_text, text);
  std::int64_t counted = sink.ask(&Sink::count).get();
  double s = bench::seconds_since(t0);
  if (counted != n) throw std::runtime_error("the server counted " + std::to_string(counted) + " tells");
  bench::print_result(kSystem, workload.c_str(), static_cast<double>(n) / s, "msgs/s", n, s);
}

// The client of W6 and W7: an actor, as in caf_remote.cpp (an event-based actor there), whose
// asks are awaited, so that nothing blocks a thread while a reply is on its way.
class Client : public pulsing::Actor {
 public:
  explicit Client(pulsing::ActorRef<Sink> sink) : sink_(std::move(sink)) {}

  // n sequential asks; returns each one's latency in ns.
  pulsing::Task<std::vector<std::int64_t>> sequential(std::int64_t n) {
    std::vector<std::int64_t> latencies_ns(static_cast<std::size_t>(n));
    for (std::int64_t i = 0; i < n; ++i) {
      auto a = bench::Clock::now();
      std::int64_t reply = co_await sink_.ask(&Sink::inc, i);
      expect(reply == i + 1, "wrong reply");
      latencies_ns[static_cast<std::size_t>(i)] =
          std::chrono::duration_cast<std::chrono::nanoseconds>(bench::Clock::now() - a).count();
    }
    co_return latencies_ns;
  }

  // n asks, `window` outstanding at all times; returns n. Replies come back in order (one
  // sender, one actor): awaiting the oldest keeps the window full.
  pulsing::Task<std::int64_t> windowed(std::int64_t n, std::int64_t window) {
    std::deque<std::pair<std::int64_t, pulsing::Future<std::int64_t>>> outstanding;
    std::int64_t sent = 0;
    while (sent < std::min(n, window)) {
      outstanding.emplace_back(sent, sink_.ask(&Sink::inc, sent));
      ++sent;
    }
    while (!outstanding.empty()) {
      auto [x, reply] = std::move(outstanding.front());
      outstanding.pop_front();
      expect(co_await std::move(reply) == x + 1, "wrong reply");
      if (sent < n) {
        outstanding.emplace_back(sent, sink_.ask(&Sink::inc, sent));
        ++sent;
      }
    }
    co_return n;
  }
  PULSING_METHODS(Client, sequential, windowed)

 private:
  pulsing::ActorRef<Sink> sink_;
};

// The client's ask that runs a whole workload: each of its own asks has kTimeoutMs, the whole
// run has bench/run.sh's limit (100,000 asks of W6 at 300 µs each take 30 s).
constexpr std::chrono::minutes kWholeRun{10};

void w6(pulsing::ActorRef<Client>& client, const std::string& workload, double scale) {
  std::int64_t n = bench::scaled(remote::kW6Asks, scale);
  auto t0 = bench::Clock::now();
  auto latencies_ns = client.with_timeout(kWholeRun).ask(&Client::sequential, n).get();
  double s = bench::seconds_since(t0);
  remote::print_latency_result(kSystem, workload, latencies_ns, s);
}

void w7(pulsing::ActorRef<Client>& client, const std::string& workload, double scale) {
  std::int64_t n = bench::scaled(remote::kW7Asks, scale);
  auto t0 = bench::Clock::now();
  expect(client.with_timeout(kWholeRun).ask(&Client::windowed, n, remote::kW7Window).get() == n, "wrong count");
  double s = bench::seconds_since(t0);
  bench::print_result(kSystem, workload.c_str(), static_cast<double>(n) / s, "roundtrips/s", n, s);
}

void run_client(remote::ServerChild& server, const std::string& workload, double scale) {
  pulsing::Node node(node_config("client", remote::is_secure(workload)));
  auto sink = node.resolve_at<Sink>("tcp://127.0.0.1:" + std::to_string(server.port()), "sink").get();
  for (std::int64_t i = 0; i < remote::kWarmupAsks; ++i) expect(sink.ask(&Sink::inc, i).get() == i + 1, "warm-up");
  const std::string plain = remote::plain_workload(workload);
  if (plain == "W5") w5(sink, workload, scale);
  if (plain == "W6" || plain == "W7") {
    auto client = node.spawn<Client>({}, sink).get();
    if (plain == "W6") w6(client, workload, scale);
    if (plain == "W7") w7(client, workload, scale);
  }
  sink.ask(&Sink::stop_server).get();
}

}  // namespace

int main(int argc, char** argv) {
  return remote::run_main(argc, argv, "pulsing_remote", kUsage, /*secure=*/true, serve,
                          [](remote::ServerChild& server, const std::string& workload, double scale) {
                            run_client(server, workload, scale);
                            return true;
                          });
}
