// A worker pool: one actor hands tasks to several workers in turn (round robin over references)
// and relays each answer. The pool is reentrant, so that while one task is out with a worker
// the pool already hands out the next: tasks overlap, yet the pool's own state is only ever
// touched by one handler at a time (handlers interleave at co_await, never run in parallel).
#include <iostream>
#include <string>
#include <utility>
#include <vector>

#include <pulsing/pulsing.hpp>

#include "expect.hpp"

class Worker : public pulsing::Actor {
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

// [guide:worker-pool]
class WorkerPool : public pulsing::Actor {
 public:
  explicit WorkerPool(std::vector<pulsing::ActorRef<Worker>> workers) : workers_(std::move(workers)) {}

  pulsing::Task<std::string> submit(int task) {
    auto worker = workers_[next_];
    next_ = (next_ + 1) % workers_.size();
    co_return co_await worker.ask(&Worker::process, task);
  }

  PULSING_METHODS(WorkerPool, submit)

 private:
  std::vector<pulsing::ActorRef<Worker>> workers_;
  std::size_t next_ = 0;
};
// [/guide:worker-pool]

int main() {
  pulsing::init();

  // [guide:worker-pool-use]
  std::vector<pulsing::ActorRef<Worker>> workers;
  for (int id = 0; id < 3; ++id) workers.push_back(Worker::spawn({}, id).get());
  auto pool = WorkerPool::spawn({.name = "pool", .reentrant = true}, workers).get();

  std::vector<pulsing::Future<std::string>> replies;
  for (int task = 1; task <= 6; ++task) replies.push_back(pool.ask(&WorkerPool::submit, task));
  for (auto& reply : replies) std::cout << reply.get() << "\n";
  // [/guide:worker-pool-use]

  for (int id = 0; id < 3; ++id) {
    int handled = workers[static_cast<std::size_t>(id)].ask(&Worker::handled).get();
    std::cout << "worker " << id << " handled " << handled << " tasks\n";
    expect(handled == 2, "round robin gives each of 3 workers 2 of the 6 tasks");
  }
  pulsing::shutdown();
}
