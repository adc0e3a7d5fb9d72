// libFuzzer target: the admin endpoint's request path, the first code an HTTP client's bytes
// reach. The input is what a client sends on one connection (one request, several pipelined, or
// garbage). admin/ parses requests with Boost.Beast inside its socket loop, and its routing
// (AdminEndpoint::handle) is private and needs a Node, so the input goes, in turn:
//   1. through Beast's request_parser, configured as HttpServer's connections configure it
//      (HttpServerLimits' header and body limits), request after request as pipelined, then the
//      end of the input as the end of the stream;
//   2. over a real TCP connection on 127.0.0.1 to a real HttpServer in this process (its
//      Connection code: parse, 400/405/413/431 answers, keep-alive, HEAD, a handler's answer or
//      exception), whose handler answers the way AdminEndpoint::handle does (a bearer token for
//      every path but the probes, a 404 naming the path).
// Beast reports bad input as an error code and the server as an error status; a crash, a
// sanitizer report, an exception, a hang (-timeout), a body past the limit, or an answer that is
// not HTTP is a finding.
//
// The connection: the client never closes first, since each connection a client closes first
// stays in TIME_WAIT for a minute on the client's side and a few thousand runs a second would
// take every ephemeral port of the machine. Instead the input is followed by bytes that no
// request absorbs, so that the server answers with an error (or has closed already) and closes;
// the client reads until then and closes after it.
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <cerrno>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <stdexcept>
#include <string>
#include <string_view>

#include "admin/beast.hpp"
#include "admin/http_server.hpp"

