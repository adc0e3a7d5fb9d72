// DatagramSeal: seals membership datagrams with the cluster key, and opens only those sealed
// with a key of this node's keyring, in the same cluster, and never seen before.
//
// A sealed datagram (docs/protocol.md, "Gossip"):
//
//   offset  bytes  field
//   0       1      kSealedEncoding (2): plain packets start with 0 or 1 (codec.hpp)
//   1       2      the sealing key's id, its first two bytes (ClusterKey::id_bytes)
//   3       8      sender: a random number drawn at every start of the sending node
//   11      4      sequence number, 1, 2, 3... per sender
//   15      4      the sender's wall clock, seconds since the Unix epoch
//   19      n      the plain datagram (codec.hpp's encoding), encrypted
//   19+n    16     the authentication tag
//
// Integers are little-endian. The cipher is XChaCha20-Poly1305 (libsodium's IETF AEAD) under the
// key's gossip subkey (KeyPurpose::kGossip). Its 24-byte nonce is the sender and the sequence
// number followed by 12 zero bytes: never repeated under one key, since a sender never reuses a
// number (at 2^32 - 1 it draws a new sender) and senders are random. The associated data is
// bytes 0..18 followed by the cluster name, so a datagram of another cluster sharing the key
// does not open either. Nothing of a datagram reaches a parser before its tag is checked. The
// seal costs 35 bytes per datagram (memberlist's keyring: 29, with no replay protection).
//
// open() tries the keys of the ring whose id starts as the datagram says (so that during a rotation a
// node opens what is sealed with either key, and seals with its primary), then asks the
// ReplayGuard whether the authenticated header is new.
//
// Thread-safety: none; one thread at a time (the UDP driver's loop).
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "membership/replay_guard.hpp"
#include "security/cluster_key.hpp"

namespace pulsing::membership {

inline constexpr std::byte kSealedEncoding{2};

struct SealOptions {
  // How far a datagram's clock may be from ours, either way, before it is refused as stale: what
  // a capture can be replayed within (to a node restarted since; otherwise its sequence number
  // gives it away), and the clock skew tolerated between nodes. 30 s: NTP keeps hosts within
  // milliseconds, and a replay this late is older news than gossip's own repeats.
  std::uint64_t replay_window_ms = 30'000;
  // Senders whose sequence numbers are remembered (ReplayGuard): far above a cluster's size
  // times its restarts within a window; bounds what the table takes (~60 bytes per sender).
  std::size_t max_senders = 4'096;
};

// Why a datagram was refused. Each is counted (DriverStats::refused).
enum class Refusal : std::uint8_t {
  kNone,        // opened
  kUnsealed,    // a plain packet, to a node that requires seals (or sealed, to one without keys)
  kMalformed,   // shorter than a seal
  kUnknownKey,  // sealed with a key this node does not hold
  kForged,      // the tag does not verify: altered, another cluster's, or not ours at all
  kStale,       // its clock is outside the replay window
  kReplayed,    // its sequence number was seen before from that sender
};
inline constexpr std::size_t kRefusalKinds = 7;
const char* to_string(Refusal refusal);

class DatagramSeal {
 public:
  static constexpr std::size_t kHeaderSize = 19;
  static constexpr std::size_t kTagSize = 16;
  static constexpr std::size_t kOverhead = kHeaderSize + kTagSize;

  // `sender` identifies this run (draw it at random; 0 draws one here).
  DatagramSeal(std::shared_ptr<const security::Keyring> keys, std::string cluster, SealOptions options = {},
               std::uint64_t sender = 0);
  ~DatagramSeal();
  DatagramSeal(const DatagramSeal&) = delete;
  DatagramSeal& operator=(const DatagramSeal&) = delete;

  // Seals with `keys`' primary from now on and opens what any of them sealed (a rotation step).
  // What was admitted stays admitted: a replay is still refused. REQUIRES: keys is not null.
  void set_keys(const std::shared_ptr<const security::Keyring>& keys);

  // `plain` sealed with the primary key, stamped `now_ms`.
  std::vector<std::byte> seal(std::span<const std::byte> plain, std::uint64_t now_ms);
  // Opens `datagram` into `plain` (kNone), or says why not (then `plain` is unspecified).
  Refusal open(std::span<const std::byte> datagram, std::uint64_t now_ms, std::vector<std::byte>& plain);

 private:
  struct Key {
    security::ClusterKey::IdBytes id;
    std::array<unsigned char, 32> gossip;  // wiped on destruction
  };
  void wipe();  // forgets keys_, zeroing them
  // The associated data of a datagram with this header: the header, then the cluster name.
  std::span<const unsigned char> associated_data(std::span<const std::byte> header);

  std::vector<Key> keys_;  // the primary first
  std::string cluster_;
  std::uint64_t sender_;
  std::uint32_t sequence_ = 0;
  ReplayGuard guard_;
  std::vector<unsigned char> ad_;  // associated_data()'s buffer
};

}  // namespace pulsing::membership
