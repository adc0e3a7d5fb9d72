// pulsing_test_node: one pulsing node in its own process, for the integration tests.
//
//   pulsing_test_node [--listen tcp://127.0.0.1:0] [--name NAME] [--id N]
//                     [--member NAME] [--seed HOST:PORT]... [--admin HOST:PORT] [--kinds LIST]
//
// --member names the node in the cluster (membership); --seed joins a cluster through a member;
// --admin serves the admin endpoint (/metrics, ...) there (port 0 picks one).
// --kinds: the kinds it hosts, comma-separated from Calculator(int), Worker(int) and
// SlowStart(int) ("none": no kind; default: all three), and hosts the entity kind Cart unless
// "none". It announces its load every 200 ms; --entity-idle MS passivates idle carts (default
// 60 s).
// Listens, spawns the named actors of test_actors.hpp, prints exactly one line
// "ready <endpoint>" (with --admin: "ready <endpoint> admin http://HOST:PORT") on stdout once it
// is reachable, and runs until SIGTERM or SIGINT; then shuts the node down and exits 0. Bad
// flags: a message on stderr, exit 2. A node that cannot start (say, the port is taken): a
// message on stderr, exit 1.
//
// Actors: "calc" Calculator(0), "worker" Worker(id), "producer" Producer, "launcher" Launcher
// (spawns pools, pipeline stages and more calculators, some with a bounded mailbox and a
// restart policy, on this node for the tests).
#include <signal.h>

#include <cstdio>
#include <cstdlib>
#include <exception>
#include <iostream>
#include <memory>
#include <string>
#include <string_view>

#include "admin/admin_endpoint.hpp"
#include "test_actors.hpp"

namespace {

int usage(const std::string& problem) {
  std::cerr << "pulsing_test_node: " << problem << "\n"
            << "usage: pulsing_test_node [--listen tcp://HOST:PORT] [--name NAME] [--id N] [--member NAME] "
               "[--seed HOST:PORT]... [--admin HOST:PORT] [--kinds LIST|none] [--entity-idle MS]\n";
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  using namespace pulsing;
  using namespace pulsing::integration;

  NodeConfig config;
  config.name = "test-node";
  config.listen = "tcp://127.0.0.1:0";
  config.worker_threads = 2;
  int id = 0;
  std::string admin_bind;  // empty: no admin endpoint
  std::string kinds = "Calculator,Worker,SlowStart";
  std::chrono::milliseconds entity_idle{60'000};
  config.load_announce_interval = std::chrono::milliseconds(200);
  for (int i = 1; i < argc; ++i) {
    std::string_view flag = argv[i];
    if (flag == "--help" || flag == "-h") {
      usage("runs one node for the integration tests");
      return 0;
    }
    if (flag != "--listen" && flag != "--name" && flag != "--id" && flag != "--member" && flag != "--seed" &&
        flag != "--admin" && flag != "--kinds" && flag != "--entity-idle") {
      return usage("unknown flag '" + std::string(flag) + "'");
    }
    if (i + 1 >= argc) return usage(std::string(flag) + " needs a value");
    std::string value = argv[++i];
    if (flag == "--listen") {
      if (!value.starts_with("tcp://")) return usage("--listen takes tcp://HOST:PORT, not '" + value + "'");
      config.listen = value;
    } else if (flag == "--name") {
      config.name = value;
    } else if (flag == "--member") {
      config.membership.name = value;
    } else if (flag == "--seed") {
      config.seeds.push_back(value);
    } else if (flag == "--admin") {
      admin_bind = value;
    } else if (flag == "--kinds") {
      kinds = value;
    } else if (flag == "--entity-idle") {
      entity_idle = std::chrono::milliseconds(std::atol(value.c_str()));
    } else {
      char* end = nullptr;
      long parsed = std::strtol(value.c_str(), &end, 10);
      if (value.empty() || *end != '\0' || parsed < 0 || parsed > 1'000'000) {
        return usage("--id takes a number, not '" + value + "'");
      }
      id = static_cast<int>(parsed);
    }
  }

  // Block the stop signals before any thread starts, so that every thread inherits the mask
  // and only sigwait below receives them.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGTERM);
  sigaddset(&stop_signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);

  try {
    Node node(config);
    node.spawn<Calculator>({.name = "calc"}, 0).get();
    node.spawn<Worker>({.name = "worker"}, id).get();
    node.spawn<Producer>({.name = "producer"}).get();
    node.spawn<Launcher>({.name = "launcher"}, &node).get();
    g_member_name = node.member_name();
    if (kinds != "none") node.register_entity<Cart>("Cart", {.idle_after = entity_idle});
    for (std::string_view kind : {"Calculator", "Worker", "SlowStart"}) {
      if (kinds.find(kind) == std::string::npos) continue;
      if (kind == "Calculator") node.register_kind<Calculator, int>();
      if (kind == "Worker") node.register_kind<Worker, int>();
      if (kind == "SlowStart") node.register_kind<SlowStart, int>();
    }
    std::unique_ptr<admin::AdminEndpoint> endpoint;
    if (!admin_bind.empty()) endpoint = std::make_unique<admin::AdminEndpoint>(node, admin_bind);

    // endl: flushed now
    std::cout << "ready " << node.endpoint() << (endpoint ? " admin " + endpoint->url() : std::string()) << std::endl;

    int received = 0;
    sigwait(&stop_signals, &received);
    node.shutdown();
    endpoint.reset();
  } catch (const std::exception& e) {
    std::cerr << "pulsing_test_node: " << e.what() << "\n";
    return 1;
  }
  return 0;
}
