#include "membership/codec.hpp"

#include <cstring>
#include <string>

#include <capnp/message.h>
#include <capnp/serialize-packed.h>
#include <fmt/format.h>
#include <kj/exception.h>

#include "common/deflate.hpp"
#include "membership/gossip.capnp.h"

namespace pulsing::membership {

static_assert(wire::PROTOCOL_VERSION == kGossipProtocolVersion);
static_assert(static_cast<int>(wire::MemberState::ALIVE) == static_cast<int>(MemberState::kAlive));
static_assert(static_cast<int>(wire::MemberState::SUSPECT) == static_cast<int>(MemberState::kSuspect));
static_assert(static_cast<int>(wire::MemberState::DEAD) == static_cast<int>(MemberState::kDead));
static_assert(static_cast<int>(wire::MemberState::LEFT) == static_cast<int>(MemberState::kLeft));

namespace {

// Smaller packets (probes, acks, a little gossip) are left as they are: deflate would save a few
// bytes at best. Full states and gossip bursts, of repeated names and addresses, shrink to ~40%.
constexpr std::size_t kDeflateFrom = 200;

capnp::Text::Reader to_text(const std::string& s) { return {s.data(), s.size()}; }

std::string to_string(capnp::Text::Reader text) { return {text.begin(), text.size()}; }

// `builder`: an Alive or a Member.
template <typename Builder>
void write_meta(Builder builder, const Metadata& meta) {
  if (meta.empty()) return;  // an empty list would still cost its tag word
  auto entries = builder.initMeta(static_cast<unsigned>(meta.size()));
  unsigned i = 0;
  for (const auto& [key, value] : meta) {
    auto entry = entries[i++];
    entry.setKey(to_text(key));
    entry.setValue(to_text(value));
  }
}

// `builder`: an Alive or a Member.
template <typename Builder>
void write_identity(Builder b, const Identity& who) {
  b.setName(to_text(who.name));
  b.setAddress(to_text(who.address));
  write_meta(b, who.meta);
}

struct MessageWriter {
  wire::Message::Builder b;

