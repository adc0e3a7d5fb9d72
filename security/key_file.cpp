#include "security/key_file.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <vector>

namespace pulsing::security {
namespace {

// Wipes what held a key's text before the memory is given back.
void wipe(std::string& text) { sodium_memzero(text.data(), text.size()); }

// Key text that is wiped however its scope is left.
struct SecretText {
  explicit SecretText(std::string t) : text(std::move(t)) {}
  SecretText(const SecretText&) = delete;
  SecretText& operator=(const SecretText&) = delete;
  ~SecretText() { wipe(text); }
  std::string text;
};

// What a file is called in messages: "key file", "admin token file".
std::string describe_errno(const std::string& what, const std::string& path, const char* doing) {
  return "cannot " + std::string(doing) + " " + what + " " + path + ": " + std::strerror(errno);
}

// Closes a descriptor when it goes out of scope.
class Fd {
 public:
  explicit Fd(int fd) : fd_(fd) {}
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  ~Fd() {
    if (fd_ >= 0) ::close(fd_);
  }
  int get() const { return fd_; }

 private:
  int fd_;
};

// The file's bytes, after checking (on the open descriptor, so that nothing can be swapped in
// between) that it is a regular file, small, and private to its owner.
std::string read_private_file(const std::string& what, const std::string& path) {
  Fd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW));
  if (fd.get() < 0) {
    if (errno == ELOOP) throw KeyError(what + " " + path + " is a symbolic link; give the file it points to");
    throw KeyError(describe_errno(what, path, "open"));
  }
  struct stat st {};
  if (::fstat(fd.get(), &st) != 0) throw KeyError(describe_errno(what, path, "inspect"));
  if (!S_ISREG(st.st_mode)) throw KeyError(what + " " + path + " is not a regular file");
  if ((st.st_mode & 077) != 0) {
    char mode[8];
    std::snprintf(mode, sizeof mode, "%04o", static_cast<unsigned>(st.st_mode & 07777));
    throw KeyError(what + " " + path + " may be read or written by its group or others (mode " + mode +
                   "): a secret must be private to the user who runs the node; run chmod 600 " + path);
  }
  if (static_cast<std::size_t>(st.st_size) > kMaxKeyFileSize) {
    throw KeyError(what + " " + path + " is " + std::to_string(st.st_size) + " bytes; it may hold at most " +
                   std::to_string(kMaxKeyFileSize));
  }
  std::string text(kMaxKeyFileSize + 1, '\0');
  std::size_t got = 0;
  while (got < text.size()) {
    ssize_t n = ::read(fd.get(), text.data() + got, text.size() - got);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) throw KeyError(describe_errno(what, path, "read"));
    if (n == 0) break;
    got += static_cast<std::size_t>(n);
  }
  if (got > kMaxKeyFileSize) throw KeyError(what + " " + path + " grew past " + std::to_string(kMaxKeyFileSize) + " bytes");
  text.resize(got);
  return text;
}

}  // namespace

Keyring read_key_file(const std::string& path) {
  SecretText secret{read_private_file("key file", path)};
  const std::string& text = secret.text;
  std::vector<ClusterKey> keys;
  std::size_t line_no = 0;
  std::size_t start = 0;
  while (start <= text.size()) {
    std::size_t end = text.find('\n', start);
    if (end == std::string::npos) end = text.size();
    std::string_view line(text.data() + start, end - start);
    ++line_no;
    start = end + 1;
    std::size_t first = line.find_first_not_of(" \t\r");
    if (first == std::string_view::npos || line[first] == '#') continue;
    try {
      keys.push_back(ClusterKey::parse(line));
    } catch (const KeyError& e) {
      throw KeyError("key file " + path + ", line " + std::to_string(line_no) + ": " + e.what());
    }
  }
  try {
    return Keyring(std::move(keys));
  } catch (const KeyError& e) {
    throw KeyError("key file " + path + ": " + e.what());
  }
}

void write_new_key_file(const std::string& path, const ClusterKey& key) {
  Fd fd(::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600));
  if (fd.get() < 0) {
    if (errno == EEXIST) throw KeyError("key file " + path + " exists already; it is never replaced (remove it first)");
    throw KeyError(describe_errno("key file", path, "create"));
  }
  // The umask may have taken bits away, never added: make sure of exactly 0600.
  if (::fchmod(fd.get(), 0600) != 0) throw KeyError(describe_errno("key file", path, "set the mode of"));
  SecretText secret{"# pulsing cluster key " + key.id() +
                    " (pulsing keygen). Keep it secret: it admits a node to the cluster.\n" + key.to_text() + "\n"};
  const std::string& text = secret.text;
  std::size_t put = 0;
  while (put < text.size()) {
    ssize_t n = ::write(fd.get(), text.data() + put, text.size() - put);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      ::unlink(path.c_str());
      throw KeyError(describe_errno("key file", path, "write"));
    }
    put += static_cast<std::size_t>(n);
  }
  if (::fsync(fd.get()) != 0) throw KeyError(describe_errno("key file", path, "sync"));
}

std::string read_token_file(const std::string& path) {
  SecretText secret{read_private_file("admin token file", path)};
  std::string_view text = secret.text;
  std::size_t line_no = 0;
  while (!text.empty()) {
    std::size_t end = text.find('\n');
    std::string_view line = text.substr(0, end);
    text = end == std::string_view::npos ? std::string_view{} : text.substr(end + 1);
    ++line_no;
    std::size_t first = line.find_first_not_of(" \t\r");
    if (first == std::string_view::npos || line[first] == '#') continue;
    line = line.substr(first, line.find_last_not_of(" \t\r") - first + 1);
    const std::string where = "admin token file " + path + ", line " + std::to_string(line_no);
    if (line.size() < kMinTokenSize) {
      throw KeyError(where + ": the token has " + std::to_string(line.size()) + " characters; use at least " +
                     std::to_string(kMinTokenSize) + " (pulsing keygen FILE writes 64 random hex digits)");
    }
    for (char c : line) {
      if (c <= ' ' || c > '~') throw KeyError(where + ": the token may hold only printable ASCII without blanks");
    }
    return std::string(line);
  }
  throw KeyError("admin token file " + path + " holds no token");
}

}  // namespace pulsing::security
