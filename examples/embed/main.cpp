// An application that embeds pulsing from its installed package: it owns its nodes (no default
// node), spawns an actor, asks it, tells it, reads a stream from it, finds it again by name and
// calls it by method name, then reaches it from a second node over TCP. Each answer is checked:
// a wrong one exits with code 1, so CI (scripts/check-embed.sh) catches a broken package.
#include <cstdlib>
#include <iostream>
#include <string>
#include <string_view>
#include <vector>

#include <pulsing/pulsing.hpp>

namespace {

void expect(bool holds, std::string_view what) {
  if (holds) return;
  std::cout.flush();
  std::cerr << "embed_app: EXPECTATION FAILED: " << what << std::endl;
  std::exit(1);
}

// A running total; `ticks` streams the first n multiples of the total.
class Tally : public pulsing::Actor {
 public:
  explicit Tally(int start) : total_(start) {}

  int add(int n) { return total_ += n; }
  int total() const { return total_; }
  pulsing::Stream<int> ticks(int n) {
    for (int i = 1; i <= n; ++i) {
      int tick = i * total_;  // a named variable: see examples/token_generator.cpp
      co_yield tick;
    }
  }

  PULSING_METHODS(Tally, add, total, ticks)

 private:
  int total_;  // this actor's own: handlers run one message at a time
};

}  // namespace

int main() {
  // The application's node: a port of its own so that other nodes can reach it, no gossip (one
  // node is no cluster), two worker threads to stay light beside the application's own.
  pulsing::NodeConfig config;
  config.name = "embed";
  config.listen = "tcp://127.0.0.1:0";
  config.gossip = false;
  config.worker_threads = 2;
  pulsing::Node node(config);

  auto tally = node.spawn<Tally>({.name = "tally"}, 40).get();
  int sum = tally.ask(&Tally::add, 2).get();
  std::cout << "ask add(2): " << sum << "\n";
  expect(sum == 42, "40 + 2 == 42");

  for (int i = 0; i < 8; ++i) tally.tell(&Tally::add, 1);  // in order, before the next ask
  int total = tally.ask(&Tally::total).get();
  std::cout << "after 8 tells: " << total << "\n";
  expect(total == 50, "the ask sees the eight tells");

  std::vector<int> ticks;
  for (int tick : tally.stream(&Tally::ticks, 3)) ticks.push_back(tick);
  std::cout << "stream ticks(3): " << ticks.size() << " items, last " << (ticks.empty() ? 0 : ticks.back()) << "\n";
  expect(ticks == std::vector<int>{50, 100, 150}, "three ticks, in order");

  auto found = node.resolve<Tally>("tally").get();
  expect(found == tally, "the name resolves to the spawned actor");
  pulsing::Value by_name = node.resolve_any("tally").get().ask("add", {-8}).get();
  std::cout << "resolve(\"tally\") and ask(\"add\", {-8}) by name: " << by_name << "\n";
  expect(by_name == pulsing::Value(42), "50 - 8 == 42");

  try {
    node.resolve<Tally>("no-such-actor").get();
    expect(false, "an unknown name fails to resolve");
  } catch (const pulsing::RuntimeError& e) {
    std::cout << "resolve(\"no-such-actor\"): " << pulsing::to_string(e.kind()) << "\n";
    expect(e.kind() == pulsing::RuntimeErrorKind::kActorNotFound, "an unknown name is kActorNotFound");
  }

  // A second node in the same process stands in for another process: it reaches the actor
  // through the first node's address, over ZeroMQ and Cap'n Proto.
  pulsing::NodeConfig client_config = config;
  client_config.name = "embed-client";
  pulsing::Node client(client_config);
  auto remote = client.resolve_at<Tally>(node.endpoint(), "tally").get();
  int remote_total = remote.ask(&Tally::add, 0).get();
  std::cout << "from another node, over TCP: " << remote_total << "\n";
  expect(remote.is_remote() && remote_total == 42, "the other node sees the same total");

  client.shutdown();
  node.shutdown();
  std::cout << "embed: ok\n";
  return 0;
}
