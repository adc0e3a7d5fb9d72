// `pulsing node`: one node of a cluster in this process, until SIGTERM or SIGINT. It gossips,
// serves the node service (so that client commands can reach the cluster through it), hosts the
// built-in services it is told to, and serves the admin endpoint. On SIGTERM it reports not
// ready, leaves the cluster gracefully (the others see "left", not "dead"), lets its actors
// finish their work (NodeConfig::shutdown_grace), and exits 0. On SIGHUP it reads its cluster
// key file again (a step of a key rotation).
//
// Every setting comes from, in order of precedence: its flag, its environment variable, the
// config file (`key = value` lines with the flags' names), its default.
#include <signal.h>

#include <cstdio>
#include <fstream>
#include <iostream>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "admin/admin_endpoint.hpp"
#include "admin/host_port.hpp"
#include "admin/node_service.hpp"
#include "cli/client.hpp"
#include "cli/commands.hpp"
#include "cli/services.hpp"
#include "common/log.hpp"
#include "messaging/host_lookup.hpp"
#include "runtime/node.hpp"
#include "security/key_file.hpp"

namespace pulsing::cli {
namespace {

struct NodeOptions {
  std::string listen = "127.0.0.1:7000";
  std::string advertise;
  std::vector<std::string> seeds;
  std::string name;
  std::string admin;
  std::string services;
  std::string kinds = "all";
  std::string cluster = "pulsing";
  std::size_t workers = 0;
  std::string log_level = "info";
  std::string cluster_key_file;
  std::string authorized_clients;
  std::string replay_window = "30s";
  std::string admin_token_file;
  bool insecure = false;
  std::string config;
};

// Reads `key = value` lines ('#' starts a comment; a value may be quoted) into the options the
// command line and the environment left unset.
void apply_config_file(CLI::App& sub, const std::string& path) {
  std::ifstream in(path);
  if (!in) throw CliError(kUsage, fmt::format("cannot read the config file '{}'", path));
  std::string line;
  for (int number = 1; std::getline(in, line); ++number) {
    auto trim = [](std::string s) {
      auto begin = s.find_first_not_of(" \t\r");
      auto end = s.find_last_not_of(" \t\r");
      return begin == std::string::npos ? std::string() : s.substr(begin, end - begin + 1);
    };
    line = trim(line.substr(0, line.find('#')));
    if (line.empty()) continue;
    auto equals = line.find('=');
    if (equals == std::string::npos) {
      throw CliError(kUsage, fmt::format("{}:{}: expected 'key = value', got '{}'", path, number, line));
    }
    std::string key = trim(line.substr(0, equals));
    std::string value = trim(line.substr(equals + 1));
    if (value.size() >= 2 && value.front() == '"' && value.back() == '"') value = value.substr(1, value.size() - 2);
    CLI::Option* option = key == "config" ? nullptr : sub.get_option_no_throw("--" + key);
    if (option == nullptr) {
      throw CliError(kUsage, fmt::format("{}:{}: unknown setting '{}' (the settings are the flags of `pulsing node "
                                         "--help`, without the dashes)",
                                         path, number, key));
    }
    if (option->count() == 0) {
      option->add_result(value);
      option->run_callback();
    }
  }
}

std::vector<std::string> split_list(const std::vector<std::string>& items) {
  std::vector<std::string> out;
  for (const auto& item : items) {
    std::size_t start = 0;
    while (start <= item.size()) {
      auto comma = item.find(',', start);
      std::string part = item.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
      if (!part.empty()) out.push_back(part);
      if (comma == std::string::npos) break;
      start = comma + 1;
    }
  }
  return out;
}

admin::HostPort host_port(const std::string& text, const char* flag) {
  try {
    return admin::split_host_port(text);
  } catch (const std::invalid_argument&) {
    throw CliError(kUsage, fmt::format("{} takes HOST:PORT, like 127.0.0.1:7000, not '{}'", flag, text));
  }
}

// Secure by default: a node that other machines can reach refuses to start unprotected. Without
// a cluster key anyone who reaches its port could join the cluster (loopback is the quick
// developer mode, out of their reach); an admin endpoint they can reach needs a token.
// --insecure starts it anyway, with a warning.
void refuse_insecure_exposure(const NodeOptions& options, const admin::HostPort& listen, bool keyed,
                              const std::string& admin_bind, bool admin_exposed, bool admin_token) {
  std::vector<std::string> problems;
  if (!keyed && !is_loopback_host(listen.host)) {
    problems.push_back(fmt::format("--listen {} is reachable from other machines, and without a cluster key "
                                   "anyone there can join the cluster: give --cluster-key-file FILE "
                                   "(`pulsing keygen FILE` makes one; every node needs the same)",
                                   options.listen));
  }
  if (admin_exposed && !admin_token) {
    problems.push_back(fmt::format("--admin {} is reachable from other machines: give --admin-token-file FILE, or "
                                   "keep the admin endpoint on 127.0.0.1",
                                   admin_bind));
  }
  if (problems.empty()) return;
  if (!options.insecure) {
    throw CliError(kUsage, fmt::format("{} (or --insecure to start unprotected anyway)", fmt::join(problems, "; ")));
  }
  for (const auto& problem : problems) log().warn("--insecure: starting anyway, unprotected: {}", problem);
}

// SIGHUP: the key file is read again and its keys replace the node's (a step of a rolling
// rotation), and so is the authorized-clients file. A file that cannot be read leaves what is
// in use as it is.
void reload_keys(Node& node, const NodeOptions& options, const std::string& name) {
  if (node.cluster_keys() == nullptr) {  // started without --cluster-key-file
    log().warn("pulsing node {}: SIGHUP ignored: this node runs without a cluster key", name);
    return;
  }
  try {
    auto keys = std::make_shared<const security::Keyring>(security::read_key_file(options.cluster_key_file));
    node.set_cluster_keys(keys);
    std::vector<std::string> ids;
    for (const auto& key : keys->keys()) ids.push_back(key.id());
    log().info("pulsing node {}: cluster keys reloaded from {}: primary {}, ring [{}]", name,
               options.cluster_key_file, keys->primary().id(), fmt::join(ids, ", "));
  } catch (const security::KeyError& e) {
    log().error("pulsing node {}: cluster keys not reloaded, the keys in use stay: {}", name, e.what());
  }
  if (options.authorized_clients.empty()) return;
  try {
    auto clients = security::read_authorized_clients(options.authorized_clients);
    const std::size_t count = clients.size();
    node.set_authorized_clients(std::move(clients));
    log().info("pulsing node {}: authorized clients reloaded from {}: {} client{}", name, options.authorized_clients,
               count, count == 1 ? "" : "s");
  } catch (const security::KeyError& e) {
    log().error("pulsing node {}: authorized clients not reloaded, the list in use stays: {}", name, e.what());
  }
}

int run_node(const NodeOptions& options) {
  const admin::HostPort listen = host_port(options.listen, "--listen");
  if (!options.advertise.empty()) host_port(options.advertise, "--advertise");
  if (options.advertise.empty() && is_wildcard_host(listen.host)) {
    throw CliError(kUsage, fmt::format("--listen {} listens on every interface, which is no address for other nodes "
                                       "to reach this one at: set --advertise HOST:PORT (PULSING_ADVERTISE) too",
                                       options.listen));
  }
  std::vector<std::string> seeds = split_list(options.seeds);
  for (const auto& seed : seeds) host_port(seed, "--seeds");
  std::string admin_bind = options.admin;
  if (admin_bind.empty()) {
    // Loopback, beside the node's port (so that several nodes on one host do not collide): the
    // endpoint shows the cluster's inner workings, and is for this machine unless asked.
    admin_bind = admin::join_host_port("127.0.0.1", listen.port == 0 ? 0 : static_cast<std::uint16_t>(listen.port + 1000));
  }
  const bool admin_on = admin_bind != "off";
  const bool admin_exposed = admin_on && !is_loopback_host(host_port(admin_bind, "--admin").host);
  std::vector<ServiceSpec> services;
  std::vector<std::string> kinds;
  try {
    services = parse_services(options.services);
  } catch (const std::invalid_argument& e) {
    throw CliError(kUsage, fmt::format("--services: {}", e.what()));
  }
  try {
    kinds = parse_kinds(options.kinds);
  } catch (const std::invalid_argument& e) {
    throw CliError(kUsage, fmt::format("--kinds: {}", e.what()));
  }

  std::shared_ptr<const security::Keyring> keys;
  std::vector<security::AuthorizedClient> clients;
  std::string admin_token;
  const char* reading = "--cluster-key-file";
  try {
    if (!options.cluster_key_file.empty()) {
      keys = std::make_shared<const security::Keyring>(security::read_key_file(options.cluster_key_file));
    }
    reading = "--authorized-clients";
    if (!options.authorized_clients.empty()) {
      if (keys == nullptr) {
        throw CliError(kUsage, "--authorized-clients needs --cluster-key-file: without a key every caller is "
                               "admitted, and no client list means anything");
      }
      clients = security::read_authorized_clients(options.authorized_clients);
    }
    reading = "--admin-token-file";
    if (!options.admin_token_file.empty()) admin_token = security::read_token_file(options.admin_token_file);
  } catch (const security::KeyError& e) {
    throw CliError(kUsage, fmt::format("{}: {}", reading, e.what()));
  }
  refuse_insecure_exposure(options, listen, keys != nullptr, admin_bind, admin_exposed, !admin_token.empty());

  log().set_level(spdlog::level::from_str(options.log_level));

  NodeConfig config;
  config.name = options.name.empty() ? "pulsing" : options.name;
  config.listen = "tcp://" + options.listen;
  if (!options.advertise.empty()) config.advertise = "tcp://" + options.advertise;
  config.seeds = seeds;
  config.worker_threads = options.workers;
  config.membership.name = options.name;
  config.membership.cluster = options.cluster;
  config.cluster_keys = keys;
  config.authorized_clients = std::move(clients);
  config.gossip_seal.replay_window_ms =
      static_cast<std::uint64_t>(parse_duration(options.replay_window, "--replay-window").count());

  // Block the stop signals before any thread starts, so that every thread inherits the mask and
  // only sigwait below receives them.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGTERM);
  sigaddset(&stop_signals, SIGINT);
  sigaddset(&stop_signals, SIGHUP);  // not a stop: reload the cluster key file
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);

