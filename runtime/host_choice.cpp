#include "runtime/host_choice.hpp"

#include <algorithm>
#include <charconv>

#include <fmt/format.h>

#include "registry/placement.hpp"
#include "runtime/kind_table.hpp"

namespace pulsing::detail {

namespace {

std::uint64_t announced_load(const membership::Metadata& meta) {
  auto it = meta.find(kLoadKey);
  if (it == meta.end()) return 0;
  std::uint64_t load = 0;
  std::from_chars(it->second.data(), it->second.data() + it->second.size(), load);
  return load;
}

KindHost host_of(const membership::Member& m, std::string_view self_name) {
  return {m.name, m.address, announced_load(m.meta), m.name == self_name, m.state == membership::MemberState::kAlive};
}

Failure no_host(std::string why) { return make_failure<RuntimeError>(RuntimeErrorKind::kNoHost, std::move(why)); }

}  // namespace

std::vector<KindHost> kind_hosts(const std::vector<membership::Member>& members, std::string_view self_name,
                                 std::string_view kind) {
  std::vector<KindHost> hosts;
  for (const auto& m : members) {
    auto kinds = m.meta.find(KindTable::kMetadataKey);
    if (membership::is_live(m.state) && kinds != m.meta.end() && announces_kind(kinds->second, kind)) hosts.push_back(host_of(m, self_name));
  }
  std::sort(hosts.begin(), hosts.end(), [](const KindHost& a, const KindHost& b) { return a.member < b.member; });
  return hosts;
}

const KindHost& key_owner(const std::vector<KindHost>& hosts, std::string_view kind, std::string_view key) {
  const std::string name = fmt::format("{}/{}", kind, key);
  const KindHost* best = &hosts.front();
  auto best_rank = registry::Placement::rank(best->member, name);
  for (const auto& host : hosts) {
    auto rank = registry::Placement::rank(host.member, name);
    if (rank > best_rank) {
      best = &host;
      best_rank = rank;
    }
  }
  return *best;
}

Result<KindHost> HostChooser::choose(const std::vector<membership::Member>& members, std::string_view self_name,
                                     std::string_view kind, const Placement& placement) {
  if (placement.mode == Placement::Mode::kNode) {
    for (const auto& m : members) {
      if (membership::is_live(m.state) && (m.name == placement.target || m.address == placement.target)) return host_of(m, self_name);
    }
    return no_host(fmt::format("no live member is named '{}' (to spawn {} on)", placement.target, kind));
  }
  std::vector<KindHost> hosts = kind_hosts(members, self_name, kind);
  if (hosts.empty()) return no_host(fmt::format("no live member hosts kind '{}' (Node::register_kind)", kind));
  switch (placement.mode) {
    case Placement::Mode::kKey: return key_owner(hosts, kind, placement.target);
    case Placement::Mode::kLeastLoaded: return least_loaded(hosts);
    default: break;
  }
  // Round robin over the hosts not suspected, if there are any.
  std::vector<KindHost> alive;
  std::copy_if(hosts.begin(), hosts.end(), std::back_inserter(alive), [](const KindHost& h) { return h.alive; });
  const auto& pool = alive.empty() ? hosts : alive;
  return pool[next_turn() % pool.size()];
}

const KindHost& HostChooser::least_loaded(const std::vector<KindHost>& hosts) {
  std::lock_guard lock(mutex_);
  auto effective = [&](const KindHost& h) {
    auto it = sent_.find(h.member);
    std::uint64_t since = it != sent_.end() && it->second.first == h.load ? it->second.second : 0;
    // A suspect host counts as loaded as can be: chosen only when every host is suspect.
    return h.alive ? h.load + since : UINT64_MAX / 2 + h.load + since;
  };
  const std::size_t start = next_turn() % hosts.size();
  const KindHost* best = nullptr;
  std::uint64_t best_load = 0;
  for (std::size_t i = 0; i < hosts.size(); ++i) {
    const KindHost& h = hosts[(start + i) % hosts.size()];
    std::uint64_t load = effective(h);
    if (best == nullptr || load < best_load) {
      best = &h;
      best_load = load;
    }
  }
  if (sent_.size() > 2 * hosts.size() + 16) {
    // Forget hosts that are gone: the map stays the size of the hosts.
    std::erase_if(sent_, [&](const auto& entry) {
      return std::none_of(hosts.begin(), hosts.end(), [&](const KindHost& h) { return h.member == entry.first; });
    });
  }
  auto& [seen, since] = sent_[best->member];
  if (seen != best->load) {
    seen = best->load;
    since = 0;
  }
  ++since;
  return *best;
}

}  // namespace pulsing::detail
