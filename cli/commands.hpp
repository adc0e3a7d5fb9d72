// The subcommands of `pulsing`. Each add_* registers one (or a family) on the app and returns
// what to run once the command line has been parsed; the result is the process's exit code
// (cli/client.hpp: ExitCode). Commands throw CliError for failures worth an exit code of their
// own; main() prints it.
#pragma once

#include <functional>

#include "cli/cli11.hpp"

namespace pulsing::cli {

using Command = std::function<int()>;

// `pulsing node`: runs a node until SIGTERM or SIGINT (cli/node_command.cpp).
void add_node_command(CLI::App& app, Command& chosen);
// members, actors, resolve, ask, tell, stream, stop, inspect, health (cli/client_commands.cpp).
void add_client_commands(CLI::App& app, Command& chosen);
// `pulsing keygen FILE`: a new cluster key in a new private file (cli/keygen_command.cpp).
void add_keygen_command(CLI::App& app, Command& chosen);

}  // namespace pulsing::cli
