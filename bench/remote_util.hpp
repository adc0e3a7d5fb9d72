// What every remote benchmark program (W5–W7 of bench/README.md) shares besides bench_util.hpp: the
// workload sizes, starting its own server as a child process, and nearest-rank percentiles.
//
// A remote program is its own server: the client (the process run.sh starts) re-executes
// /proc/self/exe with `--serve` put before its own arguments. The server binds a port on
// 127.0.0.1 chosen by the OS, writes it as one decimal line on its stdout (a pipe to the
// client), and serves until the client sends it a stop message. The child dies with its
// parent (PR_SET_PDEATHSIG), and the client kills and reaps it on every path out. A program may
// start several children (pulsing_overload: a server and a second client), each with its own
// role arguments in place of `--serve`; the signal handler kills them all.
#pragma once

#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include "bench_util.hpp"

namespace bench::remote {

// W5: tells, each carrying a 64-byte string, to one counting endpoint.
constexpr int64_t kW5Tells = 1'000'000;
// W6: sequential asks of an int64; the server returns it + 1.
constexpr int64_t kW6Asks = 100'000;
// W7: asks with this many outstanding at all times.
constexpr int64_t kW7Asks = 500'000;
constexpr int64_t kW7Window = 64;
// Untimed asks before every workload (not scaled): the connection is up and warm before the
// clock starts.
constexpr int64_t kWarmupAsks = 1'000;
// A receive on either side that waits longer than this is a failure, not a slow run.
constexpr int kTimeoutMs = 30'000;

// W5s, W6s, W7s: W5–W7 with security on (pulsing: a cluster key, so gossip is sealed and the
// connection runs CURVE; raw ZeroMQ: CURVE with a ZAP handler, the same protection).
inline bool is_secure(const std::string& workload) { return workload.size() == 3 && workload.back() == 's'; }
// "W6s" → "W6".
inline std::string plain_workload(const std::string& workload) {
  return is_secure(workload) ? workload.substr(0, 2) : workload;
}
// The cluster key of a secure run, the same in the client and its server child: the benchmark's
// own, never a real cluster's.
inline constexpr const char* kBenchClusterKey = "62656e63682d6b65792d6e6f742d612d7265616c2d636c75737465722d6b6579";

// The W5 payload: 64 bytes.
inline std::string tell_text() { return std::string(64, 'x'); }

// True, with `--serve` removed from argv, when this process is the server child.
inline bool take_serve_flag(int& argc, char** argv) {
  if (argc < 2 || std::strcmp(argv[1], "--serve") != 0) return false;
  for (int i = 1; i + 1 < argc; ++i) argv[i] = argv[i + 1];
  argv[--argc] = nullptr;
  return true;
}

// Server side: tells the client the bound port (one line on stdout), then points stdout at
// /dev/null, so that nothing written later can reach (or break on) the pipe.
inline void announce_port(int port) {
  std::printf("%d\n", port);
  std::fflush(stdout);
  int devnull = ::open("/dev/null", O_WRONLY | O_CLOEXEC);
  if (devnull >= 0) {
    ::dup2(devnull, STDOUT_FILENO);
    ::close(devnull);
  }
}

// The running children, for the signal handler below: one slot each (0: free). More children
// than slots still run, but the handler does not know them (PR_SET_PDEATHSIG still ends them).
constexpr int kMaxChildren = 4;
inline volatile sig_atomic_t g_children[kMaxChildren] = {};

inline void remember_child(pid_t pid) {
  for (auto& slot : g_children) {
    if (slot == 0) {
      slot = pid;
      return;
    }
  }
}

inline void forget_child(pid_t pid) {
  for (auto& slot : g_children) {
    if (slot == pid) slot = 0;
  }
}

// On SIGTERM / SIGINT / SIGHUP (run.sh's timeout, ^C) the client kills and reaps its children,
// then dies of the signal as it would have. Only async-signal-safe calls.
inline void kill_child_and_die(int sig) {
  for (auto& slot : g_children) {
    pid_t child = slot;
    if (child > 0) ::kill(child, SIGKILL);
  }
  for (auto& slot : g_children) {
    pid_t child = slot;
    if (child <= 0) continue;
    while (::waitpid(child, nullptr, 0) < 0 && errno == EINTR) {
    }
  }
  ::signal(sig, SIG_DFL);
  ::raise(sig);
}

// Client side: the server child, killed and reaped at the latest when this object goes away.
// Start it before any thread exists (before the ZeroMQ context or CAF actor system): fork()
// copies only the calling thread, and PR_SET_PDEATHSIG follows the thread that forked.
class ServerChild {
 public:
  ServerChild() = default;
  ServerChild(const ServerChild&) = delete;
  ServerChild& operator=(const ServerChild&) = delete;
  ~ServerChild() { kill_and_reap(); }

