// EntityHost: a node's side of entities (virtual actors, Node::register_entity). It keeps the
// node's EntityTable (registry/entity_table.hpp) fed with the hosts that members announce,
// activates on their first call the entities this node owns, passivates them when idle or when
// their key moves to another host, asks a key's previous owner to release it before activating
// it here, and sends what an ended activation had not run to the next one.
//
// An activation is an actor named "kind/key", registered on this node only. Its calls (local,
// or from other nodes by that name) come through target(), which stamps its last call for the
// idle sweep. Where the table says to forward a call (another node owns the key in this node's
// view), target() refuses it retryably instead, naming the owner: the caller's entity reference
// sends it again to the owner it sees; a tell goes on there, once (InboundCalls::forward_tell).
//
// Ownership: owned by the NodeCore, which outlives it; activations hold the node weakly.
// Thread-safety: every member may be called from any thread (one mutex, never held while
// calling out).
#pragma once

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "membership/member.hpp"
#include "registry/entity_table.hpp"
#include "runtime/actor_cell.hpp"
#include "runtime/future.hpp"
#include "runtime/host_choice.hpp"

namespace pulsing::detail {

class NodeCore;

class EntityHost {
 public:
  struct Kind {
    const MethodTable* methods = nullptr;
    std::function<std::unique_ptr<Actor>(const std::string& key)> make;
    std::chrono::milliseconds idle_after{60'000};
  };
  // How long an activation waits for the key's previous owner to release it before it goes
  // ahead (that owner is slow, or gone without membership knowing yet).
  static constexpr std::chrono::milliseconds kReleaseWait{5'000};

  explicit EntityHost(NodeCore& node);

  // This node hosts `kind` from now on. REQUIRES: the kind is in the node's KindTable.
  void add_kind(const std::string& kind, Kind entity);
  // Membership changed (or this node's own kinds did): the hosts of each kind are read again.
  void on_member_event();

  // The owner of (kind, key) as this node sees the cluster; kNoHost when no member hosts it.
  Result<KindHost> owner(std::string_view kind, std::string_view key);
  // A call for kind/key arrived here: the activation to deliver it to (activated now if need
  // be), or why not: kRefused (another node owns it in this node's view: retry there), kNoHost.
  Result<std::shared_ptr<ActorCell>> target(std::string_view kind, std::string_view key);
  bool hosts(std::string_view kind);
  // Another member would activate (kind, key) and asks this node to let it go: completes with
  // true once no activation of it runs here, false when this node owns it in its own view.
  Future<bool> release(std::string_view kind, std::string_view key, const std::string& requester);
  // An activation's actor stopped (passivated, crashed or stopped).
  void stopped(const ActorCell& cell);
  // Starts passivating the activations idle for longer than their kind's idle_after; the
  // interval the node should call it at.
  void sweep();
  std::chrono::milliseconds sweep_interval();
  std::size_t active();

 private:
  struct Activation {
    std::shared_ptr<ActorCell> cell;
    Clock::time_point last_call;
  };
  // The hosts of every kind a live member announces (from Node::members()), into the table;
  // what moved is to be passivated (by the caller, outside the lock).
  void refresh_hosts(std::vector<std::shared_ptr<ActorCell>>& to_passivate);
  // Asks `previous` to release the key, then activates `cell` (or ends it, if refused).
 public:  // for the activation's own callbacks
  void activated(const std::string& kind, const std::string& key, const std::shared_ptr<ActorCell>& cell);
  void redirect(ActorCell& ended, const std::string& kind, const std::string& key, Message* message);

 private:
  void activate_after_release(const KindHost& previous, std::string kind, std::string key,
                              std::shared_ptr<ActorCell> cell);

  NodeCore& node_;
  std::mutex mutex_;
  registry::EntityTable table_;                                   // guarded
  std::map<std::string, Kind, std::less<>> kinds_;                // guarded: the kinds hosted here
  std::map<std::string, std::vector<KindHost>, std::less<>> hosts_;  // guarded: by kind
  std::unordered_map<std::string, Activation> active_;           // guarded: by "kind/key"
  std::unordered_map<std::string, std::vector<Promise<bool>>> releases_;  // guarded: waiting
};

// "kind/key" split at its first '/': false if there is none.
bool split_entity_name(std::string_view name, std::string_view& kind, std::string_view& key);

}  // namespace pulsing::detail
