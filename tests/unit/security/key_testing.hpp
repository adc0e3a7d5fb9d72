// What the security tests share.
#pragma once

#include <doctest/doctest.h>

#include <sys/stat.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

#include "security/cluster_key.hpp"

namespace pulsing::security::testing {

// Runs `f`, which must throw KeyError, and returns its message.
template <typename F>
std::string key_error(F&& f) {
  try {
    f();
  } catch (const KeyError& e) {
    return e.what();
  }
  FAIL("no KeyError was thrown");
  return {};
}

namespace fs = std::filesystem;

// A fresh directory, removed with what it holds at the end of the test.
class TempDir {
 public:
  TempDir() {
    std::string pattern = (fs::temp_directory_path() / "pulsing-keys-XXXXXX").string();
    REQUIRE(::mkdtemp(pattern.data()) != nullptr);
    path_ = pattern;
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  ~TempDir() { fs::remove_all(path_); }
  std::string file(const std::string& name) const { return (path_ / name).string(); }

 private:
  fs::path path_;
};

// Writes `text` to `path` with `mode`.
inline void write_file(const std::string& path, const std::string& text, mode_t mode) {
  std::ofstream(path) << text;
  REQUIRE(::chmod(path.c_str(), mode) == 0);
}

inline mode_t mode_of(const std::string& path) {
  struct stat st {};
  REQUIRE(::stat(path.c_str(), &st) == 0);
  return st.st_mode & 07777;
}

}  // namespace pulsing::security::testing