  // Starts `/proc/self/exe --serve argv[1..]` and reads its port; false (child gone, reason on
  // stderr) on failure or when no port arrives within `timeout_ms`. `role` replaces `--serve`
  // for a program with more than one kind of child (e.g. {"--flood", "40213"}).
  bool start(int argc, char** argv, int timeout_ms = 10'000, const std::vector<std::string>& role = {"--serve"}) {
    // The program's own path (not /proc/self/exe), so that the child's name is the program's.
    char exe[4096];
    ssize_t len = ::readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (len <= 0) return fail("readlink /proc/self/exe");
    exe[len] = '\0';
    std::vector<char*> args;
    args.push_back(argv[0]);
    for (const auto& arg : role) args.push_back(const_cast<char*>(arg.c_str()));
    for (int i = 1; i < argc; ++i) args.push_back(argv[i]);
    args.push_back(nullptr);

    int fds[2];
    if (::pipe2(fds, O_CLOEXEC) != 0) return fail("pipe");
    pid_t parent = ::getpid();
    pid_ = ::fork();
    if (pid_ < 0) {
      ::close(fds[0]);
      ::close(fds[1]);
      return fail("fork");
    }
    if (pid_ == 0) {  // the child: only async-signal-safe calls until exec
      ::prctl(PR_SET_PDEATHSIG, SIGKILL);
      if (::getppid() != parent) ::_exit(127);  // the parent died before prctl
      ::dup2(fds[1], STDOUT_FILENO);            // dup2 clears O_CLOEXEC on the copy
      ::execv(exe, args.data());
      ::_exit(127);
    }
    ::close(fds[1]);
    remember_child(pid_);
    for (int sig : {SIGTERM, SIGINT, SIGHUP}) ::signal(sig, kill_child_and_die);

    std::string line;
    auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
    bool ok = false;
    while (true) {
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
      if (left.count() <= 0) break;
      pollfd p{fds[0], POLLIN, 0};
      int r = ::poll(&p, 1, static_cast<int>(left.count()));
      if (r < 0 && errno == EINTR) continue;
      if (r <= 0) break;
      char buf[64];
      ssize_t n = ::read(fds[0], buf, sizeof buf);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) break;  // EOF: the child exited (or closed stdout) without a port
      line.append(buf, static_cast<size_t>(n));
      if (line.find('\n') != std::string::npos) {
        port_ = std::atoi(line.c_str());
        ok = port_ > 0 && port_ < 65536;
        break;
      }
    }
    ::close(fds[0]);
    if (!ok) {
      kill_and_reap();
      std::fprintf(stderr, "remote: the server child sent no port (got \"%s\")\n", line.c_str());
    }
    return ok;
  }

  int port() const { return port_; }
  // The child's process id while it runs (-1 before start and after it was reaped).
  pid_t pid() const { return pid_; }

