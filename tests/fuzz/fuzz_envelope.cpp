// libFuzzer target: the frame decoder, the first code a TCP peer's bytes reach. The input is a
// frame for decode_frame() with the default DecodeLimits; every envelope it hands out also has
// its payload, its error and the whole envelope decoded, and what decodes is encoded again and
// must decode again. Bad input may only be refused with DecodeError (envelope.hpp); a crash, a
// sanitizer report or any other exception is a finding. An odd-sized input is decoded from a
// misaligned copy, as frames from TCP often are.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>
#include <vector>

#include "messaging/envelope.hpp"
#include "messaging/value_codec.hpp"

namespace {

using pulsing::DecodeError;
using pulsing::DecodeLimits;
using pulsing::EnvelopeView;

// Encodes `envelope` again and decodes the result: what was read from the wire is writable, and
// reads back. The limits are relaxed to the new frame's size: a list of empty structs, which the
// reader charges a word per element, may take more words once written out in full.
void round_trip(const pulsing::Envelope& envelope, const DecodeLimits& limits) {
  std::vector<std::byte> frame;
  pulsing::append_envelope(frame, envelope);
  DecodeLimits relaxed = limits;
  relaxed.traversal_limit_words = std::max<std::uint64_t>(limits.traversal_limit_words, frame.size());
  std::size_t seen = 0;
  pulsing::decode_frame(
      frame,
      [&](const EnvelopeView& view) {
        ++seen;
        static_cast<void>(view.decode(relaxed));
      },
      relaxed);
  if (seen != 1) __builtin_trap();
}

// Decodes whatever `view` holds; keeps the envelope when it decodes whole.
void visit(const EnvelopeView& view, const DecodeLimits& limits, std::vector<pulsing::Envelope>& decoded) {
  try {
    pulsing::Value payload = view.payload(limits);
    static_cast<void>(payload.debug_string());
  } catch (const DecodeError&) {
  }
  try {
    pulsing::Value error = view.error(limits);
    static_cast<void>(error.debug_string());
  } catch (const DecodeError&) {
  }
  try {
    decoded.push_back(view.decode(limits));
  } catch (const DecodeError&) {
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const DecodeLimits limits;
  // Words, so that offset 0 is aligned and offset 1 is not.
  std::vector<std::uint64_t> words(size / sizeof(std::uint64_t) + 2);
  auto* base = reinterpret_cast<std::byte*>(words.data());
  std::byte* at = base + (size % 2);
  if (size != 0) std::memcpy(at, data, size);
  std::vector<pulsing::Envelope> decoded;
  try {
    pulsing::decode_frame(
        std::span<const std::byte>(at, size), [&](const EnvelopeView& view) { visit(view, limits, decoded); },
        limits, "tcp://127.0.0.1:7000");
  } catch (const DecodeError&) {
  }
  // After decode_frame returns (it must not be called from its own callback). Envelopes that
  // decoded once must survive a round trip: a DecodeError here is a finding too.
  for (const auto& envelope : decoded) round_trip(envelope, limits);
  return 0;
}
