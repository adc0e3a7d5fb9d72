// Key files: where a node and the CLI keep the cluster key (or keys, during a rotation), and
// the admin endpoint's bearer token.
//
// A key file holds one key per line, as 64 hex digits; the first is the primary, the others
// (at most two) secondaries. Blank lines and lines starting with '#' are ignored. A key file
// must be a regular file of at most kMaxKeyFileSize bytes that neither its group nor others may
// read or write: anything else is refused, with a message saying why and what to do.
//
// Thread-safety: free functions with no shared state.
#pragma once

#include <cstddef>
#include <string>

#include "security/cluster_key.hpp"

namespace pulsing::security {

inline constexpr std::size_t kMaxKeyFileSize = 4096;

// The keyring in `path`. Throws KeyError naming the file and the problem.
Keyring read_key_file(const std::string& path);

// The admin endpoint's bearer token: the first line of `path` that is neither blank nor a
// comment, without surrounding blanks; at least kMinTokenSize printable characters. The file is
// checked as a key file is. Throws KeyError naming the file and the problem.
inline constexpr std::size_t kMinTokenSize = 16;
std::string read_token_file(const std::string& path);

// Creates `path` with mode 0600 holding `key` (and a comment saying what it is). Never replaces
// an existing file. Throws KeyError naming the file and the problem.
void write_new_key_file(const std::string& path, const ClusterKey& key);

}  // namespace pulsing::security
