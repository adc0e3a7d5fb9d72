#include "security/key_file.hpp"

#include <vector>

#include "security/checked_file.hpp"

namespace pulsing::security {

Keyring read_key_file(const std::string& path) {
  SecretText secret{read_checked_file("key file", path, 077, kMaxKeyFileSize)};
  std::vector<ClusterKey> keys;
  for_each_content_line(secret.text, [&](std::size_t line_no, std::string_view line) {
    try {
      keys.push_back(ClusterKey::parse(line));
    } catch (const KeyError& e) {
      throw KeyError("key file " + path + ", line " + std::to_string(line_no) + ": " + e.what());
    }
  });
  try {
    return Keyring(std::move(keys));
  } catch (const KeyError& e) {
    throw KeyError("key file " + path + ": " + e.what());
  }
}

void write_new_key_file(const std::string& path, const ClusterKey& key) {
  SecretText text{"# pulsing cluster key " + key.id() +
                  " (pulsing keygen). Keep it secret: it admits a node to the cluster.\n" + key.to_text() + "\n"};
  write_new_private_file("key file", path, text.text);
}

std::string read_token_file(const std::string& path) {
  SecretText secret{read_checked_file("admin token file", path, 077, kMaxKeyFileSize)};
  std::string token;
  for_each_content_line(secret.text, [&](std::size_t line_no, std::string_view line) {
    if (!token.empty()) return;
    const std::string where = "admin token file " + path + ", line " + std::to_string(line_no);
    if (line.size() < kMinTokenSize) {
      throw KeyError(where + ": the token has " + std::to_string(line.size()) + " characters; use at least " +
                     std::to_string(kMinTokenSize) + " (pulsing keygen FILE writes 64 random hex digits)");
    }
    for (char c : line) {
      if (c <= ' ' || c > '~') throw KeyError(where + ": the token may hold only printable ASCII without blanks");
    }
    token = line;
  });
  if (token.empty()) throw KeyError("admin token file " + path + " holds no token");
  return token;
}

}  // namespace pulsing::security
