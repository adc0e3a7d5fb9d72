#include "admin/http_server.hpp"

#include <algorithm>
#include <array>
#include <limits>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <string_view>
#include <thread>
#include <unordered_set>
#include <utility>
#include <vector>

#include <fmt/format.h>

#include "admin/beast.hpp"
#include "admin/host_port.hpp"

namespace pulsing::admin {

namespace {

using namespace std::chrono_literals;

constexpr const char* kTextPlain = "text/plain; charset=utf-8";
// After an answer that ends the connection, how long the client may take to close its side
// (what it still sends meanwhile is read and dropped: closing a socket with unread input sends
// a reset, which could destroy the answer before the client reads it).
constexpr std::chrono::milliseconds kLingerLimit = 2s;
// After accept() fails (out of file descriptors, typically), before trying again.
constexpr std::chrono::milliseconds kAcceptRetry = 100ms;

std::string to_string(beast::string_view s) { return std::string(s.data(), s.size()); }

using Response = http::response<http::string_body>;

// A response of `status` with a text body and its Content-Length (also the handler's answers,
// whose content type is set after).
Response text_response(unsigned status, unsigned version, std::string body) {
  Response res{static_cast<http::status>(status), version};
  res.set(http::field::server, "pulsing");
  res.set(http::field::content_type, kTextPlain);
  res.content_length(body.size());
  res.body() = std::move(body);
  return res;
}

class Connection;

// What the server shares with its connections. I/O thread only, once the server started.
struct ServerState {
  const HttpServer::Handler handler;
  const HttpServerLimits limits;
  bool stopping = false;                      // no more handler calls, no more operations
  std::unordered_set<Connection*> connections;  // each one open, by its own account
};

}  // namespace

class HttpServer::Impl {
 public:
  Impl(const std::string& bind, Handler handler, HttpServerLimits limits);
  ~Impl() { stop(); }

  void start();
  void stop();
  std::uint16_t port() const { return port_; }
  const std::string& address() const { return address_; }

 private:
  bool try_bind(const tcp::endpoint& endpoint, error_code& ec);
  void accept();
  void admit(tcp::socket socket);
  void close_all();

  ServerState state_;  // before io_: outlives whatever io_ destroys
  asio::io_context io_;
  tcp::acceptor acceptor_{io_};
  asio::steady_timer accept_retry_{io_};
  std::uint16_t port_ = 0;
  std::string address_;
  std::string busy_answer_;  // the whole 503 response to a connection beyond the limit

  std::mutex mutex_;      // start() and stop() one at a time
  bool started_ = false;  // guarded by mutex_
  bool stopped_ = false;  // guarded by mutex_
  std::thread thread_;
};

namespace {

// One client connection: reads a request, answers it, and again while the client keeps it
// alive. Owned by the handlers of its pending operations (shared_from_this); the server knows
// it by a plain pointer, valid until its destructor takes it out. I/O thread only.
class Connection : public std::enable_shared_from_this<Connection> {
 public:
  // The read buffer holds at most a request's limits and some room: Beast bounds a request's
  // header and body, but not a chunk's header line nor a chunked body's trailer, which would
  // otherwise grow the buffer until the idle timeout. Past it, reading fails (buffer_overflow),
  // answered 400 like any malformed request.
  Connection(ServerState& server, tcp::socket socket)
      : server_(server),
        stream_(std::move(socket)),
        buffer_(server.limits.max_header_bytes + server.limits.max_body_bytes + kBufferSlack) {
    server_.connections.insert(this);
  }
  ~Connection() { server_.connections.erase(this); }
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  void start() { read_request(); }

  // Ends every pending operation (they complete with operation_aborted). Idempotent.
  void close() {
    error_code ignored;
    stream_.socket().shutdown(tcp::socket::shutdown_both, ignored);
    stream_.close();
  }

 private:
  void read_request() {
    const auto& limits = server_.limits;
    parser_.emplace();
    parser_->header_limit(static_cast<std::uint32_t>(
        std::min<std::size_t>(limits.max_header_bytes, std::numeric_limits<std::uint32_t>::max())));
    parser_->body_limit(limits.max_body_bytes);
    stream_.expires_after(limits.idle_timeout);
    http::async_read(stream_, buffer_, *parser_,
                     [self = shared_from_this()](error_code ec, std::size_t) { self->on_request(ec); });
  }

