// caf_local: the local workloads W1–W4 of bench/README.md (and W4-idle) on the C++ Actor Framework
// 0.17 with its default scheduler, so that pulsing's figures have a same-machine reference.
//
//   caf_local --workload W1|W2|W3|W4|W4-idle [--scale F]
//
// Runs one workload once and prints one JSON line on stdout. Only the workload is timed, not
// the actor system's start-up or shutdown. --scale multiplies the message/actor counts (not
// the shape: pairs, senders and burst size stay fixed) for quick runs while developing.
#include <caf/all.hpp>

#include "../bench_util.hpp"

#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <string>
#include <thread>
#include <vector>

using namespace caf;

namespace {

using start_atom = atom_constant<atom("start")>;
using more_atom = atom_constant<atom("more")>;
using done_atom = atom_constant<atom("done")>;

// Waits for `n` done messages on the main thread's scoped actor.
void await_done(scoped_actor& self, int n) {
  for (int i = 0; i < n; ++i) self->receive([](done_atom) {});
}

// --- W1 / W2: ping-pong ---------------------------------------------------------------------

// Echoes every int64 back to its sender: the reply is the handler's return value.
behavior pong(event_based_actor*) {
  return {[](int64_t x) { return x; }};
}

// On start, sends 0 to `partner`; each echo comes back and is sent again, one in flight, until
// `round_trips` echoes have returned; then reports done to `main` and stops.
behavior ping(event_based_actor* self, actor partner, actor main, int64_t round_trips) {
  return {
      [=](start_atom) { self->send(partner, int64_t{0}); },
      [=](int64_t x) {
        if (x + 1 == round_trips) {
          self->send(main, done_atom::value);
          self->quit();
        } else {
          self->send(partner, x + 1);
        }
      },
  };
}

// `pairs` ping-pong pairs run at once; returns the elapsed seconds from start to last done.
double run_pingpong(actor_system& sys, int pairs, int64_t round_trips) {
  scoped_actor self{sys};
  std::vector<actor> pingers;
  for (int i = 0; i < pairs; ++i) {
    auto partner = sys.spawn(pong);
    pingers.push_back(sys.spawn(ping, partner, actor{self}, round_trips));
  }
  auto t0 = bench::Clock::now();
  for (auto& p : pingers) anon_send(p, start_atom::value);
  await_done(self, pairs);
  return bench::seconds_since(t0);
}

void w1(actor_system& sys, double scale) {
  int64_t n = bench::scaled(1'000'000, scale);
  double s = run_pingpong(sys, 1, n);
  bench::print_result("caf", "W1", static_cast<double>(n) / s, "roundtrips/s", n, s);
}

void w2(actor_system& sys, double scale) {
  constexpr int pairs = 8;
  int64_t per_pair = bench::scaled(200'000, scale);
  double s = run_pingpong(sys, pairs, per_pair);
  int64_t messages = pairs * per_pair * 2;  // each direction counts
  bench::print_result("caf", "W2", static_cast<double>(messages) / s, "msgs/s", messages, s);
}

// --- W3: fan-in -----------------------------------------------------------------------------

// Counts int64 tells; reports done to `main` once `expected` have arrived.
behavior counter(event_based_actor* self, actor main, int64_t expected) {
  auto count = std::make_shared<int64_t>(0);
  return {[=](int64_t) {
    if (++*count == expected) {
      self->send(main, done_atom::value);
      self->quit();
    }
  }};
}

// Sends `total` tells to `sink` in bursts of `burst`; between bursts it sends itself `more`,
// which yields its worker thread to other actors (CAF has no explicit yield).
behavior sender(event_based_actor* self, actor sink, int64_t total, int64_t burst) {
  auto sent = std::make_shared<int64_t>(0);
  return {[=](more_atom) {
    for (int64_t i = 0; i < burst && *sent < total; ++i) self->send(sink, (*sent)++);
    if (*sent < total)
      self->send(self, more_atom::value);
    else
      self->quit();
  }};
}

void w3(actor_system& sys, double scale) {
  constexpr int senders = 4;
  constexpr int64_t burst = 1'000;
  int64_t per_sender = bench::scaled(1'000'000, scale);
  int64_t total = senders * per_sender;
  scoped_actor self{sys};
  auto sink = sys.spawn(counter, actor{self}, total);
  std::vector<actor> sources;
  for (int i = 0; i < senders; ++i) sources.push_back(sys.spawn(sender, sink, per_sender, burst));
  auto t0 = bench::Clock::now();
  for (auto& s : sources) anon_send(s, more_atom::value);
  await_done(self, 1);
  double s = bench::seconds_since(t0);
  bench::print_result("caf", "W3", static_cast<double>(total) / s, "msgs/s", total, s);
}

// --- W4: spawn ------------------------------------------------------------------------------

void w4(actor_system& sys, double scale) {
  int64_t n = bench::scaled(100'000, scale);
  scoped_actor self{sys};
  auto collector = sys.spawn(counter, actor{self}, n);  // W3's counter, counting actors
  auto t0 = bench::Clock::now();
  // Spawned from the main thread; each actor tells the collector once in its start-up and,
  // having no behavior, stops right after.
  for (int64_t i = 0; i < n; ++i)
    sys.spawn([](event_based_actor* me, actor to) { me->send(to, int64_t{1}); }, collector);
  await_done(self, 1);
  double s = bench::seconds_since(t0);
  bench::print_result("caf", "W4", static_cast<double>(n) / s, "actors/s", n, s);
}

// --- W4-idle: memory per idle actor ----------------------------------------------------------

std::atomic<int64_t> idle_started{0};

// An actor that has started (its behavior is installed) and then waits for messages forever.
behavior idle(event_based_actor*) {
  idle_started.fetch_add(1, std::memory_order_relaxed);
  return {[](int64_t) {}};
}

void w4_idle(actor_system& sys, double scale) {
  int64_t n = bench::scaled(100'000, scale);
  std::vector<actor> actors;
  actors.reserve(static_cast<size_t>(n));  // the handles' own memory is outside the growth
  int64_t before = bench::current_rss_bytes();
  auto t0 = bench::Clock::now();
  for (int64_t i = 0; i < n; ++i) actors.push_back(sys.spawn(idle));
  // Started counts only actors whose start-up ran; waiting by polling a counter (rather than
  // by messages) keeps mailbox traffic out of the measured growth.
  while (idle_started.load(std::memory_order_relaxed) < n)
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  double s = bench::seconds_since(t0);
  int64_t growth = bench::current_rss_bytes() - before;
  char extra[64];
  std::snprintf(extra, sizeof extra, ",\"rss_growth_mb\":%.1f",
                static_cast<double>(growth) / (1024.0 * 1024.0));
  bench::print_result("caf", "W4-idle", static_cast<double>(growth) / static_cast<double>(n), "bytes/actor", n,
               s, extra);
  // Dropping the last handles makes the idle actors unreachable, so CAF stops them and the
  // actor system can shut down.
  actors.clear();
}

constexpr const char* kUsage = "usage: caf_local --workload W1|W2|W3|W4|W4-idle [--scale F]";

}  // namespace

int main(int argc, char** argv) {
  std::string workload;
  double scale = 1.0;
  if (!bench::parse_args(argc, argv, kUsage, workload, scale)) return 2;
  using Run = void (*)(actor_system&, double);
  Run run = bench::pick_workload<Run>(workload, kUsage,
                                      {{"W1", w1}, {"W2", w2}, {"W3", w3}, {"W4", w4}, {"W4-idle", w4_idle}});
  if (run == nullptr) return 2;

  // Default configuration: the work-stealing scheduler with one worker per core. The config is
  // not parsed, so no caf-application.ini or CAF command-line option can change it.
  actor_system_config cfg;
  actor_system sys{cfg};
  run(sys, scale);
  return 0;
}
