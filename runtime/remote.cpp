#include "runtime/remote.hpp"

#include <algorithm>
#include <limits>

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

// What an envelope is for, as a dead letter names it: its name, or "actor #<id>".
std::string target_of(const EnvelopeView& e) {
  return e.target_name.empty() ? fmt::format("actor #{}", e.target_id) : std::string(e.target_name);
}

// The target of a call, or of a flow notice about it, as flow control names it (RemoteActor::pace
// names it from the same id and name).
FlowTarget flow_target_of(const EnvelopeView& e) { return FlowTarget::of(e.target_id, e.target_name); }

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

// A stop notice on the wire: {address, name, reason, error (a failure, or null)}.
Value notice_to_value(const StopNotice& notice) {
  return Value::Map{{"address", Value(notice.address)},
                    {"name", notice.name},
                    {"reason", std::string(to_string(notice.reason))},
                    {"error", notice.error ? failure_to_value(*notice.error) : Value()}};
}

// Throws (ConversionError, std::invalid_argument) on a value of another shape.
StopNotice notice_from_value(const Value& v) {
  auto field = [&](std::string_view key) -> const Value& {
    const Value* found = v.find(key);
    if (found == nullptr) throw std::invalid_argument(fmt::format("no '{}'", key));
    return *found;
  };
  StopNotice notice{field("address").as_actor(), field("name").as_text()};
  const std::string& reason = field("reason").as_text();
  if (reason == to_string(StopReason::kStopped)) {
    notice.reason = StopReason::kStopped;
  } else if (reason == to_string(StopReason::kCrashed)) {
    notice.reason = StopReason::kCrashed;
  } else if (reason == to_string(StopReason::kShutdown)) {
    notice.reason = StopReason::kShutdown;
  } else {
    throw std::invalid_argument(fmt::format("unknown stop reason '{}'", reason));
  }
  if (!field("error").is_null()) notice.error = failure_from_value(field("error"));
  return notice;
}


}  // namespace

// ---------------------------------------------------------------- RemoteAnswer

RemoteAnswer::RemoteAnswer(RemoteLink& link, std::shared_ptr<Transport::Peer> asker, std::uint64_t correlation,
                           std::shared_ptr<ActorCell> target)
    : link_(&link), asker_(std::move(asker)), correlation_(correlation), target_(std::move(target)) {}

RemoteAnswer::RemoteAnswer(RemoteAnswer&& other) noexcept
    : link_(other.link_),
      asker_(std::move(other.asker_)),
      correlation_(other.correlation_),
      target_(std::move(other.target_)) {}