namespace {

namespace admin = pulsing::admin;
namespace asio = boost::asio;
namespace http = boost::beast::http;
using boost::system::error_code;

// How the server's reading of some bytes ends.
enum class Outcome : std::uint8_t {
  kWaiting,  // every byte taken, the server waits for more (or for the end of the stream)
  kClosing,  // an error (400, 413, 431) or a request without keep-alive: it answers and closes
};

// 1. Beast's parser alone, fed the bytes as the server's read loop feeds it what arrived; with
// `at_end`, the end of the bytes is the end of the stream.
Outcome parse(std::string_view bytes, bool at_end) {
  const admin::HttpServerLimits limits;
  while (true) {
    http::request_parser<http::string_body> parser;
    parser.header_limit(static_cast<std::uint32_t>(limits.max_header_bytes));
    parser.body_limit(limits.max_body_bytes);
    parser.eager(true);
    error_code ec;
    while (!bytes.empty() && !parser.is_done()) {
      std::size_t used = parser.put(asio::buffer(bytes.data(), bytes.size()), ec);
      bytes.remove_prefix(used);
      if (ec == http::error::need_more) {
        ec = {};
        break;  // the rest is too short for the next element: it waits for more
      }
      if (ec) return Outcome::kClosing;
      if (used == 0) break;
    }
    if (!parser.is_done()) {
      if (!at_end || !parser.got_some()) return Outcome::kWaiting;  // (the end between requests: end_of_stream)
      parser.put_eof(ec);
      if (ec || !parser.is_done()) return Outcome::kClosing;
    }
    const auto& request = parser.get();
    if (request.body().size() > limits.max_body_bytes) __builtin_trap();
    static_cast<void>(request.method_string());
    static_cast<void>(request.target());
    static_cast<void>(request.version());
    if (auto it = request.find(http::field::authorization); it != request.end()) static_cast<void>(it->value());
    if (!request.keep_alive()) return Outcome::kClosing;  // the server reads no further
    if (bytes.empty()) return Outcome::kWaiting;
  }
}

// AdminEndpoint::handle's answers, without a node behind them.
admin::HttpResponse handle(const admin::HttpRequest& request) {
  const std::string& path = request.target;
  const bool probe = path == "/health" || path == "/ready";
  if (!probe && request.authorization != "Bearer fuzz-token") {
    return {401, "text/plain; charset=utf-8", "this endpoint needs the admin token\n", "Bearer realm=\"pulsing\""};
  }
  if (path == "/health") return {200, "text/plain; charset=utf-8", "ok\n"};
  if (path == "/ready") return {503, "text/plain; charset=utf-8", "not ready\n"};
  if (path == "/metrics") return {200, "text/plain; version=0.0.4; charset=utf-8", "pulsing_up 1\n"};
  if (path == "/members") return {200, "application/json", "[]\n"};
  if (path == "/throw") throw std::runtime_error("the handler failed: " + request.query);
  if (path == "/empty") return {204, "text/plain", "dropped"};
  if (path == "/bad-status") return {42, "text/plain", ""};
  return {404, "text/plain; charset=utf-8", "no such path: " + path + "\n"};
}

// The server, started once and left running until the process exits.
std::uint16_t server_port() {
  static admin::HttpServer* server = [] {
    auto* s = new admin::HttpServer("127.0.0.1:0", handle);
    s->start();
    return s;
  }();
  return server->port();
}

// What follows the input on the connection. Whatever state the input leaves the parser in, this
// ends in an error: a line end (a partial request line, header or chunk header ends, badly or
// not), more bytes than any body or chunk holds (the body limit caps them) and which are no chunk
// end, the empty line that ends a header or trailer, and a byte no request line starts with.
// (send_to_server() checks that it does.)
const std::string& closing_bytes() {
  static const std::string bytes =
      "\r\n" + std::string(admin::HttpServerLimits{}.max_body_bytes + 16, 'z') + "\r\n\r\n\x01\r\n\r\n";
  return bytes;
}

// After connect() failed on `fd`: whether only because a signal interrupted it (it then goes on
// by itself), and it has connected since.
bool connected_after_eintr(int fd) {
  if (errno != EINTR) return false;
  pollfd wait{.fd = fd, .events = POLLOUT, .revents = 0};
  int ready = 0;
  do {
    ready = ::poll(&wait, 1, 20'000);
  } while (ready < 0 && errno == EINTR);
  int error = 0;
  socklen_t size = sizeof error;
  return ready == 1 && ::getsockopt(fd, SOL_SOCKET, SO_ERROR, &error, &size) == 0 && error == 0;
}

// 2. The input to the real server, then the closing bytes; reads every answer until the server
// closes its side.
void send_to_server(std::string_view input) {
  std::string wire(input);
  wire += closing_bytes();
  if (parse(wire, false) != Outcome::kClosing) __builtin_trap();  // closing_bytes() must close
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return;  // out of descriptors: not the server's doing
  timeval limit{.tv_sec = 20, .tv_usec = 0};  // past libFuzzer's -timeout: a hang is reported as one
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &limit, sizeof limit);
  ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &limit, sizeof limit);
  sockaddr_in to{};
  to.sin_family = AF_INET;
  to.sin_port = htons(server_port());
  to.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  // libFuzzer's timer (SIGALRM, every second) interrupts system calls: each goes on after EINTR.
  if (::connect(fd, reinterpret_cast<const sockaddr*>(&to), sizeof to) != 0 && !connected_after_eintr(fd)) {
    ::close(fd);
    return;  // the machine is out of ports or of memory: not the server's doing
  }
  std::size_t sent = 0;
  while (sent < wire.size()) {
    ssize_t n = ::send(fd, wire.data() + sent, wire.size() - sent, MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;  // the server answered and closed before reading it all: it may
    sent += static_cast<std::size_t>(n);
  }
  std::string answer;
  char chunk[4096];
  int end = 0;  // errno of the read that ended the answer; 0 when the server closed
  while (true) {
    ssize_t n = ::recv(fd, chunk, sizeof chunk, 0);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) end = errno;
    if (n <= 0) break;  // closed (or reset, after the server closed with input unread)
    answer.append(chunk, static_cast<std::size_t>(n));
  }
  ::close(fd);
  if (!answer.starts_with("HTTP/")) {  // every connection gets an answer
    std::fprintf(stderr, "fuzz_http: %zu of %zu bytes sent; the answer (%zu bytes, ended by %s): '%.200s'\n", sent,
                 wire.size(), answer.size(), end == 0 ? "the server's close" : std::strerror(end), answer.c_str());
    __builtin_trap();
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view bytes(reinterpret_cast<const char*>(data), size);
  static_cast<void>(parse(bytes, true));
  send_to_server(bytes);
  return 0;
}
