// The membership protocol at 10 to 1,000 nodes on the simulator: joins converge, crashes are
// detected by every survivor, loss causes no false deaths, partitions heal, mass restarts
// recover. Each test prints its seed (PULSING_SIM_SEED=<seed> replays it). Timing parameters are
// the defaults (memberlist's local profile); the limits below are bounds on virtual time derived
// from them, generous on purpose: the benchmarks measure, the tests check outcomes.
#include <doctest/doctest.h>

#include <cstdlib>

#include "sim/cluster.hpp"

namespace pulsing::sim {
namespace {

using membership::EventKind;
using membership::MemberState;
using std::chrono::seconds;

// Node 0 founds the cluster; the others start during the first `spread` and join through it.
SimCluster started_cluster(std::uint64_t seed, std::size_t n, NetworkModel network = {},
                           milliseconds spread = milliseconds(1'000)) {
  SimCluster cluster(seed, n, Config{}, network);
  cluster.start(0, {});
  for (std::size_t i = 1; i < n; ++i) {
    cluster.run_for(spread / static_cast<std::int64_t>(n));
    cluster.start(i, {0});
  }
  return cluster;
}

bool gone(const SimCluster& cluster, std::size_t observer, std::size_t subject) {
  auto state = cluster.view(observer, subject);
  return !state || *state == MemberState::kDead || *state == MemberState::kLeft;
}

std::size_t count_events(const SimCluster& cluster, EventKind kind) {
  std::size_t count = 0;
  for (std::size_t i = 0; i < cluster.size(); ++i) {
    for (const auto& e : cluster.events(i)) count += e.kind == kind;
  }
  return count;
}

// 10% of packets lost, 1% duplicated, each delayed by up to 5 ms.
constexpr NetworkModel kLossy{
    .loss = 0.10, .duplicate = 0.01, .min_delay = milliseconds(0), .max_delay = milliseconds(5)};

// Crashes `victim`: every survivor sees it gone within 60 s, and no other node is ever declared
// dead. A probe round reaches the victim within seconds; the suspicion then lasts at most
// suspicion_max_multiplier × suspicion_mult × log10(n) probe intervals.
void check_crash_detected(SimCluster& cluster, std::size_t victim) {
  cluster.crash(victim);
  auto all_know = [&] {
    for (std::size_t i = 0; i < cluster.size(); ++i) {
      if (i != victim && !gone(cluster, i, victim)) return false;
    }
    return true;
  };
  CHECK(cluster.run_until(all_know, seconds(60)));
  for (std::size_t i = 0; i < cluster.size(); ++i) {
    for (const auto& e : cluster.events(i)) {
      if (e.kind == EventKind::kDead) CHECK(e.member == SimCluster::name(victim));
    }
  }
}

void check_converges(std::size_t n, std::uint64_t fallback_seed, seconds limit) {
  auto seed = sim_seed(fallback_seed);
  INFO("seed ", seed, " (PULSING_SIM_SEED replays it)");
  auto cluster = started_cluster(seed, n);
  CHECK(cluster.run_until([&] { return cluster.converged(); }, limit));
  CHECK(count_events(cluster, EventKind::kDead) == 0);
}

}  // namespace

TEST_CASE("10 nodes joining through one seed all see each other alive") { check_converges(10, 11, seconds(10)); }

TEST_CASE("100 nodes joining through one seed all see each other alive") { check_converges(100, 12, seconds(20)); }

TEST_CASE("1000 nodes joining through one seed all see each other alive") {
  check_converges(1'000, 13, seconds(60));
}

TEST_CASE("every survivor marks a crashed node dead and no other node") {
  for (std::size_t n : {10u, 100u}) {
    auto seed = sim_seed(21 + n);
    INFO("n ", n, ", seed ", seed);
    auto cluster = started_cluster(seed, n);
    REQUIRE(cluster.run_until([&] { return cluster.converged(); }, seconds(30)));
    check_crash_detected(cluster, n / 2);
  }
}

TEST_CASE("no false death among 100 nodes in 120 s of 10% packet loss") {
  auto seed = sim_seed(31);
  INFO("seed ", seed);
  auto cluster = started_cluster(seed, 100);
  REQUIRE(cluster.run_until([&] { return cluster.converged(); }, seconds(30)));
  cluster.set_network(kLossy);
  cluster.run_for(seconds(120));
  CHECK(count_events(cluster, EventKind::kDead) == 0);
  CHECK(count_events(cluster, EventKind::kLeft) == 0);
  cluster.set_network({});
  CHECK(cluster.run_until([&] { return cluster.converged(); }, seconds(30)));
}

TEST_CASE("a node paused for less than the suspicion timeout is declared dead by nobody") {
  // SIGSTOP for 1.5 s in a cluster of 8 (the chaos suite's pause-short): the others suspect the
  // paused node, and its refutation, once it continues, must reach every one of them before their
  // suspicion runs out (3 s here). Gossip alone missed some node in 27 runs of 2,000 (seeds from
  // 7,000), and 5 of these 200, without the protocol's direct answers (the suspect answers its
  // accusers; a suspicion is put to the suspect before its verdict). With them, none failed in
  // 2,000 runs at each pause of 1, 1.5, 2 and 2.5 s.
  const std::uint64_t first = sim_seed(5'000);
  int runs_with_a_death = 0;
  for (std::uint64_t seed = first; seed < first + 200; ++seed) {
    auto cluster = started_cluster(seed, 8);
    REQUIRE(cluster.run_until([&] { return cluster.converged(); }, seconds(30)));
    cluster.run_for(milliseconds(static_cast<std::int64_t>(seed % 1'000)));  // any phase of the probe rounds
    cluster.pause(7, milliseconds(1'500));
    cluster.run_for(seconds(20));
    if (count_events(cluster, EventKind::kDead) != 0) {
      ++runs_with_a_death;
      MESSAGE("seed ", seed, ": a death (PULSING_SIM_SEED=", seed, " starts the sweep there)");
    }
    CHECK(cluster.converged());
  }
  CHECK(runs_with_a_death == 0);
}

TEST_CASE("1000 nodes: 10% packet loss kills nobody, and a crash is seen by every survivor") {
  auto seed = sim_seed(41);
  INFO("seed ", seed);
  const std::size_t n = 1'000;
  SimCluster cluster(seed, n, Config{});
  cluster.start_converged();  // joins at this size have their own test
  REQUIRE(cluster.converged());
  cluster.set_network(kLossy);
  cluster.run_for(seconds(60));
  CHECK(count_events(cluster, EventKind::kDead) == 0);
  cluster.set_network({});
  check_crash_detected(cluster, 123);
}

TEST_CASE("a partitioned cluster becomes one again when the partition heals") {
  auto seed = sim_seed(41);
  INFO("seed ", seed);
  const std::size_t n = 20;
  auto cluster = started_cluster(seed, n);
  REQUIRE(cluster.run_until([&] { return cluster.converged(); }, seconds(30)));
  std::vector<int> halves(n);
  for (std::size_t i = 0; i < n; ++i) halves[i] = i < n / 2 ? 0 : 1;
  cluster.partition(halves);
  // Long enough for each side to declare the other dead and forget it (reap_after).
  cluster.run_for(seconds(90));
  CHECK(gone(cluster, 0, n - 1));
  CHECK(gone(cluster, n - 1, 0));
  cluster.heal();
  CHECK(cluster.run_until([&] { return cluster.converged(); }, seconds(60)));
}

TEST_CASE("nodes restarted after a mass crash are alive again everywhere") {
  auto seed = sim_seed(51);
  INFO("seed ", seed);
  const std::size_t n = 50;
  auto cluster = started_cluster(seed, n);
  REQUIRE(cluster.run_until([&] { return cluster.converged(); }, seconds(30)));
  SUBCASE("restarted after the others declared them dead") {
    for (std::size_t i = n / 2; i < n; ++i) cluster.crash(i);
    CHECK(cluster.run_until([&] { return cluster.node(0).live_count() == n / 2; }, seconds(60)));
    for (std::size_t i = n / 2; i < n; ++i) cluster.start(i, {0});
    CHECK(cluster.run_until([&] { return cluster.converged(); }, seconds(60)));
  }
  SUBCASE("restarted at once, while still suspected") {
    for (std::size_t i = n / 2; i < n; ++i) cluster.crash(i);
    cluster.run_for(seconds(2));
    for (std::size_t i = n / 2; i < n; ++i) cluster.start(i, {0});
    CHECK(cluster.run_until([&] { return cluster.converged(); }, seconds(60)));
  }
}

TEST_CASE("a graceful leave is reported as left and never as dead") {
  auto seed = sim_seed(61);
  INFO("seed ", seed);
  const std::size_t n = 10;
  auto cluster = started_cluster(seed, n);
  REQUIRE(cluster.run_until([&] { return cluster.converged(); }, seconds(30)));
  cluster.leave(3);
  cluster.run_for(seconds(1));
  cluster.crash(3);
  auto all_left = [&] {
    for (std::size_t i = 0; i < n; ++i) {
      if (i != 3 && cluster.view(i, 3) != MemberState::kLeft) return false;
    }
    return true;
  };
  CHECK(cluster.run_until(all_left, seconds(10)));
  CHECK(count_events(cluster, EventKind::kDead) == 0);
}

TEST_CASE("a run is reproducible from its seed") {
  auto run = [](std::uint64_t seed) {
    auto cluster = started_cluster(seed, 20, {.loss = 0.05, .duplicate = 0.05});
    cluster.run_for(seconds(5));
    cluster.crash(7);
    cluster.run_for(seconds(20));
    std::vector<std::tuple<std::int64_t, EventKind, std::string>> log;
    for (const auto& e : cluster.events(0)) log.emplace_back(e.at.time_since_epoch().count(), e.kind, e.member);
    return std::make_pair(log, cluster.packets_sent());
  };
  auto first = run(71);
  CHECK(first == run(71));
  CHECK(first != run(72));
}

}  // namespace pulsing::sim
