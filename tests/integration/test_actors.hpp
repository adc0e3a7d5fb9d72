// The actors of the integration tests. pulsing_test_node spawns them in its own process; the
// test process includes the same header so that it can hold typed ActorRef<T> to them (a call
// crosses the wire by class and method name: both sides must see identical method tables).
#pragma once

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cctype>
#include <cstdint>
#include <limits>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include <pulsing/pulsing.hpp>

namespace pulsing::integration {

// Slow calls that began in this process (Launcher::slow_calls reports it): a test knows its
// slow ask is being handled, not just sent.
inline std::atomic<int> g_slow_calls_started{0};

// Every error category a handler can produce, and calls that hop to another node.
class Calculator : public Actor {
 public:
  explicit Calculator(int initial = 0) : value_(initial) {}

  int add(int n) { return value_ += n; }
  int value() const { return value_; }
  // Sleeps without blocking a worker (the actor is not reentrant: later messages wait).
  Task<int> slow(int ms) {
    g_slow_calls_started.fetch_add(1);
    co_await sleep_for(std::chrono::milliseconds(ms));
    co_return ms;
  }
  int explode() { throw std::runtime_error("boom"); }
  int reject(int code) { throw BusinessError(code, "rejected", Value::Map{{"why", "test"}, {"code", code}}); }
  int divide(int by) {
    if (by == 0) throw std::invalid_argument("division by zero");
    return value_ / by;
  }
  // Calls another calculator, wherever it lives (the design guide's add_via).
  Task<int> add_via(ActorRef<Calculator> other, int n) { co_return co_await other.ask(&Calculator::add, n); }
  // The same through an untyped reference, by method name.
  Task<int> add_via_any(AnyRef other, int n) {
    // (the call is built outside co_await: g++ 12 rejects a braced list inside it)
    auto reply = other.ask("add", {Value(n)});
    Value sum = co_await std::move(reply);
    co_return static_cast<int>(sum.as_int());
  }

  // Asks `other` for a `sleep_ms` slow call with a `timeout_ms` timeout: the TimeoutError is
  // made on this node, and travels on to whoever asked.
  Task<int> slow_via(AnyRef other, int sleep_ms, int timeout_ms) {
    auto reply = other.with_timeout(std::chrono::milliseconds(timeout_ms)).ask("slow", {Value(sleep_ms)});
    Value slept = co_await std::move(reply);
    co_return static_cast<int>(slept.as_int());
  }

  PULSING_METHODS(Calculator, add, value, slow, explode, reject, divide, add_via, add_via_any, slow_via)

 private:
  int value_;
};

// The seed's worker pool (examples/worker_pool.cpp), spread over nodes.
class Worker : public Actor {
 public:
  explicit Worker(int id) : id_(id) {}

  std::string process(int task) {
    ++handled_;
    return "worker " + std::to_string(id_) + ": " + std::to_string(task) + " squared is " +
           std::to_string(task * task);
  }
  int handled() const { return handled_; }

  PULSING_METHODS(Worker, process, handled)

 private:
  int id_;
  int handled_ = 0;
};

// A kind whose constructor takes `ms` milliseconds: a remote spawn that is under way for that long.
class SlowStart : public Actor {
 public:
  explicit SlowStart(int ms) { std::this_thread::sleep_for(std::chrono::milliseconds(ms)); }
  std::string ping() { return "pong"; }
  PULSING_METHODS(SlowStart, ping)
};

// This process's member name (pulsing_test_node sets it): where an entity says it runs.
inline std::string g_member_name;

// An entity (Node::register_entity): the items added to it, in order, during this activation
// (the state is not saved: each activation starts empty), and where it runs.
class Cart : public Actor {
 public:
  explicit Cart(std::string key) : key_(std::move(key)) {}
  int add(int item) {
    items_.push_back(item);
    return static_cast<int>(items_.size());
  }
  std::vector<int> items() const { return items_; }
  std::string where() const { return g_member_name; }
  PULSING_METHODS(Cart, add, items, where)

 private:
  std::string key_;
  std::vector<int> items_;
};

class WorkerPool : public Actor {
 public:
  explicit WorkerPool(std::vector<ActorRef<Worker>> workers) : workers_(std::move(workers)) {}

  Task<std::string> submit(int task) {
    auto worker = workers_[next_];
    next_ = (next_ + 1) % workers_.size();
    co_return co_await worker.ask(&Worker::process, task);
  }
  int size() const { return static_cast<int>(workers_.size()); }

  PULSING_METHODS(WorkerPool, submit, size)

 private:
  std::vector<ActorRef<Worker>> workers_;
  std::size_t next_ = 0;
};

// The seed's pipeline (examples/pipeline.cpp), spread over nodes; transforms go by name.
struct Document {
  std::string text;
  std::vector<std::string> trail;  // the stages it went through
  PULSING_FIELDS(Document, text, trail)
};

inline std::string apply_transform(const std::string& transform, std::string text) {
  if (transform == "trim") {
    auto is_space = [](unsigned char c) { return std::isspace(c) != 0; };
    text.erase(text.begin(), std::find_if_not(text.begin(), text.end(), is_space));
    text.erase(std::find_if_not(text.rbegin(), text.rend(), is_space).base(), text.end());
  } else if (transform == "upper") {
    for (char& c : text) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  } else if (transform == "exclaim") {
    text += "!";
  } else {
    throw std::invalid_argument("unknown transform '" + transform + "'");
  }
  return text;
}

class PipelineStage : public Actor {
 public:
  PipelineStage(std::string transform, std::optional<ActorRef<PipelineStage>> next_stage)
      : transform_(std::move(transform)), next_stage_(std::move(next_stage)) {}

