#include "runtime/entity_host.hpp"

#include <algorithm>
#include <set>

#include <fmt/format.h>

#include "common/log.hpp"
#include "runtime/kind_table.hpp"
#include "runtime/node_core.hpp"
#include "runtime/remote.hpp"
#include "runtime/spawner.hpp"

namespace pulsing::detail {

namespace {

std::string entity_name(std::string_view kind, std::string_view key) { return fmt::format("{}/{}", kind, key); }

Failure moved(std::string_view name, std::string_view owner, std::string_view self) {
  return make_failure<RuntimeError>(
      RuntimeErrorKind::kRefused,
      fmt::format("entity {} lives on {} as node {} sees the cluster: try there", name, owner, self));
}

}  // namespace

bool split_entity_name(std::string_view name, std::string_view& kind, std::string_view& key) {
  auto slash = name.find('/');
  if (slash == std::string_view::npos || slash == 0 || slash + 1 == name.size()) return false;
  kind = name.substr(0, slash);
  key = name.substr(slash + 1);
  return true;
}

EntityHost::EntityHost(NodeCore& node) : node_(node), table_(registry::EntityTable::Config{}) {}

void EntityHost::add_kind(const std::string& kind, Kind entity) {
  {
    std::lock_guard lock(mutex_);
    kinds_[kind] = std::move(entity);
  }
  on_member_event();
}

void EntityHost::on_member_event() {
  std::vector<std::shared_ptr<ActorCell>> to_passivate;
  {
    std::lock_guard lock(mutex_);
    refresh_hosts(to_passivate);
  }
  for (auto& cell : to_passivate) cell->request_passivation();
}

void EntityHost::refresh_hosts(std::vector<std::shared_ptr<ActorCell>>& to_passivate) {
  const std::string& self = node_.self_name();
  if (table_.self() != self) table_ = registry::EntityTable(registry::EntityTable::Config{self});
  // The members as membership holds them now (not as the events so far told: a caller that saw
  // a member in Node::members() finds it here too). This node's kinds from its own table.
  std::vector<membership::Member> all = node_.members();
  std::erase_if(all, [&](const membership::Member& m) { return m.name == self || !membership::is_live(m.state); });
  membership::Member me;
  me.name = self;
  me.address = endpoint_address(node_.endpoint());
  me.meta[KindTable::kMetadataKey] = node_.kinds().announcement();
  all.push_back(std::move(me));
  std::set<std::string, std::less<>> kinds;
  for (const auto& m : all) {
    if (auto it = m.meta.find(KindTable::kMetadataKey); it != m.meta.end()) {
      for (auto kind : announced_kinds(it->second)) kinds.emplace(kind);
    }
  }
  for (const auto& [kind, hosts] : hosts_) kinds.insert(kind);  // a kind no one announces any more
  const auto now = Clock::now();
  for (const auto& kind : kinds) {
    std::vector<KindHost> hosts = kind_hosts(all, self, kind);  // sorted by name
    std::vector<std::string> names;
    for (const auto& h : hosts) names.push_back(h.member);
    for (const auto& key : table_.set_hosts(kind, std::move(names), now)) {
      if (auto it = active_.find(entity_name(kind, key)); it != active_.end()) to_passivate.push_back(it->second.cell);
    }
    hosts_[kind] = std::move(hosts);
  }
}

Result<KindHost> EntityHost::owner(std::string_view kind, std::string_view key) {
  std::vector<std::shared_ptr<ActorCell>> to_passivate;
  std::optional<KindHost> found;
  {
    std::lock_guard lock(mutex_);
    std::string member = table_.owner(kind, key);
    if (member.empty()) {
      // A member that announced the kind a moment ago may not have reached this table yet (the
      // membership event is on its way): look again before saying no one hosts it.
      refresh_hosts(to_passivate);
      member = table_.owner(kind, key);
    }
    if (auto hosts = hosts_.find(kind); !member.empty() && hosts != hosts_.end()) {
      for (const auto& h : hosts->second) {
        if (h.member == member) found = h;
      }
    }
  }
  for (auto& cell : to_passivate) cell->request_passivation();
  if (found) return *found;
  return make_failure<RuntimeError>(RuntimeErrorKind::kNoHost,
                                    fmt::format("no live member hosts entity kind '{}' (Node::register_entity)", kind));
}

bool EntityHost::hosts(std::string_view kind) {
  std::lock_guard lock(mutex_);
  return kinds_.find(kind) != kinds_.end();
}

Result<std::shared_ptr<ActorCell>> EntityHost::target(std::string_view kind, std::string_view key) {
  const std::string name = entity_name(kind, key);
  std::shared_ptr<ActorCell> cell;
  std::optional<KindHost> previous;
  {
    std::lock_guard lock(mutex_);
    auto entity = kinds_.find(kind);
    if (entity == kinds_.end()) {
      return make_failure<RuntimeError>(RuntimeErrorKind::kRefused,
                                        fmt::format("node {} hosts no entity kind '{}'", table_.self(), kind));
    }
    auto arrival = table_.arrive(kind, key, 0, Clock::now());
    switch (arrival.action) {
      case registry::EntityTable::Action::kDeliver:
      case registry::EntityTable::Action::kHold: {
        // Held: the activation that is passivating takes it, and hands it to the next one.
        auto it = active_.find(name);
        if (it == active_.end()) break;
        it->second.last_call = Clock::now();
        return it->second.cell;
      }
      case registry::EntityTable::Action::kForward:
        return moved(name, arrival.member, table_.self());
      case registry::EntityTable::Action::kRefuse:
        return make_failure<RuntimeError>(RuntimeErrorKind::kRefused,
                                          fmt::format("the owner of entity {} is not settled yet: retry", name));
      case registry::EntityTable::Action::kNoHost:
        return make_failure<RuntimeError>(RuntimeErrorKind::kNoHost,
                                          fmt::format("no live member hosts entity kind '{}'", kind));
      case registry::EntityTable::Action::kActivate: {
        const Kind& k = entity->second;
        auto made = node_.create_cell(
            *k.methods, SpawnOptions{.name = name}, [make = k.make, key = std::string(key)] { return make(key); },
            /*announce=*/false, [weak = node_.weak_from_this(), kind = std::string(kind), key = std::string(key)](ActorCell& c) {
              c.make_entity([weak, kind, key](ActorCell& ended, Message* m) {
                if (auto node = weak.lock()) {
                  node->entities().redirect(ended, kind, key, m);
                } else {
                  m->reject(ended, ended.stopped_failure());
                  delete m;
                }
              });
            });
        if (!made.ok()) {
          table_.passivated(kind, key);
          return made.failure();
        }
        cell = made.value();
        active_[name] = {cell, Clock::now()};
        if (auto hosts = hosts_.find(kind); !arrival.member.empty() && hosts != hosts_.end()) {
          for (const auto& h : hosts->second) {
            if (h.member == arrival.member) previous = h;
          }
        }
        if (!previous) table_.activated(kind, key);
        break;
      }
    }
  }
  if (!cell) return make_failure<RuntimeError>(RuntimeErrorKind::kRefused, fmt::format("entity {} is moving: retry", name));
  if (previous) {
    activate_after_release(*previous, std::string(kind), std::string(key), cell);
  } else {
    cell->activate();
  }
  return cell;
}

void EntityHost::activate_after_release(const KindHost& previous, std::string kind, std::string key,
                                        std::shared_ptr<ActorCell> cell) {
  if (node_.remote() == nullptr) {
    activated(kind, key, cell);
    return;
  }
  auto service = RemoteActor::by_name(node_.shared_from_this(), "tcp://" + previous.address, kPlacementServiceName,
                                     "PlacementService");
  auto [slot, answer] = make_value_reply();
  answer.then([weak = node_.weak_from_this(), kind, key, cell, from = previous.member](Result<Value> r) {
    auto node = weak.lock();
    if (!node) return;
    if (r.ok() && r.value().is_bool() && !r.value().as_bool()) {
      // The previous owner still owns it in its view: end this activation before it ran; what
      // waited in it is routed again.
      log().debug("entity {}/{}: {} keeps it; not activated here yet", kind, key, from);
      cell->request_stop(StopReason::kPassivated);
      return;
    }
    // Released, or the previous owner cannot answer (gone, slow): go ahead.
    node->entities().activated(kind, key, cell);
  });
  service->ask("release", ValueArgs({Value(kind), Value(key), Value(node_.member_name())}), kReleaseWait, std::move(slot));
}

void EntityHost::activated(const std::string& kind, const std::string& key, const std::shared_ptr<ActorCell>& cell) {
  {
    std::lock_guard lock(mutex_);
    auto it = active_.find(entity_name(kind, key));
    if (it == active_.end() || it->second.cell != cell) return;  // ended meanwhile
    table_.activated(kind, key);
  }
  cell->activate();
}

void EntityHost::redirect(ActorCell& ended, const std::string& kind, const std::string& key, Message* message) {
  auto next = target(kind, key);
  if (!next.ok()) {
    // It moved (or no one hosts it any more): an ask fails with the reason, retryably, and its
    // caller's entity reference tries the owner it sees; a tell becomes a dead letter.
    message->reject(ended, next.failure());
    delete message;
    return;
  }
  MessageChain chain;
  chain.append(message);
  next.value()->post(chain, true);
}

Future<bool> EntityHost::release(std::string_view kind, std::string_view key, const std::string& requester) {
  std::shared_ptr<ActorCell> passivate;
  Promise<bool> released;
  auto future = released.future();
  {
    std::lock_guard lock(mutex_);
    switch (table_.release(kind, key, requester)) {
      case registry::EntityTable::Release::kReleased: return Future<bool>::ready(true);
      case registry::EntityTable::Release::kRefused: return Future<bool>::ready(false);
      case registry::EntityTable::Release::kPassivate:
        if (auto it = active_.find(entity_name(kind, key)); it != active_.end()) passivate = it->second.cell;
        [[fallthrough]];
      case registry::EntityTable::Release::kPassivating:
        releases_[entity_name(kind, key)].push_back(std::move(released));
        break;
    }
  }
  if (passivate) passivate->request_passivation();
  return future;
}

void EntityHost::stopped(const ActorCell& cell) {
  std::string_view kind, key;
  if (!split_entity_name(cell.name(), kind, key)) return;
  std::vector<Promise<bool>> released;
  {
    std::lock_guard lock(mutex_);
    auto it = active_.find(cell.name());
    if (it == active_.end() || it->second.cell.get() != &cell) return;
    active_.erase(it);
    table_.passivated(kind, key);
    if (auto waiting = releases_.find(cell.name()); waiting != releases_.end()) {
      released = std::move(waiting->second);
      releases_.erase(waiting);
    }
  }
  for (auto& r : released) r.set_value(true);
}

void EntityHost::sweep() {
  std::vector<std::shared_ptr<ActorCell>> idle;
  {
    std::lock_guard lock(mutex_);
    const auto now = Clock::now();
    for (auto& [name, activation] : active_) {
      std::string_view kind, key;
      if (!split_entity_name(name, kind, key)) continue;
      auto k = kinds_.find(kind);
      if (k == kinds_.end() || now - activation.last_call < k->second.idle_after) continue;
      if (table_.begin_passivation(kind, key)) idle.push_back(activation.cell);
    }
  }
  for (auto& cell : idle) cell->request_passivation();
}

std::chrono::milliseconds EntityHost::sweep_interval() {
  std::lock_guard lock(mutex_);
  std::chrono::milliseconds shortest{60'000};
  for (const auto& [kind, k] : kinds_) shortest = std::min(shortest, k.idle_after);
  return std::max(std::chrono::milliseconds(20), shortest / 4);
}

std::size_t EntityHost::active() {
  std::lock_guard lock(mutex_);
  return active_.size();
}

}  // namespace pulsing::detail