  std::unique_ptr<Node> node;
  try {
    node = std::make_unique<Node>(config);
  } catch (const std::exception& e) {
    throw CliError(kFailed, fmt::format("cannot start a node on {}: {}", options.listen, e.what()));
  }
  admin::NodeService::serve(*node).get();
  register_service_kinds(*node, kinds);
  for (const auto& spec : services) spawn_service(*node, spec);
  std::unique_ptr<admin::AdminEndpoint> endpoint;
  if (admin_on) {
    try {
      endpoint = std::make_unique<admin::AdminEndpoint>(*node, admin_bind, std::move(admin_token));
    } catch (const std::exception& e) {
      throw CliError(kFailed, fmt::format("cannot serve the admin endpoint on {}: {} (choose another with --admin, "
                                          "or --admin off)",
                                          admin_bind, e.what()));
    }
  }

  std::vector<std::string> served;
  for (const auto& spec : services) served.push_back(spec.name == spec.kind ? spec.name : spec.name + "=" + spec.kind);
  const std::string name = node->member_name();
  std::fprintf(stderr, "pulsing node %s: listening on %s, seeds [%s], services [%s]\n", name.c_str(),
               node->endpoint().c_str(), fmt::format("{}", fmt::join(seeds, ", ")).c_str(),
               fmt::format("{}", fmt::join(served, ", ")).c_str());
  if (keys != nullptr) {
    std::fprintf(stderr, "pulsing node %s: gossip sealed with cluster key %s (%zu key%s in the ring)\n", name.c_str(),
                 keys->primary().id().c_str(), keys->keys().size(), keys->keys().size() == 1 ? "" : "s");
    std::fprintf(stderr, "pulsing node %s: connections encrypted (CURVE); %zu authorized client%s\n", name.c_str(),
                 config.authorized_clients.size(), config.authorized_clients.size() == 1 ? "" : "s");
  } else {
    std::fprintf(stderr, "pulsing node %s: no cluster key: gossip is not sealed (give --cluster-key-file; "
                 "`pulsing keygen FILE` makes one)\n", name.c_str());
  }
  std::cout << "ready " << node->endpoint() << (endpoint ? " admin " + endpoint->url() : std::string()) << std::endl;

