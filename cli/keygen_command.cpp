// `pulsing keygen FILE`: makes a new cluster key and writes it to FILE, a new file of mode 0600.
// `pulsing keygen --client FILE --cluster-key-file KEYS`: makes a client key pair for calling
// that cluster, writes it to FILE (mode 0600) with the cluster's server keys, and prints the
// line that admits it, to add to the nodes' authorized-clients file.
#include <cstdio>
#include <memory>
#include <string>

#include "cli/client.hpp"
#include "cli/commands.hpp"
#include "security/cluster_key.hpp"
#include "security/curve_keys.hpp"
#include "security/key_file.hpp"

namespace pulsing::cli {
namespace {

struct KeygenOptions {
  std::string file;
  bool client = false;
  std::string cluster_key_file;
};

int write_cluster_key(const KeygenOptions& options) {
  auto key = security::ClusterKey::generate();
  security::write_new_key_file(options.file, key);
  std::printf("wrote cluster key %s to %s\n", key.id().c_str(), options.file.c_str());
  return kOk;
}

int write_client_key(const KeygenOptions& options) {
  if (options.cluster_key_file.empty()) {
    throw CliError(kUsage, "--client needs --cluster-key-file KEYS: the client key file holds the cluster's server "
                           "keys, derived from its cluster key");
  }
  security::Keyring ring = security::read_key_file(options.cluster_key_file);
  security::ClientKey key;
  key.pair = security::random_curve_pair();
  key.servers = security::ring_public_keys(ring, security::KeyPurpose::kCurveServer);
  security::write_new_client_key_file(options.file, key);
  const std::string public_key = security::curve_key_text(key.pair.public_key);
  std::printf("wrote a client key to %s, for the cluster of key %s\n", options.file.c_str(), ring.primary().id().c_str());
  std::printf("admit it: add this line to the nodes' --authorized-clients file (observer: read only), then "
              "send them SIGHUP:\noperator %s\n",
              public_key.c_str());
  return kOk;
}

}  // namespace

void add_keygen_command(CLI::App& app, Command& chosen) {
  auto options = std::make_shared<KeygenOptions>();
  CLI::App* sub = app.add_subcommand(
      "keygen", "write a new cluster key to FILE, or with --client a client key, created with mode 0600 (an "
                "existing file is never replaced)");
  sub->add_option("FILE", options->file, "where to write the key")->required();
  sub->add_flag("--client", options->client,
                "a client key pair for the command line (--key-file), admitted by the nodes' authorized-clients "
                "file with a role");
  sub->add_option("--cluster-key-file", options->cluster_key_file,
                  "with --client: the cluster's key file, whose server keys the client key file records")
      ->envname("PULSING_CLUSTER_KEY_FILE");
  sub->callback([&chosen, options] {
    chosen = [options] {
      try {
        return options->client ? write_client_key(*options) : write_cluster_key(*options);
      } catch (const security::KeyError& e) {
        throw CliError(kFailed, e.what());
      }
    };
  });
}

}  // namespace pulsing::cli
