// pulsing_names: the name registry benchmarks R1 and R2 (issue 5; bench/README.md).
//
//   pulsing_names --workload R1|R1-cached|R1-rate|R2|R2-memory|R3|R4 [--scale F]
//
// R1*: this process is the client node; its server node is a child process (remote_util.hpp)
//   hosting "sink" and many named actors. Both gossip on 127.0.0.1 with one replica per name,
//   and the client resolves only names whose owner is the server, so that an uncached resolve
//   is one lookup round trip (with three replicas and two nodes, every node owns every name and
//   a lookup never leaves the process).
//   R1        uncached resolve latency, p50 in µs; the same run times sequential asks of the
//             same server (W6's shape, from this thread) and prints both and their ratio
//   R1-cached a resolve answered by the cache, ns per resolve (one thread)
//   R1-rate   uncached resolves per second with 64 outstanding
// R2: three nodes in this process (real sockets and gossip) register 100,000 names between
//   them; seconds until every owner holds every entry (three replicas: all three nodes).
// R2-memory: the heap a registry shard uses per entry (one name, one replica), from one
//   registry state machine fed announces of 100,000 names (mallinfo2 before and after).
// R3: three nodes (the client, a second node in this process, the server child; default three
//   replicas); the server is killed with SIGKILL. Milliseconds from the client's "dead" event
//   to the first resolve of a (cached) server name that fails with kActorNotFound; both from
//   the kill in seconds (`detect_s`, `gone_s`).
// R4: a node joins a cluster whose server hosts the names; milliseconds from its join (it sees
//   the server alive) until a sample of 100 of those names all resolve from it.
#include <malloc.h>

#include <cstdio>
#include <cstring>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <pulsing/pulsing.hpp>

#include "bench_util.hpp"
#include "registry/placement.hpp"
#include "registry/registry.hpp"
#include "pulsing_server.hpp"
#include "remote_util.hpp"

