#include "security/cluster_key.hpp"

#include <sodium.h>

#include <algorithm>
#include <cctype>
#include <set>

namespace pulsing::security {
namespace {

// libsodium must be initialised once before use; it is idempotent and thread-safe.
void ensure_sodium() {
  static const bool ready = sodium_init() >= 0;
  if (!ready) throw KeyError("libsodium could not be initialised (no secure random source?)");
}

// The KDF's context: 8 bytes that keep pulsing's derived keys apart from anyone else's.
constexpr char kContext[crypto_kdf_CONTEXTBYTES + 1] = "pulsing1";
static_assert(sizeof(kContext) == crypto_kdf_CONTEXTBYTES + 1);
static_assert(ClusterKey::kSize == crypto_kdf_KEYBYTES);

std::string_view trim(std::string_view text) {
  auto blank = [](char c) { return std::isspace(static_cast<unsigned char>(c)) != 0; };
  while (!text.empty() && blank(text.front())) text.remove_prefix(1);
  while (!text.empty() && blank(text.back())) text.remove_suffix(1);
  return text;
}

std::string to_hex(const unsigned char* bytes, std::size_t size) {
  std::string hex(2 * size + 1, '\0');
  sodium_bin2hex(hex.data(), hex.size(), bytes, size);
  hex.pop_back();
  return hex;
}

}  // namespace

ClusterKey::ClusterKey(const Bytes& bytes) : bytes_(bytes) {
  std::array<unsigned char, crypto_kdf_BYTES_MIN> id{};
  crypto_kdf_derive_from_key(id.data(), id.size(), static_cast<std::uint64_t>(KeyPurpose::kKeyId), kContext,
                             bytes_.data());
  std::copy_n(id.begin(), kIdSize, id_bytes_.begin());
  id_ = to_hex(id_bytes_.data(), kIdSize);
}

ClusterKey::~ClusterKey() { sodium_memzero(bytes_.data(), bytes_.size()); }

ClusterKey ClusterKey::generate() {
  ensure_sodium();
  Bytes bytes;
  crypto_kdf_keygen(bytes.data());
  ClusterKey key(bytes);
  sodium_memzero(bytes.data(), bytes.size());
  return key;
}

ClusterKey ClusterKey::parse(std::string_view text) {
  ensure_sodium();
  text = trim(text);
  if (text.size() != kTextSize) {
    throw KeyError("a cluster key is " + std::to_string(kTextSize) + " hex digits; this one has " +
                   std::to_string(text.size()) + " characters");
  }
  if (!std::all_of(text.begin(), text.end(), [](char c) { return std::isxdigit(static_cast<unsigned char>(c)) != 0; })) {
    throw KeyError("a cluster key is hex digits only (0-9, a-f); this one has other characters");
  }
  Bytes bytes;
  std::size_t decoded = 0;
  if (sodium_hex2bin(bytes.data(), bytes.size(), text.data(), text.size(), nullptr, &decoded, nullptr) != 0 ||
      decoded != kSize) {
    throw KeyError("the cluster key's hex digits do not decode to 32 bytes");
  }
  ClusterKey key(bytes);
  sodium_memzero(bytes.data(), bytes.size());
  return key;
}

std::string ClusterKey::to_text() const { return to_hex(bytes_.data(), bytes_.size()); }

ClusterKey::Bytes ClusterKey::derive(KeyPurpose purpose) const {
  Bytes out;
  crypto_kdf_derive_from_key(out.data(), out.size(), static_cast<std::uint64_t>(purpose), kContext, bytes_.data());
  return out;
}

bool ClusterKey::operator==(const ClusterKey& other) const {
  return sodium_memcmp(bytes_.data(), other.bytes_.data(), kSize) == 0;
}

Keyring::Keyring(std::vector<ClusterKey> keys) : keys_(std::move(keys)) {
  if (keys_.empty()) throw KeyError("a keyring needs a key (the first one is the primary)");
  if (keys_.size() > kMaxKeys) {
    throw KeyError("a keyring holds at most " + std::to_string(kMaxKeys) + " keys (a primary and two secondaries); " +
                   "this one has " + std::to_string(keys_.size()));
  }
  std::set<std::string> ids;
  for (const ClusterKey& key : keys_) {
    if (!ids.insert(key.id()).second) throw KeyError("the keyring holds key " + key.id() + " twice");
  }
}

const ClusterKey* Keyring::find(std::string_view id) const {
  for (const ClusterKey& key : keys_) {
    if (key.id() == id) return &key;
  }
  return nullptr;
}

}  // namespace pulsing::security
