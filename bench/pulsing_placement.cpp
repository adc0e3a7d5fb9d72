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
// P2: entity calls. After untimed warm-up calls:
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
#include <malloc.h>

#include <algorithm>
#include <array>
#include <condition_variable>
#include <cstdio>
#include <cstring>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
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
using bench::expect;
using bench::Sink;
using bench::wait_until;
constexpr const char* kSystem = "pulsing";
constexpr const char* kUsage = "usage: pulsing_placement --workload P1|P2|P3 [--scale F]";

// P1: sequential asks and spawns timed, and spawns with kP1RateWindow outstanding (all scaled);
// untimed spawns before them (not scaled, as the warm-up asks are not).
constexpr std::int64_t kP1Asks = 10'000;
constexpr std::int64_t kP1Spawns = 10'000;
constexpr std::int64_t kP1RateSpawns = 20'000;
constexpr std::int64_t kP1RateWindow = 64;
constexpr std::int64_t kWarmupSpawns = 300;

// P2: sequential first calls (then the same keys again) and windowed calls to fresh keys; P3:
// the keys activated before the kill (all scaled). Untimed entity calls before either (not
// scaled). Calls outstanding in every windowed phase.
constexpr std::int64_t kP2FirstCalls = 5'000;
constexpr std::int64_t kP2RateCalls = 100'000;
constexpr std::int64_t kP3Keys = 30'000;
constexpr std::int64_t kWarmupCalls = 300;
constexpr std::int64_t kCallWindow = 64;
// P3: one call's limit after the kill (its retries on kRefused included).
constexpr auto kP3CallTimeout = 500ms;
// P3: a pass that left keys unanswered is followed by the next after this pause, so that calls
// that fail at once (an unreachable owner) do not spin.
constexpr auto kP3PassPause = 20ms;
// P3: the recovery fails the run if it takes longer than this.
constexpr auto kP3Limit = 120s;
// P2 needs no wait for the servers' views to settle: a host that activates a key within
// handoff_grace (30 s, registry/entity_table.hpp) of its last change of hosts first asks the key's
// owner in its previous view to release it, but while hosts only join (the servers' start-up),
// the owner of a key in the new view owned it in the previous one too (rendezvous hashing), so no
// first call pays for a release.

// The kind the client spawns on the server in P1: small, built from one int64.
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

// The entity kind of P2 and P3: a counter, built from its key (which it does not keep).
class Counter : public pulsing::Actor {
 public:
  explicit Counter(const std::string& /*key*/) {}
  std::int64_t add(std::int64_t n) { return total_ += n; }
  PULSING_METHODS(Counter, add)

 private:
  std::int64_t total_ = 0;
};
constexpr const char* kEntityKind = "Counter";
constexpr auto kEntityIdle = std::chrono::minutes(10);
constexpr std::size_t kServers = 3;

// What a server of P2 and P3 reports of itself: its heap in use (mallinfo2: every arena's
// allocated chunks and the mmapped ones), its RSS, and its active entities.
class Probe : public pulsing::Actor {
 public:
  explicit Probe(pulsing::Node* node) : node_(node) {}
  std::int64_t heap_bytes() {
    auto m = ::mallinfo2();
    return static_cast<std::int64_t>(m.uordblks + m.hblkhd);
  }
  std::int64_t rss_bytes() { return bench::current_rss_bytes(); }
  std::int64_t entities_active() { return static_cast<std::int64_t>(node_->stats().entities_active); }
  PULSING_METHODS(Probe, heap_bytes, rss_bytes, entities_active)

 private:
  pulsing::Node* node_;
};

std::string server_name(std::size_t i) { return "server" + std::to_string(i); }

pulsing::NodeConfig gossiping(const std::string& member) {
  pulsing::NodeConfig config;
  config.name = member;
  config.listen = "tcp://127.0.0.1:0";
  config.ask_timeout = std::chrono::milliseconds(remote::kTimeoutMs);
  config.membership.name = member;
  return config;
}

