// pulsing_overload: the overload workloads N1–N4 of bench/README.md — does one overloaded or
// misbehaving party hurt the others?
//
//   pulsing_overload --workload N1|N2|N3|N4 [--scale F]
//
// This process ("B") is the healthy client. It starts the other processes as children
// (remote_util.hpp: a re-exec of itself with a role in place of `--serve`), measures, prints one
// JSON line, and kills every child at the end.
//   N1 noisy neighbour: client A floods the server's actor `slow` (1 ms per message) with tells;
//      B times sequential asks to the server's `fast` before (quiet) and during the flood.
//   N2 crash loop: as N1, but `slow` throws on every message and restarts after 2 s.
//   N3 hostile caller: a raw DEALER in B pipelines pings at the server and never reads an
//      answer; B times its asks to `fast` meanwhile.
//   N4 slow peer: a three-node gossiping cluster (server, peer P, B). The server pushes tells to
//      P and answers P's asks; B stops P (SIGSTOP) and compares the server's local ping-pong
//      rate with the one before, and counts suspicions of members other than P.
// Children's memory: /proc/<pid>/statm, sampled every 100 ms during the load.
// Failures under load (asks that time out) are counted, not fatal: the figures are what
// today's code does.
#include <signal.h>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <cstdio>
#include <cstring>
#include <functional>
#include <limits>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <pulsing/pulsing.hpp>
#include <zmq.hpp>

#include "bench_util.hpp"
#include "messaging/envelope.hpp"
#include "remote_util.hpp"

namespace {

namespace remote = bench::remote;
using namespace std::chrono_literals;
using std::chrono::milliseconds;
constexpr const char* kSystem = "pulsing";
constexpr const char* kUsage = "usage: pulsing_overload --workload N1|N2|N3|N4 [--scale F]";

// Sizes (× --scale unless said otherwise).
constexpr std::int64_t kQuietMs = 3'000;          // N1–N3: quiet asks for this long...
constexpr std::int64_t kQuietAsks = 20'000;       // ...or this many, whichever comes first
constexpr std::int64_t kLoadMs = 10'000;          // N1–N3: the load period
constexpr std::int64_t kHostilePings = 1'000'000;  // N3
constexpr std::int64_t kQuietRallyMs = 2'000;     // N4: ping-pong before P stops
constexpr std::int64_t kStoppedRallyMs = 5'000;   // N4: ping-pong while P is stopped
// Not scaled.
constexpr milliseconds kAskTimeout = 5s;      // B's asks: a stuck server costs 5 s, not the run
constexpr milliseconds kStartupTimeout = 30s;  // a child's port, the cluster's convergence
constexpr milliseconds kSettle = 1s;           // N4: after starting P's traffic, and after SIGSTOP
constexpr int kBurst = 256;                    // tells per turn of a flooding actor
constexpr int kAskWindow = 64;                 // N4: P's asks in flight
constexpr int kHostileSendTimeoutMs = 1'000;
constexpr auto kSampleEvery = 100ms;

std::string endpoint_of(int port) { return "tcp://127.0.0.1:" + std::to_string(port); }
milliseconds scaled_ms(std::int64_t base, double scale) { return milliseconds(bench::scaled(base, scale)); }
std::int64_t ns_since(bench::Clock::time_point t0) {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(bench::Clock::now() - t0).count();
}

// ---- actors

// `fast` (N1–N3), and N4's `pong` and `echo`: answers at once.
class Fast : public pulsing::Actor {
 public:
  std::int64_t inc(std::int64_t x) { return x + 1; }
  PULSING_METHODS(Fast, inc)
};

// `slow`: each message takes 1 ms. A coroutine that awaits sleep_for rather than a busy spin:
// actor.hpp says a non-reentrant actor holds its next message while a handler is suspended, so
// the actor is busy for the full millisecond as with a spin, without burning a core of this
// 2-core machine (a spin would measure CPU starvation, not the runtime's isolation). In N2 it
// throws on every message instead (a crash loop).
class Slow : public pulsing::Actor {
 public:
  explicit Slow(bool crash) : crash_(crash) {}
  pulsing::Task<void> work(std::int64_t /*x*/) {
    if (crash_) throw std::runtime_error("slow: crashing on purpose (N2)");
    co_await sleep_for(1ms);
  }
  PULSING_METHODS(Slow, work)

