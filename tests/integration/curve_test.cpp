// Calls under CURVE, against real `pulsing node` processes with a cluster key: who may connect
// at all (raw ZeroMQ peers with no CURVE, a random key, an unlisted client key, and, as the
// control, the key a member derives), what each client role may do from the command line, a
// second connection that presents another's routing id, and a reply forged by a peer that was
// not asked.
#include <doctest/doctest.h>

#include <zmq.hpp>

#include <chrono>
#include <cstring>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "messaging/envelope.hpp"
#include "security/curve_keys.hpp"
#include "security/key_file.hpp"
#include "security_support.hpp"

#ifndef PULSING_SOURCE_DIR
#error "define PULSING_SOURCE_DIR: the source tree (the Python client and the schemas)"
#endif

namespace pulsing::integration {
namespace {

using security::CurveKeyPair;
using security::KeyPurpose;

// A ZeroMQ DEALER with no pulsing code behind it, as a client in another language would have:
// plain, or CURVE with the server key and client pair given; its monitor says how its handshake
// went.
class RawCaller {
 public:
  struct Curve {
    security::CurveKey server;
    CurveKeyPair client;
  };
  RawCaller(const std::string& endpoint, const std::string& routing_id, const std::optional<Curve>& curve)
      : socket_(context_, zmq::socket_type::dealer), monitor_(context_, zmq::socket_type::pair) {
    socket_.set(zmq::sockopt::routing_id, routing_id);
    socket_.set(zmq::sockopt::linger, 0);
    if (curve) {
      socket_.set(zmq::sockopt::curve_serverkey, zmq::const_buffer(curve->server.data(), curve->server.size()));
      socket_.set(zmq::sockopt::curve_publickey,
                  zmq::const_buffer(curve->client.public_key.data(), curve->client.public_key.size()));
      socket_.set(zmq::sockopt::curve_secretkey,
                  zmq::const_buffer(curve->client.secret_key.data(), curve->client.secret_key.size()));
    }
    const std::string address = "inproc://raw-monitor";
    zmq_socket_monitor(socket_.handle(), address.c_str(), ZMQ_EVENT_ALL);
    monitor_.connect(address);
    socket_.connect(endpoint);
  }
  ~RawCaller() { zmq_socket_monitor(socket_.handle(), nullptr, 0); }

  // Waits (up to `limit`) for the handshake's outcome: true when it succeeded, false when the
  // node refused it (or the connection closed first).
  bool handshake(std::chrono::milliseconds limit) {
    const auto deadline = std::chrono::steady_clock::now() + limit;
    while (std::chrono::steady_clock::now() < deadline) {
      zmq::message_t event, address;
      monitor_.set(zmq::sockopt::rcvtimeo, 100);
      if (!monitor_.recv(event)) continue;
      if (event.more()) (void)monitor_.recv(address);
      std::uint16_t id = 0;
      std::memcpy(&id, event.data(), sizeof id);
      if (id == ZMQ_EVENT_HANDSHAKE_SUCCEEDED) return true;
      if (id == ZMQ_EVENT_HANDSHAKE_FAILED_AUTH || id == ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL ||
          id == ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL || id == ZMQ_EVENT_DISCONNECTED) {
        return false;
      }
    }
    FAIL("no handshake outcome within the limit");
    return false;
  }
  // Sends `envelope` as a frame of its own, if the connection takes it now.
  bool send(const Envelope& envelope) {
    std::vector<std::byte> frame;
    append_envelope(frame, envelope);
    return static_cast<bool>(socket_.send(zmq::buffer(frame.data(), frame.size()), zmq::send_flags::dontwait));
  }
  // The next envelope the node sends back, within `limit`.
  std::optional<Envelope> receive(std::chrono::milliseconds limit) {
    socket_.set(zmq::sockopt::rcvtimeo, static_cast<int>(limit.count()));
    zmq::message_t frame;
    if (!socket_.recv(frame)) return std::nullopt;
    std::optional<Envelope> got;
    decode_frame({static_cast<const std::byte*>(frame.data()), frame.size()},
                 [&](const EnvelopeView& e) { got = e.decode({}); });
    return got;
  }

