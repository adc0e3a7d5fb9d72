// caf_remote: the remote workloads W5–W7 of bench/README.md on the C++ Actor Framework 0.17 and its
// I/O module (the middleman's BASP over TCP), so that pulsing's remote figures have a
// same-machine reference.
//
//   caf_remote --workload W5|W6|W7 [--scale F]
//
// The process is the client; it starts its own server as a child process (remote_util.hpp):
// the server publishes one actor on 127.0.0.1 (middleman().publish, port chosen by the OS), the
// client reaches it with middleman().remote_actor. Only the client's work is timed. Every
// workload starts with 1,000 untimed asks (requests) from the asking actor, then:
//   W5  the main thread's scoped actor sends 1,000,000 tells, each a 64-byte std::string, then
//       one `count` request; timed until its reply, which must say that every tell was
//       counted → msgs/s, the sender's peak RSS (CAF has no flow control: what the network
//       does not take yet queues in the sender).
//   W6  an event-based actor asks 100,000 times in sequence (request(int64).then, no timeout;
//       the server returns x + 1), each timed from request to response handler → p50 µs, p99,
//       round trips/s.
//   W7  an event-based actor keeps 64 requests outstanding, 500,000 in all → round trips/s.
// Then the client sends `stop` (a request, so it is known to have arrived) and the server exits.
#include <caf/all.hpp>
#include <caf/io/all.hpp>

#include "../bench_util.hpp"
#include "../remote_util.hpp"

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

using namespace caf;

