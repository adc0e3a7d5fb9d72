#include "admin/host_port.hpp"

#include <charconv>
#include <stdexcept>

#include <fmt/format.h>

namespace pulsing::admin {

HostPort split_host_port(const std::string& text) {
  auto fail = [&] { return std::invalid_argument(fmt::format("address '{}' is not host:port", text)); };
  auto colon = text.rfind(':');
  if (colon == std::string::npos || colon == 0 || colon + 1 == text.size()) throw fail();
  std::string host = text.substr(0, colon);
  if (host.front() == '[') {
    if (host.size() < 3 || host.back() != ']') throw fail();
    host = host.substr(1, host.size() - 2);
  } else if (host.find(':') != std::string::npos) {
    throw fail();  // an IPv6 address without brackets: where its port starts is ambiguous
  }
  const char* first = text.data() + colon + 1;
  const char* last = text.data() + text.size();
  unsigned port = 0;
  auto [end, error] = std::from_chars(first, last, port);
  if (error != std::errc{} || end != last || port > 65535) {
    throw std::invalid_argument(fmt::format("address '{}': the port is not a number from 0 to 65535", text));
  }
  return {host, static_cast<std::uint16_t>(port)};
}

std::string join_host_port(const std::string& host, std::uint16_t port) {
  return host.find(':') != std::string::npos ? fmt::format("[{}]:{}", host, port) : fmt::format("{}:{}", host, port);
}

}  // namespace pulsing::admin
