#include "admin/http_client.hpp"

#include <stdexcept>
#include <vector>

#include <fmt/format.h>

#include "admin/beast.hpp"
#include "admin/host_port.hpp"

namespace pulsing::admin {

namespace {

// The largest answer read (a /metrics or /actors of a very busy node stays far below).
constexpr std::uint64_t kMaxBody = 64 * 1024 * 1024;

enum class Step { kResolve, kConnect, kSend, kRead, kDone };

}  // namespace

HttpResult http_get(const std::string& host_text, std::uint16_t port, const std::string& target,
                    std::chrono::milliseconds timeout, const std::string& bearer_token) {
  // "[::1]" as well as "::1".
  bool bracketed = host_text.size() > 2 && host_text.front() == '[' && host_text.back() == ']';
  const std::string host = bracketed ? host_text.substr(1, host_text.size() - 2) : host_text;
  const std::string where = join_host_port(host, port);
  asio::io_context io;
  tcp::resolver resolver(io);
  tcp::socket socket(io);
  asio::steady_timer deadline(io);
  beast::flat_buffer buffer;
  http::request<http::empty_body> request{http::verb::get, target, 11};
  request.set(http::field::host, where);
  request.set(http::field::user_agent, "pulsing");
  if (!bearer_token.empty()) request.set(http::field::authorization, "Bearer " + bearer_token);
  request.keep_alive(false);
  http::response_parser<http::string_body> parser;
  parser.body_limit(kMaxBody);

  Step step = Step::kResolve;
  bool timed_out = false;
  error_code failure;

  auto finish = [&](error_code ec) {
    failure = ec;
    if (!ec) step = Step::kDone;
    deadline.cancel();
  };
  auto on_read = [&](error_code ec, std::size_t) { finish(ec); };
  auto on_sent = [&](error_code ec, std::size_t) {
    if (ec) return finish(ec);
    step = Step::kRead;
    http::async_read(socket, buffer, parser, on_read);
  };
  auto on_connected = [&](error_code ec, const tcp::endpoint&) {
    if (ec) return finish(ec);
    step = Step::kSend;
    http::async_write(socket, request, on_sent);
  };
  auto connect = [&](const std::vector<tcp::endpoint>& endpoints) {
    step = Step::kConnect;
    asio::async_connect(socket, endpoints, on_connected);
  };

  deadline.expires_after(timeout);
  deadline.async_wait([&](error_code ec) {
    if (ec || step == Step::kDone || failure) return;  // cancelled, or it ended in time anyway
    timed_out = true;
    resolver.cancel();
    error_code ignored;
    socket.close(ignored);
  });

  std::vector<tcp::endpoint> endpoints;
  error_code not_an_address;
  auto ip = asio::ip::make_address(host, not_an_address);
  if (!not_an_address) {
    endpoints.emplace_back(ip, port);
    connect(endpoints);
  } else {
    resolver.async_resolve(host, std::to_string(port), [&](error_code ec, const tcp::resolver::results_type& results) {
      if (ec) return finish(ec);
      for (const auto& entry : results) endpoints.push_back(entry.endpoint());
      connect(endpoints);
    });
  }
  io.run();

  if (failure || step != Step::kDone) {
    if (timed_out) {
      const char* doing = step == Step::kResolve   ? "resolving"
                          : step == Step::kConnect ? "connecting to"
                          : step == Step::kSend    ? "sending to"
                                                   : "reading from";
      throw std::runtime_error(fmt::format("timed out after {} ms {} {}", timeout.count(), doing,
                                           step == Step::kResolve ? fmt::format("'{}'", host) : where));
    }
    switch (step) {
      case Step::kResolve:
        throw std::runtime_error(fmt::format("cannot resolve '{}': {}", host, failure.message()));
      case Step::kConnect:
        throw std::runtime_error(fmt::format("cannot connect to {}: {}", where, failure.message()));
      case Step::kSend:
        throw std::runtime_error(fmt::format("cannot send the request to {}: {}", where, failure.message()));
      default:
        if (failure == http::error::end_of_stream) {
          throw std::runtime_error(fmt::format("{} closed the connection without answering", where));
        }
        throw std::runtime_error(fmt::format("cannot read the answer from {}: {}", where, failure.message()));
    }
  }
  error_code ignored;
  socket.shutdown(tcp::socket::shutdown_both, ignored);

  auto& response = parser.get();
  HttpResult result;
  result.status = static_cast<int>(response.result_int());
  result.body = std::move(response.body());
  auto type = response[http::field::content_type];
  result.content_type.assign(type.data(), type.size());
  return result;
}

}  // namespace pulsing::admin
