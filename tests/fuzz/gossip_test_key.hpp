// The fixed cluster key, cluster name, sender and clock under which fuzz_gossip opens sealed
// datagrams, and fuzz_seeds seals its seeds: a test key, known to everyone, used nowhere else.
#pragma once

#include <cstdint>

namespace pulsing::fuzz {

inline constexpr const char* kTestKey = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f";
inline constexpr const char* kTestCluster = "fuzz";
inline constexpr std::uint64_t kTestSender = 0x5eed;
inline constexpr std::uint64_t kTestNowMs = 1'700'000'000'000;

}  // namespace pulsing::fuzz
