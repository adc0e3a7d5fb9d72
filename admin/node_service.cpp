#include "admin/node_service.hpp"

#include <cstdlib>
#include <stdexcept>
#include <utility>
#include <vector>

#include <fmt/format.h>

#include "admin/views.hpp"
#include "runtime/host_choice.hpp"
#include "runtime/kind_table.hpp"

namespace pulsing::admin {

Future<ActorRef<NodeService>> NodeService::serve(Node& node) {
  // What only reads is open to clients with an observer's key; stop_all is not.
  node.allow_observer_calls(std::string(kNodeServiceName), {"members", "actors", "stats", "instances", "kinds"});
  return node.spawn<NodeService>({.name = std::string(kNodeServiceName)}, &node);
}

Value NodeService::members() { return members_view(*node_); }
Value NodeService::actors() { return actors_view(*node_); }
Value NodeService::stats() { return stats_view(*node_); }

Task<Value> NodeService::instances(std::string name) {
  std::vector<AnyRef> found = co_await node_->resolve_all(name);
  co_return instance_rows(found);
}

Task<Value> NodeService::stop_all(std::string name) {
  std::vector<AnyRef> found = co_await node_->resolve_all(name);
  for (const AnyRef& instance : found) instance.stop();
  for (const AnyRef& instance : found) co_await instance.watch();
  co_return instance_rows(found);
}

Value NodeService::kinds() {
  Value::List rows;
  for (const auto& m : node_->members()) {
    if (!membership::is_live(m.state)) continue;
    Value::List kinds;
    if (auto it = m.meta.find(detail::KindTable::kMetadataKey); it != m.meta.end()) {
      for (std::string_view kind : detail::announced_kinds(it->second)) kinds.emplace_back(std::string(kind));
    }
    std::int64_t load = 0;
    if (auto it = m.meta.find(detail::kLoadKey); it != m.meta.end()) load = std::atoll(it->second.c_str());
    rows.emplace_back(Value::Map{{"member", m.name}, {"address", m.address}, {"kinds", std::move(kinds)}, {"load", load}});
  }
  return rows;
}

Task<Value> NodeService::spawn_actor(std::string kind, Value options, std::vector<Value> args) {
  SpawnOptions spawn;
  auto text = [&](std::string_view key) -> std::string {
    const Value* v = options.is_map() ? options.find(key) : nullptr;
    if (v == nullptr || v->is_null()) return {};
    if (!v->is_text()) throw std::invalid_argument(fmt::format("spawn: option '{}' is text", key));
    return v->as_text();
  };
  spawn.name = text("name");
  const std::string on = text("on");
  const std::string key = text("key");
  if (!key.empty() && !on.empty()) throw std::invalid_argument("spawn: give 'on' or 'key', not both");
  if (!key.empty()) spawn.placement = Placement::by_key(key);
  else if (on == "any") spawn.placement = Placement::any();
  else if (on == "least-loaded") spawn.placement = Placement::least_loaded();
  else if (!on.empty()) spawn.placement = Placement::on(on);
  AnyRef spawned = co_await node_->spawn_kind(kind, std::move(spawn), std::move(args));
  Value rows = instance_rows({spawned});
  co_return rows.as_list().front();
}

Task<Value> NodeService::entity_ask(std::string kind, std::string key, std::string method, std::vector<Value> args) {
  co_return co_await node_->entity_any(kind, key).ask(method, std::move(args));
}

Value NodeService::entity_tell(std::string kind, std::string key, std::string method, std::vector<Value> args) {
  node_->entity_any(kind, key).tell(method, std::move(args));
  return Value();
}

Value NodeService::instance_rows(const std::vector<AnyRef>& refs) const {
  Value::List rows;
  for (const AnyRef& instance : refs) {
    ActorAddress address = instance.address();
    rows.emplace_back(Value::Map{{"name", instance.name()},
                                 {"class", std::string(instance.class_name())},
                                 {"endpoint", address.endpoint},
                                 {"id", address.actor.value},
                                 {"local", !instance.is_remote()}});
  }
  return rows;
}

}  // namespace pulsing::admin
