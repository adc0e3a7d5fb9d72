// Calls between real node processes on 127.0.0.1: the test process embeds a node and talks to
// pulsing_test_node children with resolve_at.
#include <string>

#include <doctest/doctest.h>

#include "integration_support.hpp"

namespace pulsing::integration {

TEST_CASE("a test node says ready with its endpoint, and exits 0 on SIGTERM and on SIGINT") {
  auto child = NodeProcess::start();
  CHECK(child.endpoint().starts_with("tcp://127.0.0.1:"));
  CHECK(child.terminate() == 0);
  CHECK_FALSE(child.running());

  auto interrupted = NodeProcess::start();
  ::kill(interrupted.pid(), SIGINT);
  CHECK(interrupted.terminate() == 0);  // SIGTERM after SIGINT is harmless: it is already stopping
}

TEST_CASE("a test node refuses bad flags with exit status 2 and prints nothing on stdout") {
  for (const auto& args : std::vector<std::vector<std::string>>{
           {"--bogus"}, {"--listen"}, {"--listen", "udp://127.0.0.1:0"}, {"--id", "x"}}) {
    CAPTURE(args.front());
    auto [status, out] = NodeProcess::run(args);
    CHECK(status == 2);
    CHECK(out.empty());
  }
}

TEST_CASE("remote ask and tell: tells arrive in order before a later ask, and calls by name work") {
  Node node(test_process_config());
  auto child = NodeProcess::start();
  auto calc = resolve<Calculator>(node, child, "calc");
  CHECK(calc.is_remote());
  CHECK(calc.class_name() == "Calculator");
  CHECK(calc.name() == "calc");

  CHECK(calc.ask(&Calculator::add, 5).get() == 5);
  for (int i = 0; i < 1000; ++i) calc.tell(&Calculator::add, 1);
  CHECK(calc.ask(&Calculator::value).get() == 1005);  // FIFO: every tell came first

  AnyRef any = calc;
  CHECK(any.ask("add", {1}).get() == Value(1006));
  any.tell("add", {10});
  CHECK(any.ask("value").get() == Value(1016));

  // Many asks in flight at once each get their own answer.
  std::vector<Future<int>> replies;
  for (int i = 0; i < 200; ++i) replies.push_back(calc.ask(&Calculator::add, 1));
  for (int i = 0; i < 200; ++i) CHECK(replies[static_cast<std::size_t>(i)].get() == 1017 + i);

  // Two children, each with its own state.
  auto other = NodeProcess::start();
  auto calc2 = resolve<Calculator>(node, other, "calc");
  CHECK(calc2.ask(&Calculator::add, 7).get() == 7);
  CHECK(calc.ask(&Calculator::value).get() == 1216);
  CHECK(node.dead_letters() == 0);
}

TEST_CASE("every error category crosses the wire with its fields") {
  Node node(test_process_config());
  auto child = NodeProcess::start();
  auto calc = resolve<Calculator>(node, child, "calc");
  AnyRef any = calc;

  SUBCASE("BusinessError keeps code, message and details") {
    auto e = expect_error<BusinessError>([&] { calc.ask(&Calculator::reject, 409).get(); });
    CHECK(e.code() == 409);
    CHECK(e.message() == "rejected");
    REQUIRE(e.details().is_map());
    CHECK(e.details().find("why")->as_text() == "test");
    CHECK(e.details().find("code")->as_int() == 409);
  }
  SUBCASE("std::invalid_argument is classified as BusinessError(400) with its message") {
    auto e = expect_error<BusinessError>([&] { calc.ask(&Calculator::divide, 0).get(); });
    CHECK(e.code() == 400);
    CHECK(e.message() == "division by zero");
    // A business error is not a crash: the actor goes on.
    CHECK(calc.ask(&Calculator::add, 3).get() == 3);
  }
  SUBCASE("SystemError keeps error and recoverable; the crashed actor (policy never) is gone") {
    auto e = expect_error<SystemError>([&] { calc.ask(&Calculator::explode).get(); });
    CHECK(e.error() == "boom");
    CHECK(e.recoverable());
    // Its name is released (soon after the reply: the actor stops after answering) ...
    REQUIRE(eventually([&] { return name_released(node, child.endpoint(), "calc"); }));
    // ... and calls through the reference fail with ActorStopped, as they would locally.
    CHECK(runtime_kind([&] { calc.ask(&Calculator::value).get(); }) == RuntimeErrorKind::kActorStopped);
  }
  SUBCASE("TimeoutError: a slow call with a short per-call timeout") {
    auto e = expect_error<TimeoutError>([&] { calc.with_timeout(200ms).ask(&Calculator::slow, 5'000).get(); });
    CHECK(e.duration_ms() == 200);
    CHECK(e.operation().find("slow") != std::string::npos);
  }
  SUBCASE("TimeoutError made on the other node arrives with operation and duration") {
    auto launcher = resolve<Launcher>(node, child, "launcher");
    AnyRef sleepy = launcher.ask(&Launcher::spawn_calculator, "sleepy", 0).get();
    auto e = expect_error<TimeoutError>([&] { calc.ask(&Calculator::slow_via, sleepy, 5'000, 150).get(); });
    CHECK(e.duration_ms() == 150);
    CHECK(e.operation().find("slow") != std::string::npos);
  }
  SUBCASE("RuntimeError kinds: unknown method, bad arguments, actor not found") {
    auto unknown = expect_error<RuntimeError>([&] { any.ask("multiply", {2}).get(); });
    CHECK(unknown.kind() == RuntimeErrorKind::kUnknownMethod);
    CHECK(std::string(unknown.what()).find("'multiply'") != std::string::npos);
    CHECK(runtime_kind([&] { any.ask("add", {"x"}).get(); }) == RuntimeErrorKind::kBadArguments);
    CHECK(runtime_kind([&] { any.ask("add", {1, 2}).get(); }) == RuntimeErrorKind::kBadArguments);
    CHECK(runtime_kind([&] { any.ask("add").get(); }) == RuntimeErrorKind::kBadArguments);
    auto missing = expect_error<RuntimeError>([&] { node.resolve_at(child.endpoint(), "nobody").get(); });
    CHECK(missing.kind() == RuntimeErrorKind::kActorNotFound);
    CHECK(std::string(missing.what()).find("'nobody'") != std::string::npos);
    // The actor still works after all of that.
    CHECK(calc.ask(&Calculator::add, 1).get() == 1);
  }
}

// After a crash (policy never), later calls fail with ActorStopped through a remote reference as
// through a local one (docs/guide.md), also once the actor is unregistered: ids are never reused.
TEST_CASE("a remote reference to an actor that crashed (policy never) fails with ActorStopped, as a local one") {
  Node node(test_process_config());
  auto child = NodeProcess::start();
  auto calc = resolve<Calculator>(node, child, "calc");
  CHECK_THROWS_AS(calc.ask(&Calculator::explode).get(), SystemError);
  REQUIRE(eventually([&] { return name_released(node, child.endpoint(), "calc"); }));
  CHECK(runtime_kind([&] { calc.ask(&Calculator::value).get(); }) == RuntimeErrorKind::kActorStopped);
}

}  // namespace pulsing::integration
