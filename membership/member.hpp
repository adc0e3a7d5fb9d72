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

// What a node gossips about itself besides its address: free-form tags. Kept small: it rides in
// every alive message and state sync entry. (A node's ZeroMQ endpoint needs no tag: it is
// tcp://<address>, since gossip and messaging share host and port.)
using Metadata = std::map<std::string, std::string, std::less<>>;

struct Member {
  std::string name;     // unique in the cluster; stable across restarts of the same node
  std::string address;  // where its gossip goes: "host:port" (UDP)
  Metadata meta;
  // Orders what is said about this member: a higher incarnation wins. Only the member itself
  // raises it (to refute a suspicion, or to announce new metadata).
  std::uint64_t incarnation = 0;
  MemberState state = MemberState::kAlive;
  Clock::time_point state_since{};  // when this node last saw `state` change

  friend bool operator==(const Member&, const Member&) = default;
};

enum class EventKind : std::uint8_t {
  kJoined,   // a member this node did not know (or had forgotten) is alive
  kSuspect,  // a member is suspected of having failed
  kAlive,    // a suspect or dead member refuted: alive again
  kDead,     // a member was declared failed
  kLeft,     // a member left gracefully
  kUpdated,  // an alive member announced new metadata or a new address
};
std::string_view to_string(EventKind kind);

struct MemberEvent {
  EventKind kind;
  Member member;  // as known right after the change
};

}  // namespace pulsing::membership
