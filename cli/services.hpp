// The built-in services `pulsing node --services` can host, so that a fresh cluster has
// something to call; they are also the kinds a node hosts (`pulsing node --kinds`, `pulsing
// spawn`):
//   echo        echo(value) -> value
//   calculator  add(n) -> total, get() -> total, reset() -> previous total; built with an
//               optional first total (0)
//   counter     increment() -> count, add(n) -> count, get() -> count
//   kv          put(key, value) -> previous value or null, get(key) -> value or null,
//               remove(key) -> bool, keys() -> [key...]
//   tokens      generate(prompt, n) -> a stream of n text tokens
// and one entity kind (a virtual actor per key: `pulsing ask --entity cart/KEY ...`):
//   cart        add_item(item) -> count, items() -> [item...], clear() -> count removed; kept in
//               the node's memory while passivated
//
// Thread-safety: actors; spawn_service from any thread.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "runtime/node.hpp"

namespace pulsing::cli {

// One "--services" item: KIND, or NAME=KIND to serve it under another name.
struct ServiceSpec {
  std::string name;
  std::string kind;
};

// The kinds above but the entity kind, in that order.
const std::vector<std::string>& service_kinds();
inline constexpr const char* kEntityKind = "cart";

// Parses "service=calculator,echo". Throws std::invalid_argument naming a bad item or an unknown
// kind (and listing the kinds).
std::vector<ServiceSpec> parse_services(std::string_view list);

// `pulsing node --kinds`: "all" (the default: the service kinds and cart), "none", or kinds
// comma separated. Throws std::invalid_argument naming an unknown kind.
std::vector<std::string> parse_kinds(std::string_view list);
// Registers `kinds` (of the above) on `node` under their names: other nodes and `pulsing spawn`
// may spawn them there.
void register_service_kinds(Node& node, const std::vector<std::string>& kinds);

// Spawns the service on `node` (registering its kind there). Throws as Node::spawn fails
// (kNameTaken, ...).
AnyRef spawn_service(Node& node, const ServiceSpec& spec);

}  // namespace pulsing::cli