 private:
  bool crash_;
};

// A's flooder (N1, N2): bursts of tells to `slow`, continued by a tell to itself, so that it
// sends as fast as the runtime lets it, until its deadline.
class Flooder : public pulsing::Actor {
 public:
  explicit Flooder(pulsing::ActorRef<Slow> slow) : slow_(std::move(slow)) {}
  bool start(std::int64_t ms) {
    deadline_ = bench::Clock::now() + milliseconds(ms);
    self_as<Flooder>().tell(&Flooder::burst);
    return true;
  }
  void burst() {
    if (bench::Clock::now() >= deadline_) return;
    for (int i = 0; i < kBurst; ++i) slow_.tell(&Slow::work, sent_++);
    self_as<Flooder>().tell(&Flooder::burst);
  }
  PULSING_METHODS(Flooder, start, burst)

 private:
  pulsing::ActorRef<Slow> slow_;
  bench::Clock::time_point deadline_{};
  std::int64_t sent_ = 0;
};

// What B's client measured: every ask's latency (a failed ask's is its time to fail).
struct Asks {
  std::vector<std::int64_t> ns;
  std::int64_t failed = 0;
  PULSING_FIELDS(Asks, ns, failed)
};

// B's client (N1–N3): sequential asks, each awaited (no thread blocks while a reply travels),
// for `ms` or `max` asks. A failure or timeout is counted and the run goes on.
class Client : public pulsing::Actor {
 public:
  explicit Client(pulsing::ActorRef<Fast> fast) : fast_(std::move(fast)) {}
  pulsing::Task<Asks> run(std::int64_t ms, std::int64_t max) {
    Asks out;
    auto deadline = bench::Clock::now() + milliseconds(ms);
    for (std::int64_t i = 0; i < max && bench::Clock::now() < deadline; ++i) {
      auto t0 = bench::Clock::now();
      bool ok = false;
      try {
        ok = co_await fast_.ask(&Fast::inc, i) == i + 1;
      } catch (const std::exception&) {
      }
      out.ns.push_back(ns_since(t0));
      out.failed += ok ? 0 : 1;
    }
    co_return out;
  }
  PULSING_METHODS(Client, run)

 private:
  pulsing::ActorRef<Fast> fast_;
};

// N4's local ping-pong on the server: what the server's own threads still manage.
struct Rally {
  std::int64_t round_trips = 0;
  double seconds = 0;
  PULSING_FIELDS(Rally, round_trips, seconds)
};

class Ping : public pulsing::Actor {
 public:
  explicit Ping(pulsing::ActorRef<Fast> pong) : pong_(std::move(pong)) {}
  pulsing::Task<Rally> rally(std::int64_t ms) {
    Rally r;
    auto t0 = bench::Clock::now();
    while (bench::Clock::now() < t0 + milliseconds(ms)) {
      co_await pong_.ask(&Fast::inc, r.round_trips);
      ++r.round_trips;
    }
    r.seconds = bench::seconds_since(t0);
    co_return r;
  }
  PULSING_METHODS(Ping, rally)

 private:
  pulsing::ActorRef<Fast> pong_;
};

// N4: P's `target`, told continuously by the server's pusher.
class Target : public pulsing::Actor {
 public:
  void take(std::int64_t /*x*/) { ++taken_; }
  PULSING_METHODS(Target, take)

 private:
  std::int64_t taken_ = 0;
};

// N4: the server's pusher, as A's flooder, aimed at P's target (found when told to start).
class Pusher : public pulsing::Actor {
 public:
  explicit Pusher(pulsing::Node* node) : node_(node) {}
  pulsing::Task<bool> start(std::string endpoint, std::int64_t ms) {
    target_.emplace(co_await node_->resolve_at<Target>(endpoint, "target"));
    deadline_ = bench::Clock::now() + milliseconds(ms);
    self_as<Pusher>().tell(&Pusher::burst);
    co_return true;
  }
  void burst() {
    if (!target_ || bench::Clock::now() >= deadline_) return;
    for (int i = 0; i < kBurst; ++i) target_->tell(&Target::take, sent_++);
    self_as<Pusher>().tell(&Pusher::burst);
  }
  PULSING_METHODS(Pusher, start, burst)

