// http_get: one HTTP/1.1 GET, synchronous, with a deadline. What the `pulsing health` command
// and the tests use to ask a node's admin endpoint.
//
// Thread-safety: may be called from any number of threads at once (each call has its own
// connection and I/O context).
#pragma once

#include <chrono>
#include <cstdint>
#include <string>

namespace pulsing::admin {

struct HttpResult {
  int status = 0;
  std::string body;
  std::string content_type;  // empty when the server sent none
};

// GETs `target` ("/health", "/metrics?x=1") from host:port over a connection of its own, closed
// afterwards. `timeout` bounds the whole call: connecting, sending, reading the answer. Every
// status the server answers is a result (a 404 or a 503 is returned, not thrown).
// Throws std::runtime_error saying what failed and where, e.g.
//   "cannot connect to 127.0.0.1:8000: Connection refused"
//   "timed out after 2000 ms reading from 127.0.0.1:8000"
//   "cannot resolve 'nosuchhost': Host not found (authoritative)"
// A host name is resolved first (an address is not); a name server that does not answer is not
// interrupted by the timeout, so with a host name the call may last longer.
// With `bearer_token`, the request says `Authorization: Bearer TOKEN` (an admin endpoint's token).
// REQUIRES: target starts with '/'.
HttpResult http_get(const std::string& host, std::uint16_t port, const std::string& target,
                    std::chrono::milliseconds timeout, const std::string& bearer_token = {});

}  // namespace pulsing::admin
