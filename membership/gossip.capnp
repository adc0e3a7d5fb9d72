# The wire form of a membership Packet (membership/messages.hpp): what one UDP datagram of the
# gossip protocol carries. A datagram is one encoding byte, then one flat Cap'n Proto message in
# the packed encoding: as it is (byte 0), or compressed with raw deflate (byte 1; large packets,
# such as full states, shrink to about 40%). No length prefix: the datagram has one.
# membership/codec.hpp encodes and decodes it.
#
# Versioning: `version` is the protocol version of the writer. A reader rejects (and counts) a
# packet whose version it does not speak. Fields are only ever appended with new ordinals, and
# new message kinds are appended to Message's union; a reader that meets a kind or a member
# state it does not know rejects the packet rather than guessing.
@0xae6bcd241c9084a7;

using Cxx = import "/capnp/c++.capnp";
$Cxx.namespace("pulsing::membership::wire");

# 2: packets travel in the packed encoding. 3: the encoding byte; no sender in the packet (the
# datagram's source is the address to answer, and only a state sync needs the sender's name).
# 4: an incarnation carries its member's run (member.hpp): a version-3 node would take every
# version-4 incarnation for a forgery, so the two refuse each other's packets outright.
const protocolVersion :UInt16 = 4;

struct Packet {
  version @0 :UInt16;
  # Packets of another cluster are ignored: clusters that share a network must not merge.
  cluster @1 :Text;
  # A probe with gossip piggybacked on it, say: handled in order.
  messages @2 :List(Message);
}

struct Message {
  # One struct per kind (not groups): each kind can grow fields of its own, and a list element
  # stays two words whatever the largest kind.
  union {
    ping @0 :Ping;
    indirectPing @1 :IndirectPing;
    ack @2 :Ack;
    nack @3 :Nack;
    alive @4 :Alive;
    suspect @5 :Suspect;
    dead @6 :Dead;
    stateSync @7 :StateSync;
  }
}

# Are you alive? The receiver acks if it is `target` (an address may have changed hands).
struct Ping {
  seq @0 :UInt32;
  target @1 :Text;
}

# Probe `target` at `targetAddress` for the sender; answer with its `seq`.
struct IndirectPing {
  seq @0 :UInt32;
  target @1 :Text;
  targetAddress @2 :Text;
  # Send a Nack when the target does not answer within the probe timeout.
  wantNack @3 :Bool;
}

struct Ack {
  seq @0 :UInt32;
}

# The target of an indirect ping did not answer (the requester's own network works).
struct Nack {
  seq @0 :UInt32;
}

# Gossip about one member. A higher incarnation wins; only the member itself raises it.
struct Alive {
  name @0 :Text;
  address @1 :Text;
  meta @2 :List(MetaEntry);
  incarnation @3 :UInt64;
}

# `from` is who says so: suspicions from distinct members confirm each other.
struct Suspect {
  name @0 :Text;
  incarnation @1 :UInt64;
  from @2 :Text;
}

# A Dead whose `from` is the member itself is a graceful leave.
struct Dead {
  name @0 :Text;
  incarnation @1 :UInt64;
  from @2 :Text;
}

# Push-pull: (part of) the sender's member list.
struct StateSync {
  # Send your member list back.
  replyWanted @0 :Bool;
  # Part of a join: from the joiner (with replyWanted), or the answer to it (without), whose
  # news the joiner does not gossip again: the cluster knows it already.
  join @1 :Bool;
  # The sending member's name: the suspicions its list implies are its own.
  from @2 :Text;
  members @3 :List(Member);
}

# One entry of a StateSync. How long the member has been in its state is not sent: it means
# nothing on another node's clock.
struct Member {
  name @0 :Text;
  address @1 :Text;
  meta @2 :List(MetaEntry);
  incarnation @3 :UInt64;
  state @4 :MemberState;
}

enum MemberState {
  alive @0;
  suspect @1;
  dead @2;
  left @3;    # left gracefully
}

# A member's metadata, one tag per entry; keys unique, written sorted.
struct MetaEntry {
  key @0 :Text;
  value @1 :Text;
}
