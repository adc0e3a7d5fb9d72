// chaos_worker: the workload of the chaos suite (tests/chaos/README.md). A member node of the
// cluster under test that, until SIGTERM, keeps a few named actors of its own alive (spawning a
// new one and stopping the oldest every second), resolves its own names and its peers', and
// asks what it resolved, each call with a deadline. It logs every operation and its outcome as
// one JSON line, for the checker (tests/chaos/checker.py).
//
//   chaos_worker --name NAME --listen HOST:PORT --log FILE [--seeds HOST:PORT,...]
//                [--cluster-key-file FILE] [--peers NAME,...] [--deadline-ms N] [--callers N]
//
// Names: NAME-0, NAME-1, ... in the order spawned; the last kKeepAlive live at any time. A peer's
// names are guessed from this worker's own count (all spawn at the same pace), so most resolve.
// Log lines (t: wall-clock milliseconds, comparable across the suite's processes):
//   {"t":..,"w":NAME,"op":"spawn"|"stop","name":..,"outcome":"ok"|ERROR-KIND}
//   {"t":..,"w":NAME,"op":"resolve"|"ask","name":..,"outcome":..,"ms":..,"deadline_ms":..}
//   {"t":..,"w":NAME,"op":"hang","name":..,"started":..}   a call past its deadline + 1 s
//   {"t":..,"w":NAME,"op":"member","member":..,"kind":..}  a membership event this node saw
// Exit: 0 after SIGTERM (the node leaves); 3 when a call still hung then; 2 on a bad flag; 1 when
// the node cannot start.
#include <signal.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <deque>
#include <exception>
#include <iostream>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <random>
#include <sstream>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include <pulsing/pulsing.hpp>

#include "messaging/json.hpp"
#include "security/key_file.hpp"

namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

constexpr std::size_t kKeepAlive = 4;                 // own names live at once
constexpr auto kSpawnInterval = 1s;                   // a new name (and the oldest stopped)
constexpr auto kCallPause = 50ms;                     // between one caller's calls
constexpr auto kHangSlack = 1s;                       // past its deadline: a hang

std::atomic<bool> stopping{false};
void on_signal(int) { stopping.store(true); }

struct Options {
  std::string name, listen, log, key_file;
  std::vector<std::string> seeds, peers;
  int deadline_ms = 2000;
  int callers = 2;
};

std::vector<std::string> split(const std::string& list) {
  std::vector<std::string> out;
  std::stringstream in(list);
  for (std::string item; std::getline(in, item, ',');) {
    if (!item.empty()) out.push_back(item);
  }
  return out;
}

int usage(const std::string& problem) {
  std::cerr << "chaos_worker: " << problem << "\n"
            << "usage: chaos_worker --name NAME --listen HOST:PORT --log FILE [--seeds HOST:PORT,...] "
               "[--cluster-key-file FILE] [--peers NAME,...] [--deadline-ms N] [--callers N]\n";
  return 2;
}

long long wall_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// The log: one JSON object a line, written whole under a lock and flushed at once (a worker
// killed with SIGKILL loses at most the line being written).
class Log {
 public:
  explicit Log(const std::string& path) : file_(std::fopen(path.c_str(), "a")) {}
  ~Log() {
    if (file_) std::fclose(file_);
  }
  bool ok() const { return file_ != nullptr; }
  void write(pulsing::Value::Map fields) {
    fields["t"] = pulsing::Value(wall_ms());
    const std::string line = pulsing::to_json_text(pulsing::Value(std::move(fields)));
    std::lock_guard lock(mutex_);
    std::fprintf(file_, "%s\n", line.c_str());
    std::fflush(file_);
  }

 private:
  std::FILE* file_;
  std::mutex mutex_;
};

// What the workload's names answer.
class Target : public pulsing::Actor {
 public:
  std::int64_t ping(std::int64_t x) { return x; }
  PULSING_METHODS(Target, ping)
};

