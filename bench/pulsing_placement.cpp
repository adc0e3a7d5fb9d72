// pulsing_placement: the placement benchmarks (bench/README.md, "Placement"): P1 (spawns on another
// node), P2 and P3 (entities, Node::register_entity).
//
//   pulsing_placement --workload P1|P2|P3 [--scale F]
//
// This process is the client node ("client"); its server nodes are child processes
// (remote_util.hpp). P1 has one, "server", which hosts the kind Cell (Node::register_kind) and
// the actor "sink". P2 and P3 have three, "server0".."server2", each hosting the entity kind
// Counter (Node::register_entity, idle_after 10 minutes: nothing passivates during a run), "sink"
// and "probe" (its heap, RSS and active entities); server1 and server2 join through server0
// (`--member NAME --seed PORT` after `--serve`), and the client, which hosts no entity, seeds with
// all three. All gossip on 127.0.0.1, and the client starts once it sees every server alive and
// announcing its kind in its metadata. Only the client's work is timed.
//
// P1: remote spawn latency. In one run, after untimed warm-up asks and spawns: 10,000
//   sequential asks of the sink (W6's shape, from this thread, as R1 times them), then 10,000
//   sequential spawns of an anonymous Cell on the server (`Placement::on("server")`), each
//   timed, then 20,000 spawns with 64 outstanding. `value` is the spawn p50 in µs; `p99_us`,
//   `ask_p50_us`, `vs_ask_p50` (spawn p50 / ask p50) and `spawns_per_s` (the windowed spawns).
//   The spawned Cells stay alive on the server until it stops.
// P2: entity calls. After the host views have settled (see kSettle) and untimed warm-up calls:
//   5,000 sequential first calls, each to a fresh key (the owner activates it), each timed; the
//   same 5,000 keys called again (active); then 100,000 fresh keys called once each with 64
//   outstanding (each call lets the next go). `value` is the first-call p50 in µs; `p99_us`,
//   `active_p50_us`, `active_p99_us`, `calls_per_s` (the windowed calls), and
//   `bytes_per_activation`: the growth of the three servers' heaps (mallinfo2: in use, arenas and
//   mmapped) over those 100,000 activations, per activation (`rss_bytes_per_activation`: the
//   same from their RSS).
// P3: fail-over. 30,000 keys activated (64 outstanding); the server holding the most of them is
//   killed with SIGKILL; then every key is called again (64 outstanding, 500 ms per call), and
//   the keys whose call failed again, pass after pass, until every key has answered once since
//   the kill. `value` is the seconds from the kill until then; `detection_s` from the kill until
//   the client's membership declares the server dead (its kDead event), `after_detection_s` the
//   difference (target ≤ 1 s), `victim_keys`, `passes`, `failed_calls`.
#include <algorithm>
#include <cstdio>
#include <cstring>
#include <deque>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include <pulsing/pulsing.hpp>

#include "bench_util.hpp"
#include "pulsing_server.hpp"
#include "remote_util.hpp"

namespace {

namespace remote = bench::remote;
using namespace std::chrono_literals;
using bench::Sink;
constexpr const char* kSystem = "pulsing";
constexpr const char* kUsage = "usage: pulsing_placement --workload P1 [--scale F]";

// P1: sequential asks and spawns timed, and spawns with kP1RateWindow outstanding (all scaled);
// untimed spawns before them (not scaled, as the warm-up asks are not).
constexpr std::int64_t kP1Asks = 10'000;
constexpr std::int64_t kP1Spawns = 10'000;
constexpr std::int64_t kP1RateSpawns = 20'000;
constexpr std::int64_t kP1RateWindow = 64;
constexpr std::int64_t kWarmupSpawns = 300;

// The kind the client spawns on the server: small, built from one int64.
class Cell : public pulsing::Actor {
 public:
  explicit Cell(std::int64_t v) : v_(v) {}
  std::int64_t get() const { return v_; }
  PULSING_METHODS(Cell, get)