 private:
  zmq::context_t context_;
  zmq::socket_t socket_;
  zmq::socket_t monitor_;
};

// A node's listening side with no pulsing code behind it: a ROUTER holding the cluster's server
// key (the worst case: an insider), which reads the requests it gets and answers as it is told.
// No ZAP handler: it admits every caller.
class RawServer {
 public:
  struct Request {
    std::string caller;  // the routing id of the connection it came on
    Envelope envelope;
  };
  explicit RawServer(const security::ClusterKey& key) : socket_(context_, zmq::socket_type::router) {
    const CurveKeyPair pair = security::derive_curve_pair(key, KeyPurpose::kCurveServer);
    socket_.set(zmq::sockopt::curve_server, 1);
    socket_.set(zmq::sockopt::curve_secretkey, zmq::const_buffer(pair.secret_key.data(), pair.secret_key.size()));
    socket_.set(zmq::sockopt::linger, 0);
    socket_.bind("tcp://127.0.0.1:0");
    endpoint_ = socket_.get(zmq::sockopt::last_endpoint);
  }
  const std::string& endpoint() const { return endpoint_; }

  // The next request, within `limit`.
  std::optional<Request> next(std::chrono::milliseconds limit) {
    socket_.set(zmq::sockopt::rcvtimeo, static_cast<int>(limit.count()));
    zmq::message_t identity, frame;
    if (!socket_.recv(identity) || !identity.more() || !socket_.recv(frame)) return std::nullopt;
    std::optional<Request> got;
    decode_frame({static_cast<const std::byte*>(frame.data()), frame.size()},
                 [&](const EnvelopeView& e) { got = Request{identity.to_string(), e.decode({})}; });
    return got;
  }
  // Sends a reply with `correlation` to `caller`, on its connection.
  void answer(const std::string& caller, std::uint64_t correlation, Value payload) {
    Envelope reply;
    reply.kind = EnvelopeKind::kReply;
    reply.correlation = correlation;
    reply.payload = std::move(payload);
    std::vector<std::byte> frame;
    append_envelope(frame, reply);
    REQUIRE(socket_.send(zmq::buffer(caller), zmq::send_flags::sndmore));
    REQUIRE(socket_.send(zmq::buffer(frame.data(), frame.size())));
  }
  // Answers the next request, which must be a resolve, as the node of an actor named as asked.
  void answer_resolve(NodeId node, ActorId actor) {
    auto request = next(10s);
    REQUIRE(request.has_value());
    REQUIRE(request->envelope.kind == EnvelopeKind::kResolve);
    answer(request->caller, request->envelope.correlation,
           Value(Value::Map{{"address", Value(ActorAddress{node, endpoint_, actor})}, {"class", Value("Raw")}}));
  }