// Whether `node` sees the member `name` alive and announcing the kind `kind`.
bool hosts_kind(const pulsing::Node& node, const std::string& name, const char* kind) {
  for (const auto& m : node.members()) {
    if (m.name != name || m.state != pulsing::membership::MemberState::kAlive) continue;
    auto it = m.meta.find(pulsing::detail::KindTable::kMetadataKey);
    return it != m.meta.end() && pulsing::detail::announces_kind(it->second, kind);
  }
  return false;
}

std::int64_t ns_since(bench::Clock::time_point t0) {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(bench::Clock::now() - t0).count();
}
double us(std::int64_t ns) { return static_cast<double>(ns) / 1e3; }
double seconds_between(bench::Clock::time_point a, bench::Clock::time_point b) {
  return std::chrono::duration<double>(b - a).count();
}

// The value of `--flag VALUE` anywhere in argv, both removed; `fallback` if absent.
std::string take_option(int& argc, char** argv, const char* flag, std::string fallback) {
  for (int i = 1; i + 1 < argc; ++i) {
    if (std::strcmp(argv[i], flag) != 0) continue;
    std::string value = argv[i + 1];
    for (int j = i; j + 2 < argc; ++j) argv[j] = argv[j + 2];
    argc -= 2;
    argv[argc] = nullptr;
    return value;
  }
  return fallback;
}

// ---- the server children

int serve(const std::string& workload, const std::string& member, const std::string& seed) {
  pulsing::NodeConfig config = gossiping(member);
  if (!seed.empty()) config.seeds = {"127.0.0.1:" + seed};
  pulsing::Node node(config);
  if (workload == "P1") {
    node.register_kind<Cell, std::int64_t>();
  } else {
    node.register_entity<Counter>(kEntityKind, pulsing::EntityOptions{.idle_after = kEntityIdle});
    node.spawn<Probe>({.name = "probe"}, &node).get();
  }
  bench::serve_sink(node);
  return 0;
}

// ---- P1's client

// What P1's client gets: its node, which sees the server host Cell, and the server's sink, warm.
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

int run_p1(double scale, int argc, char** argv) {
  remote::ServerChild server;  // killed and reaped on every way out, after the node below
  if (!server.start(argc, argv)) return 1;
  pulsing::NodeConfig config = gossiping("client");
  config.seeds = {"127.0.0.1:" + std::to_string(server.port())};
  pulsing::Node node(config);
  wait_until([&] { return hosts_kind(node, kServer, kKind); }, 30s, "the server to announce kind Cell");
  const std::string server_endpoint = "tcp://127.0.0.1:" + std::to_string(server.port());
  auto sink = node.resolve_at<Sink>(server_endpoint, "sink").get();
  for (std::int64_t i = 0; i < remote::kWarmupAsks; ++i) expect(sink.ask(&Sink::inc, i).get() == i + 1, "warm-up");
  Cluster cluster{node, sink, server_endpoint};
  p1(cluster, scale);
  sink.ask(&Sink::stop_server).get();
  node.shutdown();
  return server.finish() ? 0 : 1;
}

// ---- P2 and P3's client

// What P2 and P3 get: the client node, which sees the three servers alive and hosting Counter,
// and each server's child process, endpoint, sink and probe (indexed alike).
struct Entities {
  pulsing::Node& node;
  std::array<remote::ServerChild, kServers>& children;
  std::vector<std::string> endpoints;
  std::vector<pulsing::ActorRef<Sink>> sinks;
  std::vector<pulsing::ActorRef<Probe>> probes;
};

std::vector<std::string> keys_of(const char* prefix, std::int64_t n) {
  std::vector<std::string> keys;
  keys.reserve(static_cast<std::size_t>(n));
  for (std::int64_t i = 0; i < n; ++i) keys.push_back(prefix + std::to_string(i));
  return keys;
}

// One call of the entity `key`: add(1).
pulsing::Future<std::int64_t> call(const pulsing::Node& node, const std::string& key,
                                   std::chrono::milliseconds timeout = {}) {
  auto ref = node.entity<Counter>(key);
  if (timeout.count() > 0) ref = ref.with_timeout(timeout);
  return ref.ask(&Counter::add, std::int64_t{1});
}

