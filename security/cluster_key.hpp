// ClusterKey and Keyring: the secret that a cluster's members share, and what is derived from it.
//
// A cluster key is 32 random bytes; its text form (a key file's line) is 64 hex digits. Its id,
// 8 hex digits derived from it, names it in logs and on the wire without revealing it. Every
// other secret (gossip's AEAD key, CURVE key pairs) is derived from it with libsodium's KDF
// under a purpose of its own, so that one leaked derived key reveals neither the cluster key
// nor the other purposes' keys.
//
// A Keyring holds one primary key and up to two secondaries, so that keys rotate in three
// rolling steps: add the new key as a secondary on every node, make it primary on every node,
// then remove the old one. A node seals and signs with the primary and accepts any key of the
// ring.
//
// Bytes of a key are wiped when it is destroyed. Thread-safety: immutable after construction;
// safe to share between threads.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace pulsing::security {

// A key that cannot be read, parsed or used; what() says why.
class KeyError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// What a derived key is for. Each purpose gets its own key; the values are part of the wire
// protocol (docs: a client derives the same keys) and never change.
enum class KeyPurpose : std::uint64_t {
  kKeyId = 1,       // the key's public id
  kGossip = 2,      // the AEAD key that seals membership datagrams
  kCurveServer = 3, // the seed of every node's CURVE server key pair
  kCurveNode = 4,   // the seed of the CURVE client key pair nodes use towards each other
};

class ClusterKey {
 public:
  static constexpr std::size_t kSize = 32;
  static constexpr std::size_t kTextSize = 2 * kSize;
  static constexpr std::size_t kIdSize = 4;
  using Bytes = std::array<unsigned char, kSize>;
  using IdBytes = std::array<unsigned char, kIdSize>;

  // A new key from the system's secure random source.
  static ClusterKey generate();
  // A key from its text form (64 hex digits, surrounding blanks ignored). Throws KeyError
  // saying what is wrong (never echoing the text: it may be a nearly right secret).
  static ClusterKey parse(std::string_view text);

  ClusterKey(const ClusterKey& other) = default;
  ClusterKey& operator=(const ClusterKey& other) = default;
  ~ClusterKey();

  std::string to_text() const;
  // 8 hex digits, the same on every node holding this key.
  const std::string& id() const { return id_; }
  // The id as the 4 bytes that its hex digits spell: how a sealed datagram names its key.
  const IdBytes& id_bytes() const { return id_bytes_; }
  // The key for `purpose`, the same on every node holding this key.
  Bytes derive(KeyPurpose purpose) const;

  bool operator==(const ClusterKey& other) const;

 private:
  explicit ClusterKey(const Bytes& bytes);
  Bytes bytes_;
  IdBytes id_bytes_{};
  std::string id_;
};

class Keyring {
 public:
  static constexpr std::size_t kMaxKeys = 3;  // a primary and two secondaries

  // REQUIRES nothing: throws KeyError unless there are 1 to kMaxKeys keys with distinct ids.
  // The first is the primary.
  explicit Keyring(std::vector<ClusterKey> keys);

  const ClusterKey& primary() const { return keys_.front(); }
  std::span<const ClusterKey> keys() const { return keys_; }
  // The key with this id, or nullptr.
  const ClusterKey* find(std::string_view id) const;

 private:
  std::vector<ClusterKey> keys_;
};

}  // namespace pulsing::security