 private:
  zmq::context_t context_;
  zmq::socket_t socket_;
  std::string endpoint_;
};

Envelope call(EnvelopeKind kind, const std::string& target, const std::string& method, std::vector<Value> args,
              std::uint64_t correlation = 0) {
  Envelope e;
  e.kind = kind;
  e.correlation = correlation;
  e.target_name = target;
  e.method = method;
  e.payload = Value(std::move(args));
  e.deadline_ms = 10'000;
  return e;
}

// An authorized-clients file in `keys`' directory: each client key file with its role.
std::string authorized_clients(KeyFiles& keys, const std::vector<std::pair<std::string, std::string>>& clients) {
  const std::string path = keys.path("clients");
  std::ofstream out(path);
  out << "# who may call: role, public key, name\n";
  for (const auto& [role, file] : clients) {
    out << role << " " << security::curve_key_text(security::read_client_key_file(file).pair.public_key) << " " << file
        << "\n";
  }
  return path;
}

// The counter `name` on `node`, asked with the cluster key.
std::int64_t counter_value(const NodeProcess& node, const std::string& name, const std::string& key) {
  auto [status, text] = pulsing({"ask", name, "get", "--node", address_of(node), "--key-file", key});
  REQUIRE_MESSAGE(status == 0, text);
  return std::stoll(text);
}

}  // namespace

TEST_CASE("curve: a raw ZeroMQ peer with no CURVE, a random key or an unlisted client key delivers nothing, a member key does") {
  KeyFiles keys;
  const std::string key = keys.make("cluster.key");
  const std::string listed = keys.make("observer.key", {"--client", "--cluster-key-file", key});
  const std::string unlisted = keys.make("unlisted.key", {"--client", "--cluster-key-file", key});
  const std::string clients = authorized_clients(keys, {{"observer", listed}});
  auto a = start_node({"--name", "a", "--cluster-key-file", key, "--authorized-clients", clients, "--services",
                       "svc=counter"});
  const security::ClusterKey cluster = security::read_key_file(key).primary();
  const security::CurveKey server = security::derive_curve_pair(cluster, KeyPurpose::kCurveServer).public_key;
  const std::string refused = "pulsing_transport_callers_total{outcome=\"refused\"}";

  // Each sends a tell (queued on its side until a connection takes it) and waits for its
  // handshake's outcome: refused.
  const auto tell = call(EnvelopeKind::kTell, "svc", "add", {Value(1)});
  {
    RawCaller plain(a.endpoint(), "tcp://127.0.0.1:1#plain.1", std::nullopt);
    (void)plain.send(tell);
    CHECK_FALSE(plain.handshake(10s));
  }
  {
    RawCaller random(a.endpoint(), "tcp://127.0.0.1:1#random.1", RawCaller::Curve{server, security::random_curve_pair()});
    (void)random.send(tell);
    CHECK_FALSE(random.handshake(10s));
  }
  {
    RawCaller stranger(a.endpoint(), "tcp://127.0.0.1:1#stranger.1",
                       RawCaller::Curve{server, security::read_client_key_file(unlisted).pair});
    (void)stranger.send(tell);
    CHECK_FALSE(stranger.handshake(10s));
  }
  // The keyed two were refused by the node's ZAP handler (and again as they retried); the plain
  // one failed before it had a key to show.
  CHECK(metric(a, refused) >= 2);
  CHECK(metric(a, "pulsing_transport_callers_total{outcome=\"admitted\"}") == 0);
  CHECK(counter_value(a, "svc", key) == 0);

  // The control: the same raw peer with the key every member derives is a member, and its call
  // is answered.
  RawCaller member(a.endpoint(), "tcp://127.0.0.1:1#member.1",
                   RawCaller::Curve{server, security::derive_curve_pair(cluster, KeyPurpose::kCurveNode)});
  REQUIRE(member.handshake(10s));
  REQUIRE(member.send(call(EnvelopeKind::kAsk, "svc", "add", {Value(5)}, 7)));
  auto reply = member.receive(10s);
  REQUIRE(reply.has_value());
  CHECK(reply->kind == EnvelopeKind::kReply);
  CHECK(reply->correlation == 7);
  CHECK(reply->payload == Value(5));
  CHECK(counter_value(a, "svc", key) == 5);
}

TEST_CASE("curve: an observer's key reads the cluster but cannot ask, tell, stream, stop or spawn, an operator's can, an unlisted one cannot connect") {
  KeyFiles keys;
  const std::string key = keys.make("cluster.key");
  const std::string observer = keys.make("observer.key", {"--client", "--cluster-key-file", key});
  const std::string operator_key = keys.make("operator.key", {"--client", "--cluster-key-file", key});
  const std::string unlisted = keys.make("unlisted.key", {"--client", "--cluster-key-file", key});
  const std::string clients = authorized_clients(keys, {{"observer", observer}, {"operator", operator_key}});
  auto a = start_node({"--name", "a", "--cluster-key-file", key, "--authorized-clients", clients, "--services",
                       "svc=counter,tokens=tokens"});
  auto as = [&](const std::string& key_file, std::vector<std::string> args) {
    args.insert(args.end(), {"--node", address_of(a), "--key-file", key_file, "--timeout", "10s"});
    return pulsing(std::move(args));
  };
  constexpr int kNotPermitted = 5;

  // An observer reads...
  for (std::vector<std::string> reads :
       {std::vector<std::string>{"members"}, {"actors"}, {"resolve", "svc"}, {"kinds"}}) {
    auto [status, text] = as(observer, reads);
    CHECK_MESSAGE(status == 0, reads.front() << ": " << text);
  }
  // ... and changes nothing.
  auto [ask_status, ask_text] = as(observer, {"ask", "svc", "add", "1"});
  CHECK(ask_status == kNotPermitted);
  CHECK(ask_text.find("not_permitted") != std::string::npos);
  CHECK(as(observer, {"stream", "tokens", "generate", "\"hi\"", "3"}).first == kNotPermitted);
  CHECK(as(observer, {"stop", "svc"}).first == kNotPermitted);
  CHECK(as(observer, {"spawn", "counter", "--name", "planted"}).first == kNotPermitted);
  (void)as(observer, {"tell", "svc", "add", "100"});  // sent, and dropped by the node
  CHECK(eventually([&] { return metric(a, "pulsing_not_permitted_total{role=\"observer\"}") == 5; }, 10s));
  CHECK(counter_value(a, "svc", key) == 0);
  CHECK(as(observer, {"resolve", "svc"}).first == 0);  // still there

  // An operator does all of it.
  CHECK(as(operator_key, {"ask", "svc", "add", "2"}).first == 0);
  CHECK(as(operator_key, {"stream", "tokens", "generate", "\"hi\"", "3"}).first == 0);
  CHECK(as(operator_key, {"stop", "svc"}).first == 0);
  CHECK(as(operator_key, {"spawn", "counter", "--name", "planted"}).first == 0);
  CHECK(metric(a, "pulsing_not_permitted_total{role=\"operator\"}") == 0);

  // A key nobody listed does not connect; nor does a command with no key at all.
  auto [unlisted_status, unlisted_text] = as(unlisted, {"members"});
  CHECK(unlisted_status == 4);
  CHECK(unlisted_text.find("refused this node's key") != std::string::npos);
  auto [plain_status, plain_text] = pulsing({"members", "--node", address_of(a), "--timeout", "3s"});
  CHECK(plain_status == 4);
}

TEST_CASE("curve: a Python client with no pulsing code (python3-zmq, CURVE on, envelopes from the capnp tool) asks by name and reads the reply") {
  KeyFiles keys;
  const std::string key = keys.make("cluster.key");
  const std::string operator_key = keys.make("operator.key", {"--client", "--cluster-key-file", key});
  const std::string observer = keys.make("observer.key", {"--client", "--cluster-key-file", key});
  const std::string clients = authorized_clients(keys, {{"operator", operator_key}, {"observer", observer}});
  auto a = start_node({"--name", "a", "--cluster-key-file", key, "--authorized-clients", clients, "--services",
                       "service=calculator"});
  auto python = [&](const std::string& key_file) {
    return NodeProcess::run_program("/usr/bin/python3",
                                    {PULSING_SOURCE_DIR "/tests/integration/python_client.py", a.endpoint(), key_file,
                                     PULSING_SOURCE_DIR, "service", "add", "2"},
                                    30s);
  };
  auto [status, reply] = python(operator_key);
  REQUIRE_MESSAGE(status == 0, reply);
  CHECK(reply.find("kind = reply") != std::string::npos);
  CHECK(reply.find("correlation = 42") != std::string::npos);
  CHECK(reply.find("payload = (int = 2)") != std::string::npos);

  auto [refused_status, refusal] = python(observer);
  REQUIRE_MESSAGE(refused_status == 0, refusal);
  CHECK(refusal.find("not_permitted") != std::string::npos);
  CHECK(refusal.find("payload") == std::string::npos);
}

TEST_CASE("curve: a second connection presenting another's routing id gets none of its answers") {
  KeyFiles keys;
  const std::string key = keys.make("cluster.key");
  auto a = start_node({"--name", "a", "--cluster-key-file", key, "--services", "svc=counter"});
  const security::ClusterKey cluster = security::read_key_file(key).primary();
  const RawCaller::Curve member{security::derive_curve_pair(cluster, KeyPurpose::kCurveServer).public_key,
                                security::derive_curve_pair(cluster, KeyPurpose::kCurveNode)};
  const std::string id = "tcp://127.0.0.1:1#0123456789abcdef.1";

  RawCaller first(a.endpoint(), id, member);
  REQUIRE(first.handshake(10s));
  REQUIRE(first.send(call(EnvelopeKind::kAsk, "svc", "add", {Value(1)}, 1)));
  REQUIRE(first.receive(10s).has_value());

  // The impostor holds a member's key (the worst case: an insider) and presents the same id.
  RawCaller impostor(a.endpoint(), id, member);
  (void)impostor.handshake(10s);
  (void)impostor.send(call(EnvelopeKind::kAsk, "svc", "add", {Value(1000)}, 2));
  // The first connection's next answers still come to it, and only to it.
  for (std::uint64_t correlation = 3; correlation < 6; ++correlation) {
    REQUIRE(first.send(call(EnvelopeKind::kAsk, "svc", "get", {}, correlation)));
    auto answer = first.receive(10s);
    REQUIRE(answer.has_value());
    CHECK(answer->correlation == correlation);
    CHECK(answer->payload == Value(1));  // the impostor's add never ran
  }
  CHECK_FALSE(impostor.receive(500ms).has_value());
}

TEST_CASE("curve: a reply forged by a member that was not asked is dropped and counted, and the real answer is taken") {
  KeyFiles keys;
  const security::ClusterKey cluster = security::read_key_file(keys.make("cluster.key")).primary();
  NodeConfig config = test_process_config();
  config.cluster_keys = std::make_shared<const security::Keyring>(std::vector{cluster});
  Node node(config);
  RawServer asked(cluster), forger(cluster);

  auto to_asked = node.resolve_at(asked.endpoint(), "slow", 10s);
  asked.answer_resolve(NodeId{1}, ActorId{1});
  auto slow = to_asked.get();
  auto to_forger = node.resolve_at(forger.endpoint(), "other", 10s);
  auto forger_request = forger.next(10s);
  REQUIRE(forger_request.has_value());

  auto answer = slow.ask("work", {Value(1)});
  auto pending = asked.next(10s);
  REQUIRE(pending.has_value());
  REQUIRE(pending->envelope.kind == EnvelopeKind::kAsk);
  // The forger answers the ask it was not sent, with its correlation (the worst case: it knows
  // it; correlations start at random), on the connection the node opened to it.
  forger.answer(forger_request->caller, pending->envelope.correlation, Value("forged"));
  REQUIRE(eventually([&] { return node.stats().foreign_replies == 1; }));
  CHECK_FALSE(answer.ready());
  // Its connection still works: its own answer is taken.
  forger.answer(forger_request->caller, forger_request->envelope.correlation,
                Value(Value::Map{{"address", Value(ActorAddress{NodeId{2}, forger.endpoint(), ActorId{1}})},
                                 {"class", Value("Raw")}}));
  CHECK_NOTHROW(to_forger.get());

  asked.answer(pending->caller, pending->envelope.correlation, Value("real"));
  CHECK(answer.get() == Value("real"));
  CHECK(node.stats().foreign_replies == 1);
}

}  // namespace pulsing::integration
