// Calls between two nodes over real sockets on 127.0.0.1 (both nodes in this process; the
// multi-process tests are in tests/integration).
#include <stdexcept>
#include <string>

#include <doctest/doctest.h>

#include "test_support.hpp"

namespace pulsing {
namespace {

using namespace std::chrono_literals;
using testing::eventually;

class Calculator : public Actor {
 public:
  explicit Calculator(int initial = 0) : value_(initial) {}
  int add(int n) { return value_ += n; }
  int value() const { return value_; }
  int divide(int by) {
    if (by == 0) throw std::invalid_argument("division by zero");
    return value_ / by;
  }
  int explode() { throw std::runtime_error("boom"); }
  int reject(int code) { throw BusinessError(code, "rejected", Value::Map{{"why", "test"}}); }
  Task<int> slow(int ms) {
    co_await sleep_for(std::chrono::milliseconds(ms));
    co_return ms;
  }
  PULSING_METHODS(Calculator, add, value, divide, explode, reject, slow)

 private:
  int value_;
};

NodeConfig networked(std::string name) {
  NodeConfig config = testing::test_config();
  config.name = std::move(name);
  config.listen = "tcp://127.0.0.1:0";
  config.transport.connect_timeout = 500ms;
  config.transport.heartbeat_interval = 100ms;
  config.transport.heartbeat_timeout = 500ms;
  return config;
}

}  // namespace

TEST_CASE("a class's method table is its own, even beside a same-named class in another file") {
  // actor_test.cpp has another Calculator in its anonymous namespace; g++ once merged the two
  // tables' entries (pointer template arguments), and calls by name reached the wrong class.
  const MethodEntry* add = Calculator::pulsing_method_table().find(&Calculator::add);
  REQUIRE(add != nullptr);
  CHECK(add->pointer<int (Calculator::*)(int)>() == &Calculator::add);
  CHECK(Calculator::pulsing_method_table().find(&Calculator::slow) != nullptr);
}

TEST_CASE("a node listens on a free port and reports it") {
  Node node(networked("a"));
  CHECK(node.endpoint().starts_with("tcp://127.0.0.1:"));
  Node local(testing::test_config());
  CHECK(local.endpoint().empty());
  auto e = testing::expect_error<RuntimeError>([&] { local.resolve_at("tcp://127.0.0.1:1", "x").get(); });
  CHECK(e.kind() == RuntimeErrorKind::kNodeUnreachable);
}

TEST_CASE("resolve_at reaches a named actor on another node, and asks and tells work as locally") {
  Node a(networked("a"));
  Node b(networked("b"));
  b.spawn<Calculator>({.name = "calc"}, 100).get();

  auto calc = a.resolve_at<Calculator>(b.endpoint(), "calc").get();
  CHECK(calc.is_remote());
  CHECK(calc.class_name() == "Calculator");
  CHECK(calc.ask(&Calculator::add, 50).get() == 150);
  for (int i = 0; i < 100; ++i) calc.tell(&Calculator::add, 1);
  CHECK(calc.ask(&Calculator::value).get() == 250);  // FIFO: the tells came first
  AnyRef any = calc;
  CHECK(any.ask("add", {1}).get() == Value(251));
}

TEST_CASE("errors keep their category and fields across the wire") {
  Node a(networked("a"));
  Node b(networked("b"));
  b.spawn<Calculator>({.name = "calc"}, 10).get();
  auto calc = a.resolve_at<Calculator>(b.endpoint(), "calc").get();

  auto business = testing::expect_error<BusinessError>([&] { calc.ask(&Calculator::reject, 409).get(); });
  CHECK(business.code() == 409);
  CHECK(business.message() == "rejected");
  CHECK(business.details().find("why")->as_text() == "test");
  CHECK(testing::expect_error<BusinessError>([&] { calc.ask(&Calculator::divide, 0).get(); }).code() == 400);
  auto unknown = testing::expect_error<RuntimeError>([&] { AnyRef(calc).ask("multiply", {2}).get(); });
  CHECK(unknown.kind() == RuntimeErrorKind::kUnknownMethod);
  CHECK(std::string(unknown.what()).find("'multiply'") != std::string::npos);
  auto bad = testing::expect_error<RuntimeError>([&] { AnyRef(calc).ask("add", {"x"}).get(); });
  CHECK(bad.kind() == RuntimeErrorKind::kBadArguments);
  auto timeout = testing::expect_error<TimeoutError>(
      [&] { calc.with_timeout(100ms).ask(&Calculator::slow, 5'000).get(); });
  CHECK(timeout.duration_ms() == 100);
  auto system = testing::expect_error<SystemError>([&] { calc.ask(&Calculator::explode).get(); });
  CHECK(system.error() == "boom");
  CHECK(system.recoverable());
  // The crash stopped it (policy never): the next call says so.
  auto stopped = testing::expect_error<RuntimeError>([&] { calc.ask(&Calculator::value).get(); });
  CHECK(stopped.kind() == RuntimeErrorKind::kActorNotFound);
}

TEST_CASE("resolving an unknown name on another node fails with ActorNotFound naming both") {
  Node a(networked("a"));
  Node b(networked("b"));
  auto e = testing::expect_error<RuntimeError>([&] { a.resolve_at(b.endpoint(), "nobody").get(); });
  CHECK(e.kind() == RuntimeErrorKind::kActorNotFound);
  CHECK(std::string(e.what()).find("'nobody'") != std::string::npos);
  CHECK(std::string(e.what()).find(b.endpoint()) != std::string::npos);
}

TEST_CASE("calls to a node that is gone fail with NodeUnreachable, and tells become dead letters") {
  Node a(networked("a"));
  auto b = std::make_unique<Node>(networked("b"));
  b->spawn<Calculator>({.name = "calc"}).get();
  auto calc = a.resolve_at<Calculator>(b->endpoint(), "calc").get();
  CHECK(calc.ask(&Calculator::add, 1).get() == 1);
  auto pending = calc.ask(&Calculator::slow, 10'000);  // in flight when b goes away
  b.reset();
  auto lost = testing::expect_error<RuntimeError>([&] { pending.get(); });
  CHECK(lost.kind() == RuntimeErrorKind::kNodeUnreachable);
  REQUIRE(eventually([&] {
    try {
      calc.ask(&Calculator::add, 1).get();
      return false;
    } catch (const RuntimeError& e) {
      return e.kind() == RuntimeErrorKind::kNodeUnreachable;
    }
  }));
  auto before = a.dead_letters();
  calc.tell(&Calculator::add, 1);
  CHECK(a.dead_letters() == before + 1);
}

TEST_CASE("a node that never answers is unreachable within the connect timeout") {
  Node a(networked("a"));
  std::string vacant;
  {
    Node gone(networked("gone"));
    vacant = gone.endpoint();
  }
  auto e = testing::expect_error<RuntimeError>([&] { a.resolve_at(vacant, "calc", 10s).get(); });
  CHECK(e.kind() == RuntimeErrorKind::kNodeUnreachable);
  CHECK(std::string(e.what()).find(vacant) != std::string::npos);
}

}  // namespace pulsing
