// AdminEndpoint: a node's HTTP port for operators and orchestrators. Off unless built: the
// `pulsing node` daemon builds one; an embedding application may too.
//   GET /health    200 "ok": the process serves (a liveness probe; docker's HEALTHCHECK)
//   GET /ready     200 once the node is part of a cluster (admin/views.hpp: joined()), 503 before
//                  that and while draining (set_draining: the node is leaving)
//   GET /metrics   Prometheus text (admin/metrics.hpp)
//   GET /members   JSON: members_view        GET /actors   JSON: actors_view
//   GET /          the list of these; any other path: 404 naming them
// With a bearer token, every path but /health and /ready answers 401 unless the request says
// `Authorization: Bearer TOKEN` (compared in constant time).
//
// Ownership: borrows the node, which must outlive the endpoint (stop() it first).
// Thread-safety: every member from any thread.
#pragma once

#include <atomic>
#include <cstdint>
#include <string>

#include "admin/http_server.hpp"
#include "runtime/node.hpp"

namespace pulsing::admin {

class AdminEndpoint {
 public:
  // Binds `bind` ("host:port"; port 0 picks one) and serves at once; `bearer_token` (empty:
  // none) guards what is not a probe. Throws std::runtime_error naming the address when it
  // cannot bind.
  AdminEndpoint(Node& node, const std::string& bind, std::string bearer_token = {});
  ~AdminEndpoint();  // stop()
  AdminEndpoint(const AdminEndpoint&) = delete;
  AdminEndpoint& operator=(const AdminEndpoint&) = delete;

  // From now on /ready answers 503: orchestrators stop sending work to a node that leaves.
  void set_draining() { draining_.store(true); }
  void stop() { server_.stop(); }

  std::uint16_t port() const { return server_.port(); }
  std::string url() const { return "http://" + server_.address(); }

 private:
  HttpResponse handle(const HttpRequest& request);
  HttpResponse route(const HttpRequest& request);
  bool authorized(const HttpRequest& request) const;

  Node& node_;
  const std::string token_digest_;  // of the bearer token (BLAKE2b); empty without one
  std::atomic<bool> draining_{false};
  HttpServer server_;  // last: its thread calls handle(), which uses the members above
};

}  // namespace pulsing::admin
