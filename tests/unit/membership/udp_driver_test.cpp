// The UDP driver on real sockets on 127.0.0.1: what the kernel reports about a peer whose
// socket is gone (ICMP port unreachable) reaches the protocol, and costs the other peers nothing;
// members addressed by host name ("localhost") are reached, and numeric sources are remembered
// nowhere.
#include "membership/udp_driver.hpp"

#include <doctest/doctest.h>

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <string>
#include <vector>

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

TEST_CASE("members addressed by host name are reached, and a suspect's name is looked up again") {
  auto a = std::make_unique<UdpDriver>(fast_config("a"), "127.0.0.1:0", std::vector<std::string>{});
  a->start();
  // b advertises "localhost:PORT" and joins through a seed given by name: both sides look up.
  auto b = std::make_unique<UdpDriver>(fast_config("b"), "localhost:0",
                                       std::vector<std::string>{"localhost:" + std::to_string(a->port())});
  REQUIRE(b->address().starts_with("localhost:"));
  b->start();
  REQUIRE(eventually([&] { return a->live_count() == 2 && b->live_count() == 2; }, 10s));
  CHECK(b->stats().lookups >= 1);  // its seed
  // a answered b's join at its source; its probes go to b's name, and are answered (the one
  // that waited for the lookup may have failed: it was dropped).
  CHECK(eventually([&] {
    auto s = a->stats();
    return s.lookups >= 1 && s.protocol.probes >= s.protocol.failed_probes + 3;
  }, 10s));
  CHECK(a->stats().addresses_cached == 1);  // "localhost:PORT" of b, nothing numeric

  // b goes: it becomes suspect, which marks its answer for a fresh lookup. Its process comes
  // back at the same name (a container recreated): a reaches it again, and the datagrams to it
  // look its name up again (no sooner than 1 s after the previous lookup), although the 30 s of
  // the answer have not passed.
  const auto lookups = a->stats().lookups;
  const std::uint16_t b_port = b->port();
  b->stop();
  REQUIRE(eventually([&] { return state_of(*a, "b") == MemberState::kDead; }, 20s));
  b = std::make_unique<UdpDriver>(fast_config("b"), "localhost:" + std::to_string(b_port),
                                  std::vector<std::string>{"localhost:" + std::to_string(a->port())});
  b->start();
  CHECK(eventually([&] { return state_of(*a, "b") == MemberState::kAlive && a->stats().lookups > lookups; }, 10s));
  CHECK(a->stats().addresses_cached == 1);
}

TEST_CASE("the sources a driver answers are not remembered") {
  auto a = std::make_unique<UdpDriver>(fast_config("a"), "127.0.0.1:0", std::vector<std::string>{});
  a->start();
  sockaddr_in to{};
  to.sin_family = AF_INET;
  to.sin_port = htons(a->port());
  to.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  // 200 sources, each a socket of its own (a port of its own): each pings a, which acks it.
  constexpr int kSources = 200;
  std::vector<int> sockets;
  for (std::uint32_t i = 0; i < kSources; ++i) {
    int fd = ::socket(AF_INET, SOCK_DGRAM, 0);
    REQUIRE(fd >= 0);
    sockets.push_back(fd);
    auto bytes = encode(Packet{"udp-driver-test", {Ping{i, "a"}}});
    REQUIRE(::sendto(fd, bytes.data(), bytes.size(), 0, reinterpret_cast<const sockaddr*>(&to), sizeof to) ==
            static_cast<ssize_t>(bytes.size()));
  }
  CHECK(eventually([&] { return a->stats().datagrams_sent >= kSources; }, 10s));
  // Every source got its ack...
  std::size_t answered = 0;
  CHECK(eventually([&] {
    for (int& fd : sockets) {
      std::array<std::byte, 512> ack;
      if (fd >= 0 && ::recv(fd, ack.data(), ack.size(), MSG_DONTWAIT) > 0) {
        ++answered;
        ::close(fd);
        fd = -1;
      }
    }
    return answered == kSources;
  }, 10s));
  for (int fd : sockets) {
    if (fd >= 0) ::close(fd);
  }
  // ... and none of them was kept: numeric addresses are parsed at each send, not cached.
  CHECK(a->stats().addresses_cached == 0);
  CHECK(a->stats().lookups == 0);
  CHECK(a->stats().unresolved == 0);
}

TEST_CASE("update_meta refuses metadata too large to gossip at once, in the caller's thread") {
  Config c = fast_config("node-meta");
  c.meta = {{"role", "worker"}};
  auto driver = std::make_unique<UdpDriver>(c, "127.0.0.1:0", std::vector<std::string>{});
  driver->start();
  Metadata huge;
  for (int i = 0; i < 20; ++i) huge["tag-" + std::to_string(i)] = std::string(40, 'x');
  CHECK_THROWS_AS(driver->update_meta(huge), std::invalid_argument);
  const auto self = driver->members().front();  // this node comes first
  CHECK(self.name == "node-meta");
  CHECK(self.meta == c.meta);

  // And a driver does not start with it.
  c.meta = huge;
  CHECK_THROWS_AS(UdpDriver(c, "127.0.0.1:0", {}), std::invalid_argument);
}

}  // namespace pulsing::membership
