#include "runtime/remote.hpp"

#include <algorithm>
#include <limits>
#include <random>

#include <fmt/format.h>

#include "common/thread_role.hpp"
#include "messaging/zmq_transport.hpp"
#include "runtime/actor_ref.hpp"
#include "runtime/calls.hpp"
#include "common/log.hpp"
#include "runtime/node_core.hpp"

namespace pulsing::detail {

namespace {

Failure unreachable(const std::string& endpoint, std::string_view why) {
  return make_failure<RuntimeError>(RuntimeErrorKind::kNodeUnreachable,
                                    fmt::format("node {} is unreachable: {}", endpoint, why));
}

// Why a request-direction envelope for `endpoint` was not sent, if it was not.
std::optional<Failure> not_sent(SendResult result, const std::string& endpoint) {
  switch (result) {
    case SendResult::kDown: return unreachable(endpoint, "cannot send to it");
    case SendResult::kFull:
      return make_failure<RuntimeError>(
          RuntimeErrorKind::kOverloaded,
          fmt::format("too much is queued for node {} already (TransportConfig::max_pending_bytes): it does not keep up",
                      endpoint));
    default: return std::nullopt;
  }
}

Failure shutting_down() {
  return make_failure<RuntimeError>(RuntimeErrorKind::kShutdown, "the node is shutting down");
}

// A watch waits for as long as the actor lives; its deadline is only a bound on memory.
constexpr auto kWatchTimeout = std::chrono::hours(24 * 365);

}  // namespace

// ---------------------------------------------------------------- RemoteAnswer

RemoteAnswer::RemoteAnswer(Answers& answers, std::shared_ptr<Transport::Peer> asker, std::uint64_t correlation,
                           std::shared_ptr<ActorCell> target)
    : answers_(&answers), asker_(std::move(asker)), correlation_(correlation), target_(std::move(target)) {}

RemoteAnswer::RemoteAnswer(RemoteAnswer&& other) noexcept
    : answers_(other.answers_),
      asker_(std::move(other.asker_)),
      correlation_(other.correlation_),
      target_(std::move(other.target_)) {}

RemoteAnswer& RemoteAnswer::operator=(RemoteAnswer&& other) noexcept {
  if (this != &other) {
    drop();
    answers_ = other.answers_;
    asker_ = std::move(other.asker_);
    correlation_ = other.correlation_;
    target_ = std::move(other.target_);
  }
  return *this;
}

RemoteAnswer::~RemoteAnswer() { drop(); }

void RemoteAnswer::drop() {
  if (!asker_) return;
  send(make_failure<RuntimeError>(RuntimeErrorKind::kActorStopped, target_->describe() + " stopped before answering"));
}

void RemoteAnswer::send(Result<Value> result) {
  auto asker = std::move(asker_);
  answers_->send_reply(*asker, correlation_, std::move(result));
}

void RemoteAnswer::send(const PayloadWriter& result) {
  auto asker = std::move(asker_);
  answers_->send_reply(*asker, correlation_, result);
}

// ---------------------------------------------------------------- RemoteLink

RemoteLink::RemoteLink(NodeCore& node, TransportConfig config, const TransportFactory& make_transport)
    : node_(node),
      deadline_timer_(node.timers(), *this),
      streams_(node.node_id().value, node.config().max_streams_per_caller),
      answers_(node.node_id().value),
      inbound_(node, answers_, streams_),
      control_(node, answers_),
      transport_(make_transport ? make_transport(std::move(config), *this)
                                : std::make_unique<ZmqTransport>(std::move(config), *this)) {
  streams_.attach(*transport_);
  answers_.attach(*transport_);
  inbound_.attach(*transport_);
  control_.attach(*transport_);
}

RemoteLink::~RemoteLink() { stop(); }

void RemoteLink::stop() {
  if (stopped_.exchange(true)) return;
  for (auto& request : requests_.close()) request.reply->deliver(shutting_down());
  streams_.close(shutting_down());
  inbound_.stop();
  transport_->stop();
  congested_.clear();  // nobody waits for a notice that cannot come any more
}

void RemoteLink::request(Transport::Peer& peer, Envelope envelope, std::chrono::milliseconds timeout,
                         std::shared_ptr<ReplySlot> reply, Operation operation) {
  if (peer.state() == Transport::PeerState::kDown) {
    reply->deliver(unreachable(peer.endpoint(), "its connection is down"));
    return;
  }
  std::uint64_t correlation = next_correlation_.fetch_add(1, std::memory_order_relaxed);
  auto deadline = Clock::now() + timeout;
  if (auto refused = requests_.add(correlation, {std::move(reply), &peer, timeout, std::move(operation)}, deadline)) {
    refused->reply->deliver(shutting_down());
    return;
  }
  if (envelope.kind == EnvelopeKind::kAsk) NodeMetrics::bump(node_.metrics().asks_out);
  if (envelope.kind == EnvelopeKind::kStreamOpen) NodeMetrics::bump(node_.metrics().streams_out);
  envelope.correlation = correlation;
  envelope.deadline_ms = static_cast<std::uint32_t>(
      std::min<std::int64_t>(timeout.count(), std::numeric_limits<std::uint32_t>::max()));
  if (auto failure = not_sent(send_request(peer, envelope, deadline), peer.endpoint())) complete(correlation, *failure);
}

SendResult RemoteLink::send_request(Transport::Peer& peer, const Envelope& envelope, Clock::time_point deadline) {
  // Only a user's thread waits for room; the runtime's threads never do (common/thread_role.hpp).
  SendResult result = transport_->send(peer, envelope, is_runtime_thread() ? Clock::time_point{} : deadline);
  if (result == SendResult::kCongested) {
    // An actor is muted until the outbox drains (a thread of the runtime that is no actor just
    // goes on: its sends are few).
    auto muted = std::make_shared<MuteList>();
    if (ActorCell::mute_current(*muted) == ActorCell::Mute::kMuted) {
      transport_->notify_room(peer, [muted] { muted->release(); });
    }
  }
  return result;
}

void RemoteLink::DeadlineTimer::set(Clock::time_point when) {
  if (timer_) timers_.cancel(*timer_);
  timer_ = timers_.schedule(when, [link = &link_] { link->expire_requests(); });
}

void RemoteLink::DeadlineTimer::clear() {
  if (timer_) timers_.cancel(*timer_);
  timer_.reset();
}

void RemoteLink::expire_requests() {
  std::vector<PendingRequests::Request> expired = requests_.expire(Clock::now());
  // A reply that comes after this finds no outstanding request and is dropped.
  node_.metrics().ask_timeouts.fetch_add(expired.size(), std::memory_order_relaxed);
  for (auto& request : expired) {
    const Operation& op = request.operation;
    std::string what = op.actor ? fmt::format("ask {}.{}", op.actor->describe(), op.what) : op.what;
    request.reply->deliver(make_failure<TimeoutError>(what, request.timeout.count()));
  }
}

std::optional<Failure> RemoteLink::tell(Transport::Peer& peer, const Envelope& envelope) {
  if (envelope.kind == EnvelopeKind::kTell) NodeMetrics::bump(node_.metrics().tells_out);
  return not_sent(send_request(peer, envelope, Clock::now() + node_.default_ask_timeout()), peer.endpoint());
}

bool RemoteLink::complete(std::uint64_t correlation, Result<Value> result) {
  auto request = requests_.take(correlation);
  if (!request) return false;
  request->reply->deliver(std::move(result));
  return true;
}

Future<AnyRef> RemoteLink::resolve(const std::string& endpoint, const std::string& name,
                                   std::chrono::milliseconds timeout) {
  auto peer = transport_->peer(endpoint);
  Envelope e = envelope(EnvelopeKind::kResolve);
  e.target_name = name;
  auto [slot, reply] = make_value_reply();
  request(*peer, std::move(e), timeout, std::move(slot), {nullptr, fmt::format("resolve '{}' at {}", name, endpoint)});
  auto typed = std::make_shared<Promise<AnyRef>>();
  auto future = typed->future();
  reply.then([typed, peer, name, node = node_.shared_from_this()](Result<Value> r) {
    if (!r.ok()) {
      typed->fail(r.failure());
      return;
    }
    try {
      const Value& v = r.value();
      const Value* address = v.find("address");
      const Value* cls = v.find("class");
      if (address == nullptr || cls == nullptr) throw ConversionError("no address or class in it");
      auto remote = std::make_shared<RemoteActor>(node, peer, address->as_actor(), name, cls->as_text());
      typed->set_value(AnyRef(std::move(remote)));
    } catch (const std::exception& bad) {
      typed->fail(make_failure<RuntimeError>(RuntimeErrorKind::kProtocol,
                                             fmt::format("unreadable resolve reply from {}: {}", peer->endpoint(), bad.what())));
    }
  });
  return future;
}

std::uint64_t RemoteLink::random_correlation_start() {
  std::random_device entropy;
  // Below 2^63 (room to count up) and never 0.
  return ((std::uint64_t{entropy()} << 32 | entropy()) >> 1) | 1;
}

// ---- inbound (I/O thread)

void RemoteLink::on_envelope(const EnvelopeView& envelope) {
  if (envelope.role != CallerRole::kNode && !node_.access().permits(envelope)) {
    inbound_.flush();  // what came before it keeps its place
    refuse_access(envelope);
    return;
  }
  switch (envelope.kind) {
    case EnvelopeKind::kAsk:
    case EnvelopeKind::kTell:
    case EnvelopeKind::kStreamOpen: return inbound_.on_call(envelope);
    default: break;
  }
  // Only consecutive calls to one actor are delivered together: nothing else overtakes them.
  inbound_.flush();
  switch (envelope.kind) {
    case EnvelopeKind::kAsk:
    case EnvelopeKind::kTell:
    case EnvelopeKind::kStreamOpen: break;
    case EnvelopeKind::kReply: on_reply(envelope); break;
    case EnvelopeKind::kResolve:
    case EnvelopeKind::kWatch:
    case EnvelopeKind::kStop:
    case EnvelopeKind::kPing:
    case EnvelopeKind::kRegistry:
    case EnvelopeKind::kLookup: control_.on_request(envelope); break;
    case EnvelopeKind::kStreamItem:
    case EnvelopeKind::kStreamEnd:
    case EnvelopeKind::kStreamCredit:
    case EnvelopeKind::kStreamCancel: streams_.on_envelope(envelope); break;
    case EnvelopeKind::kFlow: on_flow(envelope); break;
  }
}

void RemoteLink::refuse_access(const EnvelopeView& e) {
  NodeMetrics& metrics = node_.metrics();
  NodeMetrics::bump(e.role == CallerRole::kObserver ? metrics.not_permitted_observer : metrics.not_permitted_operator);
  if (!expects_reply(e.kind) || e.sender_endpoint.empty()) return;  // dropped, and counted
  Failure failure = make_failure<RuntimeError>(
      RuntimeErrorKind::kNotPermitted,
      fmt::format("a client with an {} key may not send {}{}{} to node {}", to_string(e.role), to_string(e.kind),
                  e.method.empty() ? "" : " ", e.method, node_.endpoint()));
  if (e.kind == EnvelopeKind::kStreamOpen) {
    answers_.end_stream(e, failure);
  } else {
    answers_.reply(e, std::move(failure));
  }
}

void RemoteLink::on_flow(const EnvelopeView& e) {
  congested_.on_notice(std::string(e.sender_endpoint), FlowTarget::of(e.target_id, e.target_name), e.credit != 0);
}

void RemoteLink::on_reply(const EnvelopeView& e) {
  // Only the node asked answers: a reply that came on another connection is dropped and counted,
  // and the request waits on for its own.
  bool foreign = false;
  auto request = requests_.take_answer(e.correlation, e.sender_endpoint, &foreign);
  if (foreign) NodeMetrics::bump(node_.metrics().foreign_replies);
  if (!request) return;
  const DecodeLimits& limits = transport_->config().limits;
  try {
    request->reply->deliver(e.has_error ? failure_from_value(e.error(limits)) : Result<Value>(e.payload(limits)));
  } catch (const DecodeError& bad) {
    request->reply->deliver(make_failure<RuntimeError>(
        RuntimeErrorKind::kProtocol, fmt::format("an unreadable reply from {}: {}", e.sender_endpoint, bad.what())));
  }
}

Future<Value> RemoteLink::ping(const std::string& endpoint, std::chrono::milliseconds timeout) {
  auto [slot, reply] = make_value_reply();
  request(*transport_->peer(endpoint), envelope(EnvelopeKind::kPing), timeout, std::move(slot),
          {nullptr, "ping " + endpoint});
  return reply;
}

void RemoteLink::watch(Transport::Peer& peer, Envelope watch, std::shared_ptr<ReplySlot> slot, Operation operation) {
  watching_.add(peer.endpoint(), watch.target_id, std::move(slot), [&](std::shared_ptr<ReplySlot> fan_out) {
    request(peer, std::move(watch), kWatchTimeout, std::move(fan_out), std::move(operation));
  });
}

void RemoteLink::open_stream(Transport::Peer& peer, Envelope open, std::uint32_t window, InboundStream inbound,
                             StreamReaderEvents& events) {
  std::uint64_t correlation = next_correlation_.fetch_add(1, std::memory_order_relaxed);
  if (!streams_.read(correlation, peer.endpoint(), window, inbound)) {
    inbound.finish(shutting_down());
    return;
  }
  // Credit goes back in batches of half a window; both callbacks may outlive the node.
  auto consumed = std::make_shared<std::atomic<std::uint32_t>>(0);
  std::uint32_t half = std::max<std::uint32_t>(1, window / 2);
  auto node = node_.weak_from_this();
  events.set_reader_events(
      [node, correlation, consumed, half](std::size_t n) {
        if (consumed->fetch_add(static_cast<std::uint32_t>(n)) + n < half) return;
        std::uint32_t grant = consumed->exchange(0);
        auto core = node.lock();
        if (grant > 0 && core && core->remote()) core->remote()->streams_.grant(correlation, grant);
      },
      [node, correlation] {
        auto core = node.lock();
        if (core && core->remote()) core->remote()->streams_.cancel_reading(correlation);
      });
  open.kind = EnvelopeKind::kStreamOpen;
  open.correlation = correlation;
  open.credit = window;
  if (auto failure = not_sent(send_request(peer, open, Clock::now() + node_.default_ask_timeout()), peer.endpoint())) {
    streams_.end_reading(correlation, std::move(failure));
  }
}

namespace {
// How long the I/O thread may spend running actors' turns between two I/O passes.
constexpr auto kGuestBudget = std::chrono::microseconds(200);
}  // namespace

void RemoteLink::on_io_thread_start() {
  node_.scheduler().enter_guest();
  set_current_wait_pump(this);
}

void RemoteLink::on_io_thread_end() {
  set_current_wait_pump(nullptr);
  node_.scheduler().leave_guest();
}

void RemoteLink::after_io_pass() { node_.scheduler().run_guest(kGuestBudget); }

bool RemoteLink::pump() { return transport_->pump(std::chrono::milliseconds(1)); }

void RemoteLink::on_peer_down(const std::string& endpoint, const std::string& why, std::size_t dropped) {
  log().warn("[{}] {}", node_.config().name, why);
  congested_.peer_gone(endpoint);
  fail_peer(endpoint, unreachable(endpoint, why));
  for (std::size_t i = 0; i < dropped; ++i) node_.dead_letter(endpoint, why);
}

void RemoteLink::member_dead(const std::string& endpoint) {
  control_.watched().node_dead(endpoint);
  congested_.peer_gone(endpoint);
  transport_->close_peer(endpoint, "membership declared it dead");
  node_.timers().schedule(Clock::now(), [this, endpoint] {
    fail_peer(endpoint, unreachable(endpoint, "membership declared it dead"));
  });
}

void RemoteLink::fail_peer(const std::string& endpoint, const Failure& failure) {
  for (auto& request : requests_.take_peer(endpoint)) request.reply->deliver(failure);
  streams_.peer_lost(endpoint, failure);
}

void RemoteLink::on_peer_up(const std::string& endpoint) {
  if (auto* names = node_.cluster_registry()) names->reachable(endpoint);
}

void RemoteLink::on_caller_gone(const std::string& endpoint) {
  answers_.caller_gone(endpoint);
  inbound_.caller_gone(endpoint);
  control_.watched().caller_gone(endpoint);
  streams_.caller_gone(endpoint);
}

// ---------------------------------------------------------------- RemoteActor

RemoteActor::RemoteActor(std::shared_ptr<NodeCore> node, std::shared_ptr<Transport::Peer> peer,
                         ActorAddress address, std::string name, std::string class_name)
    : node_(std::move(node)),
      peer_(std::move(peer)),
      address_(std::move(address)),
      name_(std::move(name)),
      class_name_(std::move(class_name)) {}

std::shared_ptr<RemoteActor> RemoteActor::by_name(std::shared_ptr<NodeCore> node, const std::string& endpoint,
                                                  std::string name, std::string class_name) {
  auto peer = node->remote()->peer(endpoint);
  return std::make_shared<RemoteActor>(std::move(node), std::move(peer), ActorAddress{NodeId{0}, endpoint, ActorId{0}},
                                       std::move(name), std::move(class_name));
}

std::string RemoteActor::describe() const {
  std::string who = address_.actor.value != 0 ? fmt::format("#{}", address_.actor.value) : std::string("?");
  if (!class_name_.empty()) who = class_name_ + " " + who;
  if (name_.empty()) return fmt::format("actor {} at {}", who, peer_->endpoint());
  return fmt::format("actor '{}' ({}) at {}", name_, who, peer_->endpoint());
}

std::chrono::milliseconds RemoteActor::default_timeout() const { return node_->default_ask_timeout(); }

Envelope RemoteActor::to_target(EnvelopeKind kind) const {
  Envelope e = node_->remote()->envelope(kind);
  if (address_.actor.value != 0) {
    e.target_id = address_.actor.value;
    e.target_node = address_.node.value;
  } else {
    e.target_name = name_;
  }
  return e;
}

void ValueArgs::write(wire::Value::Builder payload) const {
  auto list = payload.initList(static_cast<unsigned>(args_.size()));
  for (unsigned i = 0; i < args_.size(); ++i) write_value(list[i], args_[i]);
}

Envelope RemoteActor::call(EnvelopeKind kind, std::string_view method, const PayloadWriter& args) const {
  Envelope e = to_target(kind);
  e.method = std::string(method);
  e.payload_writer = &args;
  return e;
}

void RemoteActor::ask(std::string_view method, const PayloadWriter& args, std::chrono::milliseconds timeout,
                      std::shared_ptr<ReplySlot> reply) const {
  RemoteLink* link = node_->remote();
  if (link == nullptr) {
    reply->deliver(shutting_down());
    return;
  }
  link->request(*peer_, call(EnvelopeKind::kAsk, method, args), timeout, std::move(reply),
                {shared_from_this(), std::string(method)});
  // An actor is muted as for a tell; a thread does not wait: its ask paces itself (the reply
  // comes once the target took it, or says it was refused).
  pace(*link, Clock::now());
}

void RemoteActor::pace(RemoteLink& link, Clock::time_point deadline) const {
  // Named from what the envelope carries (see to_target); CongestedTargets applies FlowTarget::of.
  link.pace(*peer_, address_.actor.value, name_, deadline);
}

Future<StopNotice> RemoteActor::watch() const {
  auto [slot, future] = make_reply<StopNotice>([](Value&& v) { return stop_notice_from_value(v); }, "watch");
  RemoteLink* link = node_->remote();
  if (link == nullptr) {
    slot->deliver(shutting_down());
    return future;
  }
  link->watch(*peer_, to_target(EnvelopeKind::kWatch), std::move(slot), {shared_from_this(), "watch"});
  return future;
}

void RemoteActor::stop() const {
  RemoteLink* link = node_->remote();
  if (link == nullptr) {
    node_->dead_letter(describe(), "cannot send a stop request: the node is shutting down");
  } else if (auto failure = link->tell(*peer_, to_target(EnvelopeKind::kStop))) {
    node_->dead_letter(describe(), fmt::format("cannot send a stop request: {}", failure->describe()));
  }
}

void RemoteActor::open_stream(std::string_view method, const PayloadWriter& args, std::uint32_t window,
                              InboundStream inbound, StreamReaderEvents& events) const {
  RemoteLink* link = node_->remote();
  if (link == nullptr) {
    inbound.finish(shutting_down());
    return;
  }
  link->open_stream(*peer_, call(EnvelopeKind::kStreamOpen, method, args), window, std::move(inbound),
                    events);
  pace(*link, Clock::now());  // as an ask
}

void RemoteActor::tell(std::string_view method, const PayloadWriter& args) const {
  RemoteLink* link = node_->remote();
  if (link == nullptr) return;
  if (auto failure = link->tell(*peer_, call(EnvelopeKind::kTell, method, args))) {
    node_->dead_letter(describe(), failure->describe());
    return;
  }
  pace(*link, Clock::now() + default_timeout());
}

}  // namespace pulsing::detail