  // After the stop message: waits up to `timeout_ms` for the child to exit, then kills it.
  // True when it exited on its own with status 0.
  bool finish(int timeout_ms = 10'000) {
    if (pid_ <= 0) return false;
    auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
    while (std::chrono::steady_clock::now() < deadline) {
      int status = 0;
      pid_t r = ::waitpid(pid_, &status, WNOHANG);
      if (r == pid_) {
        forget_child(pid_);
        pid_ = -1;
        if (WIFEXITED(status) && WEXITSTATUS(status) == 0) return true;
        std::fprintf(stderr, "remote: the server child failed (status %d)\n", status);
        return false;
      }
      if (r < 0 && errno != EINTR) {
        forget_child(pid_);
        pid_ = -1;
        return false;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    std::fprintf(stderr, "remote: the server child did not exit within %d ms; killing it\n", timeout_ms);
    kill_and_reap();
    return false;
  }

  // Kills (SIGKILL) and reaps the child if it still runs.
  void kill_and_reap() {
    if (pid_ <= 0) return;
    ::kill(pid_, SIGKILL);
    while (::waitpid(pid_, nullptr, 0) < 0 && errno == EINTR) {
    }
    forget_child(pid_);
    pid_ = -1;
  }

 private:
  bool fail(const char* what) {
    std::fprintf(stderr, "remote: %s: %s\n", what, std::strerror(errno));
    pid_ = -1;
    return false;
  }

  pid_t pid_ = -1;
  int port_ = 0;
};

// Nearest-rank percentile `p` (0 < p ≤ 100) of `sorted` (ascending, not empty): the smallest
// value with at least p% of the values at or below it.
template <class T>
T nearest_rank(const std::vector<T>& sorted, double p) {
  auto n = static_cast<double>(sorted.size());
  auto rank = static_cast<size_t>(std::ceil(p / 100.0 * n));
  return sorted[std::clamp<size_t>(rank, 1, sorted.size()) - 1];
}

// W6's (or W6s') result line: `value` is the p50 in µs; p99 and the rate of round trips as extra
// fields. `latencies_ns` (one per timed ask) is sorted in place.
inline void print_latency_result(const char* system, const std::string& workload, std::vector<int64_t>& latencies_ns,
                                 double seconds) {
  std::sort(latencies_ns.begin(), latencies_ns.end());
  auto n = static_cast<int64_t>(latencies_ns.size());
  double p50 = static_cast<double>(nearest_rank(latencies_ns, 50)) / 1e3;
  double p99 = static_cast<double>(nearest_rank(latencies_ns, 99)) / 1e3;
  char extra[96];
  std::snprintf(extra, sizeof extra, ",\"p99_us\":%.1f,\"roundtrips_per_s\":%.1f", p99,
                static_cast<double>(n) / seconds);
  print_result(system, workload.c_str(), p50, "us", n, seconds, extra);
}

// The main() every remote benchmark shares: re-executed with --serve it runs
// `serve(workload)`; otherwise it starts that server child (before any other thread exists),
// runs `client(server, workload, scale)` (false or an exception: the run failed) and stops the
// server. The secure workloads (W5s–W7s) only where `secure` says the program has them. Exit
// status 0, 1 (the run failed) or 2 (bad arguments).
template <typename Serve, typename Client>
int run_main(int argc, char** argv, const char* name, const char* usage, bool secure, Serve serve, Client client) {
  bool serving = take_serve_flag(argc, argv);
  std::string workload;
  double scale = 1.0;
  if (!bench::parse_args(argc, argv, usage, workload, scale)) return 2;
  const std::string plain = plain_workload(workload);
  if ((plain != "W5" && plain != "W6" && plain != "W7") || (is_secure(workload) && !secure)) {
    std::fprintf(stderr, "%s\n", usage);
    return 2;
  }
  try {
    if (serving) return serve(workload);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "%s server: %s\n", name, e.what());
    return 1;
  }
  ServerChild server;  // killed and reaped on every way out
  if (!server.start(argc, argv)) return 1;
  try {
    if (!client(server, workload, scale)) return 1;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "%s: %s\n", name, e.what());
    return 1;
  }
  return server.finish() ? 0 : 1;
}

}  // namespace bench::remote