RemoteAnswer& RemoteAnswer::operator=(RemoteAnswer&& other) noexcept {
  if (this != &other) {
    drop();
    link_ = other.link_;
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
  link_->send_reply(*asker, correlation_, std::move(result));
}

void RemoteAnswer::send(const PayloadWriter& result) {
  auto asker = std::move(asker_);
  Envelope e = link_->envelope(EnvelopeKind::kReply);
  e.correlation = correlation_;
  e.payload_writer = &result;
  link_->transport_->send(*asker, e);  // a reply to a node that went away is lost with it
}

// ---------------------------------------------------------------- RemoteLink

RemoteLink::RemoteLink(NodeCore& node, TransportConfig config, const TransportFactory& make_transport)
    : node_(node),
      deadline_timer_(node.timers(), *this),
      streams_(node.node_id().value),
      // A reply to a watcher goes through the node: the actor may outlive this link (a node that
      // could not stop it in time).
      watched_(std::make_shared<WatchedActors>(
          node.config().max_watches_per_caller,
          [node = node.weak_from_this()](Transport::Peer& caller, std::uint64_t correlation, Result<Value> notice) {
            auto core = node.lock();
            if (RemoteLink* link = core ? core->remote() : nullptr) link->send_reply(caller, correlation, std::move(notice));
          },
          [](Result<StopNotice> r) { return r.ok() ? Result<Value>(notice_to_value(r.value())) : Result<Value>(r.failure()); })),
      transport_(make_transport ? make_transport(std::move(config), *this)
                                : std::make_unique<ZmqTransport>(std::move(config), *this)) {
  streams_.attach(*transport_);
  notice_sender_->transport = transport_.get();
  notice_sender_->node_id = node.node_id().value;
}

RemoteLink::~RemoteLink() { stop(); }

void RemoteLink::stop() {
  if (stopped_.exchange(true)) return;
  for (auto& request : requests_.close()) request.reply->deliver(shutting_down());
  streams_.close(shutting_down());
  {
    std::lock_guard lock(notice_sender_->mutex);
    notice_sender_->transport = nullptr;
  }
  transport_->stop();
  congested_.clear();  // nobody waits for a notice that cannot come any more
}

Envelope RemoteLink::envelope(EnvelopeKind kind) const {
  Envelope e;
  e.kind = kind;
  e.sender_node = node_.node_id().value;  // the transport stamps its endpoint as the sender's
  return e;
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
    if (ActorCell::mute_current(*muted)) transport_->notify_room(peer, [muted] { muted->release(); });
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

void RemoteLink::on_envelope(const EnvelopeView& envelope) {
  switch (envelope.kind) {
    case EnvelopeKind::kAsk:
    case EnvelopeKind::kTell:
    case EnvelopeKind::kStreamOpen: return on_call(envelope);
    default: break;
  }
  // Only consecutive calls to one actor are delivered together: nothing else overtakes them.
  post_held();
  switch (envelope.kind) {
    case EnvelopeKind::kAsk:
    case EnvelopeKind::kTell:
    case EnvelopeKind::kStreamOpen: break;
    case EnvelopeKind::kReply: on_reply(envelope); break;
    case EnvelopeKind::kResolve: on_resolve(envelope); break;
    case EnvelopeKind::kWatch: on_watch(envelope); break;
    case EnvelopeKind::kStop: on_stop(envelope); break;
    case EnvelopeKind::kPing: on_ping(envelope); break;
    case EnvelopeKind::kRegistry: on_registry(envelope); break;
    case EnvelopeKind::kLookup: on_lookup(envelope); break;
    case EnvelopeKind::kStreamItem:
    case EnvelopeKind::kStreamEnd:
    case EnvelopeKind::kStreamCredit:
    case EnvelopeKind::kStreamCancel: streams_.on_envelope(envelope); break;
    case EnvelopeKind::kFlow: on_flow(envelope); break;
  }
}

void RemoteLink::after_frame() { post_held(); }

void RemoteLink::post_held() {
  held_.arena.close();
  if (held_.chain.empty()) return;
  auto cell = std::move(held_.cell);
  auto caller = std::move(held_.caller);
  // Tells only: nobody waits for them, so a pool worker takes them while this thread reads on;
  // a run with asks in it may be answered here at once (a guest turn).
  cell->post(held_.chain, !std::exchange(held_.awaited, false));
  if (caller && cell->over_capacity()) notice_congestion(*cell, caller, held_.target);
}

void RemoteLink::notice_congestion(ActorCell& cell, const std::shared_ptr<Transport::Peer>& caller,
                                   const FlowTarget& target) {
  NoticeKey key{caller.get(), target};
  auto it = notices_.find(key);
  if (it != notices_.end() && !it->second->released()) return;  // told already
  if (notices_.size() >= 4'096) std::erase_if(notices_, [](const auto& n) { return n.second->released(); });
  auto send = [sender = notice_sender_, caller, target](bool room) {
    Envelope e;
    e.kind = EnvelopeKind::kFlow;
    e.target_id = target.id;
    e.target_name = target.name;
    e.credit = room ? 1 : 0;
    std::lock_guard lock(sender->mutex);
    if (sender->transport == nullptr) return;
    e.sender_node = sender->node_id;
    sender->transport->send(*caller, e);
  };
  auto notice = std::make_shared<CongestionNotice>(send);
  notices_[key] = notice;
  send(false);
  cell.add_muted(std::move(notice));
}

void RemoteLink::on_flow(const EnvelopeView& e) {
  congested_.on_notice(std::string(e.sender_endpoint), flow_target_of(e), e.credit != 0);
}

std::shared_ptr<Transport::Peer> RemoteLink::sender_of(const EnvelopeView& e) {
  // Consecutive envelopes mostly come from one sender (a frame is one sender's batch).
  if (!last_sender_ || last_sender_->endpoint() != e.sender_endpoint) last_sender_ = transport_->caller(e.sender_endpoint);
  return last_sender_;
}

std::shared_ptr<ActorCell> RemoteLink::find_target(const EnvelopeView& e, std::string& why, bool& stopped) {
  std::shared_ptr<ActorCell> cell;
  stopped = false;
  if (e.target_id != 0) {
    if (e.target_node != 0 && e.target_node != node_.node_id().value) {
      why = fmt::format("actor #{} belonged to an earlier run of node {}", e.target_id, transport_->endpoint());
      return nullptr;
    }
    cell = node_.registry().find(ActorId{e.target_id});
    if (!cell) {
      // Ids are never reused within a node's run: an id issued before and gone now has stopped.
      stopped = e.target_id <= node_.last_actor_id().value;
      why = stopped ? fmt::format("actor #{} on node {} has stopped", e.target_id, transport_->endpoint())
                    : fmt::format("no actor #{} on node {}", e.target_id, transport_->endpoint());
    }
  } else if (!e.target_name.empty()) {
    cell = node_.registry().find(e.target_name);
    if (!cell) why = fmt::format("no actor is named '{}' on node {}", e.target_name, transport_->endpoint());
  } else {
    why = "the message names no target actor";
  }
  return cell;
}

namespace {

// A call from another node (ask, tell, stream start) on its way to an actor. It carries the
// envelope's own bytes, copied out of the frame next to it (in the memory of the run of calls it
// is posted with), and decodes them in the actor's turn: the I/O thread reads only the header,
// and what decoding allocates is freed by the thread that allocated it.
class WireCallMessage final : public Message {
 public:
  static WireCallMessage* create(const EnvelopeView& call, DynamicReply reply, const DecodeLimits& limits,
                                 RunArena& arena) {
    static_assert(sizeof(WireCallMessage) % alignof(std::uint64_t) == 0, "the bytes that follow stay aligned");
    void* memory = arena.allocate(sizeof(WireCallMessage) + call.bytes.size());
    // The method name is text inside the envelope's bytes: found again there at the same offset.
    auto method_at = static_cast<std::uint32_t>(reinterpret_cast<const std::byte*>(call.method.data()) - call.bytes.data());
    auto* message = new (memory) WireCallMessage(call.bytes.size(), method_at, static_cast<std::uint32_t>(call.method.size()),
                                                 std::move(reply), limits);
    std::memcpy(message->bytes(), call.bytes.data(), call.bytes.size());
    return message;
  }
  static void operator delete(void* memory) { RunArena::free(memory); }

  void run(ActorCell& cell) override {
    std::string_view method(reinterpret_cast<const char*>(bytes() + method_at_), method_size_);
    if (const MethodEntry* entry = find_method(cell, method, reply_)) {
      entry->invoke_wire(*entry, cell, {bytes(), size_}, limits_, std::move(reply_));
    }
  }
  void reject(ActorCell& cell, const Failure& why) override { reply_.reject(cell, why); }

 private:
  WireCallMessage(std::size_t size, std::uint32_t method_at, std::uint32_t method_size, DynamicReply reply,
                  const DecodeLimits& limits)
      : size_(size), method_at_(method_at), method_size_(method_size), reply_(std::move(reply)), limits_(limits) {}
  std::byte* bytes() { return reinterpret_cast<std::byte*>(this + 1); }

  const std::size_t size_;
  const std::uint32_t method_at_;  // the method's name: bytes [method_at_, method_at_ + method_size_)
  const std::uint32_t method_size_;
  DynamicReply reply_;
  const DecodeLimits limits_;
};

}  // namespace

void RemoteLink::on_call(const EnvelopeView& e) {
  const bool answered = e.kind == EnvelopeKind::kAsk || e.kind == EnvelopeKind::kStreamOpen;
  NodeMetrics& metrics = node_.metrics();
  NodeMetrics::bump(e.kind == EnvelopeKind::kAsk ? metrics.asks_in
                    : e.kind == EnvelopeKind::kTell ? metrics.tells_in
                                                    : metrics.streams_in);
  if (answered && e.sender_endpoint.empty()) {
    node_.dead_letter(target_of(e), fmt::format("a {} that names no sender: nowhere to answer", to_string(e.kind)));
    return;
  }
  // Consecutive calls to one actor are held back and go into its mailbox together (post_held),
  // and a run of them looks the actor up once.
  const bool same_target = held_.cell && e.target_id == held_.cell->id().value &&
                           (e.target_node == 0 || e.target_node == node_.node_id().value);
  if (!same_target) {
    std::string why;
    bool stopped = false;
    auto cell = find_target(e, why, stopped);
    if (!cell) {
      auto failure = [&] {
        return make_failure<RuntimeError>(stopped ? RuntimeErrorKind::kActorStopped : RuntimeErrorKind::kActorNotFound,
                                          why);
      };
      if (e.kind == EnvelopeKind::kAsk) {
        reply(e, failure());
      } else if (e.kind == EnvelopeKind::kStreamOpen) {
        end_remote_stream(e, failure());
      } else {
        node_.dead_letter(target_of(e), why);
      }
      return;
    }
    post_held();
    held_.cell = std::move(cell);
    if (!e.sender_endpoint.empty()) held_.caller = sender_of(e);
    held_.target = flow_target_of(e);
  }
  if (!held_.cell->room_for(held_.chain.size() + 1)) {
    refuse_call(e, *held_.cell);
    return;
  }
  auto answer = [&]() -> DynamicReply {
    switch (e.kind) {
      case EnvelopeKind::kAsk: return DynamicReply(RemoteAnswer(*this, sender_of(e), e.correlation, held_.cell));
      case EnvelopeKind::kStreamOpen: return DynamicReply(streams_.produce(sender_of(e), e.correlation, e.credit));
      default: return DynamicReply();
    }
  };
  held_.awaited |= e.kind != EnvelopeKind::kTell;
  held_.chain.append(WireCallMessage::create(e, answer(), transport_->config().limits, held_.arena));
}

void RemoteLink::refuse_call(const EnvelopeView& e, ActorCell& target) {
  NodeMetrics::bump(node_.metrics().mailbox_refused);
  Failure overloaded = target.overloaded_failure();
  if (e.kind == EnvelopeKind::kAsk) {
    reply(e, overloaded);
  } else if (e.kind == EnvelopeKind::kStreamOpen) {
    end_remote_stream(e, overloaded);
  } else {
    node_.dead_letter(target.describe(), overloaded.describe());
  }
  // Its sender should have been muted: it may not have heard yet, or it let its muting lapse.
  if (held_.caller) notice_congestion(target, held_.caller, held_.target);
}

void RemoteLink::on_reply(const EnvelopeView& e) {
  const DecodeLimits& limits = transport_->config().limits;
  try {
    if (e.has_error) {
      complete(e.correlation, failure_from_value(e.error(limits)));
    } else {
      complete(e.correlation, Result<Value>(e.payload(limits)));
    }
  } catch (const DecodeError& bad) {
    complete(e.correlation, make_failure<RuntimeError>(RuntimeErrorKind::kProtocol,
                                                       fmt::format("an unreadable reply from {}: {}",
                                                                   e.sender_endpoint, bad.what())));
  }
}

Future<Value> RemoteLink::ping(const std::string& endpoint, std::chrono::milliseconds timeout) {
  auto [slot, reply] = make_value_reply();
  request(*transport_->peer(endpoint), envelope(EnvelopeKind::kPing), timeout, std::move(slot),
          {nullptr, "ping " + endpoint});
  return reply;
}

void RemoteLink::on_ping(const EnvelopeView& e) { reply(e, Result<Value>(Value(node_.member_name()))); }

void RemoteLink::on_registry(const EnvelopeView& e) {
  auto* names = node_.cluster_registry();
  if (names == nullptr) {
    reply(e, make_failure<RuntimeError>(RuntimeErrorKind::kProtocol,
                                        "this node is not in a cluster: it keeps no registry shard"));
    return;
  }
  Result<Value> answer = [&]() -> Result<Value> {
    try {
      return names->receive_update(e.payload(transport_->config().limits));
    } catch (const DecodeError& bad) {
      names->reject_update(bad.what());
      return make_failure<RuntimeError>(RuntimeErrorKind::kProtocol, fmt::format("unreadable registry update: {}", bad.what()));
    }
  }();
  if (e.correlation != 0) reply(e, std::move(answer));
}

void RemoteLink::on_lookup(const EnvelopeView& e) {
  auto* names = node_.cluster_registry();
  if (names == nullptr) {
    reply(e, make_failure<RuntimeError>(RuntimeErrorKind::kActorNotFound,
                                        "this node is not in a cluster: it keeps no registry shard"));
    return;
  }
  reply(e, Result<Value>(names->answer_lookup(std::string(e.target_name))));
}

void RemoteLink::on_resolve(const EnvelopeView& e) {
  std::string why;
  bool stopped;
  auto cell = find_target(e, why, stopped);
  if (!cell) {
    reply(e, make_failure<RuntimeError>(RuntimeErrorKind::kActorNotFound, why));
    return;
  }
  reply(e, Result<Value>(Value::Map{{"address", Value(cell->address())},
                                    {"class", std::string(cell->methods().class_name())}}));
}

void RemoteLink::on_watch(const EnvelopeView& e) {
  std::string why;
  bool stopped;
  auto cell = find_target(e, why, stopped);
  if (!cell) {
    if (!stopped) {
      reply(e, make_failure<RuntimeError>(RuntimeErrorKind::kActorNotFound, why));
      return;
    }
    // Gone already: as a local watch of a stopped actor, it completes at once.
    ActorAddress address{node_.node_id(), transport_->endpoint(), ActorId{e.target_id}};
    reply(e, Result<Value>(notice_to_value(StopNotice{std::move(address), "", StopReason::kStopped})));
    return;
  }
  if (e.sender_endpoint.empty()) return;  // nowhere to answer
  if (!watched_->add(cell, sender_of(e), e.correlation)) {
    reply(e, make_failure<RuntimeError>(RuntimeErrorKind::kOverloaded,
                                        fmt::format("this caller holds {} watches on node {} already "
                                                    "(NodeConfig::max_watches_per_caller)",
                                                    watched_->max_per_caller(), transport_->endpoint())));
  }
}

void RemoteLink::watch(Transport::Peer& peer, Envelope watch, std::shared_ptr<ReplySlot> slot, Operation operation) {
  watching_.add(peer.endpoint(), watch.target_id, std::move(slot), [&](std::shared_ptr<ReplySlot> fan_out) {
    request(peer, std::move(watch), kWatchTimeout, std::move(fan_out), std::move(operation));
  });
}

void RemoteLink::on_stop(const EnvelopeView& e) {
  std::string why;
  bool stopped;
  if (auto cell = find_target(e, why, stopped)) {
    cell->request_stop();
  } else if (!stopped) {
    node_.dead_letter(target_of(e), why);
  }
}

void RemoteLink::reply(const EnvelopeView& request, Result<Value> result) {
  if (request.sender_endpoint.empty()) return;  // nowhere to answer
  send_reply(*sender_of(request), request.correlation, std::move(result));
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

void RemoteLink::end_remote_stream(const EnvelopeView& open, Failure failure) {
  Envelope e = envelope(EnvelopeKind::kStreamEnd);
  e.correlation = open.correlation;
  e.error = failure_to_value(failure);
  transport_->send(*sender_of(open), e);
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
  watched_->node_dead(endpoint);
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
  if (last_sender_ && last_sender_->endpoint() == endpoint) last_sender_.reset();
  std::erase_if(notices_, [&](const auto& n) { return n.first.first->endpoint() == endpoint; });
  watched_->caller_gone(endpoint);
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
  auto [slot, future] = make_reply<StopNotice>([](Value&& v) { return notice_from_value(v); }, "watch");
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
