#include "admin/admin_endpoint.hpp"

#include <sodium.h>

#include <array>

#include "admin/metrics.hpp"
#include "admin/views.hpp"
#include "messaging/json.hpp"

namespace pulsing::admin {
namespace {

constexpr const char* kPaths = "/health /ready /metrics /members /actors";

HttpResponse text(int status, std::string body) { return {status, "text/plain; charset=utf-8", std::move(body)}; }
HttpResponse json(const Value& value) { return {200, "application/json", to_json_text(value) + "\n"}; }

// Tokens are compared by their digests, so that the comparison takes the same time whatever the
// length of a guess and wherever it first differs.
std::string digest(std::string_view token) {
  if (sodium_init() < 0) throw std::runtime_error("libsodium could not be initialised");
  std::array<unsigned char, crypto_generichash_BYTES> out{};
  crypto_generichash(out.data(), out.size(), reinterpret_cast<const unsigned char*>(token.data()), token.size(),
                     nullptr, 0);
  return std::string(reinterpret_cast<const char*>(out.data()), out.size());
}

}  // namespace

AdminEndpoint::AdminEndpoint(Node& node, const std::string& bind, std::string bearer_token)
    : node_(node),
      token_digest_(bearer_token.empty() ? std::string() : digest(bearer_token)),
      server_(bind, [this](const HttpRequest& request) { return handle(request); }) {
  sodium_memzero(bearer_token.data(), bearer_token.size());
  server_.start();
}

AdminEndpoint::~AdminEndpoint() { stop(); }

HttpResponse AdminEndpoint::handle(const HttpRequest& request) {
  const bool probe = request.target == "/health" || request.target == "/ready";
  if (probe || authorized(request)) return route(request);
  HttpResponse refused = text(401, "this endpoint needs the admin token: send 'Authorization: Bearer TOKEN'\n");
  refused.www_authenticate = "Bearer realm=\"pulsing\"";
  return refused;
}

bool AdminEndpoint::authorized(const HttpRequest& request) const {
  if (token_digest_.empty()) return true;
  constexpr std::string_view kScheme = "Bearer ";
  std::string_view given = request.authorization;
  if (!given.starts_with(kScheme)) return false;
  const std::string guess = digest(given.substr(kScheme.size()));
  return sodium_memcmp(guess.data(), token_digest_.data(), guess.size()) == 0;
}

HttpResponse AdminEndpoint::route(const HttpRequest& request) {
  const std::string& path = request.target;
  if (path == "/health") return text(200, "ok\n");
  if (path == "/ready") {
    if (draining_.load()) return text(503, "draining: the node is leaving the cluster\n");
    if (!joined(node_)) return text(503, "not ready: no other member seen alive yet (joining through the seeds)\n");
    return text(200, "ready\n");
  }
  if (path == "/metrics") return {200, "text/plain; version=0.0.4; charset=utf-8", prometheus_text(node_)};
  if (path == "/members") return json(members_view(node_));
  if (path == "/actors") return json(actors_view(node_));
  if (path == "/") return text(200, std::string("pulsing node ") + node_.member_name() + ": " + kPaths + "\n");
  return text(404, "no such path: " + path + " (there are " + kPaths + ")\n");
}

}  // namespace pulsing::admin
