#include "security/curve_keys.hpp"

#include <sodium.h>

#include <algorithm>
#include <cctype>
#include <set>
#include <utility>

#include "security/checked_file.hpp"
#include "security/key_file.hpp"

namespace pulsing::security {
namespace {

static_assert(kCurveKeySize == crypto_box_PUBLICKEYBYTES && kCurveKeySize == crypto_box_SECRETKEYBYTES &&
              kCurveKeySize == crypto_box_SEEDBYTES);

// An authorized-clients file of kMaxAuthorizedClients lines with long names fits.
constexpr std::size_t kMaxClientsFileSize = 256 * 1024;

void ensure_sodium() {
  if (sodium_init() < 0) throw KeyError("libsodium could not be initialised (no secure random source?)");
}

// "word HEX..." → the word and the rest.
std::pair<std::string_view, std::string_view> split_word(std::string_view line) {
  std::size_t blank = line.find_first_of(" \t");
  if (blank == std::string_view::npos) return {line, {}};
  std::string_view rest = line.substr(blank);
  rest.remove_prefix(std::min(rest.size(), rest.find_first_not_of(" \t")));
  return {line.substr(0, blank), rest};
}

}  // namespace

CurveKeyPair::~CurveKeyPair() { sodium_memzero(secret_key.data(), secret_key.size()); }

CurveKeyPair derive_curve_pair(const ClusterKey& key, KeyPurpose purpose) {
  ensure_sodium();
  ClusterKey::Bytes seed = key.derive(purpose);
  CurveKeyPair pair;
  crypto_box_seed_keypair(pair.public_key.data(), pair.secret_key.data(), seed.data());
  sodium_memzero(seed.data(), seed.size());
  return pair;
}

std::vector<CurveKey> ring_public_keys(const Keyring& ring, KeyPurpose purpose) {
  std::vector<CurveKey> keys;
  for (const ClusterKey& key : ring.keys()) keys.push_back(derive_curve_pair(key, purpose).public_key);
  return keys;
}

CurveKeyPair random_curve_pair() {
  ensure_sodium();
  CurveKeyPair pair;
  crypto_box_keypair(pair.public_key.data(), pair.secret_key.data());
  return pair;
}

CurveKeyPair curve_pair_of_secret(const CurveKey& secret) {
  ensure_sodium();
  CurveKeyPair pair;
  pair.secret_key = secret;
  crypto_scalarmult_base(pair.public_key.data(), pair.secret_key.data());
  return pair;
}

std::string curve_key_text(const CurveKey& key) {
  std::string hex(2 * key.size() + 1, '\0');
  sodium_bin2hex(hex.data(), hex.size(), key.data(), key.size());
  hex.pop_back();
  return hex;
}

std::optional<CurveKey> parse_curve_key(std::string_view text) {
  while (!text.empty() && std::isspace(static_cast<unsigned char>(text.front()))) text.remove_prefix(1);
  while (!text.empty() && std::isspace(static_cast<unsigned char>(text.back()))) text.remove_suffix(1);
  if (text.size() != 2 * kCurveKeySize ||
      !std::all_of(text.begin(), text.end(), [](char c) { return std::isxdigit(static_cast<unsigned char>(c)) != 0; })) {
    return std::nullopt;
  }
  CurveKey key;
  std::size_t decoded = 0;
  if (sodium_hex2bin(key.data(), key.size(), text.data(), text.size(), nullptr, &decoded, nullptr) != 0 ||
      decoded != key.size()) {
    return std::nullopt;
  }
  return key;
}

// ---------------------------------------------------------------- client key files

ClientKey read_client_key_file(const std::string& path) {
  SecretText secret{read_checked_file("client key file", path, 077, kMaxKeyFileSize)};
  std::optional<CurveKey> own;
  ClientKey key;
  for_each_content_line(secret.text, [&](std::size_t line_no, std::string_view line) {
    auto fail = [&](const std::string& why) {
      throw KeyError("client key file " + path + ", line " + std::to_string(line_no) + ": " + why);
    };
    auto [word, rest] = split_word(line);
    auto parsed = parse_curve_key(rest);
    if (word != "secret" && word != "server") fail("a line is 'secret HEX' or 'server HEX'");
    if (!parsed) fail("'" + std::string(word) + "' takes a key of 64 hex digits");
    if (word == "secret") {
      if (own) fail("the file holds two secret keys");
      own = parsed;
    } else if (key.servers.size() == Keyring::kMaxKeys) {
      fail("at most " + std::to_string(Keyring::kMaxKeys) + " server keys");
    } else {
      key.servers.push_back(*parsed);
    }
    sodium_memzero(parsed->data(), parsed->size());
  });
  if (!own) throw KeyError("client key file " + path + " holds no 'secret' line (pulsing keygen --client makes one)");
  if (key.servers.empty()) throw KeyError("client key file " + path + " holds no 'server' line: no node to trust");
  key.pair = curve_pair_of_secret(*own);
  sodium_memzero(own->data(), own->size());
  return key;
}

void write_new_client_key_file(const std::string& path, const ClientKey& key) {
  std::string text = "# pulsing client key (pulsing keygen --client). Keep it secret: it calls the cluster with the\n"
                     "# role its public key " + curve_key_text(key.pair.public_key) +
                     " is given in the nodes' authorized clients file.\n";
  SecretText secret{text + "secret " + curve_key_text(key.pair.secret_key) + "\n"};
  for (const CurveKey& server : key.servers) secret.text += "server " + curve_key_text(server) + "\n";
  write_new_private_file("client key file", path, secret.text);
}

bool is_client_key_file(const std::string& path) {
  try {
    SecretText secret{read_checked_file("key file", path, 0, kMaxKeyFileSize)};
    bool client = false, seen = false;
    for_each_content_line(secret.text, [&](std::size_t, std::string_view line) {
      if (!std::exchange(seen, true)) client = split_word(line).first == "secret";
    });
    return client;
  } catch (const KeyError&) {
    return false;
  }
}

// ---------------------------------------------------------------- authorized clients

std::string_view to_string(ClientRole role) { return role == ClientRole::kOperator ? "operator" : "observer"; }

std::vector<AuthorizedClient> read_authorized_clients(const std::string& path) {
  const std::string text = read_checked_file("authorized clients file", path, 022, kMaxClientsFileSize);
  std::vector<AuthorizedClient> clients;
  std::set<CurveKey> seen;
  for_each_content_line(text, [&](std::size_t line_no, std::string_view line) {
    auto fail = [&](const std::string& why) {
      throw KeyError("authorized clients file " + path + ", line " + std::to_string(line_no) + ": " + why);
    };
    auto [role, rest] = split_word(line);
    auto [hex, name] = split_word(rest);
    AuthorizedClient client;
    if (role == "operator") {
      client.role = ClientRole::kOperator;
    } else if (role == "observer") {
      client.role = ClientRole::kObserver;
    } else {
      fail("a line is 'operator|observer PUBLIC-KEY [name]', not '" + std::string(role.substr(0, 32)) + "'");
    }
    auto key = parse_curve_key(hex);
    if (!key) fail("the public key is 64 hex digits (pulsing keygen --client prints it)");
    if (!seen.insert(*key).second) fail("the key is listed already");
    if (clients.size() == kMaxAuthorizedClients) fail("at most " + std::to_string(kMaxAuthorizedClients) + " clients");
    client.key = *key;
    client.name = name;
    clients.push_back(std::move(client));
  });
  return clients;
}

}  // namespace pulsing::security
