#include "common/deflate.hpp"

#include <zlib.h>

#include <fmt/format.h>

namespace pulsing {
namespace {

constexpr int kWindowBits = 11;  // 2 KiB; negative below: raw deflate
constexpr int kMemoryLevel = 5;  // a small hash table, ample for 2 KiB

Bytef* in_ptr(std::span<const std::byte> bytes) {
  // zlib's API predates const; it only reads next_in.
  return reinterpret_cast<Bytef*>(const_cast<std::byte*>(bytes.data()));
}

class Compressor {
 public:
  Compressor() {
    if (deflateInit2(&z_, Z_BEST_COMPRESSION, Z_DEFLATED, -kWindowBits, kMemoryLevel, Z_DEFAULT_STRATEGY) != Z_OK) {
      throw std::bad_alloc();
    }
  }
  ~Compressor() { deflateEnd(&z_); }
  Compressor(const Compressor&) = delete;
  Compressor& operator=(const Compressor&) = delete;

  std::vector<std::byte> run(std::span<const std::byte> bytes) {
    deflateReset(&z_);
    std::vector<std::byte> out(deflateBound(&z_, static_cast<uLong>(bytes.size())));
    z_.next_in = in_ptr(bytes);
    z_.avail_in = static_cast<uInt>(bytes.size());
    z_.next_out = reinterpret_cast<Bytef*>(out.data());
    z_.avail_out = static_cast<uInt>(out.size());
    // deflateBound() leaves room for the whole stream: one call finishes it.
    if (deflate(&z_, Z_FINISH) != Z_STREAM_END) throw std::logic_error("deflate: output bound too small");
    out.resize(out.size() - z_.avail_out);
    return out;
  }

 private:
  z_stream z_{};
};

class Decompressor {
 public:
  Decompressor() {
    // A 32 KiB window: inflates what any raw deflate writer sends, not only ours.
    if (inflateInit2(&z_, -15) != Z_OK) throw std::bad_alloc();
  }
  ~Decompressor() { inflateEnd(&z_); }
  Decompressor(const Decompressor&) = delete;
  Decompressor& operator=(const Decompressor&) = delete;

  std::vector<std::byte> run(std::span<const std::byte> bytes, std::size_t max_bytes) {
    inflateReset(&z_);
    // One byte more than allowed: filling it proves the stream too large.
    std::vector<std::byte> out(max_bytes + 1);
    z_.next_in = in_ptr(bytes);
    z_.avail_in = static_cast<uInt>(bytes.size());
    z_.next_out = reinterpret_cast<Bytef*>(out.data());
    z_.avail_out = static_cast<uInt>(out.size());
    int status = inflate(&z_, Z_FINISH);
    std::size_t produced = out.size() - z_.avail_out;
    if (produced > max_bytes) throw InflateError(fmt::format("inflates to more than {} bytes", max_bytes));
    if (status == Z_DATA_ERROR) {
      throw InflateError(fmt::format("not a deflate stream: {}", z_.msg != nullptr ? z_.msg : "corrupt data"));
    }
    if (status != Z_STREAM_END) throw InflateError("the deflate stream ends early");
    if (z_.avail_in != 0) throw InflateError(fmt::format("data after the end of the deflate stream ({} bytes)", z_.avail_in));
    out.resize(produced);
    return out;
  }

 private:
  z_stream z_{};
};

}  // namespace

std::vector<std::byte> deflate_bytes(std::span<const std::byte> bytes) {
  thread_local Compressor compressor;
  return compressor.run(bytes);
}

std::vector<std::byte> inflate_bytes(std::span<const std::byte> bytes, std::size_t max_bytes) {
  thread_local Decompressor decompressor;
  return decompressor.run(bytes, max_bytes);
}

}  // namespace pulsing