// A call timed from this thread; its answer must be `total`.
std::int64_t timed_call(const pulsing::Node& node, const std::string& key, std::int64_t total) {
  auto a = bench::Clock::now();
  std::int64_t got = call(node, key).get();
  std::int64_t ns = ns_since(a);
  expect(got == total, "entity " + key + " answered " + std::to_string(got) + ", not " + std::to_string(total));
  return ns;
}

// Calls every key of `keys` once, kCallWindow outstanding (each answer lets the next call go).
// The indices of the keys whose call failed, or answered other than `total` (0: any positive
// number); the first such failure in `first_failure`.
struct Calls {
  std::vector<std::size_t> failed;
  std::string first_failure;
};
Calls call_each(const pulsing::Node& node, const std::vector<std::string>& keys, std::int64_t total,
                std::chrono::milliseconds timeout = {}) {
  struct Window {
    std::mutex mutex;
    std::condition_variable changed;
    std::int64_t outstanding = 0;
    Calls calls;
  };
  auto w = std::make_shared<Window>();
  for (std::size_t i = 0; i < keys.size(); ++i) {
    {
      std::unique_lock lock(w->mutex);
      w->changed.wait(lock, [&] { return w->outstanding < kCallWindow; });
      ++w->outstanding;
    }
    call(node, keys[i], timeout).then([w, i, total, &key = keys[i]](pulsing::Result<std::int64_t> r) {
      std::string failure;
      if (!r.ok()) {
        failure = r.failure().describe();
      } else if (total == 0 ? r.value() <= 0 : r.value() != total) {
        failure = "entity " + key + " answered " + std::to_string(r.value());
      }
      std::lock_guard lock(w->mutex);
      --w->outstanding;
      if (!failure.empty()) {
        w->calls.failed.push_back(i);
        if (w->calls.first_failure.empty()) w->calls.first_failure = std::move(failure);
      }
      w->changed.notify_all();
    });
  }
  std::unique_lock lock(w->mutex);
  w->changed.wait(lock, [&] { return w->outstanding == 0; });
  return std::move(w->calls);
}

void expect_all_answered(const Calls& calls, const char* what) {
  expect(calls.failed.empty(), std::string(what) + ": " + std::to_string(calls.failed.size()) +
                                   " calls failed, the first: " + calls.first_failure);
}

// The sum over the servers of a probe's figure.
std::int64_t sum_of(Entities& cluster, std::int64_t (Probe::*figure)()) {
  std::int64_t sum = 0;
  for (auto& probe : cluster.probes) sum += probe.ask(figure).get();
  return sum;
}

