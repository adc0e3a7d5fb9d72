// Key files: written private and never replaced; read back only when private, well formed and
// small; every refusal names the file and what to do.
#include "security/key_file.hpp"

#include <doctest/doctest.h>

#include <sys/stat.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

#include "key_testing.hpp"

namespace pulsing::security {
namespace {

using testing::key_error;

namespace fs = std::filesystem;
using testing::mode_of;
using testing::TempDir;
using testing::write_file;

TEST_CASE("a new key file is private to its owner, reads back as its key, and is never replaced") {
  TempDir dir;
  std::string path = dir.file("cluster.key");
  auto key = ClusterKey::generate();
  write_new_key_file(path, key);
  CHECK(mode_of(path) == 0600);
  Keyring ring = read_key_file(path);
  REQUIRE(ring.keys().size() == 1);
  CHECK(ring.primary() == key);

  std::string again = key_error([&] { write_new_key_file(path, ClusterKey::generate()); });
  CHECK(again.find("exists already") != std::string::npos);
  CHECK(read_key_file(path).primary() == key);  // untouched
}

TEST_CASE("a key file readable by group or others is refused, saying its mode and the fix") {
  TempDir dir;
  std::string path = dir.file("open.key");
  write_file(path, ClusterKey::generate().to_text() + "\n", 0644);
  std::string why = key_error([&] { read_key_file(path); });
  CHECK(why.find(path) != std::string::npos);
  CHECK(why.find("0644") != std::string::npos);
  CHECK(why.find("chmod 600") != std::string::npos);
  REQUIRE(::chmod(path.c_str(), 0640) == 0);
  CHECK(key_error([&] { read_key_file(path); }).find("0640") != std::string::npos);
  REQUIRE(::chmod(path.c_str(), 0400) == 0);
  CHECK_NOTHROW(read_key_file(path));
}

TEST_CASE("a key file lists the primary first, then secondaries, with comments and blank lines") {
  TempDir dir;
  std::string path = dir.file("ring.key");
  auto next = ClusterKey::generate();
  auto current = ClusterKey::generate();
  write_file(path, "# rotation, step 2\n\n" + next.to_text() + "\r\n  " + current.to_text() + "  \n# end\n", 0600);
  Keyring ring = read_key_file(path);
  REQUIRE(ring.keys().size() == 2);
  CHECK(ring.primary() == next);
  CHECK(ring.find(current.id()) != nullptr);
}

TEST_CASE("bad key files are refused with the file, the line and the reason") {
  TempDir dir;
  std::string empty = dir.file("empty.key");
  write_file(empty, "# nothing here\n", 0600);
  CHECK(key_error([&] { read_key_file(empty); }).find("needs a key") != std::string::npos);

  std::string garbled = dir.file("garbled.key");
  write_file(garbled, "# a comment\n" + ClusterKey::generate().to_text() + "\nnot a key\n", 0600);
  std::string why = key_error([&] { read_key_file(garbled); });
  CHECK(why.find(garbled) != std::string::npos);
  CHECK(why.find("line 3") != std::string::npos);

  std::string four = dir.file("four.key");
  std::string text;
  for (int i = 0; i < 4; ++i) text += ClusterKey::generate().to_text() + "\n";
  write_file(four, text, 0600);
  CHECK(key_error([&] { read_key_file(four); }).find("at most 3") != std::string::npos);

  std::string big = dir.file("big.key");
  write_file(big, std::string(kMaxKeyFileSize + 1, '#'), 0600);
  CHECK(key_error([&] { read_key_file(big); }).find("at most") != std::string::npos);

  CHECK(key_error([&] { read_key_file(dir.file("missing.key")); }).find("cannot open") != std::string::npos);
  CHECK(key_error([&] { read_key_file(dir.file("")); }).find("not a regular file") != std::string::npos);

  std::string link = dir.file("link.key");
  fs::create_symlink(empty, link);
  CHECK(key_error([&] { read_key_file(link); }).find("symbolic link") != std::string::npos);
}

TEST_CASE("an admin token file gives its first token line, and is refused when open, short or odd") {
  TempDir dir;
  std::string path = dir.file("admin.token");
  write_file(path, "# the admin token\n\n  0123456789abcdef0123  \nsecond line ignored\n", 0600);
  CHECK(read_token_file(path) == "0123456789abcdef0123");

  write_file(path, "0123456789abcdef0123\n", 0644);
  CHECK(key_error([&] { read_token_file(path); }).find("admin token file " + path) != std::string::npos);
  write_file(path, "short\n", 0600);
  CHECK(key_error([&] { read_token_file(path); }).find("use at least 16") != std::string::npos);
  write_file(path, "0123456789 abcdef0123\n", 0600);
  CHECK(key_error([&] { read_token_file(path); }).find("printable ASCII") != std::string::npos);
  write_file(path, "# nothing\n", 0600);
  CHECK(key_error([&] { read_token_file(path); }).find("holds no token") != std::string::npos);
}

}  // namespace
}  // namespace pulsing::security
