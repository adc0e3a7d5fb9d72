#include "security/checked_file.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>

#include <cerrno>
#include <cstdio>
#include <cstring>

namespace pulsing::security {
namespace {

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

}  // namespace

void wipe(std::string& text) { sodium_memzero(text.data(), text.size()); }

std::string read_checked_file(const std::string& what, const std::string& path, unsigned forbidden_mode,
                              std::size_t max_size) {
  Fd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW));
  if (fd.get() < 0) {
    if (errno == ELOOP) throw KeyError(what + " " + path + " is a symbolic link; give the file it points to");
    throw KeyError(describe_errno(what, path, "open"));
  }
  struct stat st {};
  if (::fstat(fd.get(), &st) != 0) throw KeyError(describe_errno(what, path, "inspect"));
  if (!S_ISREG(st.st_mode)) throw KeyError(what + " " + path + " is not a regular file");
  if ((st.st_mode & forbidden_mode) != 0) {
    char mode[8];
    std::snprintf(mode, sizeof mode, "%04o", static_cast<unsigned>(st.st_mode & 07777));
    const bool secret = (forbidden_mode & 044) != 0;
    throw KeyError(what + " " + path + " may be " + (secret ? "read or written" : "written") +
                   " by its group or others (mode " + mode + "): " +
                   (secret ? "a secret must be private to the user who runs the node; run chmod 600 "
                           : "only its owner may change who is admitted; run chmod go-w ") +
                   path);
  }
  if (static_cast<std::size_t>(st.st_size) > max_size) {
    throw KeyError(what + " " + path + " is " + std::to_string(st.st_size) + " bytes; it may hold at most " +
                   std::to_string(max_size));
  }
  std::string text(max_size + 1, '\0');
  std::size_t got = 0;
  while (got < text.size()) {
    ssize_t n = ::read(fd.get(), text.data() + got, text.size() - got);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) throw KeyError(describe_errno(what, path, "read"));
    if (n == 0) break;
    got += static_cast<std::size_t>(n);
  }
  if (got > max_size) throw KeyError(what + " " + path + " grew past " + std::to_string(max_size) + " bytes");
  text.resize(got);
  return text;
}

void for_each_content_line(std::string_view text, const std::function<void(std::size_t, std::string_view)>& line) {
  std::size_t line_no = 0;
  while (!text.empty()) {
    std::size_t end = text.find('\n');
    std::string_view current = text.substr(0, end);
    text = end == std::string_view::npos ? std::string_view{} : text.substr(end + 1);
    ++line_no;
    std::size_t first = current.find_first_not_of(" \t\r");
    if (first == std::string_view::npos || current[first] == '#') continue;
    line(line_no, current.substr(first, current.find_last_not_of(" \t\r") - first + 1));
  }
}

void write_new_private_file(const std::string& what, const std::string& path, const std::string& text) {
  Fd fd(::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600));
  if (fd.get() < 0) {
    if (errno == EEXIST) throw KeyError(what + " " + path + " exists already; it is never replaced (remove it first)");
    throw KeyError(describe_errno(what, path, "create"));
  }
  // The umask may have taken bits away, never added: make sure of exactly 0600.
  if (::fchmod(fd.get(), 0600) != 0) throw KeyError(describe_errno(what, path, "set the mode of"));
  std::size_t put = 0;
  while (put < text.size()) {
    ssize_t n = ::write(fd.get(), text.data() + put, text.size() - put);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      ::unlink(path.c_str());
      throw KeyError(describe_errno(what, path, "write"));
    }
    put += static_cast<std::size_t>(n);
  }
  if (::fsync(fd.get()) != 0) throw KeyError(describe_errno(what, path, "sync"));
}

}  // namespace pulsing::security