  void on_request(error_code ec) {
    // The client closed between requests, stayed idle too long, or the server stops.
    if (ec == http::error::end_of_stream || ec == beast::error::timeout || ec == asio::error::operation_aborted ||
        server_.stopping) {
      return close();
    }
    if (ec && ec.category() == http::make_error_code(http::error::bad_target).category()) {
      unsigned status = ec == http::error::header_limit ? 431 : ec == http::error::body_limit ? 413 : 400;
      Response res = text_response(status, 11, fmt::format("bad request: {}\n", ec.message()));
      res.keep_alive(false);
      return send(std::move(res), true);
    }
    if (ec) return close();  // reset by the client, and the like
    const auto& req = parser_->get();
    Response res = answer(req);
    res.keep_alive(req.keep_alive());
    send(std::move(res), !req.keep_alive());
  }

  Response answer(const http::request<http::string_body>& req) {
    bool head = req.method() == http::verb::head;
    if (!head && req.method() != http::verb::get) {
      Response res = text_response(405, req.version(),
                                   fmt::format("method {} is not allowed here: GET or HEAD\n",
                                               to_string(req.method_string())));
      res.set(http::field::allow, "GET, HEAD");
      return res;
    }
    HttpRequest request;
    request.method = to_string(req.method_string());
    std::string_view target(req.target().data(), req.target().size());
    auto question = target.find('?');
    request.target = std::string(target.substr(0, question));
    if (question != std::string_view::npos) request.query = std::string(target.substr(question + 1));
    if (auto it = req.find(http::field::authorization); it != req.end()) {
      request.authorization = std::string(it->value().data(), it->value().size());
    }

    HttpResponse answer;
    try {
      answer = server_.handler(request);
    } catch (const std::exception& e) {
      answer = {500, std::string(kTextPlain), fmt::format("internal error: {}\n", e.what())};
    } catch (...) {
      answer = {500, std::string(kTextPlain), "internal error (an exception that is not a std::exception)\n"};
    }
    if (answer.status < 200 || answer.status > 599) {
      answer = {500, std::string(kTextPlain),
                fmt::format("internal error: the handler answered status {}\n", answer.status)};
    }
    Response res = text_response(static_cast<unsigned>(answer.status), req.version(), std::move(answer.body));
    res.set(http::field::content_type, answer.content_type);
    if (!answer.www_authenticate.empty()) res.set(http::field::www_authenticate, answer.www_authenticate);
    if (answer.status == 204 || answer.status == 304) {
      res.body().clear();  // they have no body, and so no Content-Length either
      res.erase(http::field::content_length);
    } else if (head) {
      res.body().clear();  // Content-Length stays: the length of the body a GET gets
    }
    return res;
  }

  void send(Response res, bool then_close) {
    response_ = std::move(res);
    stream_.expires_after(server_.limits.idle_timeout);
    http::async_write(stream_, response_, [self = shared_from_this(), then_close](error_code ec, std::size_t) {
      if (ec || self->server_.stopping) return self->close();
      if (then_close) return self->linger_close();
      self->read_request();
    });
  }

  // Says it is done (FIN), then reads and drops whatever the client still sends until it
  // closes too, or kLingerLimit passes.
  void linger_close() {
    error_code ec;
    stream_.socket().shutdown(tcp::socket::shutdown_send, ec);
    if (ec) return close();
    stream_.expires_after(std::min(kLingerLimit, server_.limits.idle_timeout));
    drain();
  }

  void drain() {
    stream_.async_read_some(asio::buffer(scratch_), [self = shared_from_this()](error_code ec, std::size_t) {
      if (ec) return self->close();
      self->drain();
    });
  }

