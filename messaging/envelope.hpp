// Envelope: one message between nodes, as a plain struct, and the frames that carry envelopes
// over ZeroMQ. Only this file and envelope.cpp know the Cap'n Proto schema (envelope.capnp).
//
// Frame: one or more envelopes back to back, each a flat Cap'n Proto message preceded by its
// byte length (UInt64, little-endian). A sender batches whatever is queued for a peer into one
// frame; an idle sender's frame holds one envelope, so batching adds no latency.
//
// Receiving: decode_frame() reads each envelope's header in place and hands it out as an
// EnvelopeView; payload and error are decoded only when asked for, by whoever needs them, on
// whatever thread (a call's arguments in the target actor's turn, not on the I/O thread).
//
// Untrusted input: decode_frame() copies a misaligned frame once, applies DecodeLimits to each
// envelope, and reports every problem as DecodeError naming it; it never crashes on bad bytes.
// Stateless functions; safe from any thread.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "messaging/value.hpp"
#include "messaging/value_codec.hpp"

namespace pulsing {

enum class EnvelopeKind : std::uint8_t {
  kAsk,
  kTell,
  kReply,
  kStreamOpen,
  kStreamItem,
  kStreamEnd,
  kStreamCredit,
  kStreamCancel,
  kResolve,
  kWatch,
  kStop,
  kPing,
};
std::string_view to_string(EnvelopeKind kind);
// Whether the sender waits for a reply (and so learns by itself when the envelope is lost).
bool expects_reply(EnvelopeKind kind);

inline constexpr std::uint16_t kProtocolVersion = 1;

struct Envelope {
  EnvelopeKind kind = EnvelopeKind::kTell;
  std::uint64_t correlation = 0;
  std::uint64_t sender_node = 0;
  // Where answers go. Usually left empty when sending: the transport's connection names its
  // node (decode_frame's `sender`).
  std::string sender_endpoint;
  // The target: an actor id (non-zero), or a name, or neither (replies, stream traffic).
  std::uint64_t target_id = 0;
  std::string target_name;
  std::uint64_t target_node = 0;
  std::string method;
  Value payload;
  Value error;  // null unless the envelope reports a failure
  std::uint32_t deadline_ms = 0;
  std::uint64_t trace_id = 0;
  std::uint64_t span_id = 0;
  std::uint32_t credit = 0;
};

// An envelope as received: its header read, its payload and error left encoded in `bytes` (the
// envelope's own flat Cap'n Proto message, 8-byte aligned). A view: it points into the frame,
// and is valid only as long as those bytes are (during the decode_frame callback that hands it
// out). Keep a copy of `bytes` to read it again later (read_envelope).
struct EnvelopeView {
  EnvelopeKind kind = EnvelopeKind::kTell;
  std::uint64_t correlation = 0;
  std::uint64_t sender_node = 0;
  std::string_view sender_endpoint;
  std::uint64_t target_id = 0;
  std::string_view target_name;
  std::uint64_t target_node = 0;
  std::string_view method;
  std::uint32_t deadline_ms = 0;
  std::uint64_t trace_id = 0;
  std::uint64_t span_id = 0;
  std::uint32_t credit = 0;
  std::span<const std::byte> bytes;
  const void* reader = nullptr;  // the open wire reader, inside read_envelope's callback

  // Decoded on demand (null when absent). Throw DecodeError, naming the problem.
  Value payload(const DecodeLimits& limits) const;
  Value error(const DecodeLimits& limits) const;
  // Everything, decoded into an Envelope of its own. Throws DecodeError.
  Envelope decode(const DecodeLimits& limits) const;
};

// Appends `envelope`, length-prefixed, to `frame`.
void append_envelope(std::vector<std::byte>& frame, const Envelope& envelope);

// Calls `on_envelope` for each envelope of `frame`, in order. `sender` is the endpoint of the
// node the frame came from (as its connection says): the sender_endpoint of envelopes that do
// not name one. Throws DecodeError at the first envelope whose header is malformed, exceeds
// `limits`, or speaks another protocol version (the ones before it have been delivered).
// Payloads are checked when they are decoded.
void decode_frame(std::span<const std::byte> frame, const std::function<void(const EnvelopeView&)>& on_envelope,
                  const DecodeLimits& limits = {}, std::string_view sender = {});

// Reads the one envelope in `bytes` (a copy of an EnvelopeView's bytes, 8-byte aligned) again
// and calls `read` with its view, while the reader is open: the view's payload() and error()
// then decode without parsing the message again. Throws DecodeError; a kj::Exception that
// `read` throws is reported as one too.
void read_envelope(std::span<const std::byte> bytes, const DecodeLimits& limits,
                   kj::FunctionParam<void(const EnvelopeView&)> read);

}  // namespace pulsing
