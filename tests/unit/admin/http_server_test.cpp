// The admin HTTP server and client over real sockets on 127.0.0.1: what the handler answers
// reaches the client, what the server answers by itself (405, 400, 431, 413, 500, 503), keep-alive,
// and that a client cannot hold the server up (idle timeout, connection cap, stop()).
#include "admin/http_server.hpp"

#include <doctest/doctest.h>

#include <array>
#include <functional>
#include <future>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <vector>


#include "../eventually.hpp"
#include "admin/beast.hpp"
#include "admin/host_port.hpp"
#include "admin/http_client.hpp"

namespace pulsing::admin {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;
using boost::system::error_code;
using namespace std::chrono_literals;
using testing::eventually;

// A handler that answers by path and records what it saw.
class Recorder {
 public:
  HttpServer::Handler handler() {
    return [this](const HttpRequest& request) {
      {
        std::lock_guard lock(mutex_);
        seen_.push_back(request);
      }
      if (request.target == "/hello") return HttpResponse{200, "text/plain; charset=utf-8", "hello\n"};
      if (request.target == "/json") return HttpResponse{201, "application/json", R"({"ok":true})"};
      if (request.target == "/throw") throw std::runtime_error("the handler failed on purpose");
      if (request.target == "/empty") return HttpResponse{204, "text/plain", "dropped"};
      if (request.target == "/bad-status") return HttpResponse{42, "text/plain", ""};
      return HttpResponse{404, "text/plain; charset=utf-8", "no such path: " + request.target + "\n"};
    };
  }
  std::vector<HttpRequest> seen() const {
    std::lock_guard lock(mutex_);
    return seen_;
  }

 private:
  mutable std::mutex mutex_;
  std::vector<HttpRequest> seen_;
};

HttpResult get(const HttpServer& server, const std::string& target) {
  return http_get("127.0.0.1", server.port(), target, 10s);
}

// A client on a raw socket: sends any bytes, reads responses or the end of the connection,
// each within a deadline (a test that fails does not hang).
class RawClient {
 public:
  explicit RawClient(std::uint16_t port) { socket_.connect({asio::ip::make_address("127.0.0.1"), port}); }

  void send(const std::string& bytes) { asio::write(socket_, asio::buffer(bytes)); }

  // One response, or nothing when the connection ended (or the deadline passed) first.
  std::optional<http::response<http::string_body>> read_response(bool to_head = false,
                                                                 std::chrono::milliseconds limit = 10s) {
    http::response_parser<http::string_body> parser;
    parser.skip(to_head);  // a response to HEAD has a Content-Length but no body
    error_code result = asio::error::timed_out;
    http::async_read(socket_, buffer_, parser, [&](error_code ec, std::size_t) { result = ec; });
    run(limit);
    if (result) return std::nullopt;
    return parser.release();
  }

  // True when the server closes the connection (end of stream or reset) within `limit`;
  // whatever arrives before is dropped.
  bool closed_by_server(std::chrono::milliseconds limit = 10s) {
    bool closed = false;
    std::function<void()> read_more = [&] {
      socket_.async_read_some(asio::buffer(scratch_), [&](error_code ec, std::size_t) {
        if (ec) {
          closed = ec != asio::error::operation_aborted;
          return;
        }
        read_more();
      });
    };
    read_more();
    run(limit);
    return closed;
  }

  void close() {
    error_code ignored;
    socket_.close(ignored);
  }

 private:
  // Runs the pending operation until it completes or `limit` passes (then cancels it).
  void run(std::chrono::milliseconds limit) {
    io_.restart();
    io_.run_for(limit);
    if (!io_.stopped()) {
      socket_.cancel();
      io_.restart();
      io_.run();
    }
  }

  asio::io_context io_;
  tcp::socket socket_{io_};
  beast::flat_buffer buffer_;
  std::array<char, 4096> scratch_{};
};

std::string get_request(const std::string& target, const std::string& extra_headers = "") {
  return "GET " + target + " HTTP/1.1\r\nHost: test\r\n" + extra_headers + "\r\n";
}

}  // namespace

