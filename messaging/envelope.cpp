#include "messaging/envelope.hpp"

#include <algorithm>
#include <array>
#include <bit>
#include <cstring>

#include <capnp/serialize.h>
#include <fmt/format.h>

#include "messaging/envelope.capnp.h"

namespace pulsing {

static_assert(std::endian::native == std::endian::little,
              "frames store lengths little-endian; a big-endian port must swap them");
static_assert(static_cast<int>(wire::Kind::RESOLVE) == static_cast<int>(EnvelopeKind::kResolve));
static_assert(static_cast<int>(wire::Kind::PING) == static_cast<int>(EnvelopeKind::kPing));

std::string_view to_string(EnvelopeKind kind) {
  switch (kind) {
    case EnvelopeKind::kAsk: return "ask";
    case EnvelopeKind::kTell: return "tell";
    case EnvelopeKind::kReply: return "reply";
    case EnvelopeKind::kStreamOpen: return "stream_open";
    case EnvelopeKind::kStreamItem: return "stream_item";
    case EnvelopeKind::kStreamEnd: return "stream_end";
    case EnvelopeKind::kStreamCredit: return "stream_credit";
    case EnvelopeKind::kStreamCancel: return "stream_cancel";
    case EnvelopeKind::kResolve: return "resolve";
    case EnvelopeKind::kWatch: return "watch";
    case EnvelopeKind::kStop: return "stop";
    case EnvelopeKind::kPing: return "ping";
  }
  return "unknown";
}

bool expects_reply(EnvelopeKind kind) {
  switch (kind) {
    case EnvelopeKind::kAsk:
    case EnvelopeKind::kStreamOpen:
    case EnvelopeKind::kResolve:
    case EnvelopeKind::kWatch:
    case EnvelopeKind::kPing: return true;
    default: return false;
  }
}

void append_envelope(std::vector<std::byte>& frame, const Envelope& e, std::string_view sender_endpoint) {
  // The first segment is reused across messages (the builder zeroes what it used as it goes),
  // so that a small envelope costs no allocation. Larger ones spill into allocated segments.
  thread_local std::array<capnp::word, 512> first_segment{};
  capnp::MallocMessageBuilder message(kj::arrayPtr(first_segment.data(), first_segment.size()));
  auto b = message.initRoot<wire::Envelope>();
  b.setVersion(kProtocolVersion);
  b.setKind(static_cast<wire::Kind>(e.kind));
  b.setCorrelation(e.correlation);
  b.setSenderNode(e.sender_node);
  if (sender_endpoint.empty()) sender_endpoint = e.sender_endpoint;
  if (!sender_endpoint.empty()) b.setSenderEndpoint(capnp::Text::Reader(sender_endpoint.data(), sender_endpoint.size()));
  if (e.target_id != 0) {
    b.getTarget().setActorId(e.target_id);
  } else if (!e.target_name.empty()) {
    b.getTarget().setName(e.target_name);
  } else {
    b.getTarget().setNone();
  }
  b.setTargetNode(e.target_node);
  if (!e.method.empty()) b.setMethod(e.method);
  if (!e.payload.is_null()) write_value(b.initPayload(), e.payload);
  if (!e.error.is_null()) write_value(b.initError(), e.error);
  b.setDeadlineMs(e.deadline_ms);
  b.setTraceId(e.trace_id);
  b.setSpanId(e.span_id);
  b.setCredit(e.credit);

  std::size_t words = capnp::computeSerializedSizeInWords(message);
  std::uint64_t length = words * sizeof(capnp::word);
  std::size_t at = frame.size();
  frame.resize(at + sizeof(length) + length);
  std::memcpy(frame.data() + at, &length, sizeof(length));
  kj::ArrayOutputStream out(kj::arrayPtr(reinterpret_cast<kj::byte*>(frame.data() + at + sizeof(length)), length));
  capnp::writeMessage(out, message);
}

namespace {

// Overwrites every field of `e` (reused across a frame's envelopes: strings keep their capacity).
void read_envelope(wire::Envelope::Reader r, const DecodeLimits& limits, Envelope& e) {
  if (r.getVersion() != kProtocolVersion) {
    throw DecodeError(fmt::format("envelope of protocol version {} (this node speaks {})", r.getVersion(),
                                  kProtocolVersion));
  }
  auto kind = static_cast<std::uint16_t>(r.getKind());
  if (kind > static_cast<std::uint16_t>(EnvelopeKind::kPing)) {
    throw DecodeError(fmt::format("unknown envelope kind {}", kind));
  }
  auto assign = [](std::string& to, capnp::Text::Reader text) { to.assign(text.begin(), text.size()); };
  e.kind = static_cast<EnvelopeKind>(kind);
  e.correlation = r.getCorrelation();
  e.sender_node = r.getSenderNode();
  assign(e.sender_endpoint, r.getSenderEndpoint());
  e.target_id = 0;
  e.target_name.clear();
  auto target = r.getTarget();
  switch (target.which()) {
    case wire::Envelope::Target::NONE: break;
    case wire::Envelope::Target::ACTOR_ID: e.target_id = target.getActorId(); break;
    case wire::Envelope::Target::NAME: assign(e.target_name, target.getName()); break;
    default: throw DecodeError("unknown target kind (sent by a newer peer?)");
  }
  e.target_node = r.getTargetNode();
  assign(e.method, r.getMethod());
  e.payload = r.hasPayload() ? read_value(r.getPayload(), limits.nesting_limit) : Value();
  e.error = r.hasError() ? read_value(r.getError(), limits.nesting_limit) : Value();
  e.deadline_ms = r.getDeadlineMs();
  e.trace_id = r.getTraceId();
  e.span_id = r.getSpanId();
  e.credit = r.getCredit();
}

}  // namespace

void decode_frame(std::span<const std::byte> frame, const std::function<void(Envelope&&)>& on_envelope,
                  const DecodeLimits& limits) {
  if (frame.empty()) throw DecodeError("empty frame");
  // A frame may batch many envelopes, but never more than a few full-size ones.
  const std::size_t max_frame = 4 * limits.traversal_limit_words * sizeof(capnp::word);
  if (frame.size() > max_frame) {
    throw DecodeError(fmt::format("frame of {} bytes exceeds the limit of {} bytes", frame.size(), max_frame));
  }
  // Frames from TCP are often misaligned; Cap'n Proto needs aligned words. Copy once, here.
  kj::Array<capnp::word> aligned;
  std::span<const std::byte> data = frame;
  if (reinterpret_cast<std::uintptr_t>(frame.data()) % alignof(capnp::word) != 0) {
    aligned = kj::heapArray<capnp::word>((frame.size() + sizeof(capnp::word) - 1) / sizeof(capnp::word));
    auto* bytes = reinterpret_cast<std::byte*>(aligned.begin());
    std::copy(frame.begin(), frame.end(), bytes);
    data = {bytes, frame.size()};
  }
  Envelope envelope;
  std::size_t at = 0;
  while (at < data.size()) {
    std::uint64_t length = 0;
    if (data.size() - at < sizeof(length)) {
      throw DecodeError(fmt::format("frame ends {} bytes into an envelope's length", data.size() - at));
    }
    std::memcpy(&length, data.data() + at, sizeof(length));
    at += sizeof(length);
    if (length > data.size() - at) {
      throw DecodeError(fmt::format("envelope of {} bytes runs past the end of the frame ({} bytes left)", length,
                                    data.size() - at));
    }
    read_flat_message(data.subspan(at, length), limits, [&](capnp::MessageReader& reader) {
      read_envelope(reader.getRoot<wire::Envelope>(), limits, envelope);
    });
    at += length;
    on_envelope(std::move(envelope));
  }
}

}  // namespace pulsing