 private:
  pulsing::Node* node_;
  std::optional<pulsing::ActorRef<Target>> target_;
  bench::Clock::time_point deadline_{};
  std::int64_t sent_ = 0;
};

// N4: P's asker keeps kAskWindow asks to the server's `echo` in flight, so that answers flow
// to P (and pile up at the server once P stops reading).
class Asker : public pulsing::Actor {
 public:
  explicit Asker(pulsing::ActorRef<Fast> echo) : echo_(std::move(echo)) {}
  pulsing::Task<std::int64_t> pipeline(std::int64_t ms) {
    std::int64_t answered = 0;
    auto deadline = bench::Clock::now() + milliseconds(ms);
    while (bench::Clock::now() < deadline) {
      std::vector<pulsing::Future<std::int64_t>> window;
      for (int i = 0; i < kAskWindow; ++i) window.push_back(echo_.ask(&Fast::inc, i));
      for (auto& reply : window) {
        try {
          co_await std::move(reply);
          ++answered;
        } catch (const std::exception&) {
        }
      }
    }
    co_return answered;
  }
  PULSING_METHODS(Asker, pipeline)

 private:
  pulsing::ActorRef<Fast> echo_;
};

// N4: suspect and dead events about members other than `excluded`, counted from start().
// Written on the membership thread, read by whoever asks.
class Suspicions {
 public:
  void start(std::string excluded) {
    std::lock_guard lock(mutex_);
    excluded_ = std::move(excluded);
    counting_ = true;
  }
  void on_event(const pulsing::membership::MemberEvent& e) {
    using pulsing::membership::EventKind;
    std::lock_guard lock(mutex_);
    bool suspicion = e.kind == EventKind::kSuspect || e.kind == EventKind::kDead;
    if (counting_ && suspicion && e.member.name != excluded_) {
      ++count_;
      std::fprintf(stderr, "overload: false suspicion: %s is %s\n", e.member.name.c_str(),
                   std::string(to_string(e.kind)).c_str());
    }
  }
  std::int64_t count() const {
    std::lock_guard lock(mutex_);
    return count_;
  }

 private:
  mutable std::mutex mutex_;
  std::string excluded_;
  bool counting_ = false;
  std::int64_t count_ = 0;
};

// Shared with the node's handler: the node may report events until it has shut down.
std::shared_ptr<Suspicions> watch_members(pulsing::Node& node) {
  auto suspicions = std::make_shared<Suspicions>();
  node.on_member_event([suspicions](const pulsing::membership::MemberEvent& e) { suspicions->on_event(e); });
  return suspicions;
}

std::int64_t alive_members(const pulsing::Node& node) {
  std::int64_t n = 0;
  for (const auto& m : node.members()) n += m.state == pulsing::membership::MemberState::kAlive ? 1 : 0;
  return n;
}

// N4: a gossiping child's view of the cluster, and its suspicion count, for B to ask.
class Watch : public pulsing::Actor {
 public:
  Watch(pulsing::Node* node, std::shared_ptr<Suspicions> suspicions)
      : node_(node), suspicions_(std::move(suspicions)) {}
  std::int64_t alive() { return alive_members(*node_); }
  bool count_from_now(std::string excluded) {
    suspicions_->start(std::move(excluded));
    return true;
  }
  std::int64_t suspicions() { return suspicions_->count(); }
  PULSING_METHODS(Watch, alive, count_from_now, suspicions)