TEST_CASE("a GET gets the handler's status, content type and body") {
  Recorder recorder;
  HttpServer server("127.0.0.1:0", recorder.handler());
  server.start();
  CHECK(server.port() != 0);
  CHECK(server.address() == "127.0.0.1:" + std::to_string(server.port()));

  auto hello = get(server, "/hello");
  CHECK(hello.status == 200);
  CHECK(hello.content_type == "text/plain; charset=utf-8");
  CHECK(hello.body == "hello\n");

  auto json = get(server, "/json?pretty=1&x=%20");
  CHECK(json.status == 201);
  CHECK(json.content_type == "application/json");
  CHECK(json.body == R"({"ok":true})");

  auto seen = recorder.seen();
  REQUIRE(seen.size() == 2);
  CHECK(seen[0].method == "GET");
  CHECK(seen[0].target == "/hello");
  CHECK(seen[0].query.empty());
  CHECK(seen[1].target == "/json");
  CHECK(seen[1].query == "pretty=1&x=%20");
}

TEST_CASE("an unknown path gets the handler's 404") {
  Recorder recorder;
  HttpServer server("127.0.0.1:0", recorder.handler());
  server.start();
  auto missing = get(server, "/nowhere");
  CHECK(missing.status == 404);
  CHECK(missing.body == "no such path: /nowhere\n");
}

TEST_CASE("keep-alive: two requests on one connection, and a pipelined pair") {
  Recorder recorder;
  HttpServer server("127.0.0.1:0", recorder.handler());
  server.start();
  RawClient client(server.port());

  client.send(get_request("/hello"));
  auto first = client.read_response();
  REQUIRE(first);
  CHECK(first->result_int() == 200);
  CHECK(first->keep_alive());
  CHECK(first->body() == "hello\n");

  client.send(get_request("/nowhere"));
  auto second = client.read_response();
  REQUIRE(second);
  CHECK(second->result_int() == 404);

  client.send(get_request("/json") + get_request("/hello", "Connection: close\r\n"));
  auto third = client.read_response();
  auto fourth = client.read_response();
  REQUIRE(third);
  REQUIRE(fourth);
  CHECK(third->result_int() == 201);
  CHECK(fourth->result_int() == 200);
  CHECK_FALSE(fourth->keep_alive());
  CHECK(client.closed_by_server());
  CHECK(recorder.seen().size() == 4);
}

TEST_CASE("HEAD gets the headers of the GET answer, Content-Length included, and no body") {
  Recorder recorder;
  HttpServer server("127.0.0.1:0", recorder.handler());
  server.start();
  RawClient client(server.port());
  client.send("HEAD /hello HTTP/1.1\r\nHost: test\r\n\r\n");
  auto head = client.read_response(/*to_head=*/true);
  REQUIRE(head);
  CHECK(head->result_int() == 200);
  CHECK((*head)[http::field::content_length] == "6");
  CHECK(head->body().empty());
  // Nothing else came after the headers: the next answer on the connection parses.
  client.send(get_request("/hello"));
  auto next = client.read_response();
  REQUIRE(next);
  CHECK(next->body() == "hello\n");
  REQUIRE(recorder.seen().size() == 2);
  CHECK(recorder.seen()[0].method == "HEAD");
}

TEST_CASE("a POST is answered 405 with an Allow header, without calling the handler") {
  Recorder recorder;
  HttpServer server("127.0.0.1:0", recorder.handler());
  server.start();
  RawClient client(server.port());
  client.send("POST /hello HTTP/1.1\r\nHost: test\r\nContent-Length: 5\r\n\r\nabcde");
  auto res = client.read_response();
  REQUIRE(res);
  CHECK(res->result_int() == 405);
  CHECK((*res)[http::field::allow] == "GET, HEAD");
  CHECK(recorder.seen().empty());
  // The connection goes on.
  client.send(get_request("/hello"));
  auto next = client.read_response();
  REQUIRE(next);
  CHECK(next->result_int() == 200);
}

TEST_CASE("a handler that throws gets a 500 with its message, and the server goes on serving") {
  Recorder recorder;
  HttpServer server("127.0.0.1:0", recorder.handler());
  server.start();
  auto failed = get(server, "/throw");
  CHECK(failed.status == 500);
  CHECK(failed.body.find("the handler failed on purpose") != std::string::npos);
  CHECK(get(server, "/hello").status == 200);

  auto bad_status = get(server, "/bad-status");
  CHECK(bad_status.status == 500);
  CHECK(bad_status.body.find("status 42") != std::string::npos);
}

