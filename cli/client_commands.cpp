// The client commands: each reaches the cluster through one node (--node) and never joins it.
#include <unistd.h>

#include <algorithm>
#include <iostream>
#include <memory>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include <fmt/format.h>

#include "admin/host_port.hpp"
#include "admin/http_client.hpp"
#include "cli/client.hpp"
#include "cli/commands.hpp"
#include "cli/output.hpp"
#include "messaging/error.hpp"
#include "messaging/json.hpp"
#include "runtime/stream.hpp"

namespace pulsing::cli {
namespace {

using Clock = std::chrono::steady_clock;

struct ClientOptions {
  std::string node = "127.0.0.1:7000";
  std::string timeout = "5s";
  std::string key_file;
  bool json = false;

  std::chrono::milliseconds timeout_ms() const { return parse_duration(timeout, "--timeout"); }
};

// A subcommand with the options every client command takes.
std::pair<CLI::App*, std::shared_ptr<ClientOptions>> client_command(CLI::App& app, const std::string& name,
                                                                      const std::string& help) {
  auto options = std::make_shared<ClientOptions>();
  CLI::App* sub = app.add_subcommand(name, help);
  sub->add_option("--node", options->node, "any node of the cluster, HOST:PORT (env PULSING_NODE)")
      ->envname("PULSING_NODE")
      ->capture_default_str();
  sub->add_option("--timeout", options->timeout, "how long to wait for each answer: 500ms, 5s, 2m")
      ->capture_default_str();
  sub->add_option("--key-file", options->key_file,
                  "the key to call with: a client key file (`pulsing keygen --client`), or the cluster key file "
                  "itself (full rights); env PULSING_KEY_FILE, else PULSING_CLUSTER_KEY_FILE")
      ->envname("PULSING_KEY_FILE");
  sub->add_flag("--json", options->json, "print JSON, for scripts");
  return {sub, options};
}

// The ARG... of ask / tell / stream: one JSON value each.
std::vector<Value> parse_arguments(const std::vector<std::string>& texts) {
  std::vector<Value> args;
  for (std::size_t i = 0; i < texts.size(); ++i) {
    try {
      args.push_back(parse_json(texts[i]));
    } catch (const ConversionError& e) {
      throw CliError(kUsage, fmt::format("argument {} ('{}') is not JSON: {} (a string is written '\"text\"', a "
                                         "list '[1,2]')",
                                         i + 1, texts[i], e.what()));
    }
  }
  return args;
}

// A call: NAME METHOD [ARG...] and the options.
struct CallOptions {
  std::string name, method;
  std::vector<std::string> args;
  std::string entity;  // --entity KIND/KEY: the call goes to that entity, and `name` is the method

