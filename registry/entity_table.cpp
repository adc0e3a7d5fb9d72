#include "registry/entity_table.hpp"

#include <algorithm>

namespace pulsing::registry {

EntityTable::EntityTable(Config config) : config_(std::move(config)) {}

std::string EntityTable::entity_name(std::string_view kind, std::string_view key) {
  std::string name;
  name.reserve(kind.size() + 1 + key.size());
  name.append(kind).append("/").append(key);
  return name;
}

std::string EntityTable::owner_in(const Placement& hosts, const std::string& name) {
  auto owners = hosts.owners(name, 1);
  return owners.empty() ? std::string() : std::move(owners.front());
}

std::vector<std::string> EntityTable::set_hosts(std::string_view kind, std::vector<std::string> hosts,
                                                Clock::time_point now) {
  auto it = kinds_.find(kind);
  if (it == kinds_.end()) it = kinds_.emplace(std::string(kind), KindView{}).first;
  KindView& view = it->second;
  Placement next;
  next.set_members(std::move(hosts));
  if (next.members() == view.now.members()) return {};
  view.before = std::move(view.now);
  view.now = std::move(next);
  view.changed = now;
  std::vector<std::string> moved;
  const std::string prefix = entity_name(kind, "");
  for (auto& [name, entry] : entries_) {
    if (entry.state == State::kPassivating || !name.starts_with(prefix)) continue;
    if (owner_in(view.now, name) != config_.self) {
      entry.state = State::kPassivating;
      moved.push_back(name.substr(prefix.size()));
    }
  }
  return moved;
}

std::string EntityTable::owner(std::string_view kind, std::string_view key) const {
  auto it = kinds_.find(kind);
  return it == kinds_.end() ? std::string() : owner_in(it->second.now, entity_name(kind, key));
}

EntityTable::Arrival EntityTable::arrive(std::string_view kind, std::string_view key, int hops,
                                         Clock::time_point now) {
  const std::string name = entity_name(kind, key);
  auto kind_it = kinds_.find(kind);
  const std::string owner = kind_it == kinds_.end() ? std::string() : owner_in(kind_it->second.now, name);
  if (auto it = entries_.find(name); it != entries_.end()) {
    if (it->second.state != State::kPassivating) return {Action::kDeliver, {}};
    // Idle passivation of an entity still ours: the next activation takes the call. A hand-over:
    // the new owner does (and waits for this node's release first).
    if (owner == config_.self) return {Action::kHold, {}};
    if (owner.empty()) return {Action::kNoHost, {}};
    return hops < kMaxHops ? Arrival{Action::kForward, owner} : Arrival{Action::kRefuse, {}};
  }
  if (owner.empty()) return {Action::kNoHost, {}};
  if (owner != config_.self) {
    return hops < kMaxHops ? Arrival{Action::kForward, owner} : Arrival{Action::kRefuse, {}};
  }
  const KindView& view = kind_it->second;
  std::string previous;
  if (now - view.changed < config_.handoff_grace) {
    previous = owner_in(view.before, name);
    // Only a host that is still one can hold it (a gone host's activations went with it).
    if (previous == config_.self || !view.now.contains(previous)) previous.clear();
  }
  entries_.emplace(name, Entry{State::kActivating, {}});
  return {Action::kActivate, std::move(previous)};
}

void EntityTable::activated(std::string_view kind, std::string_view key) {
  auto it = entries_.find(entity_name(kind, key));
  if (it != entries_.end() && it->second.state == State::kActivating) it->second.state = State::kActive;
}

bool EntityTable::begin_passivation(std::string_view kind, std::string_view key) {
  auto it = entries_.find(entity_name(kind, key));
  if (it == entries_.end() || it->second.state != State::kActive) return false;
  it->second.state = State::kPassivating;
  return true;
}

std::vector<std::string> EntityTable::passivated(std::string_view kind, std::string_view key) {
  auto it = entries_.find(entity_name(kind, key));
  if (it == entries_.end()) return {};
  std::vector<std::string> waiting = std::move(it->second.waiting);
  entries_.erase(it);
  return waiting;
}

EntityTable::Release EntityTable::release(std::string_view kind, std::string_view key, const std::string& requester) {
  const std::string name = entity_name(kind, key);
  auto it = entries_.find(name);
  if (it == entries_.end()) return Release::kReleased;
  Release answer = Release::kPassivating;
  if (it->second.state != State::kPassivating) {
    if (owner(kind, key) == config_.self) return Release::kRefused;
    // Ours no longer in this view either (a view without hosts of the kind yet, say).
    it->second.state = State::kPassivating;
    answer = Release::kPassivate;
  }
  if (std::find(it->second.waiting.begin(), it->second.waiting.end(), requester) == it->second.waiting.end()) {
    it->second.waiting.push_back(requester);
  }
  return answer;
}

bool EntityTable::holds(std::string_view kind, std::string_view key) const {
  return entries_.contains(entity_name(kind, key));
}

}  // namespace pulsing::registry
