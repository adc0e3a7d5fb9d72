// NodeCurve: a node's CurveAuthority (messaging/curve.hpp), made from its keys.
//
// A member node (one with a cluster keyring):
// - server pair: derived from the primary key it started with, and kept for its run (ZeroMQ
//   fixes a listening socket's key when it binds; changing it would drop every caller). Once the
//   primary is another key (a rotation), it is announced in the node's gossip metadata
//   (kMetadataKey, Z85 text), so that members reach it whatever key they hold; until then
//   every member expects it anyway, and the 40 characters stay out of every gossip message.
// - client pair: derived from the current primary (each new connection takes the current one).
// - servers to expect at a peer: the key the peer announced, if it is a member; then the
//   current primary's (what a peer that announces nothing has); then this node's own server key
//   (every node started with the same primary has it); then those of each key of the ring.
// - admits: the node key of every key of the ring (role node), and the authorized clients
//   (operator, observer).
// A client (the command line, with a client key file): presents its client pair, expects the
// server keys its file lists, and admits nobody (its own listening socket serves no one).
//
// Thread-safety: every member from any thread.
#pragma once

#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "messaging/curve.hpp"
#include "security/cluster_key.hpp"
#include "security/curve_keys.hpp"

namespace pulsing::detail {

class NodeCurve final : public CurveAuthority {
 public:
  // The membership metadata key under which a node announces its server public key.
  static constexpr const char* kMetadataKey = "curve";

  // A member node. REQUIRES: `keys` not null.
  NodeCurve(std::shared_ptr<const security::Keyring> keys, std::vector<security::AuthorizedClient> clients);
  // A client. REQUIRES: `client` not null.
  explicit NodeCurve(std::shared_ptr<const security::ClientKey> client);

  // The keyring in use (null for a client), a new one (a rotation step), and a new list of
  // clients (both reloaded with SIGHUP).
  std::shared_ptr<const security::Keyring> keys() const;
  void set_keys(std::shared_ptr<const security::Keyring> keys);
  void set_clients(std::vector<security::AuthorizedClient> clients);
  // What the member at `endpoint` announces as its server key (nullopt: it is gone, or says
  // nothing readable).
  void set_member_server(const std::string& endpoint, std::optional<CurvePublicKey> key);

  // This node's server public key in Z85 (40 characters), for its metadata.
  std::string server_text() const;
  // What this node announces in its metadata under kMetadataKey: server_text() when its server
  // key is not the current primary's, else nothing.
  std::optional<std::string> announcement() const;
  // A key's Z85 text back (nullopt unless 40 valid characters).
  static std::optional<CurvePublicKey> parse_server_text(std::string_view text);

  CurvePair server_pair() const override { return server_; }
  CurvePair client_pair() const override;
  std::vector<CurvePublicKey> servers_for(const std::string& endpoint) const override;
  std::optional<CallerRole> admit(const CurvePublicKey& client) const override;

 private:
  void derive_ring_keys();  // REQUIRES: mutex_ held

  const CurvePair server_;
  const std::shared_ptr<const security::ClientKey> client_;  // a client's; null for a member
  mutable std::mutex mutex_;
  std::shared_ptr<const security::Keyring> keys_;              // guarded by mutex_
  CurvePair node_pair_;                                        // guarded by mutex_: the primary's
  std::vector<CurvePublicKey> ring_nodes_, ring_servers_;      // guarded by mutex_: per ring key
  std::map<CurvePublicKey, CallerRole> clients_;               // guarded by mutex_
  std::map<std::string, CurvePublicKey> member_servers_;       // guarded by mutex_
};

}  // namespace pulsing::detail
