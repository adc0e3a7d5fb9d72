#include "common/deflate.hpp"

#include <doctest/doctest.h>

#include <string>

namespace pulsing {
namespace {

std::vector<std::byte> bytes_of(const std::string& s) {
  const auto* p = reinterpret_cast<const std::byte*>(s.data());
  return {p, p + s.size()};
}

std::string repetitive(int members) {
  std::string s;
  for (int i = 0; i < members; ++i) s += "node-" + std::to_string(i) + "@127.0.0.1:" + std::to_string(7000 + i) + ";";
  return s;
}

}  // namespace

TEST_CASE("deflated bytes inflate back to the same bytes, repetitive ones much smaller") {
  for (const std::string& text : {std::string{}, std::string{"x"}, repetitive(16), repetitive(60)}) {
    CAPTURE(text.size());
    auto original = bytes_of(text);
    auto packed = deflate_bytes(original);
    CHECK(inflate_bytes(packed, original.size()) == original);
  }
  auto state = bytes_of(repetitive(16));
  CHECK(deflate_bytes(state).size() < state.size() / 2);
}

TEST_CASE("inflating stops at the size limit instead of following a stream that expands without end") {
  auto zeros = std::vector<std::byte>(1'000'000);
  auto bomb = deflate_bytes(zeros);
  REQUIRE(bomb.size() < 2'000);
  CHECK_THROWS_WITH_AS(inflate_bytes(bomb, 65'507), "inflates to more than 65507 bytes", InflateError);
  CHECK(inflate_bytes(bomb, zeros.size()).size() == zeros.size());
}

TEST_CASE("bytes that are not one whole deflate stream are refused, naming the problem") {
  auto good = deflate_bytes(bytes_of(repetitive(8)));
  auto cut = std::vector<std::byte>(good.begin(), good.begin() + static_cast<std::ptrdiff_t>(good.size() / 2));
  CHECK_THROWS_WITH_AS(inflate_bytes(cut, 4096), "the deflate stream ends early", InflateError);

  auto trailing = good;
  trailing.push_back(std::byte{7});
  CHECK_THROWS_WITH_AS(inflate_bytes(trailing, 4096), "data after the end of the deflate stream (1 bytes)", InflateError);

  std::vector<std::byte> garbage(64, std::byte{0xff});
  CHECK_THROWS_AS(inflate_bytes(garbage, 4096), InflateError);
  // The thread's decompressor is reset after a failure: good input still inflates.
  CHECK(inflate_bytes(good, 4096) == bytes_of(repetitive(8)));
}

}  // namespace pulsing
