// sim_scale: the S1 workload of bench/README.md on the cluster simulator (sim/), with the default
// timing (memberlist's local profile). From a converged, quiet cluster of N nodes:
//   steady      messages per node per second while nothing happens (probes and acks)
//   update      one node announces new metadata: gossip intervals until 99.9% and 100% of the
//               others have it (targets: 15 and 30 at 10,000 nodes)
//   crash       one node stops without a word: seconds until the first survivor suspects it,
//               the first declares it dead, and every survivor does; false deaths meanwhile
// and, up to --join-limit nodes, joins: N nodes starting within 1 s through one seed, protocol
// periods until every node sees every other alive. The run lasts --seconds of virtual time in
// all. Prints one JSON line, with the wall time and the peak RSS.
//
//   sim_scale [--nodes N] [--seconds S] [--seed X] [--join-limit N]
#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>

#include "sim/cluster.hpp"

namespace {

using pulsing::sim::SimCluster;
using pulsing::membership::EventKind;
using pulsing::membership::MemberEvent;
using std::chrono::milliseconds;

double seconds_between(pulsing::Clock::time_point a, pulsing::Clock::time_point b) {
  return std::chrono::duration<double>(b - a).count();
}

// Nodes joining through node 0 within one second: periods until each has N - 1 joined events.
double join_periods(std::uint64_t seed, std::size_t n, const pulsing::membership::Config& config) {
  SimCluster cluster(seed, n, config);
  std::vector<std::size_t> known(n, 0);
  std::size_t complete = 0;
  bool died = false;
  cluster.set_observer([&](std::size_t node, pulsing::Clock::time_point, const MemberEvent& e) {
    if (e.kind == EventKind::kJoined && ++known[node] == n - 1) ++complete;
    died |= e.kind == EventKind::kDead;
  });
  cluster.start(0, {});
  const auto t0 = cluster.now();
  for (std::size_t i = 1; i < n; ++i) {
    cluster.run_for(milliseconds(1'000) / static_cast<std::int64_t>(n));
    cluster.start(i, {0});
  }
  bool done = cluster.run_until([&] { return complete == n; }, milliseconds(120'000));
  if (!done || died) return -1;
  return seconds_between(t0, cluster.now()) / std::chrono::duration<double>(config.probe_interval).count();
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"S1: membership at scale on the simulator"};
  std::size_t n = 1'000;
  int total_seconds = 60;
  std::uint64_t seed = 1;
  std::size_t join_limit = 1'000;
  app.add_option("--nodes", n, "cluster size")->check(CLI::Range(3, 100'000));
  app.add_option("--seconds", total_seconds, "virtual seconds in all")->check(CLI::Range(30, 3'600));
  app.add_option("--seed", seed, "the run's seed");
  app.add_option("--join-limit", join_limit, "largest cluster whose joins are simulated too");
  CLI11_PARSE(app, argc, argv);

  const auto wall0 = std::chrono::steady_clock::now();
  const pulsing::membership::Config config;
  SimCluster cluster(seed, n, config);
  // What each node reported about the two nodes the workload acts on, and deaths of any other.
  const std::size_t updater = n / 3;
  const std::size_t victim = 2 * n / 3;
  std::size_t updated = 0, suspected = 0, dead = 0, false_deaths = 0;
  pulsing::Clock::time_point first_suspect{}, first_dead{}, last_dead{};
  cluster.set_observer([&](std::size_t, pulsing::Clock::time_point at, const MemberEvent& e) {
    const std::string& who = e.member.name;
    if (e.kind == EventKind::kUpdated && who == SimCluster::name(updater)) ++updated;
    if (e.kind == EventKind::kSuspect && who == SimCluster::name(victim) && suspected++ == 0) first_suspect = at;
    if (e.kind == EventKind::kDead) {
      if (who != SimCluster::name(victim)) {
        ++false_deaths;
      } else {
        if (dead++ == 0) first_dead = at;
        last_dead = at;
      }
    }
  });
  cluster.start_converged();
  const auto start = cluster.now();

  // Steady state.
  const auto steady_span = milliseconds(10'000);
  const auto packets0 = cluster.packets_sent();
  const auto bytes0 = cluster.bytes_sent();
  cluster.run_for(steady_span);
  const double steady_s = std::chrono::duration<double>(steady_span).count();
  const double msgs_per_node_s = static_cast<double>(cluster.packets_sent() - packets0) / static_cast<double>(n) / steady_s;
  const double bytes_per_node_s = static_cast<double>(cluster.bytes_sent() - bytes0) / static_cast<double>(n) / steady_s;

  // One update: counted by gossip interval.
  const auto interval = config.gossip_interval;
  const std::size_t others = n - 1;
  const auto need_999 = static_cast<std::size_t>(static_cast<double>(others) * 0.999 + 0.999999);
  cluster.update_meta(updater, {{"role", "updated"}});
  int intervals_999 = -1, intervals_all = -1;
  for (int k = 1; k <= 100 && intervals_all < 0; ++k) {
    cluster.run_for(interval);
    if (intervals_999 < 0 && updated >= need_999) intervals_999 = k;
    if (updated == others) intervals_all = k;
  }
  cluster.run_for(milliseconds(5'000));  // its gossip runs out

  // One crash.
  cluster.crash(victim);
  const auto crashed_at = cluster.now();
  const std::size_t survivors = n - 1;
  cluster.run_until([&] { return dead == survivors; }, milliseconds(60'000));
  const double detect_first = suspected ? seconds_between(crashed_at, first_suspect) : -1;
  const double dead_first = dead ? seconds_between(crashed_at, first_dead) : -1;
  const double dead_all = dead == survivors ? seconds_between(crashed_at, last_dead) : -1;
  const auto rest = std::chrono::milliseconds(total_seconds * 1'000) - (cluster.now() - start);
  if (rest > milliseconds(0)) cluster.run_for(std::chrono::duration_cast<milliseconds>(rest));
  const double virtual_s = seconds_between(start, cluster.now());
  const double wall_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - wall0).count();

  const double join = n <= join_limit ? join_periods(seed, n, config) : -1;
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  std::printf(
      "{\"workload\": \"S1\", \"system\": \"pulsing-sim\", \"nodes\": %zu, \"virtual_s\": %.0f, \"wall_s\": %.1f, "
      "\"peak_rss_mb\": %.0f, \"msgs_per_node_s\": %.2f, \"bytes_per_node_s\": %.0f, \"update_99_9_intervals\": %d, "
      "\"update_all_intervals\": %d, \"update_reached\": %zu, \"suspect_first_s\": %.2f, \"dead_first_s\": %.2f, "
      "\"dead_all_s\": %.2f, \"dead_reported_by\": %zu, \"survivors\": %zu, \"false_deaths\": %zu, "
      "\"join_converge_periods\": %.1f}\n",
      n, virtual_s, wall_s, static_cast<double>(usage.ru_maxrss) / 1024.0, msgs_per_node_s, bytes_per_node_s,
      intervals_999, intervals_all, updated, detect_first, dead_first, dead_all, dead, survivors, false_deaths, join);
  return intervals_all > 0 && dead_all >= 0 && false_deaths == 0 ? 0 : 1;
}
