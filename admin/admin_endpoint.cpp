#include "admin/admin_endpoint.hpp"

#include "admin/metrics.hpp"
#include "admin/views.hpp"
#include "messaging/json.hpp"

namespace pulsing::admin {
namespace {

constexpr const char* kPaths = "/health /ready /metrics /members /actors";

HttpResponse text(int status, std::string body) { return {status, "text/plain; charset=utf-8", std::move(body)}; }
HttpResponse json(const Value& value) { return {200, "application/json", to_json_text(value) + "\n"}; }

}  // namespace

AdminEndpoint::AdminEndpoint(Node& node, const std::string& bind)
    : node_(node), server_(bind, [this](const HttpRequest& request) { return handle(request); }) {
  server_.start();
}

AdminEndpoint::~AdminEndpoint() { stop(); }

HttpResponse AdminEndpoint::handle(const HttpRequest& request) {
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
