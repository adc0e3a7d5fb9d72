// AddressCache: what the host names of member addresses ("name:port") resolved to, for the UDP
// driver, which sends a datagram to a member at every probe and gossip round and cannot ask the
// DNS each time.
//
// An answer is the numeric "ip:port" (or "[v6]:port") a lookup returned. It is used for `ttl`;
// after that, and after invalidate(), it is still used (no datagram is dropped for want of an
// answer that was right a moment ago) while use() reports that a fresh lookup is due
// (stale-while-revalidate). The caller runs the lookup and reports its outcome with resolved()
// or failed(); only one lookup per name is due at a time, and none sooner than `retry_after`
// after the previous one ended. A failed lookup leaves the answer in place: a DNS hiccup must not
// cut a member off.
//
// Numeric addresses are never cached: use() returns nothing for them and records nothing (the
// caller parses them on each send, which is cheap and has nothing to expire).
//
// The cache holds at most `max_entries` names; when it is full, the name used least recently is
// forgotten, and with it the way back from its answer (address_of(), which maps the endpoint of
// an ICMP error to the member address). A name forgotten while its lookup runs ignores that
// lookup's outcome, and is looked up again at its next use.
//
// Pure logic: no sockets, no clock of its own (times are passed in). Not thread-safe: one thread
// at a time (the driver's loop).
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <list>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>

#include "common/address.hpp"

namespace pulsing::membership {

class AddressCache {
 public:
  struct Options {
    // How long an answer is used before it is looked up again. 30 s: the time a recreated
    // container (same name, new IP) may be gossiped to at its old IP when nothing else tells us
    // (suspicion and ICMP errors do, and cut it short); DNS servers of container platforms hand
    // out TTLs of this order or shorter, and one lookup per name every 30 s costs nothing.
    std::chrono::milliseconds ttl{30'000};
    // The least time between two lookups of one name, whatever asks for it: after a failure
    // (the DNS is not hammered while a container is not up yet) and after an invalidation (a
    // dead member draws an ICMP error for every datagram sent to it). 1 s: a recreated
    // container is found again within about a probe interval.
    std::chrono::milliseconds retry_after{1'000};
    // The names kept at most. 4,096: a few thousand members addressed by name keep every answer
    // (about 200 bytes each, under 1 MB in all). Beyond that, names used least recently are
    // looked up again: the protocol probes members round-robin, so a cluster far larger than
    // this would drop a datagram per lookup it waits for.
    std::size_t max_entries = 4'096;
  };

  // What use() tells the caller.
  struct Use {
    // Where to send, "ip:port"; none when the name has no answer yet (the datagram is dropped:
    // the protocol retries).
    std::optional<std::string> endpoint;
    // The caller must look the name up now and report the outcome (resolved() or failed()).
    bool lookup_due = false;
  };

  // REQUIRES: options.max_entries > 0.
  explicit AddressCache(Options options);
  AddressCache() : AddressCache(Options{}) {}

  // The answer for `address` ("name:port") at `now`, and whether a lookup is due. Records the
  // name (forgetting the least recently used one if full) and marks it used. A numeric address:
  // no answer, no lookup, nothing recorded.
  Use use(const std::string& address, Clock::time_point now);

  // The lookup of `address` that use() asked for found `endpoint` ("ip:port"): used from now
  // until now + ttl. Ignored if the name was forgotten meanwhile.
  void resolved(const std::string& address, const std::string& endpoint, Clock::time_point now);

  // The lookup of `address` failed: the answer, if any, stays in use, and the next lookup is due
  // at the first use after now + retry_after. Returns how many lookups of it have failed in a
  // row (0 if the name was forgotten meanwhile), for the caller's rate-limited logs.
  std::uint32_t failed(const std::string& address, Clock::time_point now);

  // The answer for `address` may be wrong (its member is suspect, or its endpoint reported
  // unreachable): it is still used, and looked up again at its next use (after retry_after from
  // the previous lookup). A lookup already running is the fresh one. Unknown names: nothing.
  void invalidate(const std::string& address);

  // The member address whose answer is `endpoint` ("ip:port", as resolved() received it); when
  // several are, the one resolved last (none once it is forgotten, until another is resolved
  // again).
  std::optional<std::string> address_of(const std::string& endpoint) const;

  std::size_t size() const { return entries_.size(); }

  // Whether `address` is "ip:port" or "[v6]:port" (a scope "%eth0" allowed), not a host name.
  static bool is_numeric(std::string_view address);

 private:
  struct Entry {
    std::optional<std::string> endpoint;  // the answer; none before the first lookup succeeds
    Clock::time_point expires{};          // the answer is fresh before this
    Clock::time_point next_lookup{};      // no lookup before this (retry_after)
    bool stale = false;                   // invalidated: look up at the next use
    bool in_flight = false;               // a lookup runs
    std::uint32_t failures = 0;           // lookups failed in a row
    std::list<std::string>::iterator lru;  // its place in lru_
  };

  void forget_least_recent();
  void forget_reverse(const std::string& address, const Entry& entry);

  Options options_;
  std::unordered_map<std::string, Entry> entries_;
  std::list<std::string> lru_;                                 // the names, most recently used first
  std::unordered_map<std::string, std::string> reverse_;       // answer → address (address_of)
};

}  // namespace pulsing::membership
