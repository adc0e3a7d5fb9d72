// Cap'n Proto encoding of Value (schema: messaging/value.capnp).
//
// write_value / read_value work on a wire::Value inside any message, so that other schemas
// (the envelope) embed a Value field. encode_value / decode_value make and read a standalone
// flat message. read_flat_message is the one gate for untrusted bytes: it copies misaligned
// input into aligned words (frames from TCP often are not 8-byte aligned), applies
// DecodeLimits, and turns every failure into DecodeError, so that bad input never crashes.
// Stateless functions; safe to call from any thread.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <stdexcept>
#include <vector>

#include <capnp/message.h>
#include <kj/function.h>

#include "messaging/value.capnp.h"
#include "messaging/value.hpp"

namespace pulsing {

// Bytes that are not a valid message, or a message that exceeds the limits. The message names
// the problem ("message of 12 bytes is not a whole number of 8-byte words (truncated?)").
class DecodeError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

struct DecodeLimits {
  // Words (8 bytes) the reader may visit. Bounds the accepted message size (16 MiB) and the work
  // of decoding; decoded memory stays within a small multiple of it.
  std::uint64_t traversal_limit_words = std::uint64_t{2} * 1024 * 1024;
  // How deep lists and maps may nest: [[1]] has depth 2. Also bounds the recursion of decoding.
  int nesting_limit = 64;

  // Cap'n Proto's own pointer nesting limit: a map level costs 3 pointers; the rest is room for
  // the message around an embedded value.
  int capnp_nesting_limit() const { return 3 * nesting_limit + 16; }
  // The largest frame accepted (64 MiB by default): a frame may batch many envelopes, but never
  // more than a few full-size ones. The transport has ZeroMQ refuse a larger one as it arrives
  // (ZMQ_MAXMSGSIZE), before buffering it.
  std::size_t frame_limit_bytes() const { return static_cast<std::size_t>(4 * traversal_limit_words * 8); }
};

// REQUIRES: every list, map, text and bytes in `value` has fewer than 2^29 elements (Cap'n
// Proto's limit).
void write_value(wire::Value::Builder builder, const Value& value);

// Throws DecodeError on content it cannot represent (a union member from a newer peer, a
// duplicate map key) or nesting deeper than `nesting_limit`. Out-of-bounds pointers and Cap'n
// Proto's limits surface as kj::Exception; call it inside read_flat_message, which translates
// them.
Value read_value(wire::Value::Reader reader, int nesting_limit = DecodeLimits{}.nesting_limit);

std::vector<std::byte> encode_value(const Value& value);

// Throws DecodeError when `bytes` is not exactly one valid message within `limits`.
Value decode_value(std::span<const std::byte> bytes, const DecodeLimits& limits = {});

// Calls `read` with a reader over the flat message in `bytes`. Every Cap'n Proto failure during
// construction or during `read` becomes DecodeError; other exceptions pass through. The reader
// and everything read from it are valid only during the call.
void read_flat_message(std::span<const std::byte> bytes, const DecodeLimits& limits,
                       kj::FunctionParam<void(capnp::MessageReader&)> read);

}  // namespace pulsing