void p2(Entities& cluster, double scale) {
  pulsing::Node& node = cluster.node;
  expect_all_answered(call_each(node, keys_of("w-", kWarmupCalls), 1), "warm-up");

  // First calls, then the same keys active, each timed from this thread.
  const std::int64_t n = bench::scaled(kP2FirstCalls, scale);
  const auto keys = keys_of("a-", n);
  std::vector<std::int64_t> first_ns, active_ns;
  first_ns.reserve(keys.size());
  active_ns.reserve(keys.size());
  auto t0 = bench::Clock::now();
  for (const auto& key : keys) first_ns.push_back(timed_call(node, key, 1));
  double s = bench::seconds_since(t0);
  for (const auto& key : keys) active_ns.push_back(timed_call(node, key, 2));

  // Calls to fresh keys, kCallWindow outstanding; the servers' heaps and RSS around them.
  const std::int64_t rate_n = bench::scaled(kP2RateCalls, scale);
  const auto rate_keys = keys_of("c-", rate_n);
  const std::int64_t active_before = sum_of(cluster, &Probe::entities_active);
  const std::int64_t heap_before = sum_of(cluster, &Probe::heap_bytes);
  const std::int64_t rss_before = sum_of(cluster, &Probe::rss_bytes);
  auto r0 = bench::Clock::now();
  expect_all_answered(call_each(node, rate_keys, 1), "the windowed calls");
  double rate_s = bench::seconds_since(r0);
  const std::int64_t heap_after = sum_of(cluster, &Probe::heap_bytes);
  const std::int64_t rss_after = sum_of(cluster, &Probe::rss_bytes);
  const std::int64_t activated = sum_of(cluster, &Probe::entities_active) - active_before;
  expect(activated == rate_n, "the servers activated " + std::to_string(activated) + " entities for " +
                                  std::to_string(rate_n) + " fresh keys");

  std::sort(first_ns.begin(), first_ns.end());
  std::sort(active_ns.begin(), active_ns.end());
  double p50 = us(remote::nearest_rank(first_ns, 50));
  char extra[320];
  std::snprintf(extra, sizeof extra,
                ",\"p99_us\":%.1f,\"active_p50_us\":%.1f,\"active_p99_us\":%.1f,\"calls_per_s\":%.1f,"
                "\"bytes_per_activation\":%.1f,\"rss_bytes_per_activation\":%.1f",
                us(remote::nearest_rank(first_ns, 99)), us(remote::nearest_rank(active_ns, 50)),
                us(remote::nearest_rank(active_ns, 99)), static_cast<double>(rate_n) / rate_s,
                static_cast<double>(heap_after - heap_before) / static_cast<double>(activated),
                static_cast<double>(rss_after - rss_before) / static_cast<double>(activated));
  bench::print_result(kSystem, "P2", p50, "us", n, s, extra);
}

void p3(Entities& cluster, double scale) {
  pulsing::Node& node = cluster.node;
  // Each member's first kDead, as the client saw it (shared: the handler outlives this function).
  struct Deaths {
    std::mutex mutex;
    std::map<std::string, bench::Clock::time_point> at;  // guarded
  };
  auto deaths = std::make_shared<Deaths>();
  node.on_member_event([deaths](const pulsing::membership::MemberEvent& e) {
    if (e.kind != pulsing::membership::EventKind::kDead) return;
    std::lock_guard lock(deaths->mutex);
    deaths->at.emplace(e.member.name, bench::Clock::now());
  });
  expect_all_answered(call_each(node, keys_of("w-", kWarmupCalls), 1), "warm-up");
  const auto keys = keys_of("k-", bench::scaled(kP3Keys, scale));
  expect_all_answered(call_each(node, keys, 1), "the activations");

  // The server that owns the most keys in the client's view.
  std::vector<std::int64_t> owned(kServers, 0);
  for (const auto& key : keys) {
    auto at = node.entity<Counter>(key).current();
    expect(at.ok(), "no owner for entity " + key);
    auto it = std::find(cluster.endpoints.begin(), cluster.endpoints.end(), at.value().address().endpoint);
    expect(it != cluster.endpoints.end(), "entity " + key + " is not on a server");
    ++owned[static_cast<std::size_t>(it - cluster.endpoints.begin())];
  }
  const auto victim = static_cast<std::size_t>(std::max_element(owned.begin(), owned.end()) - owned.begin());
  const std::string victim_name = server_name(victim);

  auto killed_at = bench::Clock::now();
  cluster.children[victim].kill_and_reap();
  std::vector<std::string> remaining = keys;
  std::int64_t passes = 0, failed_calls = 0;
  std::string first_failure;
  while (!remaining.empty()) {
    expect(bench::Clock::now() - killed_at < kP3Limit,
           std::to_string(remaining.size()) + " keys still unanswered; a failure: " + first_failure);
    if (passes > 0) std::this_thread::sleep_for(kP3PassPause);
    Calls calls = call_each(node, remaining, 0, kP3CallTimeout);
    ++passes;
    failed_calls += static_cast<std::int64_t>(calls.failed.size());
    if (first_failure.empty()) first_failure = calls.first_failure;
    std::vector<std::string> again;
    again.reserve(calls.failed.size());
    for (auto i : calls.failed) again.push_back(std::move(remaining[i]));
    remaining = std::move(again);
  }
  auto answered_at = bench::Clock::now();
  std::optional<bench::Clock::time_point> dead_at;
  wait_until(
      [&] {
        std::lock_guard lock(deaths->mutex);
        if (auto it = deaths->at.find(victim_name); it != deaths->at.end()) dead_at = it->second;
        return dead_at.has_value();
      },
      60s, "the dead event");
  double value = seconds_between(killed_at, answered_at);
  double detection = seconds_between(killed_at, *dead_at);
  char extra[256];
  std::snprintf(extra, sizeof extra,
                ",\"detection_s\":%.3f,\"after_detection_s\":%.3f,\"victim_keys\":%lld,\"passes\":%lld,"
                "\"failed_calls\":%lld",
                detection, value - detection, static_cast<long long>(owned[victim]), static_cast<long long>(passes),
                static_cast<long long>(failed_calls));
  bench::print_result(kSystem, "P3", value, "s", static_cast<std::int64_t>(keys.size()), value, extra);
  if (!first_failure.empty()) std::fprintf(stderr, "pulsing_placement: P3: a failed call: %s\n", first_failure.c_str());
}