TEST_CASE("a 204 from the handler goes out without its body") {
  Recorder recorder;
  HttpServer server("127.0.0.1:0", recorder.handler());
  server.start();
  RawClient client(server.port());
  client.send(get_request("/empty") + get_request("/hello"));
  auto empty = client.read_response();
  auto next = client.read_response();
  REQUIRE(empty);
  CHECK(empty->result_int() == 204);
  CHECK(empty->body().empty());
  REQUIRE(next);
  CHECK(next->body() == "hello\n");
}

TEST_CASE("garbage bytes get a 400 and the connection closed, and the server goes on serving") {
  Recorder recorder;
  HttpServer server("127.0.0.1:0", recorder.handler());
  server.start();
  RawClient client(server.port());
  using namespace std::string_literals;
  client.send("\x16\x03\x01\x02\x00 not http at all\r\n\r\nmore garbage after it"s);
  auto res = client.read_response();
  REQUIRE(res);
  CHECK(res->result_int() == 400);
  CHECK_FALSE(res->keep_alive());
  CHECK(client.closed_by_server());
  CHECK(recorder.seen().empty());
  CHECK(get(server, "/hello").status == 200);
}

TEST_CASE("a header over the limit gets a 431, a body over the limit a 413") {
  Recorder recorder;
  HttpServer server("127.0.0.1:0", recorder.handler());
  server.start();
  {
    RawClient client(server.port());
    client.send(get_request("/hello", "X-Filler: " + std::string(9000, 'x') + "\r\n"));
    auto res = client.read_response();
    REQUIRE(res);
    CHECK(res->result_int() == 431);
    CHECK(client.closed_by_server());
  }
  {
    RawClient client(server.port());
    client.send("POST /hello HTTP/1.1\r\nHost: test\r\nContent-Length: 100000\r\n\r\n" + std::string(2000, 'y'));
    auto res = client.read_response();
    REQUIRE(res);
    CHECK(res->result_int() == 413);
    CHECK(client.closed_by_server());
  }
  CHECK(recorder.seen().empty());
  CHECK(get(server, "/hello").status == 200);
}

// Found while writing tests/fuzz/fuzz_http: Beast limits a request's header and its body, but not
// a chunk header's line (chunk extensions) nor a chunked request's trailer, and the server's read
// buffer has no bound of its own, so a client made it hold whatever it sent until the idle
// timeout (300 MiB sent in a few seconds: 340 MiB more resident), before any token is checked.
TEST_CASE("a chunk header or trailer over the limits is refused, not buffered until the idle timeout") {
  Recorder recorder;
  HttpServer server("127.0.0.1:0", recorder.handler(), {.idle_timeout = 10s});
  server.start();
  const std::string chunked = "GET /hello HTTP/1.1\r\nHost: test\r\nTransfer-Encoding: chunked\r\n\r\n";
  for (const std::string& unending : {chunked + "1;", chunked + "0\r\nX-Trailer: "}) {
    RawClient client(server.port());
    client.send(unending + std::string(256 * 1024, 'a'));  // no line end: the line goes on
    auto res = client.read_response(false, 5s);
    REQUIRE(res);  // answered at once, not left waiting for the line to end
    CHECK(res->result_int() >= 400);
    CHECK(client.closed_by_server(5s));
  }
  CHECK(recorder.seen().empty());
}

TEST_CASE("a connection idle past the timeout is closed by the server") {
  Recorder recorder;
  HttpServer server("127.0.0.1:0", recorder.handler(), {.idle_timeout = 200ms});
  server.start();
  RawClient idle(server.port());
  CHECK(idle.closed_by_server());  // never sent a byte
  RawClient slow(server.port());
  slow.send("GET /hello HTTP/1.1\r\n");  // a request that never ends
  CHECK(slow.closed_by_server());
  CHECK(recorder.seen().empty());
}

TEST_CASE("connections beyond the cap get a 503 and are closed, and the slots free again") {
  Recorder recorder;
  HttpServer server("127.0.0.1:0", recorder.handler(), {.max_connections = 2});
  server.start();
  auto first = std::make_unique<RawClient>(server.port());
  auto second = std::make_unique<RawClient>(server.port());
  // The server accepts in order: by the time it answers the third, it holds the first two.
  RawClient third(server.port());
  auto busy = third.read_response();
  REQUIRE(busy);
  CHECK(busy->result_int() == 503);
  CHECK(third.closed_by_server());

  // The held connections still work.
  first->send(get_request("/hello"));
  auto res = first->read_response();
  REQUIRE(res);
  CHECK(res->result_int() == 200);

  first.reset();
  second.reset();
  CHECK(eventually([&] {
    try {
      return get(server, "/hello").status == 200;
    } catch (const std::runtime_error&) {  // turned away while the slots were still taken
      return false;
    }
  }));
}

