// The messages of the membership protocol, as plain structs. A Packet carries one or more of
// them from one node to another (a probe with gossip piggybacked on it, say); codec.hpp turns
// packets into bytes and back. The protocol (membership.hpp) speaks in these structs, so the
// simulator can run it without encoding anything.
//
// Value types; thread-compatible.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <variant>
#include <vector>

#include "membership/member.hpp"

namespace pulsing::membership {

// Are you alive? The receiver acks if it is `target` (an address may have changed hands).
struct Ping {
  std::uint32_t seq = 0;
  std::string target;
};
// Probe `target` at `target_address` for me; answer with my `seq`: an Ack when it answered, a
// Nack (when `want_nack`) when it did not within your probe timeout.
struct IndirectPing {
  std::uint32_t seq = 0;
  std::string target;
  std::string target_address;
  bool want_nack = true;
};
struct Ack {
  std::uint32_t seq = 0;
};
// "I could not reach your target": tells the requester that its own network works (Lifeguard).
struct Nack {
  std::uint32_t seq = 0;
};
// Who a member says it is: its name, address and metadata. Immutable once made, and shared by
// every message and member record that holds it: a node keeps a pointer per member, not copies
// (in the simulator 10,000 nodes share the 10,000 identities rather than hold 10^8 copies).
struct Identity {
  std::string name;
  std::string address;
  Metadata meta;
  friend bool operator==(const Identity&, const Identity&) = default;
};
using IdentityPtr = std::shared_ptr<const Identity>;
IdentityPtr make_identity(std::string name, std::string address, Metadata meta = {});

// Gossip about one member. `from` is who says so (suspicions from distinct nodes confirm each
// other; a Dead whose `from` is the member itself is a graceful leave).
struct Alive {
  IdentityPtr who = std::make_shared<const Identity>();  // never null
  std::uint64_t incarnation = 0;
};
struct Suspect {
  std::string name;
  std::uint64_t incarnation = 0;
  std::string from;
};
struct Dead {
  std::string name;
  std::uint64_t incarnation = 0;
  std::string from;
};
// Push-pull: (part of) the sender's whole member list. `reply_wanted`: send yours back. `join`:
// part of a join, from the joiner (reply wanted) or the answer to it, whose news the joiner does
// not gossip again (the cluster knows it already).
struct StateSync {
  // One member as the sender knows it (how long it has been in its state is not sent: it means
  // nothing on another node's clock).
  struct Entry {
    IdentityPtr who = std::make_shared<const Identity>();  // never null
    std::uint64_t incarnation = 0;
    MemberState state = MemberState::kAlive;
  };
  bool reply_wanted = false;
  bool join = false;
  std::string from;  // the sender's name: the suspicions this list implies are its own
  std::vector<Entry> members;
};

using Message = std::variant<Ping, IndirectPing, Ack, Nack, Alive, Suspect, Dead, StateSync>;

// The datagram's source is the address to answer: a packet does not repeat it.
struct Packet {
  std::string cluster;  // packets of another cluster are ignored
  std::vector<Message> messages;
};

// An upper bound of the bytes `message` adds to an encoded packet, and of a packet's own
// overhead: what the protocol uses to fill packets up to Config::max_packet_bytes.
std::size_t size_bound(const Message& message);
std::size_t size_bound(const StateSync::Entry& entry);
// What `meta` adds to an Alive or a state sync entry that carries it (Options::max_meta_bytes
// limits it): each key and value with its pointer and padding, 16 bytes per entry, 16 for the list.
std::size_t size_bound(const Metadata& meta);
std::size_t packet_overhead_bound(const Packet& packet);  // everything but the messages

}  // namespace pulsing::membership
