// Which member a spawn with a Placement goes to: the hosts of a kind, as members announce them
// in their metadata (KindTable::kMetadataKey, and the load under kLoadKey), and the choice
// among them. Pure: takes the members as this node sees them; no socket, no clock.
//
//   any           round robin over the hosts (sorted by name), this chooser's own count
//   least-loaded  the least announced load, plus the spawns this chooser sent to that host since
//                 it announced it (so that a burst of spawns spreads instead of piling onto the
//                 one host whose figure is stale); ties go round robin
//   key           the rendezvous owner (registry::Placement::rank) of "kind/key" among the hosts
//   node          the member of that name (or "host:port"), live, whether or not it announces
//                 the kind: it answers for itself (kRefused when it does not host it)
//
// Thread-safety: HostChooser may be used from any thread.
#pragma once

#include <atomic>
#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "membership/member.hpp"
#include "messaging/error.hpp"
#include "runtime/actor.hpp"
#include "runtime/future.hpp"

namespace pulsing::detail {

struct KindHost {
  std::string member;   // membership name
  std::string address;  // "host:port": its endpoint is tcp://<address>
  std::uint64_t load = 0;
  bool self = false;  // this node
  bool alive = true;  // false: suspect
};

inline constexpr const char* kLoadKey = "load";

// The live (alive or suspect) members that announce `kind`, sorted by name. `self_name`: this
// node's member name (its entry is marked self).
std::vector<KindHost> kind_hosts(const std::vector<membership::Member>& members, std::string_view self_name,
                                 std::string_view kind);
// The rendezvous owner of `key` among `hosts` (by "kind/key"). REQUIRES: hosts is not empty.
const KindHost& key_owner(const std::vector<KindHost>& hosts, std::string_view kind, std::string_view key);

class HostChooser {
 public:
  // The host a spawn of `kind` with `placement` goes to, among `members`; kNoHost when there is
  // none (no live member hosts the kind, or no live member has the name asked for).
  // REQUIRES: !placement.is_local().
  Result<KindHost> choose(const std::vector<membership::Member>& members, std::string_view self_name,
                          std::string_view kind, const Placement& placement);

 private:
  const KindHost& least_loaded(const std::vector<KindHost>& hosts);
  std::size_t next_turn() { return turn_.fetch_add(1, std::memory_order_relaxed); }

  std::atomic<std::size_t> turn_{0};
  // Per host: the load it announced when this chooser last sent it a spawn, and the spawns sent
  // since it announced that figure.
  std::mutex mutex_;
  std::map<std::string, std::pair<std::uint64_t, std::uint64_t>, std::less<>> sent_;  // guarded
};

}  // namespace pulsing::detail