// The calls in flight, so that one that never completes is reported (a hang) while it hangs.
class InFlight {
 public:
  std::uint64_t start(std::string name, Clock::time_point deadline) {
    std::lock_guard lock(mutex_);
    calls_[++next_] = Call{std::move(name), deadline, wall_ms(), false};
    return next_;
  }
  void finish(std::uint64_t id) {
    std::lock_guard lock(mutex_);
    calls_.erase(id);
  }
  // Logs, once each, the calls past their deadline plus the slack.
  void report_hangs(Log& log, const std::string& worker, bool all) {
    std::lock_guard lock(mutex_);
    const auto now = Clock::now();
    for (auto& [id, call] : calls_) {
      if (call.reported || (!all && now < call.deadline + kHangSlack)) continue;
      call.reported = true;
      log.write({{"w", worker}, {"op", "hang"}, {"name", call.name}, {"started", pulsing::Value(call.started)}});
    }
  }

 private:
  struct Call {
    std::string name;
    Clock::time_point deadline;
    long long started;
    bool reported;
  };
  std::mutex mutex_;
  std::map<std::uint64_t, Call> calls_;
  std::uint64_t next_ = 0;
};

std::string outcome_of(const std::exception_ptr& failure) {
  try {
    std::rethrow_exception(failure);
  } catch (const pulsing::RuntimeError& e) {
    return std::string(pulsing::to_string(e.kind()));
  } catch (const pulsing::TimeoutError&) {
    return "timeout";
  } catch (const std::exception& e) {
    return std::string("error: ") + e.what();
  }
}

// The names this worker keeps: spawned in order, the oldest stopped once kKeepAlive are live.
class OwnNames {
 public:
  OwnNames(pulsing::Node& node, Log& log, std::string worker) : node_(node), log_(log), worker_(std::move(worker)) {}

  void step() {
    const std::string name = worker_ + "-" + std::to_string(count_.load());
    std::string outcome = "ok";
    try {
      node_.spawn<Target>({.name = name}).get();
      std::lock_guard lock(mutex_);
      live_.push_back(name);
    } catch (...) {
      outcome = outcome_of(std::current_exception());
    }
    count_.fetch_add(1);
    log_.write({{"w", worker_}, {"op", "spawn"}, {"name", name}, {"outcome", outcome}});
    std::string oldest;
    {
      std::lock_guard lock(mutex_);
      if (live_.size() <= kKeepAlive) return;
      oldest = live_.front();
      live_.pop_front();
    }
    outcome = "ok";
    try {
      node_.stop(oldest).get();
    } catch (...) {
      outcome = outcome_of(std::current_exception());
    }
    log_.write({{"w", worker_}, {"op", "stop"}, {"name", oldest}, {"outcome", outcome}});
  }
  // How many this worker has spawned: a peer's recent names are guessed from it.
  std::uint64_t count() const { return count_.load(); }

 private:
  pulsing::Node& node_;
  Log& log_;
  const std::string worker_;
  std::mutex mutex_;
  std::deque<std::string> live_;  // guarded by mutex_
  std::atomic<std::uint64_t> count_{0};
};

// One caller: resolves a name (its worker's or a peer's, among the recent ones), then asks it.
// Counts `running` down when it returns (after SIGTERM, once its call in flight completed).
void caller_loop(pulsing::Node& node, Log& log, InFlight& in_flight, const Options& options, const OwnNames& own,
                 unsigned seed, std::atomic<int>& running) {
  std::mt19937 random(seed);
  std::vector<std::string> workers = options.peers;
  workers.push_back(options.name);
  const auto deadline = std::chrono::milliseconds(options.deadline_ms);
  while (!stopping.load()) {
    std::this_thread::sleep_for(kCallPause);
    const std::uint64_t count = own.count();
    if (count == 0) continue;
    const std::uint64_t back = std::min<std::uint64_t>(count, kKeepAlive);
    const std::uint64_t index = count - 1 - random() % back;
    const std::string name = workers[random() % workers.size()] + "-" + std::to_string(index);

    auto started = Clock::now();
    auto id = in_flight.start(name, started + deadline);
    std::string outcome = "ok";
    std::optional<pulsing::AnyRef> ref;
    try {
      ref = node.resolve_any(name).get();
    } catch (...) {
      outcome = outcome_of(std::current_exception());
    }
    auto ms = [&] { return std::chrono::duration<double, std::milli>(Clock::now() - started).count(); };
    log.write({{"w", options.name}, {"op", "resolve"}, {"name", name}, {"outcome", outcome}, {"ms", ms()},
               {"deadline_ms", options.deadline_ms}});
    in_flight.finish(id);
    if (!ref) continue;

    started = Clock::now();
    id = in_flight.start(name, started + deadline);
    outcome = "ok";
    try {
      const auto x = static_cast<std::int64_t>(random() % 1000);
      pulsing::Value reply = ref->with_timeout(deadline).ask("ping", {pulsing::Value(x)}).get();
      if (reply != pulsing::Value(x)) outcome = "wrong answer";
    } catch (...) {
      outcome = outcome_of(std::current_exception());
    }
    log.write({{"w", options.name}, {"op", "ask"}, {"name", name}, {"outcome", outcome}, {"ms", ms()},
               {"deadline_ms", options.deadline_ms}});
    in_flight.finish(id);
  }
  running.fetch_sub(1);
}