  ServerState& server_;
  beast::tcp_stream stream_;
  static constexpr std::size_t kBufferSlack = 4096;
  beast::flat_buffer buffer_;  // what was read and not parsed yet (the next request, pipelined)
  std::optional<http::request_parser<http::string_body>> parser_;  // a fresh one per request
  Response response_;                                                // being written
  std::array<char, 1024> scratch_{};                                 // drain()'s
};

}  // namespace

HttpServer::Impl::Impl(const std::string& bind, Handler handler, HttpServerLimits limits)
    : state_{std::move(handler), limits} {
  if (!state_.handler) throw std::invalid_argument("HttpServer: the handler is empty");
  HostPort where = split_host_port(bind);

  std::vector<tcp::endpoint> candidates;
  error_code ec;
  auto ip = asio::ip::make_address(where.host, ec);
  if (!ec) {
    candidates.emplace_back(ip, where.port);
  } else {
    tcp::resolver resolver(io_);
    auto results = resolver.resolve(where.host, std::to_string(where.port), ec);
    if (ec) throw std::runtime_error(fmt::format("cannot bind HTTP on {}: {}", bind, ec.message()));
    for (const auto& entry : results) candidates.push_back(entry.endpoint());
    std::stable_partition(candidates.begin(), candidates.end(),
                          [](const tcp::endpoint& e) { return e.address().is_v4(); });
  }
  error_code last = asio::error::host_not_found;
  bool bound = false;
  for (const auto& endpoint : candidates) {
    if ((bound = try_bind(endpoint, last))) break;
  }
  if (!bound) throw std::runtime_error(fmt::format("cannot bind HTTP on {}: {}", bind, last.message()));

  port_ = acceptor_.local_endpoint().port();
  address_ = join_host_port(where.host, port_);
  std::string_view why = "too many connections; try again later\n";
  busy_answer_ = fmt::format(
      "HTTP/1.1 503 Service Unavailable\r\nServer: pulsing\r\nContent-Type: {}\r\nContent-Length: {}\r\n"
      "Retry-After: 1\r\nConnection: close\r\n\r\n{}",
      kTextPlain, why.size(), why);
}

bool HttpServer::Impl::try_bind(const tcp::endpoint& endpoint, error_code& ec) {
  error_code ignored;
  acceptor_.close(ignored);
  ec.clear();
  acceptor_.open(endpoint.protocol(), ec);
  if (!ec) acceptor_.set_option(tcp::acceptor::reuse_address(true), ec);
  if (!ec) acceptor_.bind(endpoint, ec);
  if (!ec) acceptor_.listen(tcp::acceptor::max_listen_connections, ec);
  if (!ec) return true;
  acceptor_.close(ignored);
  return false;
}

void HttpServer::Impl::start() {
  std::lock_guard lock(mutex_);
  if (started_ || stopped_) return;
  started_ = true;
  accept();
  thread_ = std::thread([this] { io_.run(); });
}

void HttpServer::Impl::stop() {
  std::lock_guard lock(mutex_);
  if (stopped_) return;
  stopped_ = true;
  if (!started_) {
    error_code ignored;
    acceptor_.close(ignored);
    return;
  }
  // Once everything is closed, every pending operation completes (aborted) and run() returns.
  asio::post(io_, [this] { close_all(); });
  thread_.join();
}

void HttpServer::Impl::accept() {
  acceptor_.async_accept([this](error_code ec, tcp::socket socket) {
    if (state_.stopping || ec == asio::error::operation_aborted) return;
    if (ec) {  // out of file descriptors, typically: give the connections time to end
      accept_retry_.expires_after(kAcceptRetry);
      accept_retry_.async_wait([this](error_code timer_ec) {
        if (!timer_ec && !state_.stopping) accept();
      });
      return;
    }
    admit(std::move(socket));
    accept();
  });
}

void HttpServer::Impl::admit(tcp::socket socket) {
  if (state_.connections.size() < state_.limits.max_connections) {
    std::make_shared<Connection>(state_, std::move(socket))->start();
    return;
  }
  // Beyond the limit: a short answer that fits the fresh socket's send buffer, never waited for.
  error_code ignored;
  socket.non_blocking(true, ignored);
  socket.write_some(asio::buffer(busy_answer_), ignored);
  socket.shutdown(tcp::socket::shutdown_both, ignored);
  socket.close(ignored);
}

void HttpServer::Impl::close_all() {
  state_.stopping = true;
  error_code ignored;
  acceptor_.close(ignored);
  accept_retry_.cancel();
  for (Connection* c : state_.connections) c->close();
}

HttpServer::HttpServer(const std::string& bind, Handler handler, HttpServerLimits limits)
    : impl_(std::make_unique<Impl>(bind, std::move(handler), limits)) {}
HttpServer::~HttpServer() = default;
void HttpServer::start() { impl_->start(); }
void HttpServer::stop() { impl_->stop(); }
std::uint16_t HttpServer::port() const { return impl_->port(); }
const std::string& HttpServer::address() const { return impl_->address(); }

}  // namespace pulsing::admin
