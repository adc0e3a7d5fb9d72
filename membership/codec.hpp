// The wire codec of the membership protocol: a Packet as one flat Cap'n Proto message
// (membership/gossip.capnp) in Cap'n Proto's packed encoding, deflated when that makes a large
// packet smaller, behind one encoding byte; one UDP datagram each, with no length prefix. Only
// codec.cpp (and
// tests that forge packets) use the schema; the protocol and its simulator speak in
// messages.hpp's structs.
//
// Untrusted input: decode() takes bytes of any alignment (unpacking copies them anyway), applies
// PacketLimits, and reports every problem as PacketError naming it; it never
// crashes on bad bytes. Stateless functions; safe from any thread.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <stdexcept>
#include <vector>

#include "membership/messages.hpp"

namespace pulsing::membership {

// The packet version this node writes and reads (gossip.capnp's protocolVersion).
// 2: packed; 3: the encoding byte; 4: incarnations carry runs.
inline constexpr std::uint16_t kGossipProtocolVersion = 4;

// A datagram's first byte: how the packed message that follows it is encoded (gossip.capnp).
inline constexpr std::byte kPackedEncoding{0};
inline constexpr std::byte kDeflatedEncoding{1};

// Bytes that are not a valid packet, a packet of another protocol version, or one that exceeds
// the limits. The message names the problem ("packet of 70000 bytes exceeds the limit of 65507
// bytes", "16 bytes after the end of the packet").
class PacketError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

struct PacketLimits {
  // The largest UDP payload over IPv4: any datagram that arrives whole may be a packet.
  std::size_t max_bytes = 65'507;
  // Words (8 bytes) the reader may visit: 128 KiB. Decoding visits each word of a well-formed
  // packet once, so twice the largest packet is headroom (raise both together); a packet whose
  // pointers alias each other (to make the reader go over the same words again and again) is
  // stopped here.
  std::uint64_t traversal_limit_words = 16 * 1024;
  // Cap'n Proto's pointer nesting limit. The schema nests 8 deep (packet, messages, message,
  // state sync, members, member, metadata, entry); the rest is room for fields appended later.
  int nesting_limit = 16;
  // A packet of Config::max_packet_bytes (1,400) holds fewer than 60 messages (an ack, the
  // smallest, takes 24 bytes). 256 leaves room for larger packets (jumbo frames) while bounding
  // the work, and the probes and acks sent in answer, that one datagram can cause.
  std::size_t max_messages = 256;
  // Members of all the state syncs of a packet together. A full state is split into packets of a
  // few dozen members each; 1,024 leaves room for larger packets while bounding the member list
  // one datagram makes this node build and merge.
  std::size_t max_members = 1'024;
};

// The packet as its encoding byte and one flat, single-segment Cap'n Proto message, packed (and
// deflated when that helps); its size stays within packet_overhead_bound() plus size_bound() of
// each message (bounds of the unpacked form: packing shrinks what the protocol sends, and the
// codec test checks that the bounds hold).
// REQUIRES: every text, metadata map and list of `packet` has fewer than 2^29 elements.
std::vector<std::byte> encode(const Packet& packet);

// Throws PacketError when `bytes` is not exactly one valid packet of kGossipProtocolVersion
// within `limits` (a deflated one inflates to at most limits.max_bytes), holds a message kind or member state this node does not know (sent by a
// newer peer), or repeats a metadata key.
Packet decode(std::span<const std::byte> bytes, const PacketLimits& limits = {});

}  // namespace pulsing::membership
