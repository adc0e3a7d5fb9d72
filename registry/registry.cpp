#include "registry/registry.hpp"

#include <algorithm>
#include <set>
#include <utility>

namespace pulsing::registry {

Registry::Registry(Config config) : config_(std::move(config)) {
  placement_.add(config_.member);
  endpoints_[config_.member] = config_.endpoint;
}

// ---- membership

void Registry::member_up(const std::string& member, const std::string& endpoint, Clock::time_point now,
                         Output& out) {
  endpoints_[member] = endpoint;
  if (placement_.contains(member)) return;
  placement_.add(member);
  // Announces held for it apply now, in the order they came; one that gave another endpoint
  // than the member's was not the member's.
  for (auto it = held_.begin(); it != held_.end();) {
    if (it->announce.member == member) {
      if (it->announce.endpoint == endpoint) {
        apply(it->announce);
      } else {
        ++stats_.rejected;
      }
      it = held_.erase(it);
    } else {
      ++it;
    }
  }
  // It becomes an owner of the names it outranks the last owner of (about replicas/N of them):
  // only those are looked at again.
  std::vector<NamedActor> gained;
  for (auto& [name, local] : local_) {
    if (local.owners.size() >= config_.replicas && !(Placement::rank(member, name) > local.last)) continue;
    refresh_owners(name, local);
    if (std::find(local.owners.begin(), local.owners.end(), member) != local.owners.end()) {
      gained.push_back({name, local.actor_id, local.class_name});
    }
  }
  if (returning(member, now)) {
    // This node dropped its names when it went down; it may not know (a false death it refuted):
    // the same names, in a complete announce that asks for its own.
    repair(member, now, out, /*ask=*/true);
  } else if (!gained.empty()) {
    send_names(member, false, std::move(gained), now, out);
  }
  prune_at_ = std::min(prune_at_, now + config_.handoff_grace);
}

void Registry::member_restarted(const std::string& member, const std::string& endpoint, Clock::time_point now,
                                Output& out) {
  if (member == config_.member) return;
  if (!placement_.contains(member)) {
    member_up(member, endpoint, now, out);
    return;
  }
  endpoints_[member] = endpoint;
  uncache(member);  // what was cached of it lived in its earlier run
  // Its shard is empty, and what this node holds of it is of its earlier run: names both ways.
  repairs_.erase(member);
  repair(member, now, out, /*ask=*/true);
}

void Registry::uncache(const std::string& member) {
  for (auto it = cache_.begin(); it != cache_.end();) {
    auto& instances = it->second.instances;
    std::erase_if(instances, [&](const Instance& i) { return i.member == member; });
    it = instances.empty() ? cache_.erase(it) : std::next(it);
  }
}

bool Registry::returning(const std::string& member, Clock::time_point now) {
  auto it = gone_.find(member);
  if (it == gone_.end()) return false;
  const bool recent = now - it->second < config_.resync_interval;
  gone_.erase(it);
  return recent;
}

void Registry::member_down(const std::string& member, Clock::time_point now, Output& out) {
  if (member == config_.member || !placement_.contains(member)) return;
  placement_.remove(member);
  endpoints_.erase(member);
  repairs_.erase(member);  // its updates still unanswered are ignored when they expire
  if (gone_.size() >= kMaxGone) {
    std::erase_if(gone_, [&](const auto& g) { return now - g.second >= config_.resync_interval; });
    if (gone_.size() >= kMaxGone) gone_.erase(gone_.begin());  // the oldest resync repairs it
  }
  gone_[member] = now;
  drop_host(member);
  uncache(member);
  // Lookups waiting on it move on.
  for (auto& [id, p] : pending_) {
    if (p.next > 0 && p.next <= p.owners.size() && p.owners[p.next - 1] == member) p.answer_by = now;
  }
  // The names it owned get their next owner.
  std::map<std::string, std::vector<NamedActor>> gained;  // by new owner
  for (auto& [name, local] : local_) {
    if (std::find(local.owners.begin(), local.owners.end(), member) == local.owners.end()) continue;
    std::vector<std::string> before = std::move(local.owners);
    refresh_owners(name, local);
    for (const auto& owner : local.owners) {
      if (std::find(before.begin(), before.end(), owner) == before.end()) {
        gained[owner].push_back({name, local.actor_id, local.class_name});
      }
    }
  }
  for (auto& [owner, names] : gained) send_names(owner, false, std::move(names), now, out);
  tick(now, out);
}

// ---- hosting

bool Registry::add_local(const std::string& name, std::uint64_t actor_id, const std::string& class_name,
                         Clock::time_point now, Output& out) {
  auto [it, added] = local_.try_emplace(name, Local{actor_id, class_name, {}, {}});
  if (!added) return false;
  refresh_owners(name, it->second);
  for (const auto& owner : it->second.owners) send_names(owner, false, {{name, actor_id, class_name}}, now, out);
  return true;
}

void Registry::remove_local(const std::string& name, std::uint64_t actor_id, Clock::time_point now, Output& out) {
  auto it = local_.find(name);
  if (it == local_.end() || it->second.actor_id != actor_id) return;
  for (const auto& owner : it->second.owners) {
    Withdraw w{config_.member, config_.node_id, {{name, actor_id, {}}}};
    if (owner == config_.member) {
      apply(w);
    } else {
      w.id = track(owner, now);
      out.messages.push_back({owner, endpoint_of(owner), std::move(w)});
    }
  }
  local_.erase(it);
}

void Registry::refresh_owners(const std::string& name, Local& local) const {
  local.owners = placement_.owners(name, config_.replicas);
  local.last = local.owners.empty() ? Placement::Rank{} : Placement::rank(local.owners.back(), name);
}

void Registry::resync(Clock::time_point now, Output& out) {
  std::map<std::string, std::vector<NamedActor>> batches;  // by owner
  // Every member hears, even one that owns none of our names any more: its entries of ours go.
  for (const auto& member : placement_.members()) batches.try_emplace(member);
  for (auto& [name, local] : local_) {
    refresh_owners(name, local);
    for (const auto& owner : local.owners) batches[owner].push_back({name, local.actor_id, local.class_name});
  }
  for (auto& [owner, names] : batches) send_names(owner, true, std::move(names), now, out);
  // What the repairs due would have sent has just gone out.
  for (auto& [owner, r] : repairs_) r.at = Clock::time_point::max();
}

void Registry::send_names(const std::string& to, bool complete, std::vector<NamedActor> names, Clock::time_point now,
                          Output& out, bool ask) {
  stats_.announced += names.size();
  // In batches the receiver accepts; only the first says `complete` (it replaces, the rest add).
  std::size_t at = 0;
  do {
    std::size_t n = std::min(config_.max_batch, names.size() - at);
    Announce a{config_.member, config_.endpoint, config_.node_id, complete && at == 0,
               {std::make_move_iterator(names.begin() + static_cast<std::ptrdiff_t>(at)),
                std::make_move_iterator(names.begin() + static_cast<std::ptrdiff_t>(at + n))}};
    a.reply = ask && a.complete;
    at += n;
    if (to == config_.member) {
      apply(a);
    } else {
      a.id = track(to, now);
      out.messages.push_back({to, endpoint_of(to), std::move(a)});
    }
  } while (at < names.size());
}

// ---- delivery

std::uint64_t Registry::track(const std::string& to, Clock::time_point now) {
  std::uint64_t id = next_update_++;
  unacked_.emplace(id, Unacked{to, now + config_.update_timeout});
  return id;
}

void Registry::on_ack(const UpdateAck& ack, Clock::time_point now) {
  auto it = unacked_.find(ack.id);
  if (it == unacked_.end()) return;  // late: counted lost already
  std::string owner = std::move(it->second.owner);
  unacked_.erase(it);
  switch (ack.result) {
    case UpdateResult::kApplied: {
      // The owner is reached again: its next repair, if one comes, starts from the short backoff.
      auto r = repairs_.find(owner);
      if (r != repairs_.end() && r->second.at == Clock::time_point::max()) repairs_.erase(r);
      break;
    }
    case UpdateResult::kHeld: lost(owner, now); break;  // it applies it once it knows us, if in time
    case UpdateResult::kRefused: ++stats_.unacknowledged; break;  // sent again, it would be refused again
  }
}

void Registry::undelivered(std::uint64_t id, Clock::time_point now) {
  auto it = unacked_.find(id);
  if (it == unacked_.end()) return;
  std::string owner = std::move(it->second.owner);
  unacked_.erase(it);
  lost(owner, now);  // repaired on reconnection, or by tick() after the backoff
}

void Registry::lost(const std::string& owner, Clock::time_point now) {
  ++stats_.unacknowledged;
  if (!placement_.contains(owner)) return;  // gone: its successors were told when it went
  Repair& r = repairs_[owner];
  if (r.at != Clock::time_point::max()) return;  // one is due already: it covers this update too
  auto backoff = config_.repair_backoff_min * (1LL << std::min(r.failures, 20u));
  r.at = now + std::min<Clock::duration>(backoff, config_.repair_backoff_max);
  ++r.failures;
}

void Registry::reachable(const std::string& endpoint, Clock::time_point now, Output& out) {
  for (auto& [owner, r] : repairs_) {
    if (r.at != Clock::time_point::max() && endpoint_of(owner) == endpoint) r.at = now;
  }
  run_repairs(now, out);
}

void Registry::run_repairs(Clock::time_point now, Output& out) {
  std::vector<std::string> due;
  for (const auto& [owner, r] : repairs_) {
    if (r.at <= now) due.push_back(owner);
  }
  std::sort(due.begin(), due.end());  // the same order on every run of a seed
  for (const auto& owner : due) repair(owner, now, out);
}

void Registry::repair(const std::string& owner, Clock::time_point now, Output& out, bool ask) {
  repairs_[owner].at = Clock::time_point::max();
  ++stats_.repairs;
  // Complete: the owner ends up with exactly the names of ours it owns, whichever of our updates
  // it missed (an empty list drops all of ours there).
  std::vector<NamedActor> names;
  for (const auto& [name, local] : local_) {
    if (std::find(local.owners.begin(), local.owners.end(), owner) != local.owners.end()) {
      names.push_back({name, local.actor_id, local.class_name});
    }
  }
  send_names(owner, true, std::move(names), now, out, ask);
}

std::size_t Registry::repairs_pending() const {
  return static_cast<std::size_t>(
      std::count_if(repairs_.begin(), repairs_.end(), [](const auto& r) { return r.second.at != Clock::time_point::max(); }));
}

// ---- owning

std::optional<UpdateAck> Registry::receive(const Message& message, std::string_view from, Clock::time_point now,
                                           Output& out) {
  return std::visit(
      [&](const auto& m) -> std::optional<UpdateAck> {
        using M = std::decay_t<decltype(m)>;
        if constexpr (std::is_same_v<M, Announce>) {
          UpdateResult result = on_announce(m, from, now);
          // Asked for ours in return: once applied (held, its member is not live here yet, and
          // member_up() sends what it gains).
          if (m.reply && result == UpdateResult::kApplied) repair(m.member, now, out);
          return m.id == 0 ? std::nullopt : std::optional(UpdateAck{m.id, result});
        } else if constexpr (std::is_same_v<M, Withdraw>) {
          UpdateResult result = on_withdraw(m, from);
          return m.id == 0 ? std::nullopt : std::optional(UpdateAck{m.id, result});
        } else if constexpr (std::is_same_v<M, LookupAnswer>) {
          on_answer(m, now, out);
        } else if constexpr (std::is_same_v<M, UpdateAck>) {
          on_ack(m, now);
        } else {
          ++stats_.rejected;  // a Lookup: answered through answer()
        }
        return std::nullopt;
      },
      message);
}

UpdateResult Registry::on_announce(const Announce& m, std::string_view from, Clock::time_point now) {
  // Oversized, or another member's: a node announces its own names, from its own endpoint.
  const bool impostor = m.endpoint != from || (placement_.contains(m.member) && endpoint_of(m.member) != m.endpoint);
  if (m.names.size() > config_.max_batch || impostor) {
    ++stats_.rejected;
    return UpdateResult::kRefused;
  }
  if (placement_.contains(m.member)) {
    apply(m);
    return UpdateResult::kApplied;
  }
  // Not a live member here (yet): its join may still be on its way. A complete announce makes
  // the member's earlier ones held here moot (so that its repeated repairs do not crowd out
  // other members' announces).
  ++stats_.held;
  if (m.complete) std::erase_if(held_, [&](const Held& h) { return h.announce.member == m.member; });
  if (held_.size() == config_.max_held) held_.pop_front();
  held_.push_back({m, now + config_.hold_unknown});
  return UpdateResult::kHeld;
}

UpdateResult Registry::on_withdraw(const Withdraw& m, std::string_view from) {
  const std::string at = endpoint_of(m.member);
  if (m.names.size() > config_.max_batch || (!at.empty() && at != from)) {
    ++stats_.rejected;
    return UpdateResult::kRefused;
  }
  if (at.empty()) return UpdateResult::kApplied;  // not a live member here: nothing of it is held
  apply(m);
  return UpdateResult::kApplied;  // also when nothing of that run is here: nothing is left to withdraw
}

std::uint32_t Registry::host_index(const std::string& member) {
  auto [it, added] = host_by_name_.try_emplace(member, 0);
  if (!added) return it->second;
  if (free_hosts_.empty()) {
    it->second = static_cast<std::uint32_t>(hosts_.size());
    hosts_.emplace_back();
    host_names_.emplace_back();
  } else {
    it->second = free_hosts_.back();
    free_hosts_.pop_back();
  }
  host_names_[it->second] = member;
  return it->second;
}

std::uint32_t Registry::class_index(const std::string& class_name) {
  auto [it, added] = class_index_.try_emplace(class_name, static_cast<std::uint32_t>(class_names_.size()));
  if (added) class_names_.push_back(class_name);
  return it->second;
}

void Registry::apply(const Announce& m) {
  std::uint32_t h = host_index(m.member);
  Host& host = hosts_[h];
  if (host.node_id != m.node_id && host.node_id != 0) {
    // Another run of the member (it restarted): its entries are those of the run that announced
    // last (NodeIds are random: there is no "later" to compare).
    drop_host(m.member);
    h = host_index(m.member);
  }
  hosts_[h].endpoint = m.endpoint;
  hosts_[h].node_id = m.node_id;
  if (m.complete) {
    std::set<std::string_view> listed;
    for (const auto& n : m.names) listed.insert(n.name);
    for (auto it = shard_.begin(); it != shard_.end();) {
      if (!listed.contains(it->first)) {
        stats_.entries -= static_cast<std::uint64_t>(std::erase_if(it->second, [&](const Entry& e) { return e.host == h; }));
      }
      it = it->second.empty() ? shard_.erase(it) : std::next(it);
    }
  }
  for (const auto& n : m.names) {
    auto& entries = shard_[n.name];
    auto it = std::find_if(entries.begin(), entries.end(), [&](const Entry& e) { return e.host == h; });
    std::uint32_t c = class_index(n.class_name);
    if (it == entries.end()) {
      entries.push_back({h, c, n.actor_id});
      ++stats_.entries;
    } else {
      *it = Entry{h, c, n.actor_id};  // one actor per name on a node: the newer replaces it
    }
  }
}

void Registry::apply(const Withdraw& m) {
  auto found = host_by_name_.find(m.member);
  if (found == host_by_name_.end() || hosts_[found->second].node_id != m.node_id) {
    ++stats_.rejected;  // nothing of that run here
    return;
  }
  for (const auto& n : m.names) {
    auto it = shard_.find(n.name);
    if (it == shard_.end()) continue;
    stats_.entries -= static_cast<std::uint64_t>(std::erase_if(
        it->second, [&](const Entry& e) { return e.host == found->second && e.actor_id == n.actor_id; }));
    if (it->second.empty()) shard_.erase(it);
  }
}

void Registry::drop_host(const std::string& member) {
  auto found = host_by_name_.find(member);
  if (found == host_by_name_.end()) return;
  std::uint32_t h = found->second;
  for (auto it = shard_.begin(); it != shard_.end();) {
    stats_.entries -= static_cast<std::uint64_t>(std::erase_if(it->second, [&](const Entry& e) { return e.host == h; }));
    it = it->second.empty() ? shard_.erase(it) : std::next(it);
  }
  hosts_[h] = Host{};
  host_names_[h].clear();
  free_hosts_.push_back(h);
  host_by_name_.erase(found);
}

LookupAnswer Registry::answer(const Lookup& lookup) {
  ++stats_.lookups_answered;
  return LookupAnswer{lookup.id, lookup.name, live_instances(lookup.name)};
}

std::vector<Instance> Registry::live_instances(std::string_view name) const {
  std::vector<Instance> out;
  auto it = shard_.find(std::string(name));
  if (it == shard_.end()) return out;
  for (const Entry& e : it->second) {
    const std::string& member = host_names_[e.host];
    if (!placement_.contains(member)) continue;
    out.push_back({member, hosts_[e.host].endpoint, hosts_[e.host].node_id, e.actor_id, class_names_[e.class_name]});
  }
  return out;
}

// ---- resolving

const std::vector<Instance>* Registry::cached(std::string_view name, Clock::time_point now) const {
  auto it = cache_.find(std::string(name));
  if (it == cache_.end() || it->second.expires <= now) return nullptr;
  return &it->second.instances;
}

void Registry::forget_cached(std::string_view name, std::uint64_t node_id, std::uint64_t actor_id) {
  auto it = cache_.find(std::string(name));
  if (it == cache_.end()) return;
  std::erase_if(it->second.instances,
                [&](const Instance& i) { return i.node_id == node_id && i.actor_id == actor_id; });
  if (it->second.instances.empty()) cache_.erase(it);
}

std::uint64_t Registry::lookup(const std::string& name, Clock::time_point deadline, Clock::time_point now,
                               Output& out) {
  ++stats_.lookups;
  std::uint64_t id = next_lookup_++;
  Pending& p = pending_[id];
  p.name = name;
  p.deadline = deadline;
  p.owners = placement_.owners(name, config_.replicas);
  ask_next(id, p, now, out);
  return id;
}

void Registry::undeliverable(std::uint64_t lookup, const std::string& to, Clock::time_point now, Output& out) {
  auto it = pending_.find(lookup);
  if (it == pending_.end()) return;
  Pending& p = it->second;
  if (p.next == 0 || p.next > p.owners.size() || p.owners[p.next - 1] != to) return;  // not the one asked now
  ask_next(lookup, p, now, out);
}

void Registry::ask_next(std::uint64_t id, Pending& p, Clock::time_point now, Output& out) {
  while (p.next < p.owners.size()) {
    const std::string owner = p.owners[p.next++];
    if (owner == config_.member) {
      auto instances = live_instances(p.name);
      if (!instances.empty()) {
        finish(id, p.name, std::move(instances), out);
        return;
      }
      continue;
    }
    p.answer_by = now + config_.lookup_timeout;
    p.retry_at = Clock::time_point::max();
    out.messages.push_back({owner, endpoint_of(owner), Lookup{id, p.name}});
    return;
  }
  // Every owner asked: none knows the name.
  if (now >= p.deadline) {
    finish(id, p.name, {}, out);
    return;
  }
  p.answer_by = Clock::time_point::max();
  p.retry_at = std::min(p.deadline, now + config_.retry_interval);
}

void Registry::on_answer(const LookupAnswer& m, Clock::time_point now, Output& out) {
  auto it = pending_.find(m.id);
  if (it == pending_.end() || it->second.name != m.name) return;  // late: finished already
  std::vector<Instance> instances = m.instances;
  // What the owner knows, as far as this node sees it alive.
  std::erase_if(instances, [&](const Instance& i) { return !placement_.contains(i.member); });
  if (instances.empty()) {
    ask_next(m.id, it->second, now, out);
    return;
  }
  cache_[m.name] = CacheEntry{instances, now + config_.cache_ttl};
  finish(m.id, m.name, std::move(instances), out);
}

void Registry::finish(std::uint64_t id, const std::string& name, std::vector<Instance> instances, Output& out) {
  out.completions.push_back({id, name, std::move(instances)});
  pending_.erase(id);
}

// ---- timers

void Registry::tick(Clock::time_point now, Output& out) {
  if (next_resync_ == Clock::time_point{}) {
    // The first tick: a phase of its own per node (from its random run id), so that nodes
    // started together do not resync together.
    next_resync_ = now + milliseconds(config_.node_id % static_cast<std::uint64_t>(config_.resync_interval.count()));
  }
  // Updates unanswered past their deadline count as lost (ids and deadlines grow together).
  while (!unacked_.empty() && unacked_.begin()->second.deadline <= now) {
    std::string owner = std::move(unacked_.begin()->second.owner);
    unacked_.erase(unacked_.begin());
    lost(owner, now);
  }
  if (now >= next_resync_) {
    next_resync_ = now + config_.resync_interval;
    resync(now, out);
    // Expired cache entries go too: the cache holds what was resolved in the last interval.
    std::erase_if(cache_, [&](const auto& entry) { return entry.second.expires <= now; });
  }
  run_repairs(now, out);
  while (!held_.empty() && held_.front().until <= now) held_.pop_front();
  if (now >= prune_at_) {
    prune_at_ = Clock::time_point::max();
    for (auto it = shard_.begin(); it != shard_.end();) {
      if (placement_.owns(config_.member, it->first, config_.replicas)) {
        ++it;
        continue;
      }
      stats_.entries -= it->second.size();
      it = shard_.erase(it);
    }
  }
  for (auto it = pending_.begin(); it != pending_.end();) {
    auto& [id, p] = *it;
    ++it;  // ask_next may finish (erase) the lookup
    if (now >= p.retry_at) {
      p.owners = placement_.owners(p.name, config_.replicas);
      p.next = 0;
      ask_next(id, p, now, out);
    } else if (now >= p.answer_by) {
      ask_next(id, p, now, out);
    }
  }
}

Clock::time_point Registry::next_timer() const {
  Clock::time_point next = std::min(next_resync_, prune_at_);
  if (!held_.empty()) next = std::min(next, held_.front().until);
  if (!unacked_.empty()) next = std::min(next, unacked_.begin()->second.deadline);
  for (const auto& [owner, r] : repairs_) next = std::min(next, r.at);
  for (const auto& [id, p] : pending_) next = std::min({next, p.retry_at, p.answer_by});
  return next;
}

std::string Registry::endpoint_of(const std::string& member) const {
  auto it = endpoints_.find(member);
  return it == endpoints_.end() ? std::string{} : it->second;
}

}  // namespace pulsing::registry