TEST_CASE("stop() returns while a client holds an idle connection, and closes it") {
  Recorder recorder;
  HttpServer server("127.0.0.1:0", recorder.handler());
  server.start();
  RawClient client(server.port());
  client.send(get_request("/hello"));
  REQUIRE(client.read_response());  // the connection is open and idle, kept alive

  auto stopped = std::async(std::launch::async, [&] { server.stop(); });
  REQUIRE(stopped.wait_for(10s) == std::future_status::ready);
  CHECK(client.closed_by_server());
  server.stop();  // idempotent
  CHECK_THROWS_AS(get(server, "/hello"), std::runtime_error);
}

TEST_CASE("a server stopped before it started, or never started, ends cleanly") {
  Recorder recorder;
  { HttpServer never_started("127.0.0.1:0", recorder.handler()); }
  HttpServer server("127.0.0.1:0", recorder.handler());
  server.stop();
  server.start();  // after stop(): does nothing
  server.stop();
}

TEST_CASE("bind errors name the address") {
  Recorder recorder;
  HttpServer taken("127.0.0.1:0", recorder.handler());
  try {
    HttpServer again(taken.address(), recorder.handler());
    FAIL("bound a port already taken");
  } catch (const std::runtime_error& e) {
    CHECK(std::string(e.what()).find(taken.address()) != std::string::npos);
  }
  CHECK_THROWS_AS(HttpServer("no port here", recorder.handler()), std::invalid_argument);
  CHECK_THROWS_AS(HttpServer("127.0.0.1:99999", recorder.handler()), std::invalid_argument);
  CHECK_THROWS_AS(HttpServer("127.0.0.1:0", HttpServer::Handler{}), std::invalid_argument);
}

TEST_CASE("a host name binds, and the address keeps it") {
  Recorder recorder;
  HttpServer server("localhost:0", recorder.handler());
  server.start();
  CHECK(server.address() == "localhost:" + std::to_string(server.port()));
  CHECK(http_get("localhost", server.port(), "/hello", 10s).status == 200);
}

TEST_CASE("http_get to a closed port fails naming the address") {
  std::uint16_t port = 0;
  {
    Recorder recorder;
    HttpServer gone("127.0.0.1:0", recorder.handler());
    port = gone.port();
  }
  std::string expected = "cannot connect to 127.0.0.1:" + std::to_string(port);
  try {
    http_get("127.0.0.1", port, "/health", 2s);
    FAIL("got an answer from a closed port");
  } catch (const std::runtime_error& e) {
    std::string what = e.what();
    CHECK(what.find(expected) != std::string::npos);
    CHECK(what.find("refused") != std::string::npos);
  }
}

TEST_CASE("http_get gives up at its timeout when the server never answers") {
  // A listening socket that nobody accepts from: the kernel completes the connection and takes
  // the request, and no answer ever comes.
  asio::io_context io;
  tcp::acceptor mute(io, {asio::ip::make_address("127.0.0.1"), 0});
  auto port = mute.local_endpoint().port();
  try {
    http_get("127.0.0.1", port, "/health", 200ms);
    FAIL("got an answer from a server that never answers");
  } catch (const std::runtime_error& e) {
    CHECK(std::string(e.what()) == "timed out after 200 ms reading from 127.0.0.1:" + std::to_string(port));
  }
}

TEST_CASE("host:port text splits and joins, IPv6 in brackets") {
  auto v4 = split_host_port("0.0.0.0:8080");
  CHECK(v4.host == "0.0.0.0");
  CHECK(v4.port == 8080);
  auto v6 = split_host_port("[::1]:0");
  CHECK(v6.host == "::1");
  CHECK(v6.port == 0);
  CHECK(join_host_port("::1", 9) == "[::1]:9");
  CHECK(join_host_port("node-1", 9) == "node-1:9");
  for (const char* bad : {"", "host", ":80", "host:", "host:x", "host:65536", "::1:80", "[::1:80", "host:80x"}) {
    CAPTURE(bad);
    CHECK_THROWS_AS(split_host_port(bad), std::invalid_argument);
  }
}

}  // namespace pulsing::admin
