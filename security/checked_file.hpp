// Checked files: how key files, token files and client lists are read and written, with the
// checks a secret needs (a regular file, small, not a symbolic link, private to its owner) made
// on the open descriptor, so that nothing can be swapped in between check and read.
//
// Errors are KeyErrors saying which file (`what` names its kind: "key file", "admin token
// file") and what to do. Thread-safety: free functions with no shared state.
#pragma once

#include <cstddef>
#include <functional>
#include <string>
#include <string_view>

#include "security/cluster_key.hpp"

namespace pulsing::security {

// The bytes of `path`, refused when its mode has any of `forbidden_mode` (077: a secret; 022:
// a file others must not change) or it holds more than `max_size` bytes.
std::string read_checked_file(const std::string& what, const std::string& path, unsigned forbidden_mode,
                              std::size_t max_size);

// Calls `line` with each line of `text` that is neither blank nor a comment ('#'), without the
// blanks around it, and its number (from 1).
void for_each_content_line(std::string_view text, const std::function<void(std::size_t, std::string_view)>& line);

// Creates `path` with mode 0600 holding `text`. Never replaces an existing file.
void write_new_private_file(const std::string& what, const std::string& path, const std::string& text);

// Wipes `text`'s bytes (a secret's) before its memory is given back.
void wipe(std::string& text);

// Text holding a secret, wiped however its scope is left.
struct SecretText {
  explicit SecretText(std::string t) : text(std::move(t)) {}
  SecretText(const SecretText&) = delete;
  SecretText& operator=(const SecretText&) = delete;
  ~SecretText() { wipe(text); }
  std::string text;
};

}  // namespace pulsing::security
