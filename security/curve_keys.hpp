// CURVE keys: the Curve25519 key pairs with which ZeroMQ's CURVE mechanism (CurveZMQ) encrypts
// and authenticates a node's connections, and the two files that hold the client side's keys.
//
// Key pairs: a node's server pair and its node (client) pair are derived from a cluster key
// (crypto_box_seed_keypair over the key's kCurveServer / kCurveNode derived seeds), so that
// everyone who holds the key computes the same ones; a client key pair (`pulsing keygen
// --client`) is drawn at random. A key's text form is 64 hex digits.
//
// Client key file (secret, checked as a key file is): the client's secret key, and the server
// public key(s) of the cluster it calls, one per line, each as a word and 64 hex digits:
//   secret 8f3c...        the client's secret key (its public key is computed from it)
//   server 1a2b...        a server public key to try (one to three: rotation)
// Authorized-clients file (public keys only; it may be readable by all, but writable by its
// owner only): one client per line, its role, its public key, and an optional name:
//   operator 5e6f... alice's laptop
//   observer 9a8b... grafana
// In both, blank lines and lines starting with '#' are ignored.
//
// Secret bytes are wiped when a pair is destroyed. Thread-safety: values; free functions with
// no shared state.
#pragma once

#include <array>
#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "security/cluster_key.hpp"

namespace pulsing::security {

inline constexpr std::size_t kCurveKeySize = 32;
using CurveKey = std::array<unsigned char, kCurveKeySize>;

struct CurveKeyPair {
  CurveKeyPair() = default;
  CurveKeyPair(const CurveKeyPair&) = default;
  CurveKeyPair& operator=(const CurveKeyPair&) = default;
  ~CurveKeyPair();

  CurveKey public_key{};
  CurveKey secret_key{};
};

// The pair every holder of `key` derives for `purpose` (kCurveServer or kCurveNode).
CurveKeyPair derive_curve_pair(const ClusterKey& key, KeyPurpose purpose);
// The public keys of the pairs derived for `purpose` from each key of `ring`, in its order.
std::vector<CurveKey> ring_public_keys(const Keyring& ring, KeyPurpose purpose);
// A new pair from the system's secure random source.
CurveKeyPair random_curve_pair();
// The pair whose secret key is `secret`.
CurveKeyPair curve_pair_of_secret(const CurveKey& secret);

std::string curve_key_text(const CurveKey& key);
// 64 hex digits (blanks around ignored) as a key; nullopt when they are not that.
std::optional<CurveKey> parse_curve_key(std::string_view text);

// A client's keys (`pulsing keygen --client`): its pair, and the server keys it may meet.
struct ClientKey {
  CurveKeyPair pair;
  std::vector<CurveKey> servers;  // 1 to Keyring::kMaxKeys, the first tried first
};
// Throws KeyError naming the file, the line and the problem.
ClientKey read_client_key_file(const std::string& path);
// Creates `path` with mode 0600 holding `key`. Never replaces an existing file. Throws KeyError.
void write_new_client_key_file(const std::string& path, const ClientKey& key);
// Whether the file at `path` looks like a client key file rather than a cluster key file (its
// first line that is neither blank nor a comment starts with "secret"). False when unreadable.
bool is_client_key_file(const std::string& path);

enum class ClientRole : std::uint8_t {
  kOperator,  // every client command: calls, streams, stop
  kObserver,  // looks only: members, actors, resolve, inspect, health
};
std::string_view to_string(ClientRole role);

struct AuthorizedClient {
  CurveKey key{};
  ClientRole role = ClientRole::kObserver;
  std::string name;  // for logs; may be empty
};
// At most this many clients in one file.
inline constexpr std::size_t kMaxAuthorizedClients = 1024;
// Throws KeyError naming the file, the line and the problem (an unknown role, a bad key, a key
// listed twice, a file others may write).
std::vector<AuthorizedClient> read_authorized_clients(const std::string& path);

}  // namespace pulsing::security
