// Raw deflate (RFC 1951, no zlib header or checksum) of small buffers, such as the membership
// protocol's full-state packets: repetitive names and addresses shrink to about 40%.
//
// Untrusted input: inflate() stops at `max_bytes` of output, so a small input that would expand
// without end (a "zip bomb") is refused, not followed; every problem is an InflateError naming it.
// Each thread keeps one compressor and one decompressor and resets them per call (zlib's state
// is 10-300 KiB: allocating it per packet would cost more than compressing). Safe from any thread.
#pragma once

#include <cstddef>
#include <span>
#include <stdexcept>
#include <vector>

namespace pulsing {

class InflateError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// `bytes` deflated with a 2 KiB window (buffers here are datagrams: a larger window finds nothing
// more to refer back to, and costs memory).
std::vector<std::byte> deflate_bytes(std::span<const std::byte> bytes);

// Throws InflateError when `bytes` is not one complete deflate stream, has bytes after its end,
// or expands beyond `max_bytes`.
std::vector<std::byte> inflate_bytes(std::span<const std::byte> bytes, std::size_t max_bytes);

}  // namespace pulsing
