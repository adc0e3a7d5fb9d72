// `pulsing keygen FILE`: makes a new cluster key and writes it to FILE, a new file of mode 0600.
#include <cstdio>
#include <memory>
#include <string>

#include "cli/client.hpp"
#include "cli/commands.hpp"
#include "security/cluster_key.hpp"
#include "security/key_file.hpp"

namespace pulsing::cli {

void add_keygen_command(CLI::App& app, Command& chosen) {
  auto file = std::make_shared<std::string>();
  CLI::App* sub = app.add_subcommand(
      "keygen", "write a new cluster key to FILE, created with mode 0600 (an existing file is never replaced)");
  sub->add_option("FILE", *file, "where to write the key")->required();
  sub->callback([&chosen, file] {
    chosen = [file] {
      try {
        auto key = security::ClusterKey::generate();
        security::write_new_key_file(*file, key);
        std::printf("wrote cluster key %s to %s\n", key.id().c_str(), file->c_str());
        return static_cast<int>(kOk);
      } catch (const security::KeyError& e) {
        throw CliError(kFailed, e.what());
      }
    };
  });
}

}  // namespace pulsing::cli
