// pulsing: runs a node (`pulsing node`), and inspects and calls a cluster through any of its
// nodes (`pulsing members`, `pulsing ask service add 5`, ...). `pulsing --help` lists it all.
#include <cstdio>
#include <exception>
#include <string>

#include "cli/cli11.hpp"

#include "cli/client.hpp"
#include "cli/commands.hpp"

int main(int argc, char** argv) {
  using namespace pulsing::cli;
  CLI::App app("pulsing: run a node of a pulsing actor cluster, or inspect and call one.\n"
               "Client commands reach the cluster through any node (--node HOST:PORT) and never join it.\n"
               "Exit codes: 0 ok, 1 the call failed, 2 usage error, 3 no such actor, 4 node unreachable.",
               "pulsing");
  app.require_subcommand(1);
  app.set_version_flag("--version", std::string("pulsing ") + PULSING_VERSION);
  Command chosen;
  add_node_command(app, chosen);
  add_client_commands(app, chosen);
  add_keygen_command(app, chosen);
  std::string commands;
  bool known = false;
  for (const CLI::App* sub : app.get_subcommands({})) {
    commands += (commands.empty() ? "" : ", ") + sub->get_name();
    known = known || (argc > 1 && sub->get_name() == argv[1]);
  }
  if (argc > 1 && argv[1][0] != '-' && !known) {
    std::fprintf(stderr, "pulsing: there is no command '%s' (the commands: %s; `pulsing --help` says more)\n", argv[1],
                 commands.c_str());
    return kUsage;
  }
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForVersion& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    app.exit(e);  // prints the problem
    return kUsage;
  }
  try {
    return chosen();
  } catch (const CliError& e) {
    std::fprintf(stderr, "pulsing: %s\n", e.what());
    return e.code();
  } catch (const std::exception& e) {
    CliError error = explain(e, "pulsing");
    std::fprintf(stderr, "%s\n", error.what());
    return error.code();
  }
}
