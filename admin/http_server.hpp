// HttpServer: the small HTTP/1.1 server behind a node's admin endpoint (/health, /metrics, ...).
// It binds a TCP port, parses requests with Boost.Beast on one I/O thread of its own, and hands
// each GET or HEAD request to one handler function, whose HttpResponse it sends back. Which
// paths exist is the handler's business: an unknown one is whatever it returns (404, usually).
//
// What the server itself answers, without calling the handler:
//   - a method other than GET or HEAD: 405, with "Allow: GET, HEAD";
//   - a request it cannot parse: 400; a header over the limit: 431; a body over the limit
//     (or a Content-Length announcing one): 413. Then it closes the connection;
//   - a handler that throws: 500 with the exception's message; the server goes on serving;
//   - a connection beyond max_connections: 503, and it closes it at once.
// HEAD gets the headers the handler's GET answer would have (Content-Length included), no body.
// Connections are kept alive between requests as HTTP/1.1 says (unless the client asks to
// close); one that stays idle, or takes longer than idle_timeout to send a request or to read
// the answer, is closed. So a misbehaving client holds at most one slot for idle_timeout.
//
// Ownership: the server owns its socket, its thread and the handler (a copy).
//
// Thread-safety: start(), stop(), port() and address() may be called from any thread. The
// handler runs on the server's I/O thread, one request at a time: it must be quick (a slow one
// delays every other client of this server) and thread-safe with respect to the rest of the
// application, whose state it reads from another thread.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

namespace pulsing::admin {

struct HttpRequest {
  std::string method;  // "GET" or "HEAD" (the only ones that reach the handler)
  std::string target;  // the path, without the query: "/metrics"; not percent-decoded
  std::string query;   // what followed '?', not decoded; empty when there was none
  std::string authorization;  // the Authorization header's value; empty when there was none
};

struct HttpResponse {
  int status = 200;  // 200..599; anything else is replaced by a 500 naming it
  std::string content_type = "text/plain; charset=utf-8";
  std::string body;  // dropped for 204 and 304, which have none
  std::string www_authenticate;  // the WWW-Authenticate header of a 401; none when empty
};

struct HttpServerLimits {
  std::size_t max_connections = 64;                       // simultaneous; beyond: 503 and close
  std::chrono::milliseconds idle_timeout{30'000};         // per request read, per response write
  std::size_t max_header_bytes = 8 * 1024;                // request line and headers
  std::size_t max_body_bytes = 1024;                      // a request body (GET has none)
};

class HttpServer {
 public:
  using Handler = std::function<HttpResponse(const HttpRequest&)>;

  // Binds and listens on `bind`, "host:port" ("[v6]:port" too): host is an address (0.0.0.0
  // for every interface) or a name, resolved here (IPv4 addresses tried first); port 0 picks a
  // free one. Serves nothing before start().
  // Throws std::invalid_argument when `bind` is not host:port or `handler` is empty, and
  // std::runtime_error naming the address when it cannot bind.
  HttpServer(const std::string& bind, Handler handler, HttpServerLimits limits = {});
  ~HttpServer();  // stop()
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  // Starts the I/O thread, which accepts and serves connections.
  // REQUIRES: called at most once, and not after stop().
  void start();
  // Closes the listening socket and every open connection (requests in flight are dropped) and
  // joins the I/O thread; when it returns, the handler does not run any more. Idempotent.
  // REQUIRES: not called from the handler.
  void stop();

  std::uint16_t port() const;          // the bound port (the one chosen when bound to port 0)
  const std::string& address() const;  // "host:port" with that port, host as given to bind

 private:
  class Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace pulsing::admin
