// References that travel between processes, and the seed's patterns that span actors (worker
// pool, pipeline) with their actors on different nodes.
#include <optional>
#include <string>
#include <vector>

#include <doctest/doctest.h>

#include "integration_support.hpp"

namespace pulsing::integration {

namespace {
// This process's node, and a calculator on each of two node processes, b and c.
struct TwoCalculators {
  Node node{test_process_config()};
  NodeProcess b = NodeProcess::start();
  NodeProcess c = NodeProcess::start();
  ActorRef<Calculator> calc_b = resolve<Calculator>(node, b, "calc");
  ActorRef<Calculator> calc_c = resolve<Calculator>(node, c, "calc");
};
}  // namespace

TEST_CASE_FIXTURE(TwoCalculators, "a reference to an actor on node B, passed to an actor on node C, is called from C") {
  // C calls B directly: B's state changes, C's does not.
  CHECK(calc_c.ask(&Calculator::add_via_any, AnyRef(calc_b), 5).get() == 5);
  CHECK(calc_b.ask(&Calculator::value).get() == 5);
  CHECK(calc_c.ask(&Calculator::value).get() == 0);

  // A reference to an actor of the test process: C calls back into this process.
  auto local = node.spawn<Calculator>({}, 100).get();
  CHECK(calc_c.ask(&Calculator::add_via_any, AnyRef(local), 1).get() == 101);
  CHECK(local.ask(&Calculator::value).get() == 101);

  // A reference returned by C: it names an actor on C, and B can use it too.
  auto launcher_c = resolve<Launcher>(node, c, "launcher");
  AnyRef made = launcher_c.ask(&Launcher::spawn_calculator, "made", 40).get();
  REQUIRE(made.valid());
  CHECK(made.is_remote());
  CHECK(made.address().endpoint == c.endpoint());
  CHECK(ActorRef<Calculator>(made).ask(&Calculator::add, 2).get() == 42);
  CHECK(calc_b.ask(&Calculator::add_via_any, made, 1).get() == 43);
  // The same actor, resolved by name: one address, two references.
  CHECK(node.resolve_at(c.endpoint(), "made").get().address() == made.address());
}

// Typed references cross nodes as typed parameters and typed results (the address carries no
// class; the typed receiver supplies it).
TEST_CASE_FIXTURE(TwoCalculators, "a typed reference to an actor on a third node is a valid typed argument") {
  CHECK(calc_c.ask(&Calculator::add_via, calc_b, 5).get() == 5);
  CHECK(calc_b.ask(&Calculator::value).get() == 5);
  // A typed result naming an actor on the replying node.
  auto launcher_c = resolve<Launcher>(node, c, "launcher");
  ActorRef<Calculator> typed = launcher_c.ask(&Launcher::spawn_typed_calculator, "typed", 40).get();
  CHECK(typed.class_name() == "Calculator");
  CHECK(typed.ask(&Calculator::add, 2).get() == 42);
}

TEST_CASE("worker pool across nodes: workers on two nodes, the pool on a third, round robin") {
  Node node(test_process_config());
  auto a = NodeProcess::start({"--id", "0"});
  auto b = NodeProcess::start({"--id", "1"});
  auto c = NodeProcess::start();
  auto worker_a = resolve<Worker>(node, a, "worker");
  auto worker_b = resolve<Worker>(node, b, "worker");
  auto launcher_c = resolve<Launcher>(node, c, "launcher");

  AnyRef spawned = launcher_c.ask(&Launcher::spawn_pool, "pool", std::vector<AnyRef>{worker_a, worker_b}).get();
  auto pool = node.resolve_at<WorkerPool>(c.endpoint(), "pool").get();
  CHECK(pool.address() == spawned.address());
  CHECK(pool.ask(&WorkerPool::size).get() == 2);

  // All six in flight at once: the reentrant pool hands them out in arrival order.
  std::vector<Future<std::string>> replies;
  for (int task = 1; task <= 6; ++task) replies.push_back(pool.ask(&WorkerPool::submit, task));
  for (int task = 1; task <= 6; ++task) {
    std::string expected = "worker " + std::to_string((task - 1) % 2) + ": " + std::to_string(task) +
                           " squared is " + std::to_string(task * task);
    CHECK(replies[static_cast<std::size_t>(task - 1)].get() == expected);
  }
  CHECK(worker_a.ask(&Worker::handled).get() == 3);
  CHECK(worker_b.ask(&Worker::handled).get() == 3);
}

TEST_CASE("pipeline across nodes: each stage on its own node, the document goes through all") {
  Node node(test_process_config());
  auto a = NodeProcess::start();
  auto b = NodeProcess::start();
  auto c = NodeProcess::start();
  auto launcher_a = resolve<Launcher>(node, a, "launcher");
  auto launcher_b = resolve<Launcher>(node, b, "launcher");
  auto launcher_c = resolve<Launcher>(node, c, "launcher");

  // Built from the end, so that each stage is given the reference to the next.
  AnyRef last = launcher_c.ask(&Launcher::spawn_stage, "exclaim", "exclaim", std::nullopt).get();
  AnyRef middle = launcher_b.ask(&Launcher::spawn_stage, "upper", "upper", last).get();
  AnyRef first = launcher_a.ask(&Launcher::spawn_stage, "trim", "trim", middle).get();

  Document out = ActorRef<PipelineStage>(first).ask(&PipelineStage::process, Document{"  hello, pulsing  ", {}}).get();
  CHECK(out.text == "HELLO, PULSING!");
  CHECK(out.trail == std::vector<std::string>{"trim", "upper", "exclaim"});

  // A node's refusal (an unknown transform: std::invalid_argument) reaches the caller classified.
  auto e = expect_error<BusinessError>(
      [&] { launcher_c.ask(&Launcher::spawn_stage, "odd", "reverse", std::nullopt).get(); });
  CHECK(e.code() == 400);
  CHECK(e.message().find("reverse") != std::string::npos);
}

}  // namespace pulsing::integration
