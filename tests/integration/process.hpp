// NodeProcess: one child process running a node (pulsing_test_node, or `pulsing node`), owned
// by a test; or a command run to its end (`pulsing ask ...`).
//
//   auto b = NodeProcess::start();                      // waits for its "ready <endpoint>" line
//   auto calc = node.resolve_at<Calculator>(b.endpoint(), "calc").get();
//   b.pause(); b.resume();                              // SIGSTOP (waits until stopped), SIGCONT
//   b.kill();                                           // SIGKILL, reaped
//   auto n = NodeProcess::start_program(PULSING_CLI_PATH, {"node", "--listen", "127.0.0.1:0"});
//   auto [status, out] = NodeProcess::run_program(PULSING_CLI_PATH, {"members", "--node", ...});
//
// The child is always stopped and reaped: the destructor SIGKILLs and waitpid()s a child still
// running, also when the test fails or throws. If the test process itself dies (a crash, a
// ctest timeout), the kernel SIGKILLs the child (PR_SET_PDEATHSIG), so no node outlives its test.
// Every wait has a deadline. Not thread-safe: one thread owns a NodeProcess.
#pragma once

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <stdexcept>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#ifndef PULSING_TEST_NODE_PATH
#error "define PULSING_TEST_NODE_PATH: the path of the pulsing_test_node executable"
#endif

namespace pulsing::integration {

class NodeProcess {
 public:
  // Starts pulsing_test_node with `args` and waits (at most `limit`) for its ready line.
  // Throws std::runtime_error, with the child's exit status, if the child exits first, prints
  // something else, or is not ready in time (the child is then killed and reaped).
  static NodeProcess start(std::vector<std::string> args = {},
                           std::chrono::milliseconds limit = std::chrono::seconds(10)) {
    return start_program(PULSING_TEST_NODE_PATH, std::move(args), limit);
  }
  // The same with another program that prints "ready <endpoint>[ <more>]" once it serves.
  static NodeProcess start_program(const std::string& program, std::vector<std::string> args,
                                   std::chrono::milliseconds limit = std::chrono::seconds(10)) {
    NodeProcess child;
    child.launch(program, args, false);
    child.await_ready(limit);
    return child;
  }
  // Starts it listening on `endpoint` ("tcp://127.0.0.1:PORT").
  static NodeProcess start_at(const std::string& endpoint, std::vector<std::string> args = {},
                              std::chrono::milliseconds limit = std::chrono::seconds(10)) {
    args.insert(args.begin(), {"--listen", endpoint});
    return start(std::move(args), limit);
  }

  // Runs pulsing_test_node with `args` to its end (at most `limit`, then SIGKILL): its exit
  // status as status_code() describes it, and what it printed on stdout.
  static std::pair<int, std::string> run(std::vector<std::string> args,
                                         std::chrono::milliseconds limit = std::chrono::seconds(10)) {
    return run_program(PULSING_TEST_NODE_PATH, std::move(args), limit, false);
  }
  // Runs `program` so; with `with_stderr`, what it printed on stderr is in the output too.
  static std::pair<int, std::string> run_program(const std::string& program, std::vector<std::string> args,
                                                 std::chrono::milliseconds limit = std::chrono::seconds(10),
                                                 bool with_stderr = true) {
    NodeProcess child;
    child.launch(program, args, with_stderr);
    std::string out;
    auto deadline = std::chrono::steady_clock::now() + limit;
    while (child.read_some(out, deadline)) {
    }
    int status = child.wait_exit(deadline);
    return {status, out};
  }

  NodeProcess(NodeProcess&& other) noexcept
      : pid_(std::exchange(other.pid_, -1)),
        out_fd_(std::exchange(other.out_fd_, -1)),
        endpoint_(std::move(other.endpoint_)),
        ready_rest_(std::move(other.ready_rest_)),
        status_(other.status_) {}
  NodeProcess& operator=(NodeProcess&& other) noexcept {
    if (this != &other) {
      reap_now();
      pid_ = std::exchange(other.pid_, -1);
      out_fd_ = std::exchange(other.out_fd_, -1);
      endpoint_ = std::move(other.endpoint_);
      ready_rest_ = std::move(other.ready_rest_);
      status_ = other.status_;
    }
    return *this;
  }
  NodeProcess(const NodeProcess&) = delete;
  NodeProcess& operator=(const NodeProcess&) = delete;
  ~NodeProcess() { reap_now(); }

  pid_t pid() const { return pid_; }
  bool running() const { return pid_ > 0; }
  // "tcp://127.0.0.1:40213", as the child printed it.
  const std::string& endpoint() const { return endpoint_; }
  // What the ready line said after the endpoint ("admin http://127.0.0.1:8001"), if anything.
  const std::string& ready_rest() const { return ready_rest_; }

  // SIGKILL, then reaped. Idempotent.
  void kill() { reap_now(); }

  // SIGSTOP, and returns once every thread of the child has stopped. kill() returning is not
  // enough: until the kernel schedules the thread picked to take the signal, the child's other
  // threads run on, and on a loaded machine answer what arrives meanwhile.
  void pause() {
    if (pid_ <= 0) return;
    ::kill(pid_, SIGSTOP);
    int status = 0;
    pid_t r = -1;
    do {
      r = ::waitpid(pid_, &status, WUNTRACED);
    } while (r < 0 && errno == EINTR);
    if (r == pid_ && !WIFSTOPPED(status)) record(status);  // it died instead
  }
  // SIGCONT: a paused child runs again.
  void resume() {
    if (pid_ > 0) ::kill(pid_, SIGCONT);
  }
  // SIGHUP: a `pulsing node` reads its cluster key file again.
  void hang_up() {
    if (pid_ > 0) ::kill(pid_, SIGHUP);
  }

