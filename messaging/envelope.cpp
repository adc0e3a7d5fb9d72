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
static_assert(static_cast<int>(wire::Kind::LOOKUP) == static_cast<int>(EnvelopeKind::kLookup));
static_assert(static_cast<int>(wire::Kind::FLOW) == static_cast<int>(EnvelopeKind::kFlow));

std::string_view to_string(CallerRole role) {
  switch (role) {
    case CallerRole::kNode: return "node";
    case CallerRole::kOperator: return "operator";
    case CallerRole::kObserver: return "observer";
  }
  return "unknown";
}

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
    case EnvelopeKind::kRegistry: return "registry";
    case EnvelopeKind::kLookup: return "lookup";
    case EnvelopeKind::kFlow: return "flow";
  }
  return "unknown";
}

bool expects_reply(EnvelopeKind kind) {
  switch (kind) {
    case EnvelopeKind::kAsk:
    case EnvelopeKind::kStreamOpen:
    case EnvelopeKind::kResolve:
    case EnvelopeKind::kWatch:
    case EnvelopeKind::kPing:
    case EnvelopeKind::kRegistry:
    case EnvelopeKind::kLookup: return true;
    default: return false;
  }
}

namespace {
// The first segment of the envelopes a thread encodes, reused (the builder zeroes what it used
// when it is destroyed), so that a small envelope costs no allocation. Larger ones spill into
// allocated segments.
thread_local std::array<capnp::word, 512> tls_first_segment{};
thread_local bool tls_first_segment_in_use = false;
}  // namespace

EncodedEnvelope::EncodedEnvelope(const Envelope& e) : owns_thread_segment_(!tls_first_segment_in_use) {
  if (owns_thread_segment_) {
    tls_first_segment_in_use = true;
    message_.emplace(kj::arrayPtr(tls_first_segment.data(), tls_first_segment.size()));
  } else {
    message_.emplace();
  }
  auto b = message_->initRoot<wire::Envelope>();
  b.setVersion(kProtocolVersion);
  b.setKind(static_cast<wire::Kind>(e.kind));
  b.setCorrelation(e.correlation);
  b.setSenderNode(e.sender_node);
  if (e.target_id != 0) {
    b.getTarget().setActorId(e.target_id);
  } else if (!e.target_name.empty()) {
    b.getTarget().setName(e.target_name);
  } else {
    b.getTarget().setNone();
  }
  b.setTargetNode(e.target_node);
  if (!e.method.empty()) b.setMethod(e.method);
  if (e.payload_writer != nullptr) {
    e.payload_writer->write(b.initPayload());
  } else if (!e.payload.is_null()) {
    write_value(b.initPayload(), e.payload);
  }
  if (!e.error.is_null()) write_value(b.initError(), e.error);
  b.setDeadlineMs(e.deadline_ms);
  b.setTraceId(e.trace_id);
  b.setSpanId(e.span_id);
  b.setCredit(e.credit);

  segments_ = message_->getSegmentsForOutput();
  // The flat form (as capnp::writeMessage writes it): a table (the segment count less one, then
  // each segment's size in words, as UInt32s, padded to a word), then the segments.
  std::size_t words = (segments_.size() + 2) / 2;
  for (auto segment : segments_) words += segment.size();
  message_bytes_ = words * sizeof(capnp::word);
}

EncodedEnvelope::~EncodedEnvelope() {
  message_.reset();  // zeroes the thread's segment again
  if (owns_thread_segment_) tls_first_segment_in_use = false;
}

void EncodedEnvelope::write_to(std::byte* out) {
  std::uint64_t length = message_bytes_;
  std::memcpy(out, &length, sizeof(length));
  out += sizeof(length);
  // Written directly rather than through capnp::writeMessage and an output stream: a third of
  // the cost of a small envelope went there.
  const std::size_t table_words = (segments_.size() + 2) / 2;
  std::memset(out, 0, table_words * sizeof(capnp::word));
  auto put_u32 = [&](std::size_t index, std::size_t value) {
    auto v = static_cast<std::uint32_t>(value);
    std::memcpy(out + index * sizeof(v), &v, sizeof(v));
  };
  put_u32(0, segments_.size() - 1);
  for (std::size_t i = 0; i < segments_.size(); ++i) put_u32(i + 1, segments_[i].size());
  out += table_words * sizeof(capnp::word);
  for (auto segment : segments_) {
    std::memcpy(out, segment.begin(), segment.size() * sizeof(capnp::word));
    out += segment.size() * sizeof(capnp::word);
  }
}

