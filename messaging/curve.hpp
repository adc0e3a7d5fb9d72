// CurveAuthority: what a ZmqTransport needs to run its connections under ZeroMQ's CURVE
// mechanism (encrypted and authenticated with Curve25519 keys, CurveZMQ): its own server key
// pair, the client key pair its connections present, which server keys to expect at a peer, and
// which client keys to admit, with what role. The node supplies one (runtime/node_curve.hpp);
// without one (TransportOptions::curve null) connections are plain and every caller is a node.
//
// Roles: each connection that the ZAP handler (messaging/zap_handler.hpp) admits gets the role
// admit() names, and every envelope that arrives on it carries that role (EnvelopeView::role),
// so that the node checks it before anything is dispatched.
// Thread-safety: every member may be called from any thread (the transport calls them on its I/O
// thread; the node changes what they answer when its keys are reloaded).
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "messaging/envelope.hpp"
#include "security/curve_keys.hpp"

namespace pulsing {

using CurvePublicKey = security::CurveKey;
using CurvePair = security::CurveKeyPair;  // wipes its secret key when destroyed

class CurveAuthority {
 public:
  virtual ~CurveAuthority() = default;
  // The ROUTER's key pair. Read once, when it binds: the same for the transport's life.
  virtual CurvePair server_pair() const = 0;
  // The pair a new connection to a peer presents.
  virtual CurvePair client_pair() const = 0;
  // The server public keys to expect at `endpoint`, in the order to try them (one or more).
  virtual std::vector<CurvePublicKey> servers_for(const std::string& endpoint) const = 0;
  // The role of a connection that presents `client`, or nullopt: refuse it.
  virtual std::optional<CallerRole> admit(const CurvePublicKey& client) const = 0;
};

}  // namespace pulsing