 private:
  std::int64_t v_;
};
constexpr const char* kKind = "Cell";
constexpr const char* kServer = "server";

void expect(bool ok, const std::string& what) {
  if (!ok) throw std::runtime_error(what);
}

pulsing::NodeConfig gossiping(const std::string& member) {
  pulsing::NodeConfig config;
  config.name = member;
  config.listen = "tcp://127.0.0.1:0";
  config.ask_timeout = std::chrono::milliseconds(remote::kTimeoutMs);
  config.membership.name = member;
  return config;
}

void wait_until(const std::function<bool()>& done, std::chrono::seconds limit, const char* what) {
  auto deadline = bench::Clock::now() + limit;
  while (!done()) {
    expect(bench::Clock::now() < deadline, std::string("timed out waiting for ") + what);
    std::this_thread::sleep_for(10ms);
  }
}

// Whether `node` sees the server alive and announcing the kind Cell.
bool server_hosts_cell(const pulsing::Node& node) {
  for (const auto& m : node.members()) {
    if (m.name != kServer || m.state != pulsing::membership::MemberState::kAlive) continue;
    auto it = m.meta.find(pulsing::detail::KindTable::kMetadataKey);
    return it != m.meta.end() && pulsing::detail::announces_kind(it->second, kKind);
  }
  return false;
}

std::int64_t ns_since(bench::Clock::time_point t0) {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(bench::Clock::now() - t0).count();
}
double us(std::int64_t ns) { return static_cast<double>(ns) / 1e3; }

// ---- the server child

int serve() {
  pulsing::Node node(gossiping(kServer));
  node.register_kind<Cell, std::int64_t>();
  bench::serve_sink(node);
  return 0;
}

// ---- the client

// What every workload's client gets: its node, which sees the server host Cell, and the server's
// sink, warm.
struct Cluster {
  pulsing::Node& node;
  pulsing::ActorRef<Sink>& sink;
  std::string server_endpoint;
};

// A spawn of Cell(v) on the server.
pulsing::Future<pulsing::ActorRef<Cell>> spawn_cell(pulsing::Node& node, std::int64_t v) {
  return node.spawn<Cell>({.placement = pulsing::Placement::on(kServer)}, v);
}

void expect_on_server(const Cluster& cluster, const pulsing::ActorRef<Cell>& cell) {
  expect(cell.is_remote() && cell.address().endpoint == cluster.server_endpoint, "a Cell was not spawned on the server");
}

void p1(Cluster& cluster, double scale) {
  pulsing::Node& node = cluster.node;
  for (std::int64_t i = 0; i < kWarmupSpawns; ++i) expect_on_server(cluster, spawn_cell(node, i).get());

  // W6's shape, from this thread: the ask the spawn is compared with.
  std::vector<std::int64_t> ask_ns;
  for (std::int64_t i = 0; i < bench::scaled(kP1Asks, scale); ++i) {
    auto a = bench::Clock::now();
    expect(cluster.sink.ask(&Sink::inc, i).get() == i + 1, "wrong reply");
    ask_ns.push_back(ns_since(a));
  }

  const std::int64_t n = bench::scaled(kP1Spawns, scale);
  std::vector<std::int64_t> spawn_ns;
  spawn_ns.reserve(static_cast<std::size_t>(n));
  pulsing::ActorRef<Cell> first, last;
  auto t0 = bench::Clock::now();
  for (std::int64_t i = 0; i < n; ++i) {
    auto a = bench::Clock::now();
    auto cell = spawn_cell(node, i).get();
    spawn_ns.push_back(ns_since(a));
    if (i == 0) first = cell;
    last = std::move(cell);
  }
  double s = bench::seconds_since(t0);
  // Untimed: the spawned actors are where they should be and were built from their arguments.
  expect_on_server(cluster, first);
  expect_on_server(cluster, last);
  expect(first.ask(&Cell::get).get() == 0 && last.ask(&Cell::get).get() == n - 1, "a Cell holds the wrong value");

  // Spawns per second from this thread, kP1RateWindow outstanding (the oldest awaited first).
  const std::int64_t rate_n = bench::scaled(kP1RateSpawns, scale);
  std::deque<pulsing::Future<pulsing::ActorRef<Cell>>> outstanding;
  std::int64_t next = 0;
  auto r0 = bench::Clock::now();
  while (next < rate_n || !outstanding.empty()) {
    while (next < rate_n && static_cast<std::int64_t>(outstanding.size()) < kP1RateWindow) {
      outstanding.push_back(spawn_cell(node, next++));
    }
    expect_on_server(cluster, outstanding.front().get());
    outstanding.pop_front();
  }
  double rate_s = bench::seconds_since(r0);

  std::sort(spawn_ns.begin(), spawn_ns.end());
  std::sort(ask_ns.begin(), ask_ns.end());
  double p50 = us(remote::nearest_rank(spawn_ns, 50));
  double ask_p50 = us(remote::nearest_rank(ask_ns, 50));
  char extra[192];
  std::snprintf(extra, sizeof extra, ",\"p99_us\":%.1f,\"ask_p50_us\":%.1f,\"vs_ask_p50\":%.2f,\"spawns_per_s\":%.1f",
                us(remote::nearest_rank(spawn_ns, 99)), ask_p50, p50 / ask_p50,
                static_cast<double>(rate_n) / rate_s);
  bench::print_result(kSystem, "P1", p50, "us", n, s, extra);
}

using Workload = void (*)(Cluster&, double);

int run_client(Workload workload, double scale, int argc, char** argv) {
  remote::ServerChild server;  // killed and reaped on every way out, after the node below
  if (!server.start(argc, argv)) return 1;
  pulsing::NodeConfig config = gossiping("client");
  config.seeds = {"127.0.0.1:" + std::to_string(server.port())};
  pulsing::Node node(config);
  wait_until([&] { return server_hosts_cell(node); }, 30s, "the server to announce kind Cell");
  const std::string server_endpoint = "tcp://127.0.0.1:" + std::to_string(server.port());
  auto sink = node.resolve_at<Sink>(server_endpoint, "sink").get();
  for (std::int64_t i = 0; i < remote::kWarmupAsks; ++i) expect(sink.ask(&Sink::inc, i).get() == i + 1, "warm-up");
  Cluster cluster{node, sink, server_endpoint};
  workload(cluster, scale);
  sink.ask(&Sink::stop_server).get();
  node.shutdown();
  return server.finish() ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  bool serving = remote::take_serve_flag(argc, argv);
  std::string workload;
  double scale = 1.0;
  if (!bench::parse_args(argc, argv, kUsage, workload, scale)) return 2;
  Workload run = bench::pick_workload<Workload>(workload, kUsage, {{"P1", p1}});
  if (run == nullptr) return 2;
  try {
    if (serving) return serve();
    return run_client(run, scale, argc, argv);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "pulsing_placement%s: %s\n", serving ? " server" : "", e.what());
    return 1;
  }
}