 private:
  pulsing::Node* node_;
  std::shared_ptr<Suspicions> suspicions_;
};

// ---- the children

pulsing::NodeConfig node_config(const char* member, bool gossip, int seed_port = 0) {
  pulsing::NodeConfig config;
  config.name = member;
  config.listen = "tcp://127.0.0.1:0";
  config.ask_timeout = milliseconds(remote::kTimeoutMs);
  config.gossip = gossip;
  config.membership.name = member;
  // Membership's UDP port is the listen port's number.
  if (seed_port > 0) config.seeds = {"127.0.0.1:" + std::to_string(seed_port)};
  return config;
}

int port_of(const pulsing::Node& node) {
  const std::string& endpoint = node.endpoint();
  return std::stoi(endpoint.substr(endpoint.rfind(':') + 1));
}

// A child's role: `--serve`, `--flood <server port>` or `--peer <server port>`, before the
// workload arguments; taken out of argv. Empty kind: this is B.
struct Role {
  std::string kind;
  int server_port = 0;
};

Role take_role(int& argc, char** argv) {
  Role role;
  if (argc < 2) return role;
  int taken = 0;
  if (std::strcmp(argv[1], "--serve") == 0) {
    role.kind = "serve";
    taken = 1;
  } else if ((std::strcmp(argv[1], "--flood") == 0 || std::strcmp(argv[1], "--peer") == 0) && argc >= 3) {
    role.kind = argv[1] + 2;
    role.server_port = std::atoi(argv[2]);
    taken = 2;
  }
  for (int i = 1; i + taken < argc; ++i) argv[i] = argv[i + taken];
  argc -= taken;
  argv[argc] = nullptr;
  return role;
}

// A child announces its port, then lives until B kills it, but never longer than any run can
// take (its PR_SET_PDEATHSIG covers B's death; this covers a B that hangs).
void announce_and_linger(const pulsing::Node& node, double scale) {
  remote::announce_port(port_of(node));
  std::this_thread::sleep_for(2min + scaled_ms(30'000, scale));
}

int serve(const std::string& workload, double scale) {
  if (workload == "N4") {
    pulsing::Node node(node_config("server", true));
    auto suspicions = watch_members(node);
    auto pong = node.spawn<Fast>({.name = "pong"}).get();
    node.spawn<Ping>({.name = "ping"}, pong).get();
    node.spawn<Fast>({.name = "echo"}).get();
    node.spawn<Pusher>({.name = "pusher"}, &node).get();
    node.spawn<Watch>({.name = "watch"}, &node, suspicions).get();
    announce_and_linger(node, scale);
    return 0;
  }
  pulsing::Node node(node_config("server", false));
  node.spawn<Fast>({.name = "fast"}).get();
  pulsing::SpawnOptions slow{.name = "slow"};
  if (workload == "N2") {
    // Restarts forever, 2 s after each crash (no jitter): the crash loop to be isolated.
    slow.supervision = {.policy = pulsing::RestartPolicy::kOnFailure,
                        .max_restarts = std::numeric_limits<int>::max(),
                        .min_backoff = 2s,
                        .max_backoff = 2s,
                        .jitter = 0};
  }
  node.spawn<Slow>(slow, workload == "N2").get();
  announce_and_linger(node, scale);
  return 0;
}

int flood(int server_port, double scale) {
  pulsing::Node node(node_config("client-a", false));
  auto slow = node.resolve_at<Slow>(endpoint_of(server_port), "slow").get();
  node.spawn<Flooder>({.name = "flooder"}, slow).get();
  announce_and_linger(node, scale);
  return 0;
}

int peer(int server_port, double scale) {
  pulsing::Node node(node_config("peer", true, server_port));
  auto suspicions = watch_members(node);
  node.spawn<Target>({.name = "target"}).get();
  auto echo = node.resolve_at<Fast>(endpoint_of(server_port), "echo").get();
  node.spawn<Asker>({.name = "asker"}, echo).get();
  node.spawn<Watch>({.name = "watch"}, &node, suspicions).get();
  announce_and_linger(node, scale);
  return 0;
}

// ---- B's measurements

// Samples the resident set of some processes every 100 ms until stop(); growth = the largest
// sample − the one taken at construction.
class RssSampler {
 public:
  explicit RssSampler(std::vector<pid_t> pids) : pids_(std::move(pids)) {
    for (pid_t pid : pids_) base_.push_back(bench::current_rss_bytes(pid));
    peak_ = base_;
    thread_ = std::thread([this] { loop(); });
  }
  ~RssSampler() { stop(); }
  RssSampler(const RssSampler&) = delete;
  RssSampler& operator=(const RssSampler&) = delete;

  // Growth in MiB per process, in the order given.
  std::vector<double> stop() {
    {
      std::lock_guard lock(mutex_);
      stopping_ = true;
    }
    wake_.notify_all();
    if (thread_.joinable()) thread_.join();
    std::vector<double> growth;
    for (std::size_t i = 0; i < pids_.size(); ++i) {
      growth.push_back(static_cast<double>(peak_[i] - base_[i]) / (1024.0 * 1024.0));
    }
    return growth;
  }

 private:
  void loop() {
    std::unique_lock lock(mutex_);
    while (!wake_.wait_for(lock, kSampleEvery, [this] { return stopping_; })) {
      for (std::size_t i = 0; i < pids_.size(); ++i) {
        peak_[i] = std::max(peak_[i], bench::current_rss_bytes(pids_[i]));
      }
    }
  }

  std::vector<pid_t> pids_;
  std::vector<std::int64_t> base_, peak_;
  std::mutex mutex_;
  std::condition_variable wake_;
  bool stopping_ = false;
  std::thread thread_;
};

// N3's hostile caller: a raw DEALER that claims a pulsing endpoint as its routing id (so the
// server queues answers for it), sends one ping frame encoded once by pulsing's own encoder
// over and over, and never reads. Blocking sends, each bounded by ZMQ_SNDTIMEO; it stops at
// `count` frames or at the deadline.
class HostileCaller {
 public:
  HostileCaller(int server_port, std::int64_t count, milliseconds limit) : socket_(context_, zmq::socket_type::dealer) {
    socket_.set(zmq::sockopt::routing_id, "tcp://127.0.0.1:1");
    socket_.set(zmq::sockopt::sndtimeo, kHostileSendTimeoutMs);
    socket_.set(zmq::sockopt::linger, 0);
    socket_.connect(endpoint_of(server_port));
    pulsing::Envelope ping;
    ping.kind = pulsing::EnvelopeKind::kPing;
    ping.correlation = 1;
    pulsing::append_envelope(frame_, ping);
    thread_ = std::thread([this, count, deadline = bench::Clock::now() + limit] { send(count, deadline); });
  }
  ~HostileCaller() { join(); }
  HostileCaller(const HostileCaller&) = delete;
  HostileCaller& operator=(const HostileCaller&) = delete;

  std::int64_t join() {
    if (thread_.joinable()) thread_.join();
    return sent_;
  }

 private:
  void send(std::int64_t count, bench::Clock::time_point deadline) {
    while (sent_ < count && bench::Clock::now() < deadline) {
      if (socket_.send(zmq::buffer(frame_.data(), frame_.size()), zmq::send_flags::none)) ++sent_;
    }
  }

  zmq::context_t context_;
  zmq::socket_t socket_;
  std::vector<std::byte> frame_;
  std::int64_t sent_ = 0;
  std::thread thread_;
};

std::vector<std::int64_t> sorted(std::vector<std::int64_t> v) {
  std::sort(v.begin(), v.end());
  return v;
}
double us(std::int64_t ns) { return static_cast<double>(ns) / 1e3; }

Asks run_asks(pulsing::ActorRef<Client>& client, milliseconds period, std::int64_t max) {
  // The local ask outlives the period by at most one ask timeout.
  return client.with_timeout(period + kAskTimeout + 30s).ask(&Client::run, period.count(), max).get();
}

// N1–N3's line: value = p99 under load; `extra` adds the workload's own fields.
void print_latencies(const std::string& workload, const Asks& quiet, const Asks& loaded, double seconds,
                     double rss_growth_mb, const std::string& extra) {
  auto q = sorted(quiet.ns);
  auto l = sorted(loaded.ns);
  if (q.empty() || l.empty()) throw std::runtime_error("no ask was timed");
  char fields[256];
  std::snprintf(fields, sizeof fields,
                ",\"quiet_p99_us\":%.1f,\"p50_us\":%.1f,\"max_us\":%.1f,\"failed_asks\":%lld,\"rss_growth_mb\":%.1f",
                us(remote::nearest_rank(q, 99)), us(remote::nearest_rank(l, 50)), us(l.back()),
                static_cast<long long>(loaded.failed), rss_growth_mb);
  bench::print_result(kSystem, workload.c_str(), us(remote::nearest_rank(l, 99)), "us",
                      static_cast<std::int64_t>(l.size()), seconds, fields + extra);
  std::fflush(stdout);  // before the shutdown and the children's end
}

// N1–N3 up to the quiet figures: B's node, `fast` warmed up, the client actor, quiet asks.
struct Bench {
  pulsing::Node node{node_config("bench", false)};
  std::optional<pulsing::ActorRef<Client>> client;

  Asks quiet(int server_port, double scale) {
    auto fast = node.resolve_at<Fast>(endpoint_of(server_port), "fast").get().with_timeout(kAskTimeout);
    for (std::int64_t i = 0; i < remote::kWarmupAsks; ++i) {
      if (fast.ask(&Fast::inc, i).get() != i + 1) throw std::runtime_error("warm-up: wrong reply");
    }
    client.emplace(node.spawn<Client>({}, fast).get());
    std::fprintf(stderr, "overload: quiet asks\n");
    return run_asks(*client, scaled_ms(kQuietMs, scale), kQuietAsks);
  }
};

int run_flood(const std::string& workload, double scale, int argc, char** argv) {
  remote::ServerChild server, a;  // killed and reaped on every way out
  if (!server.start(argc, argv, static_cast<int>(kStartupTimeout.count()))) return 1;
  if (!a.start(argc, argv, static_cast<int>(kStartupTimeout.count()), {"--flood", std::to_string(server.port())})) {
    return 1;
  }
  Bench b;
  Asks quiet = b.quiet(server.port(), scale);
  auto flooder = b.node.resolve_at<Flooder>(endpoint_of(a.port()), "flooder").get();
  milliseconds load = scaled_ms(kLoadMs, scale);
  RssSampler rss({server.pid(), a.pid()});
  std::fprintf(stderr, "overload: A floods for %lld ms\n", static_cast<long long>(load.count()));
  flooder.ask(&Flooder::start, load.count()).get();
  auto t0 = bench::Clock::now();
  Asks loaded = run_asks(*b.client, load, std::numeric_limits<std::int64_t>::max());
  double seconds = bench::seconds_since(t0);
  auto growth = rss.stop();
  char extra[64];
  std::snprintf(extra, sizeof extra, ",\"a_rss_growth_mb\":%.1f", growth[1]);
  print_latencies(workload, quiet, loaded, seconds, growth[0], extra);
  return 0;
}

int run_hostile(double scale, int argc, char** argv) {
  remote::ServerChild server;
  if (!server.start(argc, argv, static_cast<int>(kStartupTimeout.count()))) return 1;
  Bench b;
  Asks quiet = b.quiet(server.port(), scale);
  milliseconds load = scaled_ms(kLoadMs, scale);
  RssSampler rss({server.pid()});
  std::fprintf(stderr, "overload: the hostile caller sends for up to %lld ms\n", static_cast<long long>(load.count()));
  HostileCaller hostile(server.port(), bench::scaled(kHostilePings, scale), load);
  auto t0 = bench::Clock::now();
  Asks loaded = run_asks(*b.client, load, std::numeric_limits<std::int64_t>::max());
  double seconds = bench::seconds_since(t0);
  std::int64_t sent = hostile.join();
  auto growth = rss.stop();
  print_latencies("N3", quiet, loaded, seconds, growth[0], ",\"hostile_sent\":" + std::to_string(sent));
  return 0;
}

// ---- N4

void wait_until(const std::function<bool()>& done, milliseconds limit, const char* what) {
  auto deadline = bench::Clock::now() + limit;
  while (!done()) {
    if (bench::Clock::now() >= deadline) throw std::runtime_error(std::string("timed out waiting for ") + what);
    std::this_thread::sleep_for(20ms);
  }
}

// The server's ping-pong over `period`; none (said on stderr) if the answer does not come in
// time.
std::optional<Rally> rally(pulsing::ActorRef<Ping>& ping, milliseconds period) {
  auto r = ping.with_timeout(period + 10s).ask(&Ping::rally, period.count()).result();
  if (r.ok()) return r.value();
  std::fprintf(stderr, "overload: the ping-pong ask failed: %s\n", r.failure().describe().c_str());
  return std::nullopt;
}

double rate_of(const std::optional<Rally>& r) {
  return r && r->seconds > 0 ? static_cast<double>(r->round_trips) / r->seconds : 0;
}

int run_slow_peer(double scale, int argc, char** argv) {
  remote::ServerChild server, p;
  if (!server.start(argc, argv, static_cast<int>(kStartupTimeout.count()))) return 1;
  if (!p.start(argc, argv, static_cast<int>(kStartupTimeout.count()), {"--peer", std::to_string(server.port())})) {
    return 1;
  }
  pulsing::Node node(node_config("bench", true, server.port()));
  auto mine = watch_members(node);
  auto at = [&](int port, const char* name) {
    return node.resolve_at<Watch>(endpoint_of(port), name).get().with_timeout(kAskTimeout);
  };
  auto server_watch = at(server.port(), "watch");
  auto p_watch = at(p.port(), "watch");
  wait_until([&] { return alive_members(node) == 3 && server_watch.ask(&Watch::alive).get() == 3 &&
                          p_watch.ask(&Watch::alive).get() == 3; },
             kStartupTimeout, "three members to see each other alive");

  milliseconds quiet_period = scaled_ms(kQuietRallyMs, scale), stopped_period = scaled_ms(kStoppedRallyMs, scale);
  std::int64_t busy_ms = (quiet_period + kSettle + stopped_period + 30s).count();  // outlives the run
  auto ping = node.resolve_at<Ping>(endpoint_of(server.port()), "ping").get();
  // The quiet rate: the server's ping-pong alone, before any traffic to or from P.
  std::fprintf(stderr, "overload: quiet ping-pong\n");
  double quiet = rate_of(rally(ping, quiet_period));
  auto pusher = node.resolve_at<Pusher>(endpoint_of(server.port()), "pusher").get().with_timeout(kAskTimeout);
  pusher.ask(&Pusher::start, endpoint_of(p.port()), busy_ms).get();
  node.resolve_at<Asker>(endpoint_of(p.port()), "asker").get().tell(&Asker::pipeline, busy_ms);
  std::this_thread::sleep_for(kSettle);  // the push and P's asks are under way

  server_watch.ask(&Watch::count_from_now, std::string("peer")).get();
  mine->start("peer");
  RssSampler rss({server.pid()});
  std::fprintf(stderr, "overload: SIGSTOP to P (pid %d)\n", static_cast<int>(p.pid()));
  ::kill(p.pid(), SIGSTOP);
  std::this_thread::sleep_for(kSettle);
  auto stopped = rally(ping, stopped_period);
  auto theirs = server_watch.ask(&Watch::suspicions).result();
  auto growth = rss.stop();
  p.kill_and_reap();  // SIGKILL ends a stopped process too

  std::int64_t false_suspicions = mine->count() + (theirs.ok() ? theirs.value() : 0);
  char extra[192];
  std::snprintf(extra, sizeof extra,
                ",\"quiet_rate\":%.1f,\"false_suspicions\":%lld,\"rally_answered\":%d,\"suspicions_answered\":%d,"
                "\"rss_growth_mb\":%.1f",
                quiet, static_cast<long long>(false_suspicions), stopped ? 1 : 0, theirs.ok() ? 1 : 0, growth[0]);
  bench::print_result(kSystem, "N4", rate_of(stopped), "roundtrips/s", stopped ? stopped->round_trips : 0,
                      stopped ? stopped->seconds : 0, extra);
  std::fflush(stdout);
  server.kill_and_reap();
  return 0;
}

int run_child(const Role& role, const std::string& workload, double scale) {
  if (role.kind == "serve") return serve(workload, scale);
  if (role.kind == "flood") return flood(role.server_port, scale);
  return peer(role.server_port, scale);
}

int run_bench(const std::string& workload, double scale, int argc, char** argv) {
  if (workload == "N1" || workload == "N2") return run_flood(workload, scale, argc, argv);
  if (workload == "N3") return run_hostile(scale, argc, argv);
  return run_slow_peer(scale, argc, argv);
}

}  // namespace

int main(int argc, char** argv) {
  Role role = take_role(argc, argv);
  std::string workload;
  double scale = 1.0;
  if (!bench::parse_args(argc, argv, kUsage, workload, scale)) return 2;
  if (workload != "N1" && workload != "N2" && workload != "N3" && workload != "N4") {
    std::fprintf(stderr, "%s\n", kUsage);
    return 2;
  }
  try {
    return role.kind.empty() ? run_bench(workload, scale, argc, argv) : run_child(role, workload, scale);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "pulsing_overload%s: %s\n", role.kind.empty() ? "" : (" " + role.kind).c_str(), e.what());
    return 1;
  }
}