  // With --entity the positionals shift: METHOD [ARG...]. Throws CliError(kUsage) when the
  // method is missing.
  void settle() {
    if (!entity.empty()) {
      if (!method.empty()) args.insert(args.begin(), std::exchange(method, {}));
      method = std::exchange(name, {});
      auto slash = entity.find('/');
      if (slash == std::string::npos || slash == 0 || slash + 1 == entity.size()) {
        throw CliError(kUsage, fmt::format("--entity takes KIND/KEY (Cart/cart-42), not '{}'", entity));
      }
    }
    if (method.empty()) throw CliError(kUsage, "which method? NAME METHOD [ARG...], or --entity KIND/KEY METHOD [ARG...]");
  }
};

std::shared_ptr<CallOptions> add_call_arguments(CLI::App* sub, bool entities) {
  auto call = std::make_shared<CallOptions>();
  sub->add_option("name", call->name, "the actor's name")->required();
  sub->add_option("method", call->method, "the method to call");
  sub->add_option("args", call->args, "its arguments, one JSON value each: 5 '\"text\"' '[1,2]' '{\"k\":1}'");
  if (entities) {
    sub->add_option("--entity", call->entity,
                    "call the entity KIND/KEY (a virtual actor, activated where it belongs); then the "
                    "arguments are METHOD [ARG...]");
  }
  return call;
}

void print_value(const Value& value) { std::cout << to_json_text(value) << "\n"; }

// Waits until `ready(value)` holds for what `poll` returns, or the deadline; shows progress.
template <typename Poll, typename Ready, typename Describe>
Value wait_for(std::chrono::milliseconds limit, Poll poll, Ready ready, Describe describe) {
  const auto start = Clock::now();
  Progress progress;
  for (;;) {
    Value value = poll();
    if (ready(value)) return value;
    auto waited = std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - start);
    if (waited >= limit) return value;
    progress.update(fmt::format("{} ({} of {})", describe(value), short_duration(waited), short_duration(limit)));
    std::this_thread::sleep_for(std::chrono::milliseconds(200));  // polling a remote node: no event to wait on
  }
}

std::size_t alive_members(const Value& rows) {
  return static_cast<std::size_t>(std::count_if(rows.as_list().begin(), rows.as_list().end(), [](const Value& row) {
    return row.find("state")->as_text() == "alive";
  }));
}

// Member rows for a table: the asked node marked, durations readable.
Value member_table_rows(const Value& rows) {
  Value::List out;
  for (const Value& row : rows.as_list()) {
    Value::Map r = row.as_map();
    if (r["self"].as_bool()) r["name"] = r["name"].as_text() + " *";
    r["since"] = short_duration(std::chrono::milliseconds(r["since_ms"].as_int()));
    out.emplace_back(std::move(r));
  }
  return out;
}

void print_members(const Value& rows, bool json) {
  if (json) return print_value(rows);
  print_table(std::cout, {{"name", "name"}, {"address", "address"}, {"state", "state"},
                          {"incarnation", "incarnation"}, {"since", "since"}},
              member_table_rows(rows));
  std::cout << "(* the node asked)\n";
}

void print_actors(const Value& rows, bool json) {
  if (json) return print_value(rows);
  print_table(std::cout, {{"name", "name"}, {"class", "class"}, {"id", "id"}, {"queued", "queued"}}, rows);
}

void add_members(CLI::App& app, Command& chosen) {
  auto [sub, options] = client_command(app, "members", "the cluster's members as a node sees them");
  auto expect = std::make_shared<std::size_t>(0);
  auto wait = std::make_shared<std::string>("30s");
  sub->add_option("--expect", *expect, "first wait until this many members are alive");
  sub->add_option("--wait", *wait, "how long --expect waits")->capture_default_str();
  sub->callback([&chosen, options = options, expect, wait] {
    chosen = [options, expect, wait] {
      Client client(options->node, options->timeout_ms(), options->key_file);
      auto poll = [&] { return client.call_node("members"); };
      Value rows = *expect == 0 ? poll()
                                : wait_for(
                                      parse_duration(*wait, "--wait"), poll,
                                      [&](const Value& r) { return alive_members(r) >= *expect; },
                                      [&](const Value& r) {
                                        return fmt::format("waiting for {} alive members: {} so far", *expect,
                                                           alive_members(r));
                                      });
      print_members(rows, options->json);
      if (alive_members(rows) < *expect) {
        throw CliError(kFailed, fmt::format("{} of {} members alive after {}", alive_members(rows), *expect, *wait));
      }
      return int{kOk};
    };
  });
}

void add_actors(CLI::App& app, Command& chosen) {
  auto [sub, options] = client_command(app, "actors", "the actors on a node");
  sub->callback([&chosen, options = options] {
    chosen = [options] {
      Client client(options->node, options->timeout_ms(), options->key_file);
      print_actors(client.call_node("actors"), options->json);
      return int{kOk};
    };
  });
}

void add_resolve(CLI::App& app, Command& chosen) {
  auto [sub, options] = client_command(app, "resolve", "where a name is served in the cluster");
  auto name = std::make_shared<std::string>();
  auto wait = std::make_shared<std::string>("0s");
  sub->add_option("name", *name, "the actor's name")->required();
  sub->add_option("--wait", *wait, "wait this long for the name to appear")->capture_default_str();
  sub->callback([&chosen, options = options, name, wait] {
    chosen = [options, name, wait] {
      Client client(options->node, options->timeout_ms(), options->key_file);
      auto poll = [&]() -> Value {
        try {
          return client.call_node("instances", {*name});
        } catch (const CliError& e) {
          if (e.code() != kNotFound) throw;
          return Value();
        }
      };
      Value rows = wait_for(
          parse_duration(*wait, "--wait"), poll, [](const Value& r) { return !r.is_null(); },
          [&](const Value&) { return fmt::format("waiting for '{}'", *name); });
      if (rows.is_null()) {
        throw CliError(kNotFound, fmt::format("no actor named '{}' in the cluster, as {} sees it", *name,
                                              client.address()));
      }
      if (options->json) {
        print_value(rows);
      } else {
        print_table(std::cout, {{"name", "name"}, {"class", "class"}, {"endpoint", "endpoint"}, {"id", "id"}}, rows);
      }
      return int{kOk};
    };
  });
}

void add_kinds(CLI::App& app, Command& chosen) {
  auto [sub, options] = client_command(app, "kinds", "the actor kinds each member hosts (what `pulsing spawn` can start)");
  sub->callback([&chosen, options = options] {
    chosen = [options] {
      Client client(options->node, options->timeout_ms(), options->key_file);
      Value rows = client.call_node("kinds");
      if (options->json) return print_value(rows), int{kOk};
      Value::List table;
      for (const Value& row : rows.as_list()) {
        std::string kinds;
        for (const Value& kind : row.find("kinds")->as_list()) kinds += (kinds.empty() ? "" : ", ") + kind.as_text();
        table.emplace_back(Value::Map{{"member", *row.find("member")}, {"address", *row.find("address")},
                                      {"load", *row.find("load")}, {"kinds", kinds.empty() ? "-" : kinds}});
      }
      print_table(std::cout, {{"member", "member"}, {"address", "address"}, {"load", "load"}, {"kinds", "kinds"}}, table);
      return int{kOk};
    };
  });
}

void add_spawn(CLI::App& app, Command& chosen) {
  auto [sub, options] = client_command(app, "spawn", "start an actor of a kind, on the node asked or placed elsewhere");
  auto kind = std::make_shared<std::string>();
  auto name = std::make_shared<std::string>();
  auto on = std::make_shared<std::string>();
  auto key = std::make_shared<std::string>();
  auto args = std::make_shared<std::vector<std::string>>();
  sub->add_option("kind", *kind, "the kind (`pulsing kinds` lists them)")->required();
  sub->add_option("args", *args, "its constructor's arguments, one JSON value each");
  sub->add_option("--name", *name, "register it under this name, cluster-wide");
  sub->add_option("--on", *on, "where: a member's name or HOST:PORT, any, least-loaded (default: the node asked)");
  sub->add_option("--key", *key, "on the owner of this key among the kind's hosts (rendezvous)")->excludes("--on");
  sub->callback([&chosen, options = options, kind, name, on, key, args] {
    chosen = [options, kind, name, on, key, args] {
      std::vector<Value> values = parse_arguments(*args);
      Value::Map spawn{{"name", *name}, {"on", *on}, {"key", *key}};
      Client client(options->node, options->timeout_ms(), options->key_file);
      Value row = client.call_node("spawn_actor", {*kind, Value(std::move(spawn)), Value(Value::List(values.begin(), values.end()))});
      if (options->json) return print_value(row), int{kOk};
      std::string named = row.find("name")->as_text();
      std::cout << fmt::format("spawned {}{} (#{}) on {}\n", row.find("class")->as_text(),
                               named.empty() ? "" : " '" + named + "'", cell_text(*row.find("id")),
                               endpoint_address(row.find("endpoint")->as_text()));
      return int{kOk};
    };
  });
}

enum class CallKind { kAsk, kTell, kStream };

// ask / tell --entity KIND/KEY: through the node asked, which routes it to the entity.
int call_entity(Client& client, const CallOptions& call, std::vector<Value> args, bool ask, bool json) {
  const auto slash = call.entity.find('/');
  Value kind(call.entity.substr(0, slash)), key(call.entity.substr(slash + 1));
  Value list(Value::List(args.begin(), args.end()));
  if (ask) {
    print_value(client.call_node("entity_ask", {kind, key, Value(call.method), list}));
  } else {
    client.call_node("entity_tell", {kind, key, Value(call.method), list});
    if (json) {
      print_value(Value::Map{{"sent", true}});
    } else {
      std::cout << "sent " << call.entity << "." << call.method << "\n";
    }
  }
  return kOk;
}

void add_call(CLI::App& app, Command& chosen, CallKind kind) {
  const char* name = kind == CallKind::kAsk ? "ask" : kind == CallKind::kTell ? "tell" : "stream";
  const char* help = kind == CallKind::kAsk    ? "call a method and print its result (JSON)"
                     : kind == CallKind::kTell ? "send a message, without waiting for an answer"
                                               : "call a streaming method and print its items as they arrive";
  auto [sub, options] = client_command(app, name, help);
  auto call = add_call_arguments(sub, kind != CallKind::kStream);
  sub->callback([&chosen, options = options, call, kind] {
    chosen = [options, call, kind] {
      call->settle();
      std::vector<Value> args = parse_arguments(call->args);  // bad JSON fails before any traffic
      Client client(options->node, options->timeout_ms(), options->key_file);
      if (!call->entity.empty()) return call_entity(client, *call, std::move(args), kind == CallKind::kAsk, options->json);
      AnyRef actor = client.instance(call->name).with_timeout(client.timeout());
      const std::string what = fmt::format("{}.{}", call->name, call->method);
      try {
        if (kind == CallKind::kAsk) {
          print_value(actor.ask(call->method, std::move(args)).get());
        } else if (kind == CallKind::kTell) {
          actor.tell(call->method, std::move(args));
          if (options->json) {
            print_value(Value::Map{{"sent", true}});
          } else {
            std::cout << "sent " << what << " to " << endpoint_address(actor.address().endpoint) << "\n";
          }
        } else {
          for (Value& item : actor.stream(call->method, std::move(args))) {
            if (!options->json && item.is_text()) {
              std::cout << item.as_text() << std::endl;
            } else {
              std::cout << to_json_text(item) << std::endl;
            }
          }
        }
      } catch (const std::exception& e) {
        throw explain(e, fmt::format("{} {}", kind == CallKind::kAsk ? "ask" : kind == CallKind::kTell ? "tell" : "stream", what));
      }
      return int{kOk};
    };
  });
}

void add_stop(CLI::App& app, Command& chosen) {
  auto [sub, options] = client_command(app, "stop", "stop every instance of a name, for good");
  auto name = std::make_shared<std::string>();
  sub->add_option("name", *name, "the actor's name")->required();
  sub->callback([&chosen, options = options, name] {
    chosen = [options, name] {
      Client client(options->node, options->timeout_ms(), options->key_file);
      Value rows;
      try {
        rows = client.call_node("stop_all", {*name});
      } catch (const CliError& e) {
        if (e.code() != kNotFound) throw;
        throw CliError(kNotFound, fmt::format("no actor named '{}' to stop", *name));
      }
      if (options->json) return print_value(rows), int{kOk};
      for (const Value& row : rows.as_list()) {
        std::cout << fmt::format("stopped '{}' ({} #{}) on {}\n", row.find("name")->as_text(),
                                 row.find("class")->as_text(), cell_text(*row.find("id")),
                                 endpoint_address(row.find("endpoint")->as_text()));
      }
      return int{kOk};
    };
  });
}

void add_inspect(CLI::App& app, Command& chosen) {
  auto [sub, options] = client_command(app, "inspect", "a live view of a node: counters, members, actors");
  auto interval = std::make_shared<std::string>("1s");
  auto count = std::make_shared<int>(0);
  sub->add_option("--interval", *interval, "time between refreshes")->capture_default_str();
  sub->add_option("--count", *count, "stop after this many views (0: until interrupted)")->capture_default_str();
  sub->callback([&chosen, options = options, interval, count] {
    chosen = [options, interval, count] {
      const auto every = parse_duration(*interval, "--interval");
      Client client(options->node, options->timeout_ms(), options->key_file);
      const bool terminal = ::isatty(STDOUT_FILENO) != 0 && !options->json;
      for (int shown = 0; *count == 0 || shown < *count; ++shown) {
        if (shown > 0) std::this_thread::sleep_for(every);
        Value stats = client.call_node("stats");
        Value members = client.call_node("members");
        Value actors = client.call_node("actors");
        if (options->json) {
          print_value(Value::Map{{"stats", stats}, {"members", members}, {"actors", actors}});
          continue;
        }
        if (terminal) std::cout << "\033[H\033[2J";
        auto n = [&](const char* key) { return cell_text(*stats.find(key)); };
        const Value& errors = *stats.find("errors");
        std::cout << fmt::format("node {} ({})   refreshed every {}\n", n("node"), n("endpoint"), *interval)
                  << fmt::format("messages handled {}   asks in/out {}/{}   tells in/out {}/{}   streams in/out {}/{}\n",
                                 n("messages_handled"), n("asks_in"), n("asks_out"), n("tells_in"), n("tells_out"),
                                 n("streams_in"), n("streams_out"))
                  << fmt::format("errors: business {} system {} timeout {} runtime {}   restarts {}   dead letters {}\n",
                                 cell_text(*errors.find("business")), cell_text(*errors.find("system")),
                                 cell_text(*errors.find("timeout")), cell_text(*errors.find("runtime")), n("restarts"),
                                 n("dead_letters"))
                  << fmt::format("mailboxes: {} queued, {} in the fullest   registry entries {}\n\n", n("queued"),
                                 n("max_queued"), n("registry_entries"));
        print_members(members, false);
        std::cout << "\n";
        print_actors(actors, false);
        std::cout << std::flush;
      }
      return int{kOk};
    };
  });
}

void add_health(CLI::App& app, Command& chosen) {
  auto admin = std::make_shared<std::string>("127.0.0.1:8000");
  auto timeout = std::make_shared<std::string>("2s");
  CLI::App* sub = app.add_subcommand("health", "ask a node's admin endpoint whether it is healthy (GET /health)");
  sub->add_option("--admin", *admin, "the node's admin endpoint, HOST:PORT (env PULSING_ADMIN)")
      ->envname("PULSING_ADMIN")
      ->capture_default_str();
  sub->add_option("--timeout", *timeout, "how long to wait")->capture_default_str();
  sub->callback([&chosen, admin, timeout] {
    chosen = [admin, timeout] {
      admin::HostPort where;
      try {
        where = admin::split_host_port(*admin);
      } catch (const std::invalid_argument& e) {
        throw CliError(kUsage, e.what());
      }
      if (where.host == "0.0.0.0" || where.host == "::") where.host = "127.0.0.1";  // a bind address: ask locally
      admin::HttpResult result;
      try {
        result = admin::http_get(where.host, where.port, "/health", parse_duration(*timeout, "--timeout"));
      } catch (const std::runtime_error& e) {
        throw CliError(kUnreachable, e.what());
      }
      std::cout << result.body;
      if (result.status != 200) throw CliError(kFailed, fmt::format("/health answered {}", result.status));
      return int{kOk};
    };
  });
}

}  // namespace

void add_client_commands(CLI::App& app, Command& chosen) {
  add_members(app, chosen);
  add_actors(app, chosen);
  add_resolve(app, chosen);
  add_call(app, chosen, CallKind::kAsk);
  add_call(app, chosen, CallKind::kTell);
  add_call(app, chosen, CallKind::kStream);
  add_stop(app, chosen);
  add_kinds(app, chosen);
  add_spawn(app, chosen);
  add_inspect(app, chosen);
  add_health(app, chosen);
}

}  // namespace pulsing::cli
