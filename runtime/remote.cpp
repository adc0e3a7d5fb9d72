#include "runtime/remote.hpp"

#include <algorithm>
#include <limits>

#include <fmt/format.h>

#include "runtime/actor_ref.hpp"
#include "runtime/calls.hpp"
#include "runtime/log.hpp"
#include "runtime/node_core.hpp"

namespace pulsing::detail {

namespace {

Failure unreachable(const std::string& endpoint, std::string_view why) {
  return make_failure<RuntimeError>(RuntimeErrorKind::kNodeUnreachable,
                                    fmt::format("node {} is unreachable: {}", endpoint, why));
}

Failure shutting_down() {
  return make_failure<RuntimeError>(RuntimeErrorKind::kShutdown, "the node is shutting down");
}

}  // namespace

// ---------------------------------------------------------------- RemoteLink

RemoteLink::RemoteLink(NodeCore& node, TransportConfig config)
    : node_(node), transport_(std::make_unique<Transport>(std::move(config), *this)) {}

RemoteLink::~RemoteLink() { stop(); }

void RemoteLink::stop() {
  std::unordered_map<std::uint64_t, Outstanding> failed;
  {
    std::lock_guard lock(mutex_);
    if (stopped_) return;
    stopped_ = true;
    failed.swap(outstanding_);
  }
  for (auto& [correlation, outstanding] : failed) outstanding.promise->fail(shutting_down());
  transport_->stop();
  congested_.clear();
}

Envelope RemoteLink::envelope(EnvelopeKind kind) const {
  Envelope e;
  e.kind = kind;
  e.sender_node = node_.node_id().value;
  e.sender_endpoint = transport_->endpoint();
  return e;
}

Future<Value> RemoteLink::request(Transport::Peer& peer, Envelope envelope, std::chrono::milliseconds timeout,
                                  std::string operation) {
  if (peer.state() == Transport::PeerState::kDown) {
    return Future<Value>::ready(unreachable(peer.endpoint(), "its connection is down"));
  }
  auto promise = std::make_shared<Promise<Value>>();
  auto future = promise->future();
  std::uint64_t correlation = next_correlation_.fetch_add(1, std::memory_order_relaxed);
  {
    std::lock_guard lock(mutex_);
    if (stopped_) return Future<Value>::ready(shutting_down());
    outstanding_.emplace(correlation, Outstanding{promise, peer.endpoint()});
  }
  // The timer finds nothing to do if the reply came first; a reply that comes later finds no
  // outstanding request and is dropped.
  node_.timers().schedule(Clock::now() + timeout, [this, correlation, operation = std::move(operation),
                                                   ms = timeout.count()] {
    complete(correlation, make_failure<TimeoutError>(operation, ms));
  });
  envelope.correlation = correlation;
  envelope.deadline_ms = static_cast<std::uint32_t>(
      std::min<std::int64_t>(timeout.count(), std::numeric_limits<std::uint32_t>::max()));
  if (!transport_->send(peer, envelope)) complete(correlation, unreachable(peer.endpoint(), "cannot send to it"));
  return future;
}

void RemoteLink::tell(Transport::Peer& peer, Envelope envelope, std::string_view target) {
  if (!transport_->send(peer, envelope)) {
    node_.dead_letter(target, fmt::format("node {} is unreachable", peer.endpoint()));
  }
}

bool RemoteLink::complete(std::uint64_t correlation, Result<Value> result) {
  std::shared_ptr<Promise<Value>> promise;
  {
    std::lock_guard lock(mutex_);
    auto it = outstanding_.find(correlation);
    if (it == outstanding_.end()) return false;
    promise = std::move(it->second.promise);
    outstanding_.erase(it);
  }
  promise->complete(std::move(result));
  return true;
}

Future<AnyRef> RemoteLink::resolve(const std::string& endpoint, const std::string& name,
                                   std::chrono::milliseconds timeout) {
  auto peer = transport_->peer(endpoint);
  Envelope e = envelope(EnvelopeKind::kResolve);
  e.target_name = name;
  auto reply = request(*peer, std::move(e), timeout, fmt::format("resolve '{}' at {}", name, endpoint));
  auto typed = std::make_shared<Promise<AnyRef>>();
  auto future = typed->future();
  reply.then([typed, peer, name, node = node_.shared_from_this()](Result<Value> r) {
    if (!r.ok()) {
      typed->fail(r.failure());
      return;
    }
    try {
      const Value& v = r.value();
      auto remote = std::make_shared<RemoteActor>(node, peer, v.find("address")->as_actor(), name,
                                                  v.find("class")->as_text());
      typed->set_value(AnyRef(std::move(remote)));
    } catch (const std::exception& bad) {
      typed->fail(make_failure<RuntimeError>(RuntimeErrorKind::kProtocol,
                                             fmt::format("unreadable resolve reply from {}: {}", peer->endpoint(), bad.what())));
    }
  });
  return future;
}

// ---- inbound (I/O thread)

bool RemoteLink::on_envelope(Envelope&& envelope) {
  switch (envelope.kind) {
    case EnvelopeKind::kAsk:
    case EnvelopeKind::kTell: return on_call(std::move(envelope));
    case EnvelopeKind::kReply: on_reply(std::move(envelope)); return false;
    case EnvelopeKind::kResolve: on_resolve(std::move(envelope)); return false;
    default:
      reply(envelope, make_failure<RuntimeError>(
                          RuntimeErrorKind::kProtocol,
                          fmt::format("node {} does not accept '{}' envelopes", transport_->endpoint(),
                                      to_string(envelope.kind))));
      return false;
  }
}

std::shared_ptr<ActorCell> RemoteLink::find_target(const Envelope& e, std::string& why) {
  std::shared_ptr<ActorCell> cell;
  if (e.target_id != 0) {
    if (e.target_node != 0 && e.target_node != node_.node_id().value) {
      why = fmt::format("actor #{} belonged to an earlier run of node {}", e.target_id, transport_->endpoint());
      return nullptr;
    }
    cell = node_.registry().find(ActorId{e.target_id});
    if (!cell) why = fmt::format("no actor #{} on node {}", e.target_id, transport_->endpoint());
  } else if (!e.target_name.empty()) {
    cell = node_.registry().find(e.target_name);
    if (!cell) why = fmt::format("no actor is named '{}' on node {}", e.target_name, transport_->endpoint());
  } else {
    why = "the message names no target actor";
  }
  return cell;
}

bool RemoteLink::on_call(Envelope&& e) {
  std::string why;
  auto cell = find_target(e, why);
  bool ask = e.kind == EnvelopeKind::kAsk;
  if (!cell) {
    if (ask) {
      reply(e, make_failure<RuntimeError>(RuntimeErrorKind::kActorNotFound, why));
    } else {
      node_.dead_letter(e.target_name.empty() ? fmt::format("actor #{}", e.target_id) : e.target_name, why);
    }
    return false;
  }
  if (!e.payload.is_null() && !e.payload.is_list()) {
    if (ask) {
      reply(e, make_failure<RuntimeError>(RuntimeErrorKind::kBadArguments,
                                          fmt::format("arguments must be a list, got {}", e.payload.debug_string())));
    }
    return false;
  }
  std::vector<Value> args = e.payload.is_null() ? std::vector<Value>{} : std::move(e.payload.as_list());
  DynamicReply answer;
  if (ask) {
    answer = DynamicReply(DynamicReply::Responder(
        [this, peer = transport_->peer(e.sender_endpoint), correlation = e.correlation](Result<Value> r) {
          send_reply(*peer, correlation, std::move(r));
        }));
  }
  cell->post(new DynamicCallMessage(std::move(e.method), std::move(args), std::move(answer)), false);
  if (cell->over_capacity()) {
    congested_.push_back(std::move(cell));
    return true;
  }
  return false;
}

void RemoteLink::on_reply(Envelope&& e) {
  if (e.error.is_null()) {
    complete(e.correlation, Result<Value>(std::move(e.payload)));
  } else {
    complete(e.correlation, failure_from_value(e.error));
  }
}

void RemoteLink::on_resolve(Envelope&& e) {
  std::string why;
  auto cell = find_target(e, why);
  if (!cell) {
    reply(e, make_failure<RuntimeError>(RuntimeErrorKind::kActorNotFound, why));
    return;
  }
  reply(e, Result<Value>(Value::Map{{"address", Value(cell->address())},
                                    {"class", std::string(cell->methods().class_name())}}));
}

void RemoteLink::reply(const Envelope& request, Result<Value> result) {
  if (request.sender_endpoint.empty()) return;  // nowhere to answer
  send_reply(*transport_->peer(request.sender_endpoint), request.correlation, std::move(result));
}

void RemoteLink::send_reply(Transport::Peer& peer, std::uint64_t correlation, Result<Value> result) {
  Envelope e = envelope(EnvelopeKind::kReply);
  e.correlation = correlation;
  if (result.ok()) {
    e.payload = std::move(result.value());
  } else {
    e.error = failure_to_value(result.failure());
  }
  transport_->send(peer, e);  // a reply to a node that went away is lost with it
}

bool RemoteLink::still_congested() {
  std::erase_if(congested_, [](const std::shared_ptr<ActorCell>& cell) { return !cell->over_half_capacity(); });
  return !congested_.empty();
}

void RemoteLink::on_peer_down(const std::string& endpoint, const std::string& why, std::size_t dropped) {
  log().warn("[{}] {}", node_.config().name, why);
  std::vector<std::shared_ptr<Promise<Value>>> failed;
  {
    std::lock_guard lock(mutex_);
    for (auto it = outstanding_.begin(); it != outstanding_.end();) {
      if (it->second.peer == endpoint) {
        failed.push_back(std::move(it->second.promise));
        it = outstanding_.erase(it);
      } else {
        ++it;
      }
    }
  }
  for (auto& promise : failed) promise->fail(unreachable(endpoint, why));
  for (std::size_t i = 0; i < dropped; ++i) node_.dead_letter(endpoint, why);
}

// ---------------------------------------------------------------- RemoteActor

RemoteActor::RemoteActor(std::shared_ptr<NodeCore> node, std::shared_ptr<Transport::Peer> peer,
                         ActorAddress address, std::string name, std::string class_name)
    : node_(std::move(node)),
      peer_(std::move(peer)),
      address_(std::move(address)),
      name_(std::move(name)),
      class_name_(std::move(class_name)) {}

std::string RemoteActor::describe() const {
  std::string who = address_.actor.value != 0 ? fmt::format("#{}", address_.actor.value) : std::string("?");
  if (!class_name_.empty()) who = class_name_ + " " + who;
  if (name_.empty()) return fmt::format("actor {} at {}", who, peer_->endpoint());
  return fmt::format("actor '{}' ({}) at {}", name_, who, peer_->endpoint());
}

std::chrono::milliseconds RemoteActor::default_timeout() const { return node_->default_ask_timeout(); }

Envelope RemoteActor::call(EnvelopeKind kind, std::string_view method, std::vector<Value> args) const {
  Envelope e = node_->remote()->envelope(kind);
  if (address_.actor.value != 0) {
    e.target_id = address_.actor.value;
    e.target_node = address_.node.value;
  } else {
    e.target_name = name_;
  }
  e.method = std::string(method);
  e.payload = Value(std::move(args));
  return e;
}

Future<Value> RemoteActor::ask(std::string_view method, std::vector<Value> args,
                               std::chrono::milliseconds timeout) const {
  RemoteLink* link = node_->remote();
  if (link == nullptr) return Future<Value>::ready(shutting_down());
  return link->request(*peer_, call(EnvelopeKind::kAsk, method, std::move(args)), timeout,
                       fmt::format("ask {}.{}", describe(), method));
}

void RemoteActor::tell(std::string_view method, std::vector<Value> args) const {
  RemoteLink* link = node_->remote();
  if (link == nullptr) return;
  link->tell(*peer_, call(EnvelopeKind::kTell, method, std::move(args)), describe());
}

}  // namespace pulsing::detail
