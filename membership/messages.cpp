#include "membership/messages.hpp"

namespace pulsing::membership {

namespace {

// Cap'n Proto lays a text out as its bytes plus a NUL, padded to whole words, behind an 8-byte
// pointer. The struct constants below are generous: the codec test checks that every bound
// holds for real encodings.
std::size_t text_bound(const std::string& text) { return 8 + (text.size() + 1 + 7) / 8 * 8; }

std::size_t meta_bound(const Metadata& meta) {
  std::size_t bytes = 16;  // the list pointer and its tag
  for (const auto& [key, value] : meta) bytes += 16 + text_bound(key) + text_bound(value);
  return bytes;
}

constexpr std::size_t kMessageBase = 64;  // list element, union tag, the variant's struct

std::size_t identity_bound(const Identity& who) {
  return text_bound(who.name) + text_bound(who.address) + meta_bound(who.meta);
}

}  // namespace

IdentityPtr make_identity(std::string name, std::string address, Metadata meta) {
  return std::make_shared<const Identity>(Identity{std::move(name), std::move(address), std::move(meta)});
}

std::size_t size_bound(const Metadata& meta) { return meta_bound(meta); }

std::size_t size_bound(const StateSync::Entry& entry) { return 48 + identity_bound(*entry.who); }

std::size_t size_bound(const Message& message) {
  struct Bound {
    std::size_t operator()(const Ping& m) const { return kMessageBase + text_bound(m.target); }
    std::size_t operator()(const IndirectPing& m) const {
      return kMessageBase + text_bound(m.target) + text_bound(m.target_address);
    }
    std::size_t operator()(const Ack&) const { return kMessageBase; }
    std::size_t operator()(const Nack&) const { return kMessageBase; }
    std::size_t operator()(const Alive& m) const { return kMessageBase + identity_bound(*m.who); }
    std::size_t operator()(const Suspect& m) const { return kMessageBase + text_bound(m.name) + text_bound(m.from); }
    std::size_t operator()(const Dead& m) const { return kMessageBase + text_bound(m.name) + text_bound(m.from); }
    std::size_t operator()(const StateSync& m) const {
      std::size_t bytes = kMessageBase + 16 + text_bound(m.from);
      for (const auto& entry : m.members) bytes += size_bound(entry);
      return bytes;
    }
  };
  return std::visit(Bound{}, message);
}

std::size_t packet_overhead_bound(const Packet& packet) {
  // Encoding byte, segment table, root pointer, the packet struct (version word + 2 pointers),
  // list tag.
  return 56 + text_bound(packet.cluster);
}

}  // namespace pulsing::membership
