// libFuzzer target: the gossip datagram path, the first code a UDP sender's bytes reach. The
// input's first byte picks the mode, the rest is the datagram:
//   0  plain: membership::decode() of the bytes, as a node without a cluster key reads them;
//   1  sealed: DatagramSeal::open() under a fixed test key, then decode() of what opens (random
//      bytes never authenticate: this fuzzes the seal's header checks; the seeds open);
//   2  behind the seal: the bytes are sealed with the fixed key first, must open again, and
//      what opens is decoded, so that the decoder behind the seal is reached.
// decode() may only refuse with PacketError (codec.hpp); open() refuses by its result. A crash,
// a sanitizer report, any other exception, or a sealed datagram that does not open is a finding.
// A packet that decodes must also encode, and decode again.
#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "membership/codec.hpp"
#include "membership/datagram_seal.hpp"
#include "security/cluster_key.hpp"
#include "gossip_test_key.hpp"

namespace {

namespace membership = pulsing::membership;
namespace security = pulsing::security;

using pulsing::fuzz::kTestCluster;
using pulsing::fuzz::kTestKey;
using pulsing::fuzz::kTestNowMs;
using pulsing::fuzz::kTestSender;

const std::shared_ptr<const security::Keyring>& test_keys() {
  static const auto keys =
      std::make_shared<const security::Keyring>(std::vector{security::ClusterKey::parse(kTestKey)});
  return keys;
}

void decode(std::span<const std::byte> datagram) {
  membership::Packet packet;
  try {
    packet = membership::decode(datagram);
  } catch (const membership::PacketError&) {
    return;
  }
  // What decoded is a packet this node could have sent: it encodes, and reads back. Under larger
  // size limits: a packet whose pointers share text is read within the limits and then written
  // out in full.
  std::vector<std::byte> again = membership::encode(packet);
  membership::PacketLimits relaxed;
  relaxed.max_bytes = std::size_t{64} << 20;
  relaxed.traversal_limit_words = std::uint64_t{8} << 20;
  membership::Packet reread = membership::decode(again, relaxed);
  if (reread.cluster != packet.cluster || reread.messages.size() != packet.messages.size()) __builtin_trap();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  const auto mode = data[0] % 3;
  std::span<const std::byte> datagram(reinterpret_cast<const std::byte*>(data + 1), size - 1);
  if (mode == 0) {
    decode(datagram);
    return 0;
  }
  // A seal of its own per input: a fresh replay guard, so that every input is judged alone.
  membership::DatagramSeal seal(test_keys(), kTestCluster, {}, kTestSender);
  std::vector<std::byte> plain;
  if (mode == 1) {
    if (seal.open(datagram, kTestNowMs, plain) == membership::Refusal::kNone) decode(plain);
    return 0;
  }
  std::vector<std::byte> sealed = seal.seal(datagram, kTestNowMs);
  membership::DatagramSeal receiver(test_keys(), kTestCluster, {}, kTestSender + 1);
  if (receiver.open(sealed, kTestNowMs, plain) != membership::Refusal::kNone) __builtin_trap();
  if (plain.size() != datagram.size()) __builtin_trap();
  decode(plain);
  return 0;
}