bool travels_back(EnvelopeKind kind) {
  return kind == EnvelopeKind::kReply || kind == EnvelopeKind::kStreamItem || kind == EnvelopeKind::kStreamEnd ||
         kind == EnvelopeKind::kFlow;
}

bool is_control(EnvelopeKind kind) {
  switch (kind) {
    case EnvelopeKind::kReply:
    case EnvelopeKind::kStreamCredit:
    case EnvelopeKind::kResolve:
    case EnvelopeKind::kWatch:
    case EnvelopeKind::kPing:
    case EnvelopeKind::kRegistry:
    case EnvelopeKind::kLookup:
    case EnvelopeKind::kFlow: return true;
    default: return false;
  }
}

void append_envelope(std::vector<std::byte>& frame, const Envelope& envelope) {
  EncodedEnvelope encoded(envelope);
  std::size_t at = frame.size();
  frame.resize(at + encoded.size());
  encoded.write_to(frame.data() + at);
}

namespace {

// The aligned copy of misaligned frames that a thread keeps between frames, at most.
constexpr std::size_t kKeptAlignedBytes = std::size_t{1} << 20;

std::string_view view_of(capnp::Text::Reader text) { return {text.begin(), text.size()}; }

// The header of the envelope `r`, whose flat message is `bytes`.
EnvelopeView read_header(wire::Envelope::Reader r, std::span<const std::byte> bytes) {
  if (r.getVersion() != kProtocolVersion) {
    throw DecodeError(fmt::format("envelope of protocol version {} (this node speaks {})", r.getVersion(),
                                  kProtocolVersion));
  }
  auto kind = static_cast<std::uint16_t>(r.getKind());
  if (kind > static_cast<std::uint16_t>(EnvelopeKind::kFlow)) {
    throw DecodeError(fmt::format("unknown envelope kind {}", kind));
  }
  EnvelopeView v;
  v.kind = static_cast<EnvelopeKind>(kind);
  v.correlation = r.getCorrelation();
  v.sender_node = r.getSenderNode();
  auto target = r.getTarget();
  switch (target.which()) {
    case wire::Envelope::Target::NONE: break;
    case wire::Envelope::Target::ACTOR_ID: v.target_id = target.getActorId(); break;
    case wire::Envelope::Target::NAME: v.target_name = view_of(target.getName()); break;
    default: throw DecodeError("unknown target kind (sent by a newer peer?)");
  }
  v.target_node = r.getTargetNode();
  const bool call = v.kind == EnvelopeKind::kAsk || v.kind == EnvelopeKind::kTell || v.kind == EnvelopeKind::kStreamOpen;
  if (call) v.method = view_of(r.getMethod());
  v.deadline_ms = r.getDeadlineMs();
  v.trace_id = r.getTraceId();
  v.span_id = r.getSpanId();
  v.credit = r.getCredit();
  if (travels_back(v.kind)) {
    v.has_payload = r.hasPayload();
    v.has_error = r.hasError();
  }
  v.bytes = bytes;
  return v;
}

// Calls `read` with the envelope of the flat message `bytes`, or with the one `open` reads.
void with_envelope(std::span<const std::byte> bytes, const void* open, const DecodeLimits& limits,
                   kj::FunctionParam<void(wire::Envelope::Reader)> read) {
  if (open == nullptr) {
    read_flat_message(bytes, limits, [&](capnp::MessageReader& reader) { read(reader.getRoot<wire::Envelope>()); });
    return;
  }
  try {
    read(*static_cast<const wire::Envelope::Reader*>(open));
  } catch (const kj::Exception& e) {
    throw DecodeError(fmt::format("invalid message: {}", e.getDescription().cStr()));
  }
}

}  // namespace

