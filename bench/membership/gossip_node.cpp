// gossip_node: one pulsing node for the membership workloads M1–M4 (bench/membership/harness.py).
// It listens on 127.0.0.1:<port> (ZeroMQ over TCP, gossip over UDP on the same number), joins
// through the seeds, and prints each membership event as one JSON line on stdout:
//   {"event":"joined","peer":"node3","alive":4,"t_ns":123456789}
// `alive` counts the members this node sees alive, itself included; t_ns is the monotonic clock
// (shared by every process on the machine). The first line is {"event":"started",...}. SIGTERM
// or SIGINT makes it leave the cluster gracefully and exit.
//
//   gossip_node --port P --name NAME [--seed host:port]... [--bind 127.0.0.1] [--key HEX]
#include <csignal>
#include <cstdio>
#include <mutex>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>
#include <pulsing/pulsing.hpp>

namespace {

std::mutex output_mutex;

void print_event(std::string_view event, const std::string& peer, std::size_t alive) {
  auto t_ns = std::chrono::duration_cast<std::chrono::nanoseconds>(pulsing::Clock::now().time_since_epoch()).count();
  std::lock_guard lock(output_mutex);
  std::printf("{\"event\":\"%.*s\",\"peer\":\"%s\",\"alive\":%zu,\"t_ns\":%lld}\n", static_cast<int>(event.size()),
              event.data(), peer.c_str(), alive, static_cast<long long>(t_ns));
  std::fflush(stdout);
}

std::size_t count_alive(const pulsing::Node& node) {
  std::size_t alive = 0;
  for (const auto& m : node.members()) alive += m.state == pulsing::membership::MemberState::kAlive;
  return alive;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"A pulsing node that prints its membership events as JSON lines"};
  int port = 0;
  std::string name;
  std::string bind = "127.0.0.1";
  std::vector<std::string> seeds;
  app.add_option("--port", port, "TCP and UDP port")->required()->check(CLI::Range(1, 65535));
  app.add_option("--name", name, "member name, unique in the cluster")->required();
  app.add_option("--seed", seeds, "host:port of a member to join through (repeatable)");
  app.add_option("--bind", bind, "the address to listen on");
  std::string key;
  app.add_option("--key", key, "a cluster key, 64 hex digits: gossip is sealed with it");
  CLI11_PARSE(app, argc, argv);

  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGTERM);
  sigaddset(&stop_signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);  // before any thread starts: they inherit it

  pulsing::NodeConfig config;
  config.name = name;
  config.worker_threads = 1;
  config.listen = "tcp://" + bind + ":" + std::to_string(port);
  config.seeds = seeds;
  config.membership.name = name;
  if (!key.empty()) {
    config.cluster_keys = std::make_shared<const pulsing::security::Keyring>(
        std::vector<pulsing::security::ClusterKey>{pulsing::security::ClusterKey::parse(key)});
  }
  pulsing::Node node(config);
  node.on_member_event([&node](const pulsing::membership::MemberEvent& e) {
    print_event(pulsing::membership::to_string(e.kind), e.member.name, count_alive(node));
  });
  print_event("started", name, count_alive(node));

  int signal = 0;
  sigwait(&stop_signals, &signal);
  node.shutdown();
  return 0;
}
