// "host:port" text, as admin addresses are written: the server's bind address, the client's
// messages, and a node address given on the command line.
//
// Free functions on values; thread-safe.
#pragma once

#include <cstdint>
#include <string>

namespace pulsing::admin {

struct HostPort {
  std::string host;  // without brackets: "::1", not "[::1]"
  std::uint16_t port = 0;
};

// "host:port" or "[v6 address]:port" → host and port (0..65535). Throws std::invalid_argument
// naming `text` when it is not that.
HostPort split_host_port(const std::string& text);

// host and port → "host:port"; "[host]:port" when host holds a ':' (an IPv6 address).
std::string join_host_port(const std::string& host, std::uint16_t port);

}  // namespace pulsing::admin