void read_payload(std::span<const std::byte> envelope, const DecodeLimits& limits,
                  kj::FunctionParam<void(std::optional<wire::Value::Reader>)> read) {
  with_envelope(envelope, nullptr, limits, [&](wire::Envelope::Reader r) {
    read(r.hasPayload() ? std::optional(r.getPayload()) : std::nullopt);
  });
}

namespace {
// The payload, or the error, of the envelope in `bytes` (read through `open` if set), decoded;
// null when absent.
enum class Part : std::uint8_t { kPayload, kError };
Value read_part(std::span<const std::byte> bytes, const void* open, const DecodeLimits& limits, Part part) {
  Value value;
  with_envelope(bytes, open, limits, [&](wire::Envelope::Reader r) {
    if (part == Part::kPayload && r.hasPayload()) value = read_value(r.getPayload(), limits.nesting_limit);
    if (part == Part::kError && r.hasError()) value = read_value(r.getError(), limits.nesting_limit);
  });
  return value;
}
}  // namespace

Value EnvelopeView::payload(const DecodeLimits& limits) const { return read_part(bytes, reader, limits, Part::kPayload); }

Value EnvelopeView::error(const DecodeLimits& limits) const { return read_part(bytes, reader, limits, Part::kError); }

Envelope EnvelopeView::decode(const DecodeLimits& limits) const {
  Envelope e;
  e.kind = kind;
  e.correlation = correlation;
  e.sender_node = sender_node;
  e.sender_endpoint = sender_endpoint;
  e.target_id = target_id;
  e.target_name = target_name;
  e.target_node = target_node;
  e.method = method;
  e.deadline_ms = deadline_ms;
  e.trace_id = trace_id;
  e.span_id = span_id;
  e.credit = credit;
  with_envelope(bytes, reader, limits, [&](wire::Envelope::Reader r) {
    if (r.hasPayload()) e.payload = read_value(r.getPayload(), limits.nesting_limit);
    if (r.hasError()) e.error = read_value(r.getError(), limits.nesting_limit);
  });
  return e;
}

void decode_frame(std::span<const std::byte> frame, const std::function<void(const EnvelopeView&)>& on_envelope,
                  const DecodeLimits& limits, std::string_view sender, CallerRole role) {
  if (frame.empty()) throw DecodeError("empty frame");
  const std::size_t max_frame = limits.frame_limit_bytes();
  if (frame.size() > max_frame) {
    throw DecodeError(fmt::format("frame of {} bytes exceeds the limit of {} bytes", frame.size(), max_frame));
  }
  // Frames from TCP are often misaligned; Cap'n Proto needs aligned words. Copy once, here, into
  // a buffer the thread keeps (a fresh one per frame would cost an allocation, and page faults).
  thread_local std::vector<std::uint64_t> aligned;
  std::span<const std::byte> data = frame;
  if (reinterpret_cast<std::uintptr_t>(frame.data()) % alignof(capnp::word) != 0) {
    aligned.resize((frame.size() + sizeof(std::uint64_t) - 1) / sizeof(std::uint64_t));
    std::memcpy(aligned.data(), frame.data(), frame.size());
    data = {reinterpret_cast<const std::byte*>(aligned.data()), frame.size()};
  }
  // What a rare huge frame took is given back once it is read.
  struct Shrink {
    ~Shrink() {
      if (aligned.capacity() * sizeof(std::uint64_t) > kKeptAlignedBytes) std::vector<std::uint64_t>().swap(aligned);
    }
  } shrink;
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
    auto bytes = data.subspan(at, length);
    with_envelope(bytes, nullptr, limits, [&](wire::Envelope::Reader r) {
      EnvelopeView view = read_header(r, bytes);
      view.sender_endpoint = sender;
      view.role = role;
      view.reader = &r;
      on_envelope(view);
    });
    at += length;
  }
}

}  // namespace pulsing
