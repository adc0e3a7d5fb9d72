// CallerAccess: what a caller may send this node, by the role its connection was admitted with
// (CallerRole; messaging/curve.hpp). Checked before anything is dispatched.
//   node      everything (a member; and every caller when connections are not authenticated)
//   operator  every client request: ask, tell, streams, resolve, lookup, watch, stop, ping; not
//             the members' own traffic (registry announces) nor answers
//   observer  resolve, lookup, ping, and asks of the methods an actor opened to observers
//             (allow_observers(): the node service's members, actors, stats, instances)
//
// Ownership: borrows the node's registry of local actors (to name a target addressed by id),
// which outlives it. Thread-safety: every member from any thread.
#pragma once

#include <map>
#include <mutex>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "messaging/envelope.hpp"

namespace pulsing::detail {

class LocalRegistry;

class CallerAccess {
 public:
  explicit CallerAccess(const LocalRegistry& actors) : actors_(actors) {}

  // Observers may ask `methods` of the actor named `actor_name` (adds to what was allowed).
  void allow_observers(const std::string& actor_name, const std::vector<std::string>& methods);
  bool permits(const EnvelopeView& envelope) const;

 private:
  bool observer_may_ask(const EnvelopeView& envelope) const;

  const LocalRegistry& actors_;
  mutable std::mutex mutex_;
  std::map<std::string, std::set<std::string, std::less<>>, std::less<>> observable_;  // guarded by mutex_
};

}  // namespace pulsing::detail