  int received = 0;
  while (sigwait(&stop_signals, &received) == 0 && received == SIGHUP) reload_keys(*node, options, name);
  std::fprintf(stderr, "pulsing node %s: %s received, leaving the cluster\n", name.c_str(),
               received == SIGTERM ? "SIGTERM" : "SIGINT");
  if (endpoint) endpoint->set_draining();
  node->shutdown();  // leaves gracefully, then stops the actors
  endpoint.reset();
  std::fprintf(stderr, "pulsing node %s: stopped\n", name.c_str());
  return kOk;
}

}  // namespace

void add_node_command(CLI::App& app, Command& chosen) {
  auto options = std::make_shared<NodeOptions>();
  CLI::App* sub = app.add_subcommand("node", "run a node until SIGTERM or SIGINT (then it leaves the cluster gracefully)");
  sub->add_option("--listen", options->listen, "where to listen, HOST:PORT (TCP for calls, UDP for gossip)")
      ->envname("PULSING_LISTEN")
      ->capture_default_str();
  sub->add_option("--advertise", options->advertise,
                  "the HOST:PORT others reach this node at, when it differs from --listen (NAT, containers)")
      ->envname("PULSING_ADVERTISE");
  sub->add_option("--seeds", options->seeds, "members to join through, HOST:PORT, comma separated (none: found a cluster)")
      ->envname("PULSING_SEEDS");
  sub->add_option("--name", options->name, "this node's name in the cluster (default: its advertised HOST:PORT)")
      ->envname("PULSING_NAME");
  sub->add_option("--admin", options->admin, "the admin HTTP endpoint, HOST:PORT or 'off' (default: 127.0.0.1, the listen port + 1000)")
      ->envname("PULSING_ADMIN");
  sub->add_option("--services", options->services,
                  "built-in services to host, KIND or NAME=KIND, comma separated; kinds: echo, calculator, counter, kv, tokens")
      ->envname("PULSING_SERVICES");
  sub->add_option("--kinds", options->kinds,
                  "kinds other nodes and `pulsing spawn` may spawn here, and the entity kind cart: all, none, or "
                  "comma separated from echo, calculator, counter, kv, tokens, cart")
      ->envname("PULSING_KINDS")
      ->capture_default_str();
  sub->add_option("--cluster", options->cluster, "the cluster's name: nodes of other clusters are ignored")
      ->envname("PULSING_CLUSTER")
      ->capture_default_str();
  sub->add_option("--workers", options->workers, "threads that run actors (0: one per core)")
      ->envname("PULSING_WORKERS")
      ->capture_default_str();
  sub->add_option("--log-level", options->log_level, "what the node logs on stderr: debug, info, warn, error, off")
      ->envname("PULSING_LOG_LEVEL")
      ->check(CLI::IsMember({"trace", "debug", "info", "warn", "error", "critical", "off"}))
      ->capture_default_str();
  sub->add_option("--cluster-key-file", options->cluster_key_file,
                  "the cluster key (`pulsing keygen FILE` makes one; mode 0600): gossip is sealed with it, and "
                  "only nodes holding it are heard")
      ->envname("PULSING_CLUSTER_KEY_FILE");
  sub->add_option("--authorized-clients", options->authorized_clients,
                  "with a key: a file of 'operator|observer PUBLIC-KEY [name]' lines, the clients admitted "
                  "besides the nodes (`pulsing keygen --client` makes a client key); reloaded on SIGHUP")
      ->envname("PULSING_AUTHORIZED_CLIENTS");
  sub->add_option("--admin-token-file", options->admin_token_file,
                  "a file holding the admin endpoint's bearer token (mode 0600): every path but /health and "
                  "/ready then needs 'Authorization: Bearer TOKEN'")
      ->envname("PULSING_ADMIN_TOKEN_FILE");
  sub->add_flag("--insecure", options->insecure,
                "start even when other machines can reach this node unprotected (no cluster key, or an admin "
                "endpoint without a token); logged, and /metrics shows pulsing_insecure 1")
      ->envname("PULSING_INSECURE");
  sub->add_option("--replay-window", options->replay_window,
                  "with a key: gossip stamped further than this from our clock is refused (a capture sent again, "
                  "or a clock far off)")
      ->envname("PULSING_REPLAY_WINDOW")
      ->capture_default_str();
  sub->add_option("--config", options->config, "a file of 'key = value' lines, keys named as these flags")
      ->envname("PULSING_CONFIG");
  sub->callback([&chosen, sub, options] {
    chosen = [sub, options] {
      if (!options->config.empty()) apply_config_file(*sub, options->config);
      return run_node(*options);
    };
  });
}

}  // namespace pulsing::cli