  void operator()(const Ping& m) {
    auto out = b.initPing();
    out.setSeq(m.seq);
    out.setTarget(to_text(m.target));
  }
  void operator()(const IndirectPing& m) {
    auto out = b.initIndirectPing();
    out.setSeq(m.seq);
    out.setTarget(to_text(m.target));
    out.setTargetAddress(to_text(m.target_address));
    out.setWantNack(m.want_nack);
  }
  void operator()(const Ack& m) { b.initAck().setSeq(m.seq); }
  void operator()(const Nack& m) { b.initNack().setSeq(m.seq); }
  void operator()(const Alive& m) {
    auto out = b.initAlive();
    write_identity(out, *m.who);
    out.setIncarnation(m.incarnation);
  }
  void operator()(const Suspect& m) {
    auto out = b.initSuspect();
    out.setName(to_text(m.name));
    out.setIncarnation(m.incarnation);
    out.setFrom(to_text(m.from));
  }
  void operator()(const Dead& m) {
    auto out = b.initDead();
    out.setName(to_text(m.name));
    out.setIncarnation(m.incarnation);
    out.setFrom(to_text(m.from));
  }
  void operator()(const StateSync& m) {
    auto out = b.initStateSync();
    out.setReplyWanted(m.reply_wanted);
    out.setJoin(m.join);
    out.setFrom(to_text(m.from));
    auto members = out.initMembers(static_cast<unsigned>(m.members.size()));
    for (unsigned i = 0; i < m.members.size(); ++i) {
      write_identity(members[i], *m.members[i].who);
      members[i].setIncarnation(m.members[i].incarnation);
      members[i].setState(static_cast<wire::MemberState>(m.members[i].state));
    }
  }
};

Metadata read_meta(capnp::List<wire::MetaEntry>::Reader entries) {
  Metadata meta;
  for (auto entry : entries) {
    auto [it, inserted] = meta.emplace(to_string(entry.getKey()), to_string(entry.getValue()));
    if (!inserted) throw PacketError(fmt::format("duplicate metadata key '{}'", it->first));
  }
  return meta;
}

// `reader`: an Alive or a Member.
template <typename Reader>
IdentityPtr read_identity(Reader r) {
  return make_identity(to_string(r.getName()), to_string(r.getAddress()), read_meta(r.getMeta()));
}

StateSync::Entry read_entry(wire::Member::Reader r) {
  auto state = static_cast<unsigned>(r.getState());
  if (state > static_cast<unsigned>(wire::MemberState::LEFT)) {
    throw PacketError(fmt::format("unknown member state {} (sent by a newer peer?)", state));
  }
  return {read_identity(r), r.getIncarnation(), static_cast<MemberState>(state)};
}

// `members`: how many state sync members the packet's earlier messages held (the limit is on
// the packet as a whole).
Message read_message(wire::Message::Reader r, const PacketLimits& limits, std::size_t& members) {
  switch (r.which()) {
    case wire::Message::PING: {
      auto m = r.getPing();
      return Ping{.seq = m.getSeq(), .target = to_string(m.getTarget())};
    }
    case wire::Message::INDIRECT_PING: {
      auto m = r.getIndirectPing();
      return IndirectPing{.seq = m.getSeq(),
                          .target = to_string(m.getTarget()),
                          .target_address = to_string(m.getTargetAddress()),
                          .want_nack = m.getWantNack()};
    }
    case wire::Message::ACK: return Ack{.seq = r.getAck().getSeq()};
    case wire::Message::NACK: return Nack{.seq = r.getNack().getSeq()};
    case wire::Message::ALIVE: {
      auto m = r.getAlive();
      return Alive{.who = read_identity(m), .incarnation = m.getIncarnation()};
    }
    case wire::Message::SUSPECT: {
      auto m = r.getSuspect();
      return Suspect{.name = to_string(m.getName()), .incarnation = m.getIncarnation(), .from = to_string(m.getFrom())};
    }
    case wire::Message::DEAD: {
      auto m = r.getDead();
      return Dead{.name = to_string(m.getName()), .incarnation = m.getIncarnation(), .from = to_string(m.getFrom())};
    }
    case wire::Message::STATE_SYNC: {
      auto m = r.getStateSync();
      auto list = m.getMembers();
      members += list.size();
      if (members > limits.max_members) {
        throw PacketError(fmt::format("packet of more than {} state sync members", limits.max_members));
      }
      StateSync sync{.reply_wanted = m.getReplyWanted(), .join = m.getJoin(), .from = to_string(m.getFrom()),
                     .members = {}};
      sync.members.reserve(list.size());
      for (auto member : list) sync.members.push_back(read_entry(member));
      return sync;
    }
  }
  throw PacketError(
      fmt::format("unknown message kind {} (sent by a newer peer?)", static_cast<unsigned>(r.which())));
}

Packet read_packet(wire::Packet::Reader r, const PacketLimits& limits) {
  if (r.getVersion() != kGossipProtocolVersion) {
    throw PacketError(fmt::format("packet of protocol version {} (this node speaks {})", r.getVersion(),
                                  kGossipProtocolVersion));
  }
  auto messages = r.getMessages();
  if (messages.size() > limits.max_messages) {
    throw PacketError(
        fmt::format("packet of {} messages exceeds the limit of {}", messages.size(), limits.max_messages));
  }
  Packet packet;
  packet.cluster = to_string(r.getCluster());
  packet.messages.reserve(messages.size());
  std::size_t members = 0;
  for (auto message : messages) packet.messages.push_back(read_message(message, limits, members));
  return packet;
}

}  // namespace

std::vector<std::byte> encode(const Packet& packet) {
  // A first segment as large as the size bounds (messages.hpp) keeps the packet one segment:
  // a one-word segment table and no far pointers, which is what the bounds assume.
  std::size_t bound = packet_overhead_bound(packet);
  for (const auto& message : packet.messages) bound += size_bound(message);
  capnp::MallocMessageBuilder builder(static_cast<unsigned>((bound + sizeof(capnp::word) - 1) / sizeof(capnp::word)));

  auto b = builder.initRoot<wire::Packet>();
  b.setVersion(kGossipProtocolVersion);
  b.setCluster(to_text(packet.cluster));
  auto messages = b.initMessages(static_cast<unsigned>(packet.messages.size()));
  for (unsigned i = 0; i < packet.messages.size(); ++i) std::visit(MessageWriter{messages[i]}, packet.messages[i]);

  // Packed: the zero bytes of pointers and padding go (a ping shrinks from 136 to 72 bytes).
  kj::VectorOutputStream out(capnp::computeSerializedSizeInWords(builder) * sizeof(capnp::word));
  capnp::writePackedMessage(out, builder);
  auto written = out.getArray();
  std::span<const std::byte> packed{reinterpret_cast<const std::byte*>(written.begin()), written.size()};
  std::vector<std::byte> datagram;
  if (packed.size() >= kDeflateFrom) {
    datagram = deflate_bytes(packed);
    if (datagram.size() < packed.size()) {
      datagram.insert(datagram.begin(), kDeflatedEncoding);
      return datagram;
    }
  }
  datagram.reserve(packed.size() + 1);
  datagram.push_back(kPackedEncoding);
  datagram.insert(datagram.end(), packed.begin(), packed.end());
  return datagram;
}

Packet decode(std::span<const std::byte> bytes, const PacketLimits& limits) {
  if (bytes.empty()) throw PacketError("empty packet");
  if (bytes.size() > limits.max_bytes) {
    throw PacketError(
        fmt::format("packet of {} bytes exceeds the limit of {} bytes", bytes.size(), limits.max_bytes));
  }
  std::byte encoding = bytes.front();
  std::span<const std::byte> packed = bytes.subspan(1);
  std::vector<std::byte> inflated;
  if (encoding == kDeflatedEncoding) {
    try {
      inflated = inflate_bytes(packed, limits.max_bytes);
    } catch (const InflateError& e) {
      throw PacketError(fmt::format("invalid compressed packet: {}", e.what()));
    }
    packed = inflated;
  } else if (encoding != kPackedEncoding) {
    throw PacketError(fmt::format("unknown packet encoding {} (sent by a newer peer, or not a packet)",
                                  static_cast<unsigned>(encoding)));
  }
  if (packed.empty()) throw PacketError("packet of an encoding byte only");
  try {
    // The reader unpacks into words of its own: input of any alignment will do. Its segment
    // table is checked against the traversal limit before anything is allocated.
    kj::ArrayInputStream in(kj::arrayPtr(reinterpret_cast<const kj::byte*>(packed.data()), packed.size()));
    capnp::ReaderOptions options{limits.traversal_limit_words, limits.nesting_limit};
    capnp::PackedMessageReader message(in, options);
    if (auto trailing = in.tryGetReadBuffer().size(); trailing != 0) {
      throw PacketError(fmt::format("{} bytes after the end of the packet", trailing));
    }
    return read_packet(message.getRoot<wire::Packet>(), limits);
  } catch (const kj::Exception& e) {
    throw PacketError(fmt::format("invalid packet: {}", e.getDescription().cStr()));
  }
}

}  // namespace pulsing::membership
