// A cluster: three nodes that gossip on 127.0.0.1, here in one process for the example's sake
// (three processes, or three machines, work the same way). A name spawned on one node resolves
// from every node; a name served on several nodes is a pool that resolve spreads calls over; a
// reference that follows a name reaches the service wherever it runs now.
#include <chrono>
#include <functional>
#include <iostream>
#include <set>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include <pulsing/pulsing.hpp>

#include "cluster_nodes.hpp"
#include "expect.hpp"

using namespace std::chrono_literals;

class Greeter : public pulsing::Actor {
 public:
  explicit Greeter(std::string where) : where_(std::move(where)) {}
  std::string greet(const std::string& who) { return "hello " + who + ", from " + where_; }
  PULSING_METHODS(Greeter, greet)

 private:
  std::string where_;
};

std::size_t alive(const pulsing::Node& node) {
  std::size_t n = 0;
  for (const auto& m : node.members()) n += m.state == pulsing::membership::MemberState::kAlive;
  return n;
}

int main() {
  // [guide:cluster-start]
  pulsing::Node a(member_config("a", {}));
  const std::string seed = a.endpoint().substr(std::string("tcp://").size());  // "127.0.0.1:port"
  pulsing::Node b(member_config("b", {seed}));
  pulsing::Node c(member_config("c", {seed}));
  // [/guide:cluster-start]
  wait_until([&] { return alive(a) == 3 && alive(b) == 3 && alive(c) == 3; }, "three nodes see each other");
  std::cout << "three nodes, each sees 3 alive\n";

  // [guide:cluster-resolve]
  a.spawn<Greeter>({.name = "service"}, std::string("a")).get();
  auto service = c.resolve<Greeter>("service", 5s).get();  // waits up to 5 s for the name
  std::cout << service.ask(&Greeter::greet, std::string("c")).get() << "\n";
  // [/guide:cluster-resolve]
  expect(service.is_remote(), "c reaches a's service over the network");

  // [guide:cluster-pool]
  for (auto* node : {&a, &b, &c}) node->spawn<Greeter>({.name = "greeter"}, node->config().name).get();
  // [/guide:cluster-pool]
  wait_until([&] { return a.resolve_all("greeter").get().size() == 3; }, "a sees the three greeters");
  // [guide:cluster-pool-use]
  std::set<std::string> answers;
  for (int i = 0; i < 3; ++i) {  // round robin: each resolve takes the next instance
    answers.insert(a.resolve<Greeter>("greeter").get().ask(&Greeter::greet, std::string("a")).get());
  }
  // [/guide:cluster-pool-use]
  for (const auto& answer : answers) std::cout << answer << "\n";
  expect(answers.size() == 3, "round robin visited every greeter");

  // [guide:cluster-follow]
  auto pinned = c.resolve<Greeter>("service").get();  // this instance, for good
  auto following = c.follow<Greeter>("service");      // whoever serves "service" at each call
  a.stop("service").get();
  b.spawn<Greeter>({.name = "service"}, std::string("b")).get();
  // [/guide:cluster-follow]
  std::string moved;
  wait_until(
      [&] {
        try {
          moved = following.ask(&Greeter::greet, std::string("c")).get();
        } catch (const pulsing::RuntimeError&) {  // the instance it had is gone: it resolves again
        }
        return moved == "hello c, from b";
      },
      "the following reference reaches the service on b");
  std::cout << "after the move, following: " << moved << "\n";
  try {
    pinned.ask(&Greeter::greet, std::string("c")).get();
    expect(false, "the pinned reference fails");
  } catch (const pulsing::RuntimeError& e) {
    std::cout << "after the move, pinned: fails (" << pulsing::to_string(e.kind()) << ")\n";
  }
  return 0;
}
