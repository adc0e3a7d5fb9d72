#include "messaging/wake_fd.hpp"

#include <fcntl.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstring>
#include <stdexcept>

#include <fmt/format.h>

namespace pulsing {

WakeFd::WakeFd() : fd_(eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)) {
  if (fd_ < 0) throw std::runtime_error(fmt::format("eventfd: {}", std::strerror(errno)));
}

WakeFd::~WakeFd() {
  if (fd_ >= 0) ::close(fd_);
}

std::shared_ptr<WakeFd> WakeFd::duplicate() const {
  // Not make_shared: the constructor that adopts a descriptor is private.
  return std::shared_ptr<WakeFd>(new WakeFd(::fcntl(fd_, F_DUPFD_CLOEXEC, 0)));
}

void WakeFd::wake() const {
  std::uint64_t one = 1;
  [[maybe_unused]] auto n = ::write(fd_, &one, sizeof(one));
}

void WakeFd::clear() const {
  std::uint64_t count;
  [[maybe_unused]] auto n = ::read(fd_, &count, sizeof(count));
}

}  // namespace pulsing
