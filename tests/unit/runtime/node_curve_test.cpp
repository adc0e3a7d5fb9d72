// NodeCurve: which keys a node admits, with which role, and which server keys it expects where,
// through a key rotation and what members announce.
#include "runtime/node_curve.hpp"

#include <doctest/doctest.h>

namespace pulsing::detail {
namespace {

using security::ClusterKey;
using security::KeyPurpose;

std::shared_ptr<const security::Keyring> ring(std::vector<ClusterKey> keys) {
  return std::make_shared<const security::Keyring>(std::move(keys));
}
CurvePublicKey server_of(const ClusterKey& key) {
  return security::derive_curve_pair(key, KeyPurpose::kCurveServer).public_key;
}
CurvePublicKey node_of(const ClusterKey& key) { return security::derive_curve_pair(key, KeyPurpose::kCurveNode).public_key; }

TEST_CASE("a member admits the node key of every key of its ring, and the listed clients with their roles") {
  auto old_key = ClusterKey::generate(), new_key = ClusterKey::generate();
  auto op = security::random_curve_pair().public_key, obs = security::random_curve_pair().public_key;
  NodeCurve curve(ring({old_key}), {{op, security::ClientRole::kOperator, "op"}, {obs, security::ClientRole::kObserver, ""}});
  CHECK(curve.admit(node_of(old_key)) == CallerRole::kNode);
  CHECK(curve.admit(op) == CallerRole::kOperator);
  CHECK(curve.admit(obs) == CallerRole::kObserver);
  CHECK_FALSE(curve.admit(node_of(new_key)).has_value());
  CHECK_FALSE(curve.admit(server_of(old_key)).has_value());  // a server key is no client's

  // A rotation: the new key admitted beside the old, then alone; connections present the primary.
  curve.set_keys(ring({new_key, old_key}));
  CHECK(curve.admit(node_of(new_key)) == CallerRole::kNode);
  CHECK(curve.admit(node_of(old_key)) == CallerRole::kNode);
  CHECK(curve.client_pair().public_key == node_of(new_key));
  curve.set_keys(ring({new_key}));
  CHECK_FALSE(curve.admit(node_of(old_key)).has_value());

  curve.set_clients({});
  CHECK_FALSE(curve.admit(op).has_value());
}

TEST_CASE("a member keeps the server key it started with, announces it once the primary changes, and expects at a peer what the peer announced first") {
  auto old_key = ClusterKey::generate(), new_key = ClusterKey::generate();
  NodeCurve curve(ring({old_key}), {});
  CHECK(curve.server_pair().public_key == server_of(old_key));
  // Its server key is the primary's: every member expects it, nothing to announce.
  CHECK_FALSE(curve.announcement().has_value());
  CHECK(curve.servers_for("tcp://10.0.0.2:7000") == std::vector<CurvePublicKey>{server_of(old_key)});

  curve.set_keys(ring({new_key, old_key}));
  CHECK(curve.server_pair().public_key == server_of(old_key));  // fixed for its run
  // Now the primary derives another server key: this node announces its own.
  REQUIRE(curve.announcement().has_value());
  CHECK(NodeCurve::parse_server_text(*curve.announcement()) == server_of(old_key));
  // A peer that announced nothing has the primary's server key, or else started with this
  // node's key, or another of the ring.
  CHECK(curve.servers_for("tcp://10.0.0.2:7000") == std::vector<CurvePublicKey>{server_of(new_key), server_of(old_key)});

  // What a member announces comes first; a member gone is forgotten.
  auto announced = NodeCurve::parse_server_text(curve.server_text());
  REQUIRE(announced.has_value());
  curve.set_member_server("tcp://10.0.0.2:7000", announced);
  CHECK(curve.servers_for("tcp://10.0.0.2:7000").front() == server_of(old_key));
  CHECK(curve.servers_for("tcp://10.0.0.3:7000").front() == server_of(new_key));
  curve.set_member_server("tcp://10.0.0.2:7000", std::nullopt);
  CHECK(curve.servers_for("tcp://10.0.0.2:7000").front() == server_of(new_key));
  CHECK_FALSE(NodeCurve::parse_server_text("short").has_value());
  CHECK_FALSE(NodeCurve::parse_server_text(std::string(40, '"')).has_value());

  // The old key made primary again (a rotation undone): nothing to announce.
  curve.set_keys(ring({old_key, new_key}));
  CHECK_FALSE(curve.announcement().has_value());
}

TEST_CASE("a client presents its own pair, expects the servers its file lists, and admits nobody") {
  auto key = ClusterKey::generate();
  auto client = std::make_shared<security::ClientKey>();
  client->pair = security::random_curve_pair();
  client->servers = {server_of(key)};
  NodeCurve curve(client);
  CHECK(curve.client_pair().public_key == client->pair.public_key);
  CHECK(curve.servers_for("tcp://10.0.0.2:7000") == client->servers);
  CHECK_FALSE(curve.admit(node_of(key)).has_value());
  CHECK_FALSE(curve.admit(client->pair.public_key).has_value());
}

}  // namespace
}  // namespace pulsing::detail
