// Quick start: an actor with private state on the process's default node, called with ask (a
// reply) and tell (no reply), found again by its name, and called by method name with dynamic
// Values (as other processes and the CLI do). The seed's Calculator, in C++.
#include <iostream>

#include <pulsing/pulsing.hpp>

#include "expect.hpp"

// [guide:actor]
class Calculator : public pulsing::Actor {
 public:
  explicit Calculator(int initial_value = 0) : value_(initial_value) {}

  int add(int n) { return value_ += n; }
  int value() const { return value_; }

  // Names the methods other actors, processes and languages may call.
  PULSING_METHODS(Calculator, add, value)

 private:
  int value_;  // touched only by this actor's handlers, one message at a time: no lock
};
// [/guide:actor]

int main() {
  // [guide:quick-start]
  pulsing::init();  // starts the process's default node

  auto calc = Calculator::spawn({.name = "calc"}, 100).get();
  int result = calc.ask(&Calculator::add, 50).get();  // 150
  std::cout << "result: " << result << "\n";
  // [/guide:quick-start]
  expect(result == 150, "100 + 50 == 150");

  // [guide:tell]
  for (int i = 0; i < 10; ++i) calc.tell(&Calculator::add, 1);  // returns at once, no reply
  // Messages from one sender arrive in the order sent: this ask sees all ten tells.
  int total = calc.ask(&Calculator::value).get();
  // [/guide:tell]
  std::cout << "after 10 tells: " << total << "\n";
  expect(total == 160, "the ask sees every earlier tell");

  // [guide:resolve]
  auto same = Calculator::resolve("calc").get();
  // [/guide:resolve]
  std::cout << "resolve(\"calc\") finds the same actor: " << (same == calc ? "yes" : "no") << "\n";
  expect(same == calc, "the name resolves to the spawned actor");

  // [guide:by-name]
  pulsing::AnyRef untyped = calc;
  pulsing::Value reply = untyped.ask("add", {-60}).get();  // the same handler as &Calculator::add
  // [/guide:by-name]
  std::cout << "ask(\"add\", {-60}) by name: " << reply << "\n";
  expect(reply == pulsing::Value(100), "160 - 60 == 100");

  // [guide:shutdown]
  pulsing::shutdown();  // stops every actor, then the node's threads
  // [/guide:shutdown]
  std::cout << "shut down\n";
}