using EntityWorkload = void (*)(Entities&, double);

int run_entities(EntityWorkload workload, double scale, int argc, char** argv) {
  std::array<remote::ServerChild, kServers> children;  // killed and reaped on every way out, after the node
  for (std::size_t i = 0; i < kServers; ++i) {
    std::vector<std::string> role = {"--serve", "--member", server_name(i)};
    if (i > 0) role.insert(role.end(), {"--seed", std::to_string(children[0].port())});
    if (!children[i].start(argc, argv, 30'000, role)) return 1;
  }
  pulsing::NodeConfig config = gossiping("client");
  for (auto& child : children) config.seeds.push_back("127.0.0.1:" + std::to_string(child.port()));
  pulsing::Node node(config);
  wait_until(
      [&] {
        for (std::size_t i = 0; i < kServers; ++i) {
          if (!hosts_kind(node, server_name(i), kEntityKind)) return false;
        }
        return true;
      },
      30s, "the servers to announce kind Counter");
  Entities cluster{node, children, {}, {}, {}};
  for (auto& child : children) {
    cluster.endpoints.push_back("tcp://127.0.0.1:" + std::to_string(child.port()));
    cluster.sinks.push_back(node.resolve_at<Sink>(cluster.endpoints.back(), "sink").get());
    cluster.probes.push_back(node.resolve_at<Probe>(cluster.endpoints.back(), "probe").get());
    auto& sink = cluster.sinks.back();
    for (std::int64_t i = 0; i < remote::kWarmupAsks; ++i) expect(sink.ask(&Sink::inc, i).get() == i + 1, "warm-up");
  }
  workload(cluster, scale);
  for (std::size_t i = 0; i < kServers; ++i) {
    if (children[i].pid() > 0) cluster.sinks[i].ask(&Sink::stop_server).get();
  }
  node.shutdown();
  bool ok = true;
  for (auto& child : children) {
    if (child.pid() > 0) ok = child.finish() && ok;
  }
  return ok ? 0 : 1;
}

int run_p2(double scale, int argc, char** argv) { return run_entities(p2, scale, argc, argv); }
int run_p3(double scale, int argc, char** argv) { return run_entities(p3, scale, argc, argv); }

using Run = int (*)(double, int, char**);

}  // namespace

int main(int argc, char** argv) {
  bool serving = remote::take_serve_flag(argc, argv);
  std::string member = serving ? take_option(argc, argv, "--member", kServer) : "";
  std::string seed = serving ? take_option(argc, argv, "--seed", "") : "";
  std::string workload;
  double scale = 1.0;
  if (!bench::parse_args(argc, argv, kUsage, workload, scale)) return 2;
  Run run = bench::pick_workload<Run>(workload, kUsage, {{"P1", run_p1}, {"P2", run_p2}, {"P3", run_p3}});
  if (run == nullptr) return 2;
  try {
    if (serving) return serve(workload, member, seed);
    return run(scale, argc, argv);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "pulsing_placement%s: %s\n", serving ? " server" : "", e.what());
    return 1;
  }
}
