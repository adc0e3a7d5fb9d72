// pulsing_local: the local workloads W1–W4 of bench/README.md (and W4-idle) on pulsing, in the same
// shapes as bench/caf/caf_local.cpp so that `bench/run.sh` can set them side by side.
//
//   pulsing_local --workload W1|W2|W3|W4|W4-idle [--scale F]
//
// Runs one workload once and prints one JSON line on stdout. Only the workload is timed, not
// the node's start-up or shutdown. Completion reaches the main thread through a Promise that
// the last actor completes (CAF's version: a "done" message to a scoped actor).
#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include <pulsing/pulsing.hpp>

#include "bench_util.hpp"

namespace {

using pulsing::ActorRef;
using Done = std::shared_ptr<pulsing::Promise<void>>;

// --- W1 / W2: ping-pong ---------------------------------------------------------------------

class Ping;

// Echoes every int64 back to its partner.
class Pong : public pulsing::Actor {
 public:
  void partner(ActorRef<Ping> ping) { ping_ = std::move(ping); }
  void ball(int64_t x);
  PULSING_METHODS(Pong, partner, ball)

 private:
  ActorRef<Ping> ping_;
};

// Sends 0, then each echo + 1, one in flight, until `round_trips` echoes have returned.
class Ping : public pulsing::Actor {
 public:
  Ping(ActorRef<Pong> pong, int64_t round_trips, Done done)
      : pong_(std::move(pong)), round_trips_(round_trips), done_(std::move(done)) {}
  void start() { pong_.tell(&Pong::ball, int64_t{0}); }
  void ball(int64_t x) {
    if (x + 1 == round_trips_) {
      done_->set_value();
    } else {
      pong_.tell(&Pong::ball, x + 1);
    }
  }
  PULSING_METHODS(Ping, start, ball)