int run(const Options& options) {
  Log log(options.log);
  if (!log.ok()) {
    std::cerr << "chaos_worker: cannot open the log " << options.log << "\n";
    return 1;
  }
  pulsing::NodeConfig config;
  config.name = options.name;
  config.listen = "tcp://" + options.listen;
  config.seeds = options.seeds;
  config.membership.name = options.name;
  config.worker_threads = 2;
  if (!options.key_file.empty()) {
    config.cluster_keys =
        std::make_shared<const pulsing::security::Keyring>(pulsing::security::read_key_file(options.key_file));
  }
  pulsing::Node node(config);
  node.on_member_event([&](const pulsing::membership::MemberEvent& event) {
    log.write({{"w", options.name},
               {"op", "member"},
               {"member", event.member.name},
               {"kind", std::string(pulsing::membership::to_string(event.kind))}});
  });
  std::cout << "ready " << node.endpoint() << std::endl;

  OwnNames own(node, log, options.name);
  InFlight in_flight;
  std::vector<std::thread> callers;
  std::atomic<int> running{options.callers};
  for (int i = 0; i < options.callers; ++i) {
    callers.emplace_back(caller_loop, std::ref(node), std::ref(log), std::ref(in_flight), std::cref(options),
                         std::cref(own), static_cast<unsigned>(std::hash<std::string>{}(options.name) + i),
                         std::ref(running));
  }
  auto next_spawn = Clock::now();
  while (!stopping.load()) {
    if (Clock::now() >= next_spawn) {
      own.step();
      next_spawn += kSpawnInterval;
    }
    in_flight.report_hangs(log, options.name, false);
    std::this_thread::sleep_for(100ms);
  }
  // Callers finish their call in flight (each has a deadline); one that does not is a hang, and
  // the worker exits without waiting for it (status 3).
  const auto give_up = Clock::now() + std::chrono::milliseconds(options.deadline_ms) + kHangSlack;
  while (running.load() > 0 && Clock::now() < give_up) {
    in_flight.report_hangs(log, options.name, false);
    std::this_thread::sleep_for(50ms);
  }
  if (running.load() > 0) {
    in_flight.report_hangs(log, options.name, true);
    std::_Exit(3);
  }
  for (auto& caller : callers) caller.join();
  node.shutdown();
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  Options options;
  for (int i = 1; i < argc; ++i) {
    const std::string_view flag = argv[i];
    if (i + 1 >= argc) return usage("'" + std::string(flag) + "' needs a value");
    const std::string value = argv[++i];
    if (flag == "--name") {
      options.name = value;
    } else if (flag == "--listen") {
      options.listen = value;
    } else if (flag == "--log") {
      options.log = value;
    } else if (flag == "--cluster-key-file") {
      options.key_file = value;
    } else if (flag == "--seeds") {
      options.seeds = split(value);
    } else if (flag == "--peers") {
      options.peers = split(value);
    } else if (flag == "--deadline-ms") {
      options.deadline_ms = std::stoi(value);
    } else if (flag == "--callers") {
      options.callers = std::stoi(value);
    } else {
      return usage("unknown flag '" + std::string(flag) + "'");
    }
  }
  if (options.name.empty() || options.listen.empty() || options.log.empty()) {
    return usage("--name, --listen and --log are required");
  }
  if (options.deadline_ms <= 0 || options.callers <= 0) return usage("--deadline-ms and --callers must be positive");
  ::signal(SIGTERM, on_signal);
  ::signal(SIGINT, on_signal);
  try {
    return run(options);
  } catch (const std::exception& e) {
    std::cerr << "chaos_worker: " << e.what() << "\n";
    return 1;
  }
}
