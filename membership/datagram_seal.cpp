#include "membership/datagram_seal.hpp"

#include <sodium.h>

#include <algorithm>
#include <cstring>
#include <stdexcept>

namespace pulsing::membership {

namespace {

static_assert(DatagramSeal::kTagSize == crypto_aead_xchacha20poly1305_ietf_ABYTES);
static_assert(DatagramSeal::kHeaderSize - 5 == crypto_aead_xchacha20poly1305_ietf_NPUBBYTES);
static_assert(crypto_aead_xchacha20poly1305_ietf_KEYBYTES == 32);

void put_u64(std::byte* at, std::uint64_t value) {
  for (int i = 0; i < 8; ++i) at[i] = static_cast<std::byte>(value >> (8 * i));
}

std::uint64_t get_u64(const std::byte* at) {
  std::uint64_t value = 0;
  for (int i = 7; i >= 0; --i) value = value << 8 | std::to_integer<std::uint64_t>(at[i]);
  return value;
}

const unsigned char* uchars(const std::byte* bytes) { return reinterpret_cast<const unsigned char*>(bytes); }
unsigned char* uchars(std::byte* bytes) { return reinterpret_cast<unsigned char*>(bytes); }

std::uint64_t random_sender() {
  if (sodium_init() < 0) throw std::runtime_error("libsodium could not be initialised");
  std::uint64_t sender = 0;
  while (sender == 0) randombytes_buf(&sender, sizeof sender);
  return sender;
}

}  // namespace

const char* to_string(Refusal refusal) {
  switch (refusal) {
    case Refusal::kNone: return "none";
    case Refusal::kUnsealed: return "unsealed";
    case Refusal::kMalformed: return "malformed";
    case Refusal::kUnknownKey: return "unknown_key";
    case Refusal::kForged: return "forged";
    case Refusal::kStale: return "stale";
    case Refusal::kReplayed: return "replayed";
  }
  return "unknown";
}

DatagramSeal::DatagramSeal(std::shared_ptr<const security::Keyring> keys, std::string cluster, SealOptions options,
                           std::uint64_t sender)
    : cluster_(std::move(cluster)),
      sender_(sender != 0 ? sender : random_sender()),
      guard_(options.replay_window_ms, options.max_senders) {
  set_keys(keys);
}

DatagramSeal::~DatagramSeal() { wipe(); }

void DatagramSeal::set_keys(const std::shared_ptr<const security::Keyring>& keys) {
  if (keys == nullptr) throw std::invalid_argument("DatagramSeal: no keyring");
  wipe();
  for (const security::ClusterKey& key : keys->keys()) {
    keys_.push_back(Key{key.id_bytes(), key.derive(security::KeyPurpose::kGossip)});
  }
}

void DatagramSeal::wipe() {
  for (Key& key : keys_) sodium_memzero(key.gossip.data(), key.gossip.size());
  keys_.clear();
}

std::vector<std::byte> DatagramSeal::seal(std::span<const std::byte> plain, std::uint64_t now_ms) {
  const Key& key = keys_.front();
  std::vector<std::byte> out(kOverhead + plain.size());
  out[0] = kSealedEncoding;
  std::memcpy(out.data() + 1, key.id.data(), key.id.size());
  put_u64(out.data() + 5, sender_);
  put_u64(out.data() + 13, ++sequence_);
  put_u64(out.data() + 21, now_ms);
  auto ad = associated_data({out.data(), kHeaderSize});
  unsigned long long written = 0;
  crypto_aead_xchacha20poly1305_ietf_encrypt(uchars(out.data() + kHeaderSize), &written, uchars(plain.data()),
                                             plain.size(), ad.data(), ad.size(), nullptr, uchars(out.data() + 5),
                                             key.gossip.data());
  out.resize(kHeaderSize + written);
  return out;
}

Refusal DatagramSeal::open(std::span<const std::byte> datagram, std::uint64_t now_ms, std::vector<std::byte>& plain) {
  if (datagram.empty() || datagram[0] != kSealedEncoding) return Refusal::kUnsealed;
  if (datagram.size() < kOverhead) return Refusal::kMalformed;
  const Key* key = find(datagram.subspan<1, 4>());
  if (key == nullptr) return Refusal::kUnknownKey;
  auto ad = associated_data(datagram.first(kHeaderSize));
  auto sealed = datagram.subspan(kHeaderSize);
  plain.resize(sealed.size() - kTagSize);
  unsigned long long written = 0;
  if (crypto_aead_xchacha20poly1305_ietf_decrypt(uchars(plain.data()), &written, nullptr, uchars(sealed.data()),
                                                 sealed.size(), ad.data(), ad.size(), uchars(datagram.data() + 5),
                                                 key->gossip.data()) != 0) {
    return Refusal::kForged;
  }
  plain.resize(written);
  switch (guard_.admit(get_u64(datagram.data() + 5), get_u64(datagram.data() + 13), get_u64(datagram.data() + 21),
                       now_ms)) {
    case ReplayGuard::Verdict::kFresh: return Refusal::kNone;
    case ReplayGuard::Verdict::kStale: return Refusal::kStale;
    case ReplayGuard::Verdict::kReplayed: return Refusal::kReplayed;
  }
  return Refusal::kForged;
}

const DatagramSeal::Key* DatagramSeal::find(std::span<const std::byte, 4> id) const {
  for (const Key& key : keys_) {
    if (std::memcmp(key.id.data(), id.data(), id.size()) == 0) return &key;
  }
  return nullptr;
}

std::span<const unsigned char> DatagramSeal::associated_data(std::span<const std::byte> header) {
  ad_.resize(header.size() + cluster_.size());
  std::memcpy(ad_.data(), header.data(), header.size());
  std::memcpy(ad_.data() + header.size(), cluster_.data(), cluster_.size());
  return ad_;
}

}  // namespace pulsing::membership