namespace {

namespace remote = bench::remote;
using namespace std::chrono_literals;
using bench::expect;
using bench::Sink;
using bench::wait_until;
constexpr const char* kSystem = "pulsing";
constexpr const char* kUsage =
    "usage: pulsing_names --workload R1|R1-cached|R1-rate|R2|R2-memory|R3|R4 [--scale F]";

// R1: names the server hosts (about half are its own to answer), uncached resolves timed,
// sequential asks timed, cached resolves, and resolves in R1-rate.
constexpr std::int64_t kServerNames = 40'000;
constexpr std::int64_t kR1Resolves = 10'000;
constexpr std::int64_t kR1Asks = 10'000;
constexpr std::int64_t kR1CachedResolves = 1'000'000;
constexpr std::int64_t kR1RateWindow = 64;
// R2: names registered across the three nodes.
constexpr std::int64_t kR2Names = 100'000;

// One of the many named actors: only its name matters.
class Named : public pulsing::Actor {
 public:
  int ping() { return 1; }
  PULSING_METHODS(Named, ping)
};

std::string name_of(std::int64_t i) { return "svc-" + std::to_string(i); }

pulsing::NodeConfig gossiping(const std::string& member, std::size_t replicas) {
  pulsing::NodeConfig config;
  config.name = member;
  config.listen = "tcp://127.0.0.1:0";
  config.ask_timeout = std::chrono::milliseconds(remote::kTimeoutMs);
  config.membership.name = member;
  config.registry.replicas = replicas;
  return config;
}

std::string gossip_address(const pulsing::Node& node) { return node.endpoint().substr(std::strlen("tcp://")); }

std::size_t alive(const pulsing::Node& node) {
  std::size_t n = 0;
  for (const auto& m : node.members()) n += m.state == pulsing::membership::MemberState::kAlive;
  return n;
}

double scale_of(int argc, char** argv, std::string& workload) {
  double scale = 1.0;
  if (!bench::parse_args(argc, argv, kUsage, workload, scale)) std::exit(2);
  return scale;
}

// ---- R1: the server child

int serve(int argc, char** argv) {
  std::string workload;
  double scale = scale_of(argc, argv, workload);
  // R1's lookups must leave the client (see the top); R3 and R4 use the default replicas.
  pulsing::Node node(gossiping("server", workload.starts_with("R1") ? 1 : 3));
  for (std::int64_t i = 0; i < bench::scaled(kServerNames, scale); ++i) node.spawn<Named>({.name = name_of(i)}).get();
  bench::serve_sink(node);
  return 0;
}

// ---- R1: the client

std::vector<std::int64_t> sorted_ns(std::vector<std::int64_t> v) {
  std::sort(v.begin(), v.end());
  return v;
}
double us(std::int64_t ns) { return static_cast<double>(ns) / 1e3; }

void r1(pulsing::Node& node, const std::vector<std::string>& names, pulsing::ActorRef<Sink>& sink, double scale) {
  std::int64_t n = std::min<std::int64_t>(bench::scaled(kR1Resolves, scale), static_cast<std::int64_t>(names.size()));
  std::vector<std::int64_t> resolve_ns, ask_ns;
  auto t0 = bench::Clock::now();
  for (std::int64_t i = 0; i < n; ++i) {
    auto a = bench::Clock::now();
    auto ref = node.resolve_any(names[static_cast<std::size_t>(i)]).get();
    resolve_ns.push_back(std::chrono::duration_cast<std::chrono::nanoseconds>(bench::Clock::now() - a).count());
    expect(ref.is_remote(), "a resolved name is not the server's");
  }
  double s = bench::seconds_since(t0);
  for (std::int64_t i = 0; i < bench::scaled(kR1Asks, scale); ++i) {
    auto a = bench::Clock::now();
    expect(sink.ask(&Sink::inc, i).get() == i + 1, "wrong reply");
    ask_ns.push_back(std::chrono::duration_cast<std::chrono::nanoseconds>(bench::Clock::now() - a).count());
  }
  resolve_ns = sorted_ns(std::move(resolve_ns));
  ask_ns = sorted_ns(std::move(ask_ns));
  double p50 = us(remote::nearest_rank(resolve_ns, 50));
  double ask_p50 = us(remote::nearest_rank(ask_ns, 50));
  char extra[160];
  std::snprintf(extra, sizeof extra, ",\"p99_us\":%.1f,\"ask_p50_us\":%.1f,\"vs_ask_p50\":%.2f",
                us(remote::nearest_rank(resolve_ns, 99)), ask_p50, p50 / ask_p50);
  bench::print_result(kSystem, "R1", p50, "us", n, s, extra);
}

void r1_cached(pulsing::Node& node, double scale) {
  std::int64_t n = bench::scaled(kR1CachedResolves, scale);
  expect(node.resolve_any("sink").get().is_remote(), "sink is not remote");  // now cached
  auto t0 = bench::Clock::now();
  for (std::int64_t i = 0; i < n; ++i) {
    auto ref = node.resolve_any("sink").get();
    expect(ref.valid(), "no reference");
  }
  double s = bench::seconds_since(t0);
  bench::print_result(kSystem, "R1-cached", s * 1e9 / static_cast<double>(n), "ns", n, s);
}

void r1_rate(pulsing::Node& node, const std::vector<std::string>& names, double scale) {
  auto n = static_cast<std::int64_t>(names.size());
  (void)scale;  // the names the server hosts are scaled already
  std::deque<pulsing::Future<pulsing::AnyRef>> outstanding;
  std::int64_t next = 0;
  auto t0 = bench::Clock::now();
  while (next < n || !outstanding.empty()) {
    while (next < n && static_cast<std::int64_t>(outstanding.size()) < kR1RateWindow) {
      outstanding.push_back(node.resolve_any(names[static_cast<std::size_t>(next++)]));
    }
    expect(outstanding.front().get().is_remote(), "a resolved name is not the server's");
    outstanding.pop_front();
  }
  double s = bench::seconds_since(t0);
  bench::print_result(kSystem, "R1-rate", static_cast<double>(n) / s, "resolves/s", n, s);
}

int run_r1(const std::string& workload, double scale, int argc, char** argv) {
  remote::ServerChild server;
  if (!server.start(argc, argv, 120'000)) return 1;
  pulsing::NodeConfig config = gossiping("client", 1);
  config.seeds = {"127.0.0.1:" + std::to_string(server.port())};
  pulsing::Node node(config);
  wait_until([&] { return alive(node) == 2; }, 30s, "the two nodes to see each other");
  // The server's own names (one replica: it owns them, the client does not).
  pulsing::registry::Placement placement;
  placement.set_members({"client", "server"});
  std::vector<std::string> names;
  for (std::int64_t i = 0; i < bench::scaled(kServerNames, scale); ++i) {
    if (placement.owns("server", name_of(i), 1)) names.push_back(name_of(i));
  }
  expect(!names.empty(), "no name is the server's");
  auto sink = node.resolve<Sink>("sink", 30s).get();
  for (std::int64_t i = 0; i < remote::kWarmupAsks; ++i) expect(sink.ask(&Sink::inc, i).get() == i + 1, "warm-up");
  if (workload == "R1") r1(node, names, sink, scale);
  if (workload == "R1-cached") r1_cached(node, scale);
  if (workload == "R1-rate") r1_rate(node, names, scale);
  sink.ask(&Sink::stop_server).get();
  node.shutdown();
  return server.finish() ? 0 : 1;
}

// ---- R2

int run_r2(double scale) {
  std::int64_t n = bench::scaled(kR2Names, scale);
  std::vector<std::unique_ptr<pulsing::Node>> nodes;
  nodes.push_back(std::make_unique<pulsing::Node>(gossiping("n0", 3)));
  for (const char* member : {"n1", "n2"}) {
    auto config = gossiping(member, 3);
    config.seeds = {gossip_address(*nodes.front())};
    nodes.push_back(std::make_unique<pulsing::Node>(config));
  }
  wait_until([&] { return alive(*nodes[0]) == 3 && alive(*nodes[1]) == 3 && alive(*nodes[2]) == 3; }, 30s,
             "three nodes to see each other");
  auto t0 = bench::Clock::now();
  std::vector<std::thread> spawners;
  for (std::size_t k = 0; k < nodes.size(); ++k) {
    spawners.emplace_back([&, k] {
      for (auto i = static_cast<std::int64_t>(k); i < n; i += 3) nodes[k]->spawn<Named>({.name = name_of(i)}).get();
    });
  }
  for (auto& t : spawners) t.join();
  // Three replicas on three nodes: every node holds every entry.
  wait_until(
      [&] {
        for (auto& node : nodes) {
          if (node->registry_stats().entries < static_cast<std::uint64_t>(n)) return false;
        }
        return true;
      },
      120s, "every owner to hold every name");
  double s = bench::seconds_since(t0);
  char extra[64];
  std::snprintf(extra, sizeof extra, ",\"names_per_s\":%.1f", static_cast<double>(n) / s);
  bench::print_result(kSystem, "R2", s, "s", n, s, extra);
  for (auto& node : nodes) node->shutdown();
  return 0;
}

// ---- R2-memory

int run_r2_memory(double scale) {
  namespace reg = pulsing::registry;
  std::int64_t n = bench::scaled(kR2Names, scale);
  auto now = pulsing::Clock::now();
  reg::Config config;
  config.member = "owner";
  config.endpoint = "tcp://127.0.0.1:1";
  config.node_id = 1;
  config.replicas = 1;
  reg::Registry owner(config);
  reg::Output out;
  owner.member_up("host", "tcp://127.0.0.1:2", now, out);
  // The announces are built first, so that only the shard's growth is measured.
  std::vector<reg::Announce> announces;
  for (std::int64_t at = 0; at < n; at += static_cast<std::int64_t>(config.max_batch)) {
    reg::Announce a{"host", "tcp://127.0.0.1:2", 2, false, {}};
    for (std::int64_t i = at; i < std::min<std::int64_t>(n, at + static_cast<std::int64_t>(config.max_batch)); ++i) {
      a.names.push_back(reg::NamedActor{name_of(i), static_cast<std::uint64_t>(i + 1), "Named"});
    }
    announces.push_back(std::move(a));
  }
  auto before = ::mallinfo2().uordblks;
  auto t0 = bench::Clock::now();
  for (const auto& a : announces) owner.receive(reg::Message(a), a.endpoint, now, out);
  double s = bench::seconds_since(t0);
  auto after = ::mallinfo2().uordblks;
  expect(owner.stats().entries == static_cast<std::uint64_t>(n), "the shard does not hold every name");
  double per_entry = static_cast<double>(after - before) / static_cast<double>(n);
  bench::print_result(kSystem, "R2-memory", per_entry, "bytes/entry", n, s);
  return 0;
}

// ---- R3 and R4: the registry after a death and after a join

double seconds_between(bench::Clock::time_point a, bench::Clock::time_point b) {
  return std::chrono::duration<double>(b - a).count();
}

bool not_found(pulsing::Node& node, const std::string& name) {
  auto r = node.resolve_any(name).result();
  if (r.ok()) return false;
  const auto* e = dynamic_cast<const pulsing::RuntimeError*>(r.failure().error.get());
  return e != nullptr && e->kind() == pulsing::RuntimeErrorKind::kActorNotFound;
}

int run_r3(int argc, char** argv) {
  remote::ServerChild server;
  if (!server.start(argc, argv, 120'000)) return 1;
  const std::string seed = "127.0.0.1:" + std::to_string(server.port());
  auto client_config = gossiping("client", 3);
  client_config.seeds = {seed};
  pulsing::Node client(client_config);
  std::mutex mutex;
  std::optional<bench::Clock::time_point> dead_at;
  client.on_member_event([&](const pulsing::membership::MemberEvent& e) {
    std::lock_guard lock(mutex);
    if (e.kind == pulsing::membership::EventKind::kDead && e.member.name == "server" && !dead_at) {
      dead_at = bench::Clock::now();
    }
  });
  auto helper_config = gossiping("helper", 3);
  helper_config.seeds = {seed};
  pulsing::Node helper(helper_config);
  wait_until([&] { return alive(client) == 3 && alive(helper) == 3; }, 30s, "three nodes to see each other");
  const std::string name = name_of(0);
  auto found = client.resolve_any(name, 30s).get();  // cached from here on
  expect(found.is_remote(), "the name is not the server's");

  auto killed_at = bench::Clock::now();
  server.kill_and_reap();
  bench::Clock::time_point gone_at;
  wait_until(
      [&] {
        if (!not_found(client, name)) return false;
        gone_at = bench::Clock::now();
        return true;
      },
      60s, "the dead server's name to stop resolving");
  wait_until([&] { std::lock_guard lock(mutex); return dead_at.has_value(); }, 60s, "the dead event");
  double detect = seconds_between(killed_at, *dead_at);
  double gone = seconds_between(killed_at, gone_at);
  char extra[96];
  std::snprintf(extra, sizeof extra, ",\"detect_s\":%.3f,\"gone_s\":%.3f", detect, gone);
  bench::print_result(kSystem, "R3", (gone - detect) * 1e3, "ms", 1, gone, extra);
  helper.shutdown();
  client.shutdown();
  return 0;
}

int run_r4(double scale, int argc, char** argv) {
  remote::ServerChild server;
  if (!server.start(argc, argv, 120'000)) return 1;
  auto config = gossiping("joiner", 3);
  config.seeds = {"127.0.0.1:" + std::to_string(server.port())};
  std::vector<std::string> sample;
  const std::int64_t names = bench::scaled(kServerNames, scale);
  for (std::int64_t i = 0; i < 100; ++i) sample.push_back(name_of(i * names / 100));
  pulsing::Node node(config);
  wait_until([&] { return alive(node) == 2; }, 30s, "the joiner to see the server");
  auto joined_at = bench::Clock::now();
  std::size_t next = 0;  // names before it resolved already (and stay cached)
  wait_until(
      [&] {
        while (next < sample.size() && !not_found(node, sample[next])) ++next;
        return next == sample.size();
      },
      60s, "every sampled name to resolve from the joiner");
  double s = seconds_between(joined_at, bench::Clock::now());
  bench::print_result(kSystem, "R4", s * 1e3, "ms", static_cast<std::int64_t>(sample.size()), s);
  node.shutdown();
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  bool serving = remote::take_serve_flag(argc, argv);
  std::string workload;
  double scale = scale_of(argc, argv, workload);
  try {
    if (serving) return serve(argc, argv);
    if (workload == "R1" || workload == "R1-cached" || workload == "R1-rate") return run_r1(workload, scale, argc, argv);
    if (workload == "R2") return run_r2(scale);
    if (workload == "R2-memory") return run_r2_memory(scale);
    if (workload == "R3") return run_r3(argc, argv);
    if (workload == "R4") return run_r4(scale, argc, argv);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "pulsing_names%s: %s\n", serving ? " server" : "", e.what());
    return 1;
  }
  std::fprintf(stderr, "%s\n", kUsage);
  return 2;
}
