#include "messaging/envelope.hpp"

#include <capnp/serialize.h>
#include <doctest/doctest.h>

#include <cstring>
#include <random>

#include "messaging/envelope.capnp.h"

namespace pulsing {
namespace {

Envelope sample(std::uint64_t correlation) {
  Envelope e;
  e.kind = EnvelopeKind::kAsk;
  e.correlation = correlation;
  e.sender_node = 0xfeedfacecafebeefull;
  e.target_id = 42;
  e.target_node = 7;
  e.method = "add";
  e.payload = Value::List{50, "text", Value::Map{{"k", 1.5}}};
  e.deadline_ms = 30'000;
  e.trace_id = 11;
  e.span_id = 12;
  e.credit = 32;
  return e;
}

// sample(), addressed by name instead of by actor id.
Envelope named_sample(std::uint64_t correlation) {
  Envelope e = sample(correlation);
  e.target_id = 0;
  e.target_name = "calc";
  return e;
}

std::vector<Envelope> decode_all(std::span<const std::byte> frame) {
  std::vector<Envelope> out;
  decode_frame(frame, [&](const EnvelopeView& e) { out.push_back(e.decode({})); });
  return out;
}

void check_same(const Envelope& a, const Envelope& b) {
  CHECK(a.kind == b.kind);
  CHECK(a.correlation == b.correlation);
  CHECK(a.sender_node == b.sender_node);
  CHECK(a.sender_endpoint == b.sender_endpoint);
  CHECK(a.target_id == b.target_id);
  CHECK(a.target_name == b.target_name);
  CHECK(a.target_node == b.target_node);
  CHECK(a.method == b.method);
  CHECK(a.payload == b.payload);
  CHECK(a.error == b.error);
  CHECK(a.deadline_ms == b.deadline_ms);
  CHECK(a.trace_id == b.trace_id);
  CHECK(a.span_id == b.span_id);
  CHECK(a.credit == b.credit);
}

}  // namespace

TEST_CASE("an envelope survives a frame round trip with every field") {
  std::vector<std::byte> frame;
  Envelope e = sample(1);
  append_envelope(frame, e);
  auto back = decode_all(frame);
  REQUIRE(back.size() == 1);
  check_same(back[0], e);
}

TEST_CASE("a frame batches envelopes and delivers them in order") {
  std::vector<std::byte> frame;
  Envelope named = named_sample(2);
  named.kind = EnvelopeKind::kTell;
  Envelope reply;
  reply.kind = EnvelopeKind::kReply;
  reply.correlation = 3;
  reply.error = Value::Map{{"category", "runtime"}, {"kind", "actor_not_found"}, {"message", "x"}};
  append_envelope(frame, sample(1));
  append_envelope(frame, named);
  append_envelope(frame, reply);
  auto back = decode_all(frame);
  REQUIRE(back.size() == 3);
  check_same(back[0], sample(1));
  check_same(back[1], named);
  check_same(back[2], reply);
}

TEST_CASE("a copy of a view's bytes gives the payload after the frame is gone") {
  std::vector<std::uint64_t> kept;  // 8-byte aligned, as the runtime keeps a call's bytes
  std::size_t size = 0;
  {
    std::vector<std::byte> frame;
    append_envelope(frame, sample(1));
    append_envelope(frame, named_sample(2));
    int seen = 0;
    decode_frame(frame, [&](const EnvelopeView& e) {
      if (++seen != 2) return;
      size = e.bytes.size();
      kept.resize((size + 7) / 8);
      std::memcpy(kept.data(), e.bytes.data(), size);
    });
  }
  Value payload;
  read_payload(std::as_bytes(std::span(kept)).first(size), {}, [&](std::optional<wire::Value::Reader> wire) {
    REQUIRE(wire.has_value());
    payload = read_value(*wire);
  });
  CHECK(payload == named_sample(2).payload);
}

TEST_CASE("a payload is checked when it is decoded, not with the header") {
  Value deep = 1;
  for (int i = 0; i < 10; ++i) deep = Value::List{deep};
  Envelope e = sample(1);
  e.payload = Value::List{deep};
  std::vector<std::byte> frame;
  append_envelope(frame, e);
  DecodeLimits strict;
  strict.nesting_limit = 4;
  int seen = 0;
  decode_frame(frame, [&](const EnvelopeView& view) {
    ++seen;
    CHECK(view.method == "add");
    CHECK(view.correlation == 1);
    CHECK_THROWS_WITH_AS(view.payload(strict), "value nested deeper than 4 levels", DecodeError);
    CHECK(view.payload({}) == e.payload);
  }, strict);
  CHECK(seen == 1);
}

TEST_CASE("a misaligned frame decodes (it is copied once)") {
  std::vector<std::byte> frame;
  append_envelope(frame, sample(5));
  append_envelope(frame, sample(6));
  std::vector<std::byte> shifted(frame.size() + 1);
  std::memcpy(shifted.data() + 1, frame.data(), frame.size());
  auto back = decode_all(std::span(shifted).subspan(1));
  REQUIRE(back.size() == 2);
  CHECK(back[1].correlation == 6);
}

TEST_CASE("truncated frames are rejected with a DecodeError that says where") {
  std::vector<std::byte> frame;
  append_envelope(frame, sample(1));
  for (std::size_t cut = 1; cut < frame.size(); cut += 3) {
    CAPTURE(cut);
    CHECK_THROWS_AS(decode_all(std::span(frame).first(cut)), DecodeError);
  }
  CHECK_THROWS_WITH_AS(decode_all({}), "empty frame", DecodeError);
}

TEST_CASE("garbage never crashes the decoder") {
  std::mt19937_64 random(7);
  for (int i = 0; i < 2'000; ++i) {
    std::vector<std::byte> garbage(8 + random() % 200);
    for (auto& b : garbage) b = static_cast<std::byte>(random());
    if (i % 2 == 0) {  // a plausible length prefix makes the decoder go deeper
      std::uint64_t length = (garbage.size() - 8) & ~std::uint64_t{7};
      std::memcpy(garbage.data(), &length, sizeof(length));
    }
    try {
      decode_all(garbage);
    } catch (const DecodeError&) {
    }
  }
}

namespace {
// A frame of the one envelope `message` holds, built by hand (as a peer that is not pulsing may).
std::vector<std::byte> frame_of(capnp::MallocMessageBuilder& message) {
  auto words = capnp::messageToFlatArray(message);
  auto bytes = words.asBytes();
  std::vector<std::byte> frame(8 + bytes.size());
  std::uint64_t length = bytes.size();
  std::memcpy(frame.data(), &length, 8);
  std::memcpy(frame.data() + 8, bytes.begin(), bytes.size());
  return frame;
}
}  // namespace

TEST_CASE("an envelope of another protocol version is refused, naming both versions") {
  capnp::MallocMessageBuilder message;
  auto b = message.initRoot<wire::Envelope>();
  b.setVersion(99);
  CHECK_THROWS_WITH_AS(decode_all(frame_of(message)), "envelope of protocol version 99 (this node speaks 1)",
                       DecodeError);
}

TEST_CASE("the sender is the one the connection names, whatever the envelope claims") {
  capnp::MallocMessageBuilder message;
  auto b = message.initRoot<wire::Envelope>();
  b.setVersion(kProtocolVersion);
  b.setKind(wire::Kind::STREAM_CANCEL);
  b.setUnusedSenderEndpoint("tcp://10.0.0.9:7000");  // another caller's endpoint, forged
  auto frame = frame_of(message);
  std::vector<std::string> senders;
  auto collect = [&](const EnvelopeView& e) { senders.emplace_back(e.sender_endpoint); };
  decode_frame(frame, collect, {}, "tcp://127.0.0.1:7001");
  decode_frame(frame, collect, {}, "");  // a connection that names no node
  CHECK(senders == std::vector<std::string>{"tcp://127.0.0.1:7001", ""});
}

}  // namespace pulsing
