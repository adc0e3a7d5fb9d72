// The vocabulary of membership: what a node knows of one member, and the events it reports
// when that knowledge changes.
//
// Value types; thread-compatible.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <string_view>

#include "common/address.hpp"

namespace pulsing::membership {

// alive → suspect → dead, or alive → left (a graceful leave). A suspect or dead member that
// refutes (an alive message with a higher incarnation) is alive again.
enum class MemberState : std::uint8_t { kAlive, kSuspect, kDead, kLeft };
std::string_view to_string(MemberState state);
// Alive or suspect: a member others still count on (probe, place names and actors on).
inline bool is_live(MemberState state) { return state == MemberState::kAlive || state == MemberState::kSuspect; }

// What a node gossips about itself besides its address: free-form tags. Kept small: it rides in
// every alive message and state sync entry. (A node's ZeroMQ endpoint needs no tag: it is
// tcp://<address>, since gossip and messaging share host and port.)
using Metadata = std::map<std::string, std::string, std::less<>>;

struct Member {
  std::string name;     // unique in the cluster; stable across restarts of the same node
  std::string address;  // where its gossip goes: "host:port" (UDP)
  Metadata meta;
  // Orders what is said about this member: a higher incarnation wins. Only the member itself
  // raises it (to refute a suspicion, or to announce new metadata). Its high bits number the
  // member's run (run_of()): see first_incarnation().
  std::uint64_t incarnation = 0;
  MemberState state = MemberState::kAlive;
  Clock::time_point state_since{};  // when this node last saw `state` change

  friend bool operator==(const Member&, const Member&) = default;
};

// An incarnation is `run << kRunShift` plus the refutations and metadata updates of that run.
// A run is numbered by the wall clock in milliseconds when it started (Config::run), so that a
// member restarted after a crash outranks everything said about its earlier run, and so that
// others can tell a restart (another run) from a refutation (the same run, one higher). 2^20
// refutations fit in a run; beyond them the count carries into the run bits, and others see a
// restart that did not happen (a node refuting a thousand times a second for 17 minutes).
inline constexpr int kRunShift = 20;
inline constexpr std::uint64_t first_incarnation(std::uint64_t run) { return run << kRunShift; }
inline constexpr std::uint64_t run_of(std::uint64_t incarnation) { return incarnation >> kRunShift; }

enum class EventKind : std::uint8_t {
  kJoined,   // a member this node did not know (or had forgotten) is alive
  kSuspect,  // a member is suspected of having failed
  kAlive,    // a suspect or dead member refuted: alive again
  kDead,     // a member was declared failed
  kLeft,     // a member left gracefully
  kUpdated,  // an alive member announced new metadata or a new address
  // A live member is back as a new run before it was declared dead (a crash and a fast
  // restart): whatever lived in its earlier run is gone (its actors, its share of the name
  // registry, its view of the cluster), and it is alive now, perhaps at a new address or with
  // new metadata. Not reported for a member this node had declared dead or forgotten: that one
  // is kJoined.
  kRestarted,
};
std::string_view to_string(EventKind kind);

struct MemberEvent {
  EventKind kind;
  Member member;  // as known right after the change
};

}  // namespace pulsing::membership
