#include "membership/datagram_seal.hpp"

#include <doctest/doctest.h>

#include <random>
#include <string>

#include "membership/codec.hpp"

namespace pulsing::membership {
namespace {

using security::ClusterKey;
using security::Keyring;

constexpr std::uint64_t kNow = 1'800'000'000'000;

std::shared_ptr<const Keyring> ring(std::vector<ClusterKey> keys) {
  return std::make_shared<const Keyring>(std::move(keys));
}

std::vector<std::byte> bytes_of(const std::string& text) {
  std::vector<std::byte> out(text.size());
  for (std::size_t i = 0; i < text.size(); ++i) out[i] = static_cast<std::byte>(text[i]);
  return out;
}

TEST_CASE("a sealed datagram opens once with the same key and cluster, to the same bytes") {
  auto key = ring({ClusterKey::generate()});
  DatagramSeal a(key, "prod"), b(key, "prod");
  const auto plain = encode(Packet{"prod", {Ping{7, "node-b"}}});
  auto sealed = a.seal(plain, kNow);
  CHECK(sealed.size() == plain.size() + DatagramSeal::kOverhead);
  CHECK(sealed[0] == kSealedEncoding);
  std::vector<std::byte> opened;
  REQUIRE(b.open(sealed, kNow + 3, opened) == Refusal::kNone);
  CHECK(opened == plain);
  CHECK(decode(opened).messages.size() == 1);
  CHECK(b.open(sealed, kNow + 4, opened) == Refusal::kReplayed);
}

TEST_CASE("the plain text does not appear in the sealed datagram") {
  auto key = ring({ClusterKey::generate()});
  DatagramSeal a(key, "prod");
  const std::string secret = "node-with-a-distinctive-name:7946";
  auto sealed = a.seal(bytes_of(secret), kNow);
  std::string wire(reinterpret_cast<const char*>(sealed.data()), sealed.size());
  CHECK(wire.find("distinctive") == std::string::npos);
}

TEST_CASE("every altered byte, another key, another cluster and plain packets are refused") {
  auto key = ring({ClusterKey::generate()});
  DatagramSeal a(key, "prod");
  const auto plain = bytes_of("membership gossip");
  const auto sealed = a.seal(plain, kNow);
  std::vector<std::byte> opened;

  SUBCASE("each byte flipped") {
    for (std::size_t i = 0; i < sealed.size(); ++i) {
      DatagramSeal b(key, "prod");
      auto flipped = sealed;
      flipped[i] ^= std::byte{0x01};
      const Refusal r = b.open(flipped, kNow, opened);
      INFO("byte " << i);
      // The encoding byte and the key id decide what is tried; every other byte fails the tag.
      if (i == 0) CHECK(r == Refusal::kUnsealed);
      else if (i < 3) CHECK(r == Refusal::kUnknownKey);
      else CHECK(r == Refusal::kForged);
    }
  }
  SUBCASE("another cluster sharing the key") {
    DatagramSeal other(key, "staging");
    CHECK(other.open(sealed, kNow, opened) == Refusal::kForged);
  }
  SUBCASE("another key") {
    DatagramSeal stranger(ring({ClusterKey::generate()}), "prod");
    CHECK(stranger.open(sealed, kNow, opened) == Refusal::kUnknownKey);
  }
  SUBCASE("another key claiming our key's id") {
    DatagramSeal forger(ring({ClusterKey::generate()}), "prod");
    auto forged = forger.seal(plain, kNow);
    std::copy(sealed.begin() + 1, sealed.begin() + 3, forged.begin() + 1);
    DatagramSeal b(key, "prod");
    CHECK(b.open(forged, kNow, opened) == Refusal::kForged);
  }
  SUBCASE("a plain packet, a short one, an empty one") {
    DatagramSeal b(key, "prod");
    CHECK(b.open(encode(Packet{"prod", {Ping{1, "x"}}}), kNow, opened) == Refusal::kUnsealed);
    CHECK(b.open(std::span(sealed).first(DatagramSeal::kOverhead - 1), kNow, opened) == Refusal::kMalformed);
    CHECK(b.open({}, kNow, opened) == Refusal::kUnsealed);
  }
  SUBCASE("truncated by one byte") {
    DatagramSeal b(key, "prod");
    CHECK(b.open(std::span(sealed).first(sealed.size() - 1), kNow, opened) == Refusal::kForged);
  }
}

TEST_CASE("during a rotation a node opens datagrams sealed with any key of its ring") {
  const auto old_key = ClusterKey::generate();
  const auto new_key = ClusterKey::generate();
  DatagramSeal old_only(ring({old_key}), "prod");
  DatagramSeal added(ring({old_key, new_key}), "prod");     // step 1: the new key as a secondary
  DatagramSeal promoted(ring({new_key, old_key}), "prod");  // step 2: the new key primary
  DatagramSeal new_only(ring({new_key}), "prod");           // step 3: the old key removed
  std::vector<std::byte> opened;
  const auto plain = bytes_of("hello");
  CHECK(added.open(old_only.seal(plain, kNow), kNow, opened) == Refusal::kNone);
  CHECK(old_only.open(added.seal(plain, kNow), kNow, opened) == Refusal::kNone);  // sealed with the old primary
  CHECK(added.open(promoted.seal(plain, kNow), kNow, opened) == Refusal::kNone);
  CHECK(promoted.open(added.seal(plain, kNow), kNow, opened) == Refusal::kNone);
  CHECK(new_only.open(promoted.seal(plain, kNow), kNow, opened) == Refusal::kNone);
  CHECK(promoted.open(new_only.seal(plain, kNow), kNow, opened) == Refusal::kNone);
  // What steps apart cannot talk: the reason for the order.
  CHECK(old_only.open(promoted.seal(plain, kNow), kNow, opened) == Refusal::kUnknownKey);
}

TEST_CASE("new keys take effect at once, and what was admitted before stays a replay") {
  const auto old_key = ClusterKey::generate();
  const auto new_key = ClusterKey::generate();
  DatagramSeal a(ring({old_key}), "prod"), b(ring({old_key}), "prod");
  std::vector<std::byte> opened;
  const auto before = a.seal(bytes_of("x"), kNow);
  REQUIRE(b.open(before, kNow, opened) == Refusal::kNone);
  b.set_keys(ring({new_key, old_key}));
  CHECK(b.open(before, kNow, opened) == Refusal::kReplayed);
  a.set_keys(ring({new_key}));
  CHECK(b.open(a.seal(bytes_of("y"), kNow), kNow, opened) == Refusal::kNone);
  b.set_keys(ring({ClusterKey::generate()}));
  CHECK(b.open(a.seal(bytes_of("z"), kNow), kNow, opened) == Refusal::kUnknownKey);
}

TEST_CASE("random bytes of any length, and sealed datagrams cut or grown, are refused without a crash") {
  // What an outsider can send. Bounded: 20,000 tries with a fixed seed.
  auto key = ring({ClusterKey::generate()});
  DatagramSeal a(key, "prod"), b(key, "prod");
  std::mt19937_64 random(7);
  std::vector<std::byte> opened;
  const auto sealed = a.seal(encode(Packet{"", {Ping{1, "node-b"}}}), kNow);
  for (int i = 0; i < 20'000; ++i) {
    std::vector<std::byte> bytes;
    if (i % 2 == 0) {
      bytes.resize(random() % 200);
      for (auto& byte : bytes) byte = static_cast<std::byte>(random());
      if (!bytes.empty() && i % 4 == 0) bytes[0] = kSealedEncoding;  // past the first check
      if (bytes.size() >= 3 && i % 8 == 0) std::copy(sealed.begin() + 1, sealed.begin() + 3, bytes.begin() + 1);
    } else {
      bytes = sealed;
      bytes.resize(random() % (sealed.size() * 2));
      for (std::size_t j = sealed.size(); j < bytes.size(); ++j) bytes[j] = static_cast<std::byte>(random());
      if (bytes.size() == sealed.size()) continue;  // that one opens (once)
    }
    CHECK(b.open(bytes, kNow, opened) != Refusal::kNone);
  }
}

TEST_CASE("a datagram stamped outside the replay window is stale") {
  auto key = ring({ClusterKey::generate()});
  SealOptions options;
  options.replay_window_ms = 1'000;
  DatagramSeal a(key, "prod", options), b(key, "prod", options);
  std::vector<std::byte> opened;
  auto sealed = a.seal(bytes_of("x"), kNow);
  CHECK(b.open(sealed, kNow + 1'001, opened) == Refusal::kStale);
  CHECK(b.open(sealed, kNow + 1'000, opened) == Refusal::kNone);
}

}  // namespace
}  // namespace pulsing::membership
