#include "runtime/node_curve.hpp"

#include <algorithm>

#include <zmq.h>

namespace pulsing::detail {
namespace {

void add_unique(std::vector<CurvePublicKey>& keys, const CurvePublicKey& key) {
  if (std::find(keys.begin(), keys.end(), key) == keys.end()) keys.push_back(key);
}

}  // namespace

NodeCurve::NodeCurve(std::shared_ptr<const security::Keyring> keys, std::vector<security::AuthorizedClient> clients)
    : server_(security::derive_curve_pair(keys->primary(), security::KeyPurpose::kCurveServer)), keys_(std::move(keys)) {
  derive_ring_keys();
  set_clients(std::move(clients));
}

NodeCurve::NodeCurve(std::shared_ptr<const security::ClientKey> client)
    : server_(security::random_curve_pair()), client_(std::move(client)) {}

std::shared_ptr<const security::Keyring> NodeCurve::keys() const {
  std::lock_guard lock(mutex_);
  return keys_;
}

void NodeCurve::set_keys(std::shared_ptr<const security::Keyring> keys) {
  std::lock_guard lock(mutex_);
  keys_ = std::move(keys);
  derive_ring_keys();
}

void NodeCurve::derive_ring_keys() {
  ring_nodes_.clear();
  ring_servers_.clear();
  if (!keys_) return;
  node_pair_ = security::derive_curve_pair(keys_->primary(), security::KeyPurpose::kCurveNode);
  ring_nodes_ = security::ring_public_keys(*keys_, security::KeyPurpose::kCurveNode);
  ring_servers_ = security::ring_public_keys(*keys_, security::KeyPurpose::kCurveServer);
}

void NodeCurve::set_clients(std::vector<security::AuthorizedClient> clients) {
  std::map<CurvePublicKey, CallerRole> roles;
  for (const auto& client : clients) {
    roles[client.key] = client.role == security::ClientRole::kOperator ? CallerRole::kOperator : CallerRole::kObserver;
  }
  std::lock_guard lock(mutex_);
  clients_ = std::move(roles);
}

void NodeCurve::set_member_server(const std::string& endpoint, std::optional<CurvePublicKey> key) {
  std::lock_guard lock(mutex_);
  if (key) {
    member_servers_[endpoint] = *key;
  } else {
    member_servers_.erase(endpoint);
  }
}

std::string NodeCurve::server_text() const {
  char text[41];
  zmq_z85_encode(text, server_.public_key.data(), server_.public_key.size());
  return text;
}

std::optional<std::string> NodeCurve::announcement() const {
  {
    std::lock_guard lock(mutex_);
    if (client_ || (!ring_servers_.empty() && ring_servers_.front() == server_.public_key)) return std::nullopt;
  }
  return server_text();
}

std::optional<CurvePublicKey> NodeCurve::parse_server_text(std::string_view text) {
  if (text.size() != 40) return std::nullopt;
  std::string terminated(text);
  CurvePublicKey key;
  if (zmq_z85_decode(key.data(), terminated.c_str()) == nullptr) return std::nullopt;
  return key;
}

CurvePair NodeCurve::client_pair() const {
  if (client_) return client_->pair;
  std::lock_guard lock(mutex_);
  return node_pair_;
}

std::vector<CurvePublicKey> NodeCurve::servers_for(const std::string& endpoint) const {
  if (client_) return client_->servers;
  std::vector<CurvePublicKey> servers;
  std::lock_guard lock(mutex_);
  if (auto it = member_servers_.find(endpoint); it != member_servers_.end()) servers.push_back(it->second);
  if (!ring_servers_.empty()) add_unique(servers, ring_servers_.front());  // the primary's
  add_unique(servers, server_.public_key);
  for (const auto& key : ring_servers_) add_unique(servers, key);
  return servers;
}

std::optional<CallerRole> NodeCurve::admit(const CurvePublicKey& client) const {
  std::lock_guard lock(mutex_);
  if (std::find(ring_nodes_.begin(), ring_nodes_.end(), client) != ring_nodes_.end()) return CallerRole::kNode;
  if (auto it = clients_.find(client); it != clients_.end()) return it->second;
  return std::nullopt;
}

}  // namespace pulsing::detail