  // SIGTERM, then waits at most `limit` for the child to exit (SIGKILL after that). Returns the
  // exit status: the exit code, or 128 + the signal that ended it.
  int terminate(std::chrono::milliseconds limit = std::chrono::seconds(10)) {
    if (pid_ > 0) ::kill(pid_, SIGTERM);
    return wait_exit(std::chrono::steady_clock::now() + limit);
  }

 private:
  NodeProcess() = default;

  void launch(const std::string& program, const std::vector<std::string>& args, bool with_stderr) {
    // Everything the child needs is prepared before fork(): between fork() and exec() a child
    // of a multi-threaded process may only make async-signal-safe calls.
    std::vector<std::string> all{program};
    all.insert(all.end(), args.begin(), args.end());
    std::vector<char*> argv;
    for (auto& a : all) argv.push_back(a.data());
    argv.push_back(nullptr);

    int fds[2];
    if (::pipe2(fds, O_CLOEXEC) != 0) throw std::runtime_error(std::string("pipe2: ") + std::strerror(errno));
    pid_t parent = ::getpid();
    pid_t pid = ::fork();
    if (pid < 0) {
      ::close(fds[0]);
      ::close(fds[1]);
      throw std::runtime_error(std::string("fork: ") + std::strerror(errno));
    }
    if (pid == 0) {
      ::prctl(PR_SET_PDEATHSIG, SIGKILL);
      if (::getppid() != parent) ::_exit(127);  // the test died before prctl took effect
      sigset_t none;
      sigemptyset(&none);
      ::sigprocmask(SIG_SETMASK, &none, nullptr);
      struct sigaction dfl {};
      dfl.sa_handler = SIG_DFL;
      for (int sig : {SIGTERM, SIGINT, SIGPIPE}) ::sigaction(sig, &dfl, nullptr);
      if (::dup2(fds[1], STDOUT_FILENO) < 0) ::_exit(127);
      if (with_stderr && ::dup2(fds[1], STDERR_FILENO) < 0) ::_exit(127);
      ::execv(argv[0], argv.data());
      ::_exit(127);
    }
    ::close(fds[1]);
    pid_ = pid;
    out_fd_ = fds[0];
  }

  // Reads what the child printed, up to `deadline`; false at end of file (or past the deadline).
  bool read_some(std::string& out, std::chrono::steady_clock::time_point deadline) {
    for (;;) {
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
      if (left.count() <= 0) return false;
      pollfd p{out_fd_, POLLIN, 0};
      int n = ::poll(&p, 1, static_cast<int>(left.count()));
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) return false;
      char buffer[512];
      ssize_t got = ::read(out_fd_, buffer, sizeof buffer);
      if (got < 0 && errno == EINTR) continue;
      if (got <= 0) return false;
      out.append(buffer, static_cast<std::size_t>(got));
      return true;
    }
  }

  void await_ready(std::chrono::milliseconds limit) {
    auto deadline = std::chrono::steady_clock::now() + limit;
    std::string out;
    while (out.find('\n') == std::string::npos) {
      if (!read_some(out, deadline)) {
        bool late = std::chrono::steady_clock::now() >= deadline;
        reap_now();
        throw std::runtime_error(late ? "the node was not ready within " + std::to_string(limit.count()) + " ms"
                                      : "the node exited before it was ready (status " + std::to_string(status_) +
                                            "), having printed '" + out + "'");
      }
    }
    std::string line = out.substr(0, out.find('\n'));
    if (!line.starts_with("ready tcp://")) {
      reap_now();
      throw std::runtime_error("the node printed '" + line + "' instead of 'ready <endpoint>'");
    }
    auto space = line.find(' ', 6);
    endpoint_ = line.substr(6, space == std::string::npos ? std::string::npos : space - 6);
    if (space != std::string::npos) ready_rest_ = line.substr(space + 1);
  }

  // Waits for the child to exit until `deadline`, then SIGKILLs it; always reaps it.
  int wait_exit(std::chrono::steady_clock::time_point deadline) {
    while (pid_ > 0) {
      int status = 0;
      pid_t r = ::waitpid(pid_, &status, WNOHANG);
      if (r == pid_) {
        record(status);
        break;
      }
      if (r < 0 && errno != EINTR) {
        pid_ = -1;  // not ours to wait for any more
        break;
      }
      if (std::chrono::steady_clock::now() >= deadline) {
        reap_now();
        break;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(2));
    }
    close_pipe();
    return status_;
  }

  void reap_now() {
    if (pid_ > 0) {
      ::kill(pid_, SIGKILL);
      int status = 0;
      pid_t r = -1;
      do {
        r = ::waitpid(pid_, &status, 0);
      } while (r < 0 && errno == EINTR);
      if (r == pid_) {
        record(status);
      } else {
        pid_ = -1;  // not ours to wait for any more
      }
    }
    close_pipe();
  }

  void record(int status) {
    status_ = WIFEXITED(status) ? WEXITSTATUS(status) : WIFSIGNALED(status) ? 128 + WTERMSIG(status) : -1;
    pid_ = -1;
  }

  void close_pipe() {
    if (out_fd_ >= 0) ::close(std::exchange(out_fd_, -1));
  }

  pid_t pid_ = -1;
  int out_fd_ = -1;
  std::string endpoint_;
  std::string ready_rest_;
  int status_ = -1;
};

}  // namespace pulsing::integration