  Task<Document> process(Document document) {
    document.text = apply_transform(transform_, std::move(document.text));
    document.trail.push_back(transform_);
    if (next_stage_) co_return co_await next_stage_->ask(&PipelineStage::process, std::move(document));
    co_return document;
  }

  PULSING_METHODS(PipelineStage, process)

 private:
  std::string transform_;
  std::optional<ActorRef<PipelineStage>> next_stage_;
};

// Items for the stream tests; counts what it produced and which producers are still running.
class Producer : public Actor {
 public:
  Stream<std::int64_t> count(std::int64_t n) {
    Running running(active_);
    for (std::int64_t i = 0; i < n; ++i) {
      ++produced_;
      co_yield i;
    }
  }
  Stream<std::int64_t> forever() {
    Running running(active_);
    for (std::int64_t i = 0;; ++i) {
      ++produced_;
      co_yield i;
    }
  }
  // `n` items, then a BusinessError(503) (crash = false) or a crash (SystemError).
  Stream<std::int64_t> fail_after(std::int64_t n, bool crash) {
    for (std::int64_t i = 0; i < n; ++i) co_yield i;
    if (crash) throw std::runtime_error("producer crashed");
    throw BusinessError(503, "no more items", Value::Map{{"after", n}});
  }
  std::int64_t produced() const { return produced_; }
  // Producers whose frame is still alive (a cancelled one is destroyed at its next yield).
  int active() const { return *active_; }

  PULSING_METHODS(Producer, count, forever, fail_after, produced, active)

 private:
  struct Running {
    explicit Running(std::shared_ptr<int> counter) : counter_(std::move(counter)) { ++*counter_; }
    ~Running() { --*counter_; }
    Running(const Running&) = delete;
    Running& operator=(const Running&) = delete;
    std::shared_ptr<int> counter_;
  };
  std::int64_t produced_ = 0;
  std::shared_ptr<int> active_ = std::make_shared<int>(0);
};

// Spawns actors on its own node on behalf of another process (there is no remote spawn): the
// test hands it references to actors elsewhere, and gets a reference to the new actor back.
class Launcher : public Actor {
 public:
  explicit Launcher(Node* node) : node_(node) {}

  // A reentrant pool over `workers` (references to actors on other nodes).
  // The references arrive untyped and are typed here with the explicit ActorRef<Worker>(any):
  // a typed parameter (std::vector<ActorRef<Worker>>) is refused for references to actors on
  // another node (see "a typed reference to an actor on a third node ..." in references_test).
  AnyRef spawn_pool(std::string name, std::vector<AnyRef> workers) {
    std::vector<ActorRef<Worker>> typed;
    for (auto& w : workers) typed.emplace_back(std::move(w));
    return node_->spawn<WorkerPool>({.name = std::move(name), .reentrant = true}, std::move(typed)).get();
  }
  AnyRef spawn_stage(std::string name, std::string transform, std::optional<AnyRef> next) {
    apply_transform(transform, "");  // an unknown transform fails here, as BusinessError(400)
    std::optional<ActorRef<PipelineStage>> typed;
    if (next) typed.emplace(std::move(*next));
    return node_->spawn<PipelineStage>({.name = std::move(name)}, std::move(transform), std::move(typed)).get();
  }
  AnyRef spawn_calculator(std::string name, int initial) {
    return node_->spawn<Calculator>({.name = std::move(name)}, initial).get();
  }

  // The same, typed: the reply carries an ActorRef<Calculator>.
  ActorRef<Calculator> spawn_typed_calculator(std::string name, int initial) {
    return node_->spawn<Calculator>({.name = std::move(name)}, initial).get();
  }
  // A calculator whose mailbox holds `mailbox_capacity` messages before it slows its senders
  // (refusing past 4 times that); with `restart_backoff_ms` > 0 it restarts after each crash
  // (policy on_failure, that backoff every time, no limit on restarts), else never.
  AnyRef spawn_bounded_calculator(std::string name, int mailbox_capacity, int restart_backoff_ms) {
    if (mailbox_capacity <= 0) throw std::invalid_argument("the mailbox capacity must be positive");
    SpawnOptions options{.name = std::move(name), .mailbox_capacity = static_cast<std::size_t>(mailbox_capacity)};
    if (restart_backoff_ms > 0) {
      const std::chrono::milliseconds backoff(restart_backoff_ms);
      options.supervision = {.policy = RestartPolicy::kOnFailure,
                             .max_restarts = std::numeric_limits<int>::max(),
                             .min_backoff = backoff,
                             .max_backoff = backoff,
                             .jitter = 0};
    }
    return node_->spawn<Calculator>(options, 0).get();
  }
  int slow_calls() const { return g_slow_calls_started.load(); }
  // The cluster as this node sees it: "name=state" per member.
  std::vector<std::string> members() const {
    std::vector<std::string> out;
    for (const auto& m : node_->members()) out.push_back(m.name + "=" + std::string(membership::to_string(m.state)));
    return out;
  }

  // Name instances in this node's registry shard.
  std::uint64_t registry_entries() const { return node_->registry_stats().entries; }

  PULSING_METHODS(Launcher, spawn_pool, spawn_stage, spawn_calculator, spawn_typed_calculator,
                  spawn_bounded_calculator, slow_calls, members, registry_entries)

 private:
  Node* node_;
};

}  // namespace pulsing::integration
