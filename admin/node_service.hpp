// NodeService: the actor through which the `pulsing` command line (or any client) asks a node
// about itself and its cluster, without joining it. Every method is called by name with Value
// arguments and answers with the views of admin/views.hpp:
//   members()       members_view        actors()   actors_view        stats()   stats_view
//   instances(name) [{"name", "class", "endpoint", "id", "local"}]: every instance of
//                   the name in the cluster, this node's first; RuntimeError(kActorNotFound)
//                   when there is none
//   stop_all(name)  stops every instance of the name for good and answers with the rows of those
//                   stopped (as instances), once each has stopped
//   kinds()         [{"member", "address", "kinds": [text], "load"}]: what each live member hosts
//   entity_ask(kind, key, method, args), entity_tell(kind, key, method, args)
//                   calls the entity kind/key (Node::entity_any): the answer, or null once sent
//   spawn_actor(kind, options, args)
//                   spawns an actor of `kind` with constructor arguments `args`; options: a map of
//                   "name", "on" (a member's name or "host:port", "any", "least-loaded"; absent:
//                   this node) and "key" (the rendezvous owner of that key); answers its row (as
//                   instances), or fails as Node::spawn_kind does
//
//   pulsing::admin::NodeService::serve(node);   // spawns it as kNodeServiceName
// Clients with an observer's key may call every method but stop_all, spawn_actor and the entity
// calls
// (Node::allow_observer_calls).
//
// The node outlives the actor (it stops with the node). Thread-safety: an actor.
#pragma once

#include <string>
#include <string_view>

#include "runtime/actor.hpp"
#include "runtime/node.hpp"
#include "runtime/task.hpp"

namespace pulsing::admin {

inline constexpr std::string_view kNodeServiceName = "pulsing.node";

class NodeService : public Actor {
 public:
  explicit NodeService(Node* node) : node_(node) {}

  // Spawns it on `node` under kNodeServiceName. Fails as Node::spawn does (kNameTaken if served).
  static Future<ActorRef<NodeService>> serve(Node& node);

  Value members();
  Value actors();
  Value stats();
  Task<Value> instances(std::string name);
  Task<Value> stop_all(std::string name);
  Value kinds();
  Task<Value> spawn_actor(std::string kind, Value options, std::vector<Value> args);
  Task<Value> entity_ask(std::string kind, std::string key, std::string method, std::vector<Value> args);
  Value entity_tell(std::string kind, std::string key, std::string method, std::vector<Value> args);

  PULSING_METHODS(NodeService, members, actors, stats, instances, stop_all, kinds, spawn_actor, entity_ask,
                  entity_tell)

 private:
  Value instance_rows(const std::vector<AnyRef>& refs) const;

  Node* const node_;
};

}  // namespace pulsing::admin
