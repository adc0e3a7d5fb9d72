#include "membership/codec.hpp"

#include <capnp/any.h>
#include <capnp/message.h>
#include <capnp/serialize-packed.h>
#include <doctest/doctest.h>

#include <cstring>
#include <random>
#include <string>
#include <type_traits>
#include <utility>

#include "common/deflate.hpp"
#include "membership/gossip.capnp.h"

namespace pulsing::membership {
namespace {

// Not only ASCII, and with a NUL inside: texts must come back byte for byte.
const std::string kBinary("eu-\xc3\xa9st\0b", 9);

// Every field differs from its default, so that a field the codec drops shows.
Metadata sample_meta() { return {{"endpoint", "tcp://10.0.0.2:7001"}, {"role", "worker"}, {"zone", kBinary}}; }

StateSync::Entry sample_member(MemberState state, int i) {
  return {make_identity("node-" + std::to_string(i), "10.0.0." + std::to_string(i) + ":7946",
                        i % 2 == 0 ? sample_meta() : Metadata{}),
          1'000 + static_cast<std::uint64_t>(i), state};
}

std::vector<Message> one_of_each() {
  return {
      Ping{.seq = 0xfffffff0, .target = "node-b"},
      IndirectPing{.seq = 7, .target = "node-c", .target_address = "10.0.0.3:7946", .want_nack = false},
      Ack{.seq = 8},
      Nack{.seq = 9},
      Alive{.who = make_identity("node-d", "10.0.0.4:7946", sample_meta()), .incarnation = 0xfedcba9876543210},
      Suspect{.name = "node-e", .incarnation = 11, .from = "node-a"},
      Dead{.name = "node-f", .incarnation = 12, .from = "node-f"},
      StateSync{.reply_wanted = true,
                .join = true,
                .from = "node-a",
                .members = {sample_member(MemberState::kAlive, 1), sample_member(MemberState::kSuspect, 2),
                            sample_member(MemberState::kDead, 3), sample_member(MemberState::kLeft, 4)}},
  };
}

Packet sample_packet(std::vector<Message> messages) {
  return Packet{.cluster = "pulsing-test", .messages = std::move(messages)};
}

void check_fields(const Ping& a, const Ping& b) {
  CHECK(a.seq == b.seq);
  CHECK(a.target == b.target);
}
void check_fields(const IndirectPing& a, const IndirectPing& b) {
  CHECK(a.seq == b.seq);
  CHECK(a.target == b.target);
  CHECK(a.target_address == b.target_address);
  CHECK(a.want_nack == b.want_nack);
}
void check_fields(const Ack& a, const Ack& b) { CHECK(a.seq == b.seq); }
void check_fields(const Nack& a, const Nack& b) { CHECK(a.seq == b.seq); }
void check_fields(const Alive& a, const Alive& b) {
  CHECK(*a.who == *b.who);
  CHECK(a.incarnation == b.incarnation);
}
void check_fields(const Suspect& a, const Suspect& b) {
  CHECK(a.name == b.name);
  CHECK(a.incarnation == b.incarnation);
  CHECK(a.from == b.from);
}
void check_fields(const Dead& a, const Dead& b) {
  CHECK(a.name == b.name);
  CHECK(a.incarnation == b.incarnation);
  CHECK(a.from == b.from);
}
void check_fields(const StateSync& decoded, const StateSync& sent) {
  CHECK(decoded.reply_wanted == sent.reply_wanted);
  CHECK(decoded.join == sent.join);
  CHECK(decoded.from == sent.from);
  REQUIRE(decoded.members.size() == sent.members.size());
  for (std::size_t i = 0; i < sent.members.size(); ++i) {
    CAPTURE(i);
    const StateSync::Entry& a = decoded.members[i];
    const StateSync::Entry& b = sent.members[i];
    CHECK(*a.who == *b.who);
    CHECK(a.incarnation == b.incarnation);
    CHECK(a.state == b.state);
  }
}

void check_same(const Message& decoded, const Message& sent) {
  REQUIRE(decoded.index() == sent.index());
  std::visit([&sent](const auto& m) { check_fields(m, std::get<std::decay_t<decltype(m)>>(sent)); }, decoded);
}

void check_same(const Packet& decoded, const Packet& sent) {
  CHECK(decoded.cluster == sent.cluster);
  REQUIRE(decoded.messages.size() == sent.messages.size());
  for (std::size_t i = 0; i < sent.messages.size(); ++i) {
    CAPTURE(i);
    check_same(decoded.messages[i], sent.messages[i]);
  }
}

std::size_t bound_of(const Packet& packet) {
  std::size_t bytes = packet_overhead_bound(packet);
  for (const auto& message : packet.messages) bytes += size_bound(message);
  return bytes;
}

// A packet built by hand, as a newer (or broken) peer would send it: `fill` sets what it likes.
template <typename Fill>
std::vector<std::byte> handmade(Fill fill) {
  capnp::MallocMessageBuilder message;
  auto packet = message.initRoot<wire::Packet>();
  packet.setVersion(kGossipProtocolVersion);
  packet.setCluster("pulsing-test");
  fill(packet);
  kj::VectorOutputStream out;
  capnp::writePackedMessage(out, message);
  const auto* begin = reinterpret_cast<const std::byte*>(out.getArray().begin());
  std::vector<std::byte> datagram{kPackedEncoding};
  datagram.insert(datagram.end(), begin, begin + out.getArray().size());
  return datagram;
}

// The packed message inside a datagram, inflated if it was deflated.
std::vector<std::byte> packed_message(const std::vector<std::byte>& datagram) {
  REQUIRE(!datagram.empty());
  std::span<const std::byte> rest = std::span(datagram).subspan(1);
  if (datagram.front() == kDeflatedEncoding) return inflate_bytes(rest, 1 << 20);
  REQUIRE(datagram.front() == kPackedEncoding);
  return {rest.begin(), rest.end()};
}

// A probe with a little gossip: below the size from which packets are deflated.
Packet small_packet() {
  return sample_packet({Ping{.seq = 1, .target = "node-b"}, Suspect{.name = "node-e", .incarnation = 11, .from = "a"}});
}

}  // namespace

TEST_CASE("every message kind survives a round trip with every field") {
  for (const Message& message : one_of_each()) {
    CAPTURE(message.index());
    Packet packet = sample_packet({message});
    check_same(decode(encode(packet)), packet);
  }
}

TEST_CASE("a packet of many messages keeps them all, in order") {
  std::vector<Message> messages;
  for (int round = 0; round < 10; ++round) {
    for (Message& message : one_of_each()) messages.push_back(std::move(message));
  }
  Packet packet = sample_packet(std::move(messages));
  check_same(decode(encode(packet)), packet);
}

TEST_CASE("a state sync carries members of every state, with their metadata") {
  StateSync sync{.reply_wanted = false, .join = true, .members = {}};
  for (int i = 0; i < 12; ++i) sync.members.push_back(sample_member(static_cast<MemberState>(i % 4), i));
  Packet packet = sample_packet({sync});
  Packet back = decode(encode(packet));
  check_same(back, packet);
  const auto& members = std::get<StateSync>(back.messages.at(0)).members;
  CHECK(members[2].state == MemberState::kDead);
  CHECK(members[2].who->meta.at("zone") == kBinary);
  CHECK(members[3].state == MemberState::kLeft);
}

TEST_CASE("empty strings, metadata and lists round trip") {
  Packet packet;
  packet.messages = {Ping{}, Alive{}, StateSync{},
                     StateSync{.reply_wanted = false, .join = false, .members = {StateSync::Entry{}}}};
  check_same(decode(encode(packet)), packet);
  CHECK(decode(encode(Packet{})).messages.empty());
}

TEST_CASE("an encoded packet is one flat segment") {
  std::vector<Message> messages;
  for (int round = 0; round < 40; ++round) {
    for (Message& message : one_of_each()) messages.push_back(std::move(message));
  }
  auto bytes = packed_message(encode(sample_packet(std::move(messages))));
  REQUIRE(bytes.size() > 8 * 1024);  // larger than Cap'n Proto's default first segment
  kj::ArrayInputStream in(kj::arrayPtr(reinterpret_cast<const kj::byte*>(bytes.data()), bytes.size()));
  capnp::PackedMessageReader message(in);
  CHECK(message.getSegment(0).size() > 0);
  CHECK(message.getSegment(1) == nullptr);
}

TEST_CASE("a misaligned packet decodes") {
  Packet packet = sample_packet(one_of_each());
  auto bytes = encode(packet);
  for (std::size_t shift : {1, 3, 4}) {
    CAPTURE(shift);
    std::vector<std::byte> shifted(bytes.size() + shift);
    std::memcpy(shifted.data() + shift, bytes.data(), bytes.size());
    check_same(decode(std::span<const std::byte>(shifted).subspan(shift)), packet);
  }
}

TEST_CASE("large packets travel deflated, small ones as they are") {
  auto small = encode(small_packet());
  CHECK(small.front() == kPackedEncoding);
  StateSync state{.reply_wanted = false, .join = false, .from = "node-0", .members = {}};
  for (int i = 0; i < 16; ++i) state.members.push_back(sample_member(MemberState::kAlive, i));
  Packet full = sample_packet({state});
  auto deflated = encode(full);
  CHECK(deflated.front() == kDeflatedEncoding);
  CHECK(deflated.size() < packed_message(deflated).size() / 2);
  check_same(decode(deflated), full);
}

TEST_CASE("inputs of the wrong size are rejected, naming the problem") {
  auto bytes = encode(sample_packet(one_of_each()));
  CHECK_THROWS_WITH_AS(decode({}), "empty packet", PacketError);
  CHECK_THROWS_WITH_AS(decode(std::vector<std::byte>{kPackedEncoding}), "packet of an encoding byte only",
                       PacketError);

  auto trailing = encode(small_packet());
  trailing.resize(trailing.size() + 16);
  CHECK_THROWS_WITH_AS(decode(trailing), "16 bytes after the end of the packet", PacketError);
  auto trailing_deflated = bytes;
  REQUIRE(trailing_deflated.front() == kDeflatedEncoding);
  trailing_deflated.resize(trailing_deflated.size() + 16);
  CHECK_THROWS_WITH_AS(decode(trailing_deflated),
                       "invalid compressed packet: data after the end of the deflate stream (16 bytes)", PacketError);

  std::vector<std::byte> huge(65'512);
  CHECK_THROWS_WITH_AS(decode(huge), "packet of 65512 bytes exceeds the limit of 65507 bytes", PacketError);
  PacketLimits small;
  small.max_bytes = bytes.size() - 8;
  CHECK_THROWS_WITH_AS(decode(bytes, small), doctest::Contains("exceeds the limit of"), PacketError);
}

TEST_CASE("truncated packets are rejected") {
  auto packed = encode(small_packet());
  for (std::size_t cut = 2; cut < packed.size(); ++cut) {
    CAPTURE(cut);
    auto prefix = std::span<const std::byte>(packed).first(cut);
    CHECK_THROWS_WITH_AS(decode(prefix), doctest::Contains("invalid packet: "), PacketError);
  }
  auto deflated = encode(sample_packet(one_of_each()));
  REQUIRE(deflated.front() == kDeflatedEncoding);
  for (std::size_t cut = 2; cut < deflated.size(); ++cut) {
    CAPTURE(cut);
    auto prefix = std::span<const std::byte>(deflated).first(cut);
    CHECK_THROWS_WITH_AS(decode(prefix), doctest::Contains("invalid compressed packet: "), PacketError);
  }
}

TEST_CASE("an unknown encoding, or a deflated packet that expands beyond the limit, is refused") {
  auto bytes = encode(small_packet());
  bytes.front() = std::byte{7};
  CHECK_THROWS_WITH_AS(decode(bytes), "unknown packet encoding 7 (sent by a newer peer, or not a packet)",
                       PacketError);
  std::vector<std::byte> bomb{kDeflatedEncoding};
  auto zeros = deflate_bytes(std::vector<std::byte>(1'000'000));
  bomb.insert(bomb.end(), zeros.begin(), zeros.end());
  CHECK_THROWS_WITH_AS(decode(bomb), "invalid compressed packet: inflates to more than 65507 bytes", PacketError);
}

TEST_CASE("garbage never crashes the decoder") {
  std::mt19937_64 random(7);
  auto valid = encode(sample_packet(one_of_each()));
  for (int i = 0; i < 5'000; ++i) {
    std::vector<std::byte> garbage;
    if (i % 3 == 0) {  // a valid packet with a few bytes flipped goes deep into the decoder
      garbage = valid;
      for (int flips = 0; flips < 1 + i % 4; ++flips) {
        garbage[random() % garbage.size()] = static_cast<std::byte>(random());
      }
    } else {
      garbage.resize(1 + 8 * (2 + random() % 40));  // the encoding byte, then whole words
      for (auto& b : garbage) b = static_cast<std::byte>(random());
      if (i % 3 == 1) {  // a plausible segment table: one segment filling the rest
        std::uint32_t table[2] = {0, static_cast<std::uint32_t>((garbage.size() - 1) / 8 - 1)};
        std::memcpy(garbage.data() + 1, table, sizeof(table));
      }
      garbage[0] = i % 2 == 0 ? kPackedEncoding : kDeflatedEncoding;
    }
    try {
      decode(garbage);
    } catch (const PacketError&) {
    }
  }
}

TEST_CASE("a packet of another protocol version is refused, naming both versions") {
  auto bytes = handmade([](wire::Packet::Builder packet) { packet.setVersion(kGossipProtocolVersion + 1); });
  CHECK_THROWS_WITH_AS(decode(bytes), "packet of protocol version 5 (this node speaks 4)", PacketError);
}

TEST_CASE("message kinds and member states of a newer peer are refused") {
  auto kind = handmade([](wire::Packet::Builder packet) {
    auto message = packet.initMessages(1)[0];
    message.initAck().setSeq(1);
    // The union's discriminant: the first 16 bits of Message's data section.
    auto data = capnp::AnyStruct::Builder(std::move(message)).getDataSection();
    REQUIRE(data.size() >= 2);
    data[0] = 42;
    data[1] = 0;
  });
  CHECK_THROWS_WITH_AS(decode(kind), "unknown message kind 42 (sent by a newer peer?)", PacketError);

  auto state = handmade([](wire::Packet::Builder packet) {
    auto member = packet.initMessages(1)[0].initStateSync().initMembers(1)[0];
    member.setName("node-z");
    member.setState(static_cast<wire::MemberState>(9));
  });
  CHECK_THROWS_WITH_AS(decode(state), "unknown member state 9 (sent by a newer peer?)", PacketError);
}

TEST_CASE("duplicate metadata keys are refused") {
  auto bytes = handmade([](wire::Packet::Builder packet) {
    auto entries = packet.initMessages(1)[0].initAlive().initMeta(2);
    entries[0].setKey("role");
    entries[0].setValue("a");
    entries[1].setKey("role");
    entries[1].setValue("b");
  });
  CHECK_THROWS_WITH_AS(decode(bytes), "duplicate metadata key 'role'", PacketError);
}

TEST_CASE("too many messages or members are refused") {
  std::vector<Message> acks(257, Ack{.seq = 1});
  auto bytes = encode(sample_packet(acks));
  CHECK_THROWS_WITH_AS(decode(bytes), "packet of 257 messages exceeds the limit of 256", PacketError);
  acks.pop_back();
  CHECK(decode(encode(sample_packet(acks))).messages.size() == 256);

  PacketLimits limits;
  limits.max_members = 3;
  StateSync two{.reply_wanted = false, .join = false,
                .members = {sample_member(MemberState::kAlive, 1), sample_member(MemberState::kAlive, 2)}};
  CHECK(decode(encode(sample_packet({two})), limits).messages.size() == 1);
  // The limit is on the packet: two state syncs of two members exceed it together.
  CHECK_THROWS_WITH_AS(decode(encode(sample_packet({two, two})), limits), "packet of more than 3 state sync members",
                       PacketError);
}

TEST_CASE("encoded packets stay within the size bounds the protocol packs by") {
  std::mt19937_64 random(11);
  auto text = [&random](std::size_t length) {
    std::string s(length, 'x');
    for (auto& c : s) c = static_cast<char>('a' + random() % 26);
    return s;
  };
  Metadata big_meta;
  for (int i = 0; i < 40; ++i) big_meta.emplace(text(1 + i % 17), text(i * 7 % 61));
  // Every length modulo 8 (texts are padded to whole words), long names, and big metadata.
  std::vector<std::size_t> lengths{63, 255, 1'000};
  for (std::size_t length = 0; length <= 16; ++length) lengths.push_back(length);
  for (std::size_t length : lengths) {
    CAPTURE(length);
    StateSync::Entry member{make_identity(text(length), text(length), big_meta), 3, MemberState::kSuspect};
    std::vector<Message> messages{
        Ping{.seq = 1, .target = text(length)},
        IndirectPing{.seq = 2, .target = text(length), .target_address = text(length), .want_nack = true},
        Ack{.seq = 3},
        Nack{.seq = 4},
        Alive{.who = make_identity(text(length), text(length)), .incarnation = 5},
        Alive{.who = make_identity(text(length), text(length), big_meta), .incarnation = 5},
        Suspect{.name = text(length), .incarnation = 6, .from = text(length)},
        Dead{.name = text(length), .incarnation = 7, .from = text(length)},
        StateSync{},
        StateSync{.reply_wanted = true, .join = false, .from = text(length), .members = {member, member, StateSync::Entry{}}},
    };
    for (const Message& message : messages) {
      CAPTURE(message.index());
      Packet packet{.cluster = text(length), .messages = {message}};
      CHECK(encode(packet).size() <= bound_of(packet));
    }
    Packet all{.cluster = text(length), .messages = messages};
    CHECK(encode(all).size() <= bound_of(all));
    Packet empty{.cluster = text(length), .messages = {}};
    CHECK(encode(empty).size() <= bound_of(empty));
  }
}

}  // namespace pulsing::membership
