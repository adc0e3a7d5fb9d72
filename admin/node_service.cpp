#include "admin/node_service.hpp"

#include <utility>
#include <vector>

#include "admin/views.hpp"

namespace pulsing::admin {

Future<ActorRef<NodeService>> NodeService::serve(Node& node) {
  // What only reads is open to clients with an observer's key; stop_all is not.
  node.allow_observer_calls(std::string(kNodeServiceName), {"members", "actors", "stats", "instances"});
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
