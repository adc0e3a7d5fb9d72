// Node::stats(): the counters operators read (the admin endpoint's /metrics) follow what the
// node's actors did.
#include <doctest/doctest.h>

#include <stdexcept>

#include "test_support.hpp"

namespace pulsing::testing {
namespace {

class Moody : public Actor {
 public:
  int fine(int n) { return n; }
  int refuse(int) { throw std::invalid_argument("no"); }  // a business error
  int crash(int) { throw std::runtime_error("boom"); }     // a system error: a crash
  PULSING_METHODS(Moody, fine, refuse, crash)
};

TEST_CASE("node stats count messages handled, errors by category and restarts") {
  Node node(test_config());
  SpawnOptions options{.name = "moody",
                      .supervision = {.policy = RestartPolicy::kOnFailure, .min_backoff = std::chrono::milliseconds(1)}};
  auto moody = node.spawn<Moody>(options).get();
  for (int i = 0; i < 3; ++i) CHECK(moody.ask(&Moody::fine, i).get() == i);
  expect_error<BusinessError>([&] { moody.ask(&Moody::refuse, 1).get(); });
  expect_error<SystemError>([&] { moody.ask(&Moody::crash, 1).get(); });
  CHECK(eventually([&] { return node.stats().restarts == 1; }));
  CHECK(moody.ask(&Moody::fine, 7).get() == 7);  // served by the new instance

  // A turn counts its messages when it ends, which may be just after its last reply arrived.
  CHECK(eventually([&] { return node.stats().messages_handled == 6; }));
  NodeStats stats = node.stats();
  CHECK(stats.handler_errors[static_cast<std::size_t>(ErrorCategory::kBusiness)] == 1);
  CHECK(stats.handler_errors[static_cast<std::size_t>(ErrorCategory::kSystem)] == 1);
  CHECK(stats.handler_errors[static_cast<std::size_t>(ErrorCategory::kTimeout)] == 0);
  CHECK(stats.actors == 1);
  CHECK(stats.queued == 0);
  CHECK(stats.asks_out == 0);  // nothing crossed a network: the node has none
  CHECK(stats.transport.envelopes_sent == 0);
}

TEST_CASE("node stats count the calls that cross the network, each way") {
  NodeConfig config = test_config();
  config.listen = "tcp://127.0.0.1:0";
  config.gossip = false;
  Node server(config);
  Node client(config);
  server.spawn<Moody>({.name = "moody"}).get();
  auto remote = client.resolve_at<Moody>(server.endpoint(), "moody").get();
  CHECK(remote.ask(&Moody::fine, 1).get() == 1);
  remote.tell(&Moody::fine, 2);
  CHECK(eventually([&] { return server.stats().messages_handled == 2; }));

  CHECK(client.stats().asks_out == 1);
  CHECK(client.stats().tells_out == 1);
  CHECK(server.stats().asks_in == 1);
  CHECK(server.stats().tells_in == 1);
  CHECK(server.stats().transport.envelopes_received >= 3);  // the resolve, the ask, the tell
}

}  // namespace
}  // namespace pulsing::testing
