// The UDP driver on real sockets on 127.0.0.1: what the kernel reports about a peer whose
// socket is gone (ICMP port unreachable) reaches the protocol, and costs the other peers nothing.
#include "membership/udp_driver.hpp"

#include <doctest/doctest.h>

#include <algorithm>
#include <memory>
#include <mutex>

#include "../eventually.hpp"

namespace pulsing::membership {
namespace {

using namespace std::chrono_literals;
using testing::eventually;

Config fast_config(const std::string& name) {
  Config c;
  c.name = name;
  c.cluster = "udp-driver-test";
  c.probe_interval = 100ms;
  c.probe_timeout = 30ms;
  c.gossip_interval = 20ms;
  c.push_pull_interval = 1s;
  c.join_retry_min = 50ms;
  return c;
}

std::optional<MemberState> state_of(const UdpDriver& driver, const std::string& name) {
  for (const auto& m : driver.members()) {
    if (m.name == name) return m.state;
  }
  return std::nullopt;
}

}  // namespace

TEST_CASE("a peer whose socket closed is refused by the kernel: suspected at its first probe, dead after") {
  // Declared before the driver: its thread calls the handler until it is destroyed.
  std::mutex mutex;
  std::vector<std::pair<EventKind, std::string>> events;
  auto a = std::make_unique<UdpDriver>(fast_config("a"), "127.0.0.1:0", std::vector<std::string>{});
  a->on_event([&](const MemberEvent& e) {
    std::lock_guard lock(mutex);
    events.emplace_back(e.kind, e.member.name);
  });
  a->start();
  auto b = std::make_unique<UdpDriver>(fast_config("b"), "127.0.0.1:0", std::vector<std::string>{a->address()});
  auto c = std::make_unique<UdpDriver>(fast_config("c"), "127.0.0.1:0", std::vector<std::string>{a->address()});
  b->start();
  c->start();
  REQUIRE(eventually([&] { return a->live_count() == 3 && b->live_count() == 3 && c->live_count() == 3; }, 10s));

  b->stop();  // its socket closes: datagrams to its port now draw "port unreachable"
  CHECK(eventually([&] { return state_of(*a, "b") == MemberState::kDead && state_of(*c, "b") == MemberState::kDead; },
                   20s));
  CHECK(a->stats().protocol.unreachable + c->stats().protocol.unreachable >= 1);
  // The datagrams that followed a refusal on the same socket still went out: a and c never
  // doubted each other.
  CHECK(state_of(*a, "c") == MemberState::kAlive);
  CHECK(state_of(*c, "a") == MemberState::kAlive);
  std::lock_guard lock(mutex);
  CHECK(std::count(events.begin(), events.end(), std::make_pair(EventKind::kSuspect, std::string("c"))) == 0);
}

}  // namespace pulsing::membership
