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
#include <optional>
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
  kRegistry,
  kLookup,
  kFlow,  // flow control: a target's mailbox is congested, or has room again (runtime/remote_flow.hpp)
};
std::string_view to_string(EnvelopeKind kind);
// Whether the sender waits for a reply (and so learns by itself when the envelope is lost).
bool expects_reply(EnvelopeKind kind);
// Whether it answers a request (a reply, a stream's items and end, a flow notice), and so travels
// back on the connection that request came on.
bool travels_back(EnvelopeKind kind);
// Whether it is control traffic, which goes ahead of calls queued to the same peer (Outbox):
// replies, stream credit, flow notices, and the runtime's own requests (resolve, watch, ping,
// registry, lookup). Calls, stream items and ends, stream cancel and stop keep their place behind
// the calls sent before them: a cancel must not pass the open it cancels, nor a stop the tells
// its sender sent first.
bool is_control(EnvelopeKind kind);

inline constexpr std::uint16_t kProtocolVersion = 1;

// Who sent an envelope, as the connection it came on says (never the envelope itself): a
// member node (and everyone, when connections are not authenticated), or a client admitted with
// an operator's or an observer's key (messaging/curve.hpp). A node checks it before dispatching.
enum class CallerRole : std::uint8_t { kNode, kOperator, kObserver };
std::string_view to_string(CallerRole role);

// Writes a payload straight into an envelope (a typed call's C++ arguments, as a list), with no
// Value in between. See Envelope::payload_writer.
class PayloadWriter {
 public:
  virtual void write(wire::Value::Builder payload) const = 0;

 protected:
  ~PayloadWriter() = default;
};

struct Envelope {
  EnvelopeKind kind = EnvelopeKind::kTell;
  std::uint64_t correlation = 0;
  std::uint64_t sender_node = 0;
  // Where answers go: on receipt, the node the connection names (decode_frame's `sender`).
  // Not sent: a receiver never takes a sender's word for who it is.
  std::string sender_endpoint;
  // The target: an actor id (non-zero), or a name, or neither (replies, stream traffic).
  std::uint64_t target_id = 0;
  std::string target_name;
  std::uint64_t target_node = 0;
  std::string method;
  Value payload;
  // When set, writes the payload in place of `payload`. The caller keeps it alive until the
  // envelope is encoded (send() encodes before it returns).
  const PayloadWriter* payload_writer = nullptr;
  Value error;  // null unless the envelope reports a failure
  std::uint32_t deadline_ms = 0;
  std::uint64_t trace_id = 0;
  std::uint64_t span_id = 0;
  std::uint32_t credit = 0;
};

// An envelope as received: its header read, its payload and error left encoded in `bytes` (the
// envelope's own flat Cap'n Proto message, 8-byte aligned). A view: it points into the frame,
// and is valid only as long as those bytes are (during the decode_frame callback that hands it
// out). Keep a copy of `bytes` to read the payload later (read_payload).
struct EnvelopeView {
  EnvelopeKind kind = EnvelopeKind::kTell;
  std::uint64_t correlation = 0;
  std::uint64_t sender_node = 0;
  std::string_view sender_endpoint;
  CallerRole role = CallerRole::kNode;  // of the connection it came on
  std::uint64_t target_id = 0;
  std::string_view target_name;
  std::uint64_t target_node = 0;
  std::string_view method;  // of calls (ask, tell, stream open); empty for other kinds
  std::uint32_t deadline_ms = 0;
  std::uint64_t trace_id = 0;
  std::uint64_t span_id = 0;
  std::uint32_t credit = 0;
  // Of answers (travels_back()); false for other kinds, whose payload() is read when needed.
  bool has_payload = false;
  bool has_error = false;
  std::span<const std::byte> bytes;
  // The envelope's open reader while decode_frame's callback runs: payload() and error() then
  // read through it instead of parsing the message again.
  const void* reader = nullptr;

  // Decoded on demand (null when absent). Throw DecodeError, naming the problem.
  Value payload(const DecodeLimits& limits) const;
  Value error(const DecodeLimits& limits) const;
  // Everything, decoded into an Envelope of its own. Throws DecodeError.
  Envelope decode(const DecodeLimits& limits) const;
};

// An envelope encoded, waiting to be copied into a frame: for a sender that appends it to memory
// it shares under a lock, and encodes it before taking the lock. The first one alive on a thread
// builds in memory the thread keeps (no allocation for a small envelope); one made while another
// is alive (a send nested in a send) allocates its own.
class EncodedEnvelope {
 public:
  explicit EncodedEnvelope(const Envelope& envelope);
  ~EncodedEnvelope();
  EncodedEnvelope(const EncodedEnvelope&) = delete;
  EncodedEnvelope& operator=(const EncodedEnvelope&) = delete;

  // Bytes write_to() writes: the length prefix and the message.
  std::size_t size() const { return sizeof(std::uint64_t) + message_bytes_; }
  void write_to(std::byte* out);

 private:
  bool owns_thread_segment_;
  std::optional<capnp::MallocMessageBuilder> message_;
  kj::ArrayPtr<const kj::ArrayPtr<const capnp::word>> segments_;
  std::size_t message_bytes_;
};

// Appends `envelope`, length-prefixed, to `frame`.
void append_envelope(std::vector<std::byte>& frame, const Envelope& envelope);

// Calls `on_envelope` for each envelope of `frame`, in order. `sender` is the endpoint of the
// node the frame came from, as its connection says ("" when it names none): every envelope's
// sender_endpoint; `role`, what the connection was admitted as: every envelope's role. Throws DecodeError at the first envelope whose header is malformed, exceeds
// `limits`, or speaks another protocol version (the ones before it have been delivered).
// Payloads are checked when they are decoded (and throw DecodeError then, to the caller of
// payload()). The callback runs while the envelope's reader is open: a Cap'n Proto exception
// escaping it counts as the frame's. REQUIRES: not called from its own callback.
void decode_frame(std::span<const std::byte> frame, const std::function<void(const EnvelopeView&)>& on_envelope,
                  const DecodeLimits& limits = {}, std::string_view sender = {},
                  CallerRole role = CallerRole::kNode);

// Reads the payload of the envelope whose bytes (an EnvelopeView's, or a copy of them, 8-byte
// aligned) are `envelope`: calls `read` with its wire form (nullopt when there is none) while
// the message is open, for decoding it straight into C++ types (read_wire). Throws
// DecodeError; Cap'n Proto's failures inside `read` become DecodeError too.
void read_payload(std::span<const std::byte> envelope, const DecodeLimits& limits,
                  kj::FunctionParam<void(std::optional<wire::Value::Reader>)> read);

}  // namespace pulsing