namespace {

namespace remote = bench::remote;

using count_atom = atom_constant<atom("count")>;
using stop_atom = atom_constant<atom("stop")>;
using done_atom = atom_constant<atom("done")>;

constexpr const char* kSystem = "caf";
constexpr const char* kUsage = "usage: caf_remote --workload W5|W6|W7 [--scale F]";
// The timed asks of W6 and W7 have no timeout: in CAF 0.17 a request's timeout is a timer that
// stays scheduled until it would fire, so 500,000 of them cost W7 about a third of its rate
// and 100 MB. Instead the whole run has a limit (kRunLimit); the few untimed requests (warm-up
// of W5, count, stop) keep one.
const auto kRequestTimeout = std::chrono::milliseconds(remote::kTimeoutMs);
const auto kRunLimit = std::chrono::seconds(300);

// --- server ---------------------------------------------------------------------------------

// Counts 64-byte string tells, answers an int64 ask with x + 1 and `count` with the count;
// `stop` ends it (after replying, so that the client knows it arrived).
behavior counting_server(event_based_actor* self) {
  auto counted = std::make_shared<int64_t>(0);
  return {
      [=](const std::string& text) {
        if (text.size() == 64) ++*counted;
      },
      [](int64_t x) { return x + 1; },
      [=](count_atom) { return *counted; },
      [=](stop_atom) {
        self->quit();
        return true;
      },
  };
}

int serve() {
  actor_system_config cfg;
  cfg.load<io::middleman>();
  actor_system sys{cfg};
  auto server = sys.spawn(counting_server);
  auto port = sys.middleman().publish(server, 0, "127.0.0.1");
  if (!port) {
    std::fprintf(stderr, "caf_remote server: publish failed: %s\n", sys.render(port.error()).c_str());
    anon_send_exit(server, exit_reason::user_shutdown);
    return 1;
  }
  remote::announce_port(*port);
  scoped_actor self{sys};
  self->wait_for(server);
  return 0;
}

// --- client ---------------------------------------------------------------------------------

// Sequential int64 requests from a scoped actor; false (reason on stderr) on a wrong reply or
// an error.
bool blocking_asks(scoped_actor& self, const actor& server, int64_t n) {
  bool ok = true;
  for (int64_t i = 0; i < n && ok; ++i)
    self->request(server, kRequestTimeout, i)
        .receive([&](int64_t r) { ok = r == i + 1; },
                 [&](error& e) {
                   std::fprintf(stderr, "caf_remote: ask failed: %s\n", self->system().render(e).c_str());
                   ok = false;
                 });
  return ok;
}

bool w5(actor_system& sys, const actor& server, double scale) {
  int64_t n = bench::scaled(remote::kW5Tells, scale);
  const std::string text = remote::tell_text();
  scoped_actor self{sys};
  if (!blocking_asks(self, server, remote::kWarmupAsks)) return false;
  int64_t counted = -1;
  auto t0 = bench::Clock::now();
  for (int64_t i = 0; i < n; ++i) self->send(server, text);
  // Generous: the count can only come back once every tell before it went through.
  self->request(server, kRunLimit, count_atom::value)
      .receive([&](int64_t c) { counted = c; },
               [&](error& e) { std::fprintf(stderr, "caf_remote: count failed: %s\n", sys.render(e).c_str()); });
  double s = bench::seconds_since(t0);
  if (counted != n) {
    std::fprintf(stderr, "caf_remote: the server counted %lld tells\n", static_cast<long long>(counted));
    return false;
  }
  bench::print_result(kSystem, "W5", static_cast<double>(n) / s, "msgs/s", n, s);
  return true;
}

// W6 and W7: an event-based actor first asks `warmup` times in sequence, then `n` timed asks
// with `window` outstanding; it records each latency when `window` is 1.
struct AskRun {
  int64_t warmup = 0, n = 0, window = 1;
  std::vector<int64_t> latencies_ns;
  bench::Clock::time_point t0, t1;
  bool ok = true;
};

struct asker_state {
  actor server, main;
  AskRun* run = nullptr;
  int64_t warmed = 0, sent = 0, received = 0;
};
using asker_actor = stateful_actor<asker_state>;

void finish(asker_actor* self, bool ok) {
  self->state.run->ok = ok;
  self->send(self->state.main, done_atom::value);
  self->quit();
}

void fail(asker_actor* self, const error& e) {
  std::fprintf(stderr, "caf_remote: ask failed: %s\n", self->system().render(e).c_str());
  finish(self, false);
}

void timed_ask(asker_actor* self) {
  int64_t x = self->state.sent++;
  auto at = bench::Clock::now();
  self->request(self->state.server, infinite, x)
      .then(
          [=](int64_t r) {
            auto& st = self->state;
            if (r != x + 1) return finish(self, false);
            if (st.run->window == 1)
              st.run->latencies_ns[static_cast<size_t>(st.received)] =
                  std::chrono::duration_cast<std::chrono::nanoseconds>(bench::Clock::now() - at).count();
            ++st.received;
            if (st.sent < st.run->n) {
              timed_ask(self);
            } else if (st.received == st.run->n) {
              st.run->t1 = bench::Clock::now();
              finish(self, true);
            }
          },
          [=](error& e) { fail(self, e); });
}

void warmup_ask(asker_actor* self) {
  int64_t x = self->state.warmed;
  self->request(self->state.server, infinite, x)
      .then(
          [=](int64_t r) {
            auto& st = self->state;
            if (r != x + 1) return finish(self, false);
            if (++st.warmed < st.run->warmup) return warmup_ask(self);
            st.run->t0 = bench::Clock::now();
            for (int64_t i = 0; i < std::min(st.run->window, st.run->n); ++i) timed_ask(self);
          },
          [=](error& e) { fail(self, e); });
}

behavior asker(asker_actor* self, actor server, actor main, AskRun* run) {
  self->state.server = std::move(server);
  self->state.main = std::move(main);
  self->state.run = run;
  // Requests without a timeout never fail on their own: losing the server (its connection)
  // ends the run instead.
  self->monitor(self->state.server);
  self->set_down_handler([=](down_msg& msg) { fail(self, msg.reason); });
  warmup_ask(self);
  return {[](int64_t) {}};  // replies arrive through the request handlers
}

// Runs `run` on an asker; false when it failed or did not finish in time.
bool run_asks(actor_system& sys, const actor& server, AskRun& run) {
  scoped_actor self{sys};
  auto client = self->spawn(asker, server, actor{self}, &run);
  bool done = false;
  self->receive([&](done_atom) { done = true; },
                after(kRunLimit) >> [] { std::fprintf(stderr, "caf_remote: the asks did not finish in time\n"); });
  if (!done) self->send_exit(client, exit_reason::kill);  // else the actor system waits for it
  return done && run.ok;
}

bool w6(actor_system& sys, const actor& server, double scale) {
  AskRun run;
  run.warmup = remote::kWarmupAsks;
  run.n = bench::scaled(remote::kW6Asks, scale);
  run.window = 1;
  run.latencies_ns.resize(static_cast<size_t>(run.n));
  if (!run_asks(sys, server, run)) return false;
  double s = std::chrono::duration<double>(run.t1 - run.t0).count();
  remote::print_latency_result(kSystem, "W6", run.latencies_ns, s);
  return true;
}

bool w7(actor_system& sys, const actor& server, double scale) {
  AskRun run;
  run.warmup = remote::kWarmupAsks;
  run.n = bench::scaled(remote::kW7Asks, scale);
  run.window = remote::kW7Window;
  if (!run_asks(sys, server, run)) return false;
  double s = std::chrono::duration<double>(run.t1 - run.t0).count();
  bench::print_result(kSystem, "W7", static_cast<double>(run.n) / s, "roundtrips/s", run.n, s);
  return true;
}

bool run_client(int port, const std::string& workload, double scale) {
  actor_system_config cfg;
  cfg.load<io::middleman>();
  actor_system sys{cfg};
  auto found = sys.middleman().remote_actor("127.0.0.1", static_cast<uint16_t>(port));
  if (!found) {
    std::fprintf(stderr, "caf_remote: remote_actor failed: %s\n", sys.render(found.error()).c_str());
    return false;
  }
  actor server = *found;
  bool ok = workload == "W5"   ? w5(sys, server, scale)
            : workload == "W6" ? w6(sys, server, scale)
                               : w7(sys, server, scale);
  if (ok) {
    scoped_actor self{sys};
    self->request(server, kRequestTimeout, stop_atom::value)
        .receive([](bool) {},
                 [&](error& e) {
                   std::fprintf(stderr, "caf_remote: stop failed: %s\n", sys.render(e).c_str());
                   ok = false;
                 });
  }
  return ok;
}

}  // namespace

int main(int argc, char** argv) {
  // Default configuration plus the middleman; the config is not parsed, so no
  // caf-application.ini or CAF command-line option can change it. The server child is started
  // before the actor system, while this process has one thread.
  return remote::run_main(argc, argv, "caf_remote", kUsage, /*secure=*/false, [](const std::string&) { return serve(); },
                          [](remote::ServerChild& server, const std::string& workload, double scale) {
                            return run_client(server.port(), workload, scale);
                          });
}