 private:
  ActorRef<Pong> pong_;
  int64_t round_trips_;
  Done done_;
};

void Pong::ball(int64_t x) { ping_.tell(&Ping::ball, x); }

double run_pingpong(pulsing::Node& node, int pairs, int64_t round_trips) {
  std::vector<ActorRef<Ping>> pingers;
  std::vector<pulsing::Future<void>> done;
  for (int i = 0; i < pairs; ++i) {
    auto finished = std::make_shared<pulsing::Promise<void>>();
    done.push_back(finished->future());
    auto pong = node.spawn<Pong>({}).get();
    auto ping = node.spawn<Ping>({}, pong, round_trips, finished).get();
    pong.ask(&Pong::partner, ping).get();
    pingers.push_back(ping);
  }
  auto t0 = bench::Clock::now();
  for (auto& p : pingers) p.tell(&Ping::start);
  for (auto& d : done) d.get();
  return bench::seconds_since(t0);
}

void w1(pulsing::Node& node, double scale) {
  int64_t n = bench::scaled(1'000'000, scale);
  double s = run_pingpong(node, 1, n);
  bench::print_result("pulsing", "W1", static_cast<double>(n) / s, "roundtrips/s", n, s);
}

void w2(pulsing::Node& node, double scale) {
  constexpr int pairs = 8;
  int64_t per_pair = bench::scaled(200'000, scale);
  double s = run_pingpong(node, pairs, per_pair);
  int64_t messages = pairs * per_pair * 2;
  bench::print_result("pulsing", "W2", static_cast<double>(messages) / s, "msgs/s", messages, s);
}

// --- W3: fan-in -----------------------------------------------------------------------------

// Counts int64 tells; completes `done` once `expected` have arrived.
class Counter : public pulsing::Actor {
 public:
  Counter(int64_t expected, Done done) : expected_(expected), done_(std::move(done)) {}
  void add(int64_t) {
    if (++count_ == expected_) done_->set_value();
  }
  PULSING_METHODS(Counter, add)

 private:
  int64_t expected_;
  int64_t count_ = 0;
  Done done_;
};

// Sends `total` tells in bursts of `burst`, telling itself `more` between bursts (a yield).
class Sender : public pulsing::Actor {
 public:
  Sender(ActorRef<Counter> sink, int64_t total, int64_t burst)
      : sink_(std::move(sink)), total_(total), burst_(burst) {}
  void more() {
    for (int64_t i = 0; i < burst_ && sent_ < total_; ++i) sink_.tell(&Counter::add, sent_++);
    if (sent_ < total_) self().tell(&Sender::more);
  }
  PULSING_METHODS(Sender, more)

 private:
  ActorRef<Counter> sink_;
  int64_t total_;
  int64_t burst_;
  int64_t sent_ = 0;
};

void w3(pulsing::Node& node, double scale) {
  constexpr int senders = 4;
  constexpr int64_t burst = 1'000;
  int64_t per_sender = bench::scaled(1'000'000, scale);
  int64_t total = senders * per_sender;
  auto finished = std::make_shared<pulsing::Promise<void>>();
  auto done = finished->future();
  auto sink = node.spawn<Counter>({}, total, finished).get();
  std::vector<ActorRef<Sender>> sources;
  for (int i = 0; i < senders; ++i) sources.push_back(node.spawn<Sender>({}, sink, per_sender, burst).get());
  auto t0 = bench::Clock::now();
  for (auto& s : sources) s.tell(&Sender::more);
  done.get();
  double s = bench::seconds_since(t0);
  bench::print_result("pulsing", "W3", static_cast<double>(total) / s, "msgs/s", total, s);
}

// --- W4: spawn ------------------------------------------------------------------------------

// Tells the collector once as it starts, then stops.
class Once : public pulsing::Actor {
 public:
  explicit Once(ActorRef<Counter> collector) : collector_(std::move(collector)) {}
  void on_start() override {
    collector_.tell(&Counter::add, int64_t{1});
    stop();
  }
  void noop() {}
  PULSING_METHODS(Once, noop)

 private:
  ActorRef<Counter> collector_;
};

void w4(pulsing::Node& node, double scale) {
  int64_t n = bench::scaled(100'000, scale);
  auto finished = std::make_shared<pulsing::Promise<void>>();
  auto done = finished->future();
  auto collector = node.spawn<Counter>({}, n, finished).get();
  auto t0 = bench::Clock::now();
  for (int64_t i = 0; i < n; ++i) node.spawn<Once>({}, collector).get();
  done.get();
  double s = bench::seconds_since(t0);
  bench::print_result("pulsing", "W4", static_cast<double>(n) / s, "actors/s", n, s);
}

// --- W4-idle: memory per idle actor ----------------------------------------------------------

std::atomic<int64_t> idle_started{0};

class Idle : public pulsing::Actor {
 public:
  void on_start() override { idle_started.fetch_add(1, std::memory_order_relaxed); }
  void noop() {}
  PULSING_METHODS(Idle, noop)
};

void w4_idle(pulsing::Node& node, double scale) {
  int64_t n = bench::scaled(100'000, scale);
  std::vector<ActorRef<Idle>> actors;
  actors.reserve(static_cast<size_t>(n));
  int64_t before = bench::current_rss_bytes();
  auto t0 = bench::Clock::now();
  for (int64_t i = 0; i < n; ++i) actors.push_back(node.spawn<Idle>({}).get());
  while (idle_started.load(std::memory_order_relaxed) < n) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  double s = bench::seconds_since(t0);
  int64_t growth = bench::current_rss_bytes() - before;
  char extra[64];
  std::snprintf(extra, sizeof extra, ",\"rss_growth_mb\":%.1f",
                static_cast<double>(growth) / (1024.0 * 1024.0));
  bench::print_result("pulsing", "W4-idle", static_cast<double>(growth) / static_cast<double>(n), "bytes/actor", n, s,
               extra);
}

constexpr const char* kUsage = "usage: pulsing_local --workload W1|W2|W3|W4|W4-idle [--scale F]";

}  // namespace

int main(int argc, char** argv) {
  std::string workload;
  double scale = 1.0;
  if (!bench::parse_args(argc, argv, kUsage, workload, scale)) return 2;
  using Run = void (*)(pulsing::Node&, double);
  Run run = bench::pick_workload<Run>(workload, kUsage,
                                      {{"W1", w1}, {"W2", w2}, {"W3", w3}, {"W4", w4}, {"W4-idle", w4_idle}});
  if (run == nullptr) return 2;

  pulsing::Node node;  // defaults: one worker per hardware thread, default mailbox capacity
  run(node, scale);
  node.shutdown();
  return 0;
}
