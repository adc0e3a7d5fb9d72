#include "membership/datagram_seal.hpp"

#include <sodium.h>

#include <algorithm>
#include <array>
#include <cstring>
#include <stdexcept>

namespace pulsing::membership {

namespace {

static_assert(DatagramSeal::kTagSize == crypto_aead_xchacha20poly1305_ietf_ABYTES);
static_assert(crypto_aead_xchacha20poly1305_ietf_NPUBBYTES == 24);
static_assert(crypto_aead_xchacha20poly1305_ietf_KEYBYTES == 32);

// Where the header's fields are.
constexpr std::size_t kKeyIdAt = 1, kKeyIdSize = 2, kSenderAt = 3, kSequenceAt = 11, kClockAt = 15;

void put_le(std::byte* at, std::uint64_t value, int size) {
  for (int i = 0; i < size; ++i) at[i] = static_cast<std::byte>(value >> (8 * i));
}

std::uint64_t get_le(const std::byte* at, int size) {
  std::uint64_t value = 0;
  for (int i = size - 1; i >= 0; --i) value = value << 8 | std::to_integer<std::uint64_t>(at[i]);
  return value;
}

// The nonce of a datagram with this header: sender and sequence number, then zeros.
std::array<unsigned char, 24> nonce_of(const std::byte* header) {
  std::array<unsigned char, 24> nonce{};
  std::memcpy(nonce.data(), header + kSenderAt, 12);
  return nonce;
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
  if (sequence_ == UINT32_MAX) {  // numbers are never reused under one sender: become another
    sender_ = random_sender();
    sequence_ = 0;
  }
  std::vector<std::byte> out(kOverhead + plain.size());
  out[0] = kSealedEncoding;
  std::memcpy(out.data() + kKeyIdAt, key.id.data(), kKeyIdSize);
  put_le(out.data() + kSenderAt, sender_, 8);
  put_le(out.data() + kSequenceAt, ++sequence_, 4);
  put_le(out.data() + kClockAt, now_ms / 1000, 4);
  auto ad = associated_data({out.data(), kHeaderSize});
  const auto nonce = nonce_of(out.data());
  unsigned long long written = 0;
  crypto_aead_xchacha20poly1305_ietf_encrypt(uchars(out.data() + kHeaderSize), &written, uchars(plain.data()),
                                             plain.size(), ad.data(), ad.size(), nullptr, nonce.data(),
                                             key.gossip.data());
  out.resize(kHeaderSize + written);
  return out;
}

Refusal DatagramSeal::open(std::span<const std::byte> datagram, std::uint64_t now_ms, std::vector<std::byte>& plain) {
  if (datagram.empty() || datagram[0] != kSealedEncoding) return Refusal::kUnsealed;
  if (datagram.size() < kOverhead) return Refusal::kMalformed;
  auto ad = associated_data(datagram.first(kHeaderSize));
  const auto nonce = nonce_of(datagram.data());
  auto sealed = datagram.subspan(kHeaderSize);
  plain.resize(sealed.size() - kTagSize);
  // Two bytes of id: two keys of a ring may share them (1 in 65,536), so each that does is tried.
  bool named = false, opened = false;
  for (const Key& key : keys_) {
    if (std::memcmp(key.id.data(), datagram.data() + kKeyIdAt, kKeyIdSize) != 0) continue;
    named = true;
    unsigned long long written = 0;
    if (crypto_aead_xchacha20poly1305_ietf_decrypt(uchars(plain.data()), &written, nullptr, uchars(sealed.data()),
                                                   sealed.size(), ad.data(), ad.size(), nonce.data(),
                                                   key.gossip.data()) == 0) {
      plain.resize(written);
      opened = true;
      break;
    }
  }
  if (!opened) return named ? Refusal::kForged : Refusal::kUnknownKey;
  const std::uint64_t clock_ms = get_le(datagram.data() + kClockAt, 4) * 1000;
  switch (guard_.admit(get_le(datagram.data() + kSenderAt, 8), get_le(datagram.data() + kSequenceAt, 4), clock_ms,
                       now_ms)) {
    case ReplayGuard::Verdict::kFresh: return Refusal::kNone;
    case ReplayGuard::Verdict::kStale: return Refusal::kStale;
    case ReplayGuard::Verdict::kReplayed: return Refusal::kReplayed;
  }
  return Refusal::kForged;
}

std::span<const unsigned char> DatagramSeal::associated_data(std::span<const std::byte> header) {
  ad_.resize(header.size() + cluster_.size());
  std::memcpy(ad_.data(), header.data(), header.size());
  std::memcpy(ad_.data() + header.size(), cluster_.data(), cluster_.size());
  return ad_;
}

}  // namespace pulsing::membership
