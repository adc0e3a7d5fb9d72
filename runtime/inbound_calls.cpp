#include "runtime/inbound_calls.hpp"

#include <algorithm>
#include <cstring>

#include <fmt/format.h>

#include "runtime/answers.hpp"
#include "runtime/calls.hpp"
#include "runtime/local_target.hpp"
#include "runtime/node_core.hpp"
#include "runtime/remote.hpp"
#include "runtime/remote_streams.hpp"

namespace pulsing::detail {

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

// Notices sent for this many (caller, target) pairs at most before the released ones are swept.
constexpr std::size_t kNoticesSwept = 4'096;

}  // namespace

InboundCalls::InboundCalls(NodeCore& node, Answers& answers, RemoteStreams& streams)
    : node_(node), answers_(answers), streams_(streams) {
  notice_sender_->node_id = node.node_id().value;
}

void InboundCalls::attach(Transport& transport) {
  limits_ = transport.config().limits;
  std::lock_guard lock(notice_sender_->mutex);
  notice_sender_->transport = &transport;
}

void InboundCalls::stop() {
  std::lock_guard lock(notice_sender_->mutex);
  notice_sender_->transport = nullptr;
}

void InboundCalls::on_call(const EnvelopeView& e) {
  const bool answered = e.kind == EnvelopeKind::kAsk || e.kind == EnvelopeKind::kStreamOpen;
  NodeMetrics& metrics = node_.metrics();
  NodeMetrics::bump(e.kind == EnvelopeKind::kAsk ? metrics.asks_in
                    : e.kind == EnvelopeKind::kTell ? metrics.tells_in
                                                    : metrics.streams_in);
  if (answered && e.sender_endpoint.empty()) {
    node_.dead_letter(target_of(e), fmt::format("a {} that names no sender: nowhere to answer", to_string(e.kind)));
    return;
  }
  // A run of calls to one actor looks it up once.
  const bool same_target = held_.cell && e.target_id == held_.cell->id().value &&
                           (e.target_node == 0 || e.target_node == node_.node_id().value);
  if (!same_target) {
    auto target = find_local_target(node_, node_.endpoint(), e);
    // A tell for an entity that lives elsewhere now goes on to its owner, once (credit marks a
    // forwarded tell: one that finds no owner there either is a dead letter).
    if (!target.cell && e.kind == EnvelopeKind::kTell && !target.owner_endpoint.empty() && e.credit == 0 &&
        forward_tell(e, target.owner_endpoint)) {
      return;
    }
    if (!target.cell) {
      Failure failure = target.failure ? *target.failure
                                       : make_failure<RuntimeError>(target.stopped ? RuntimeErrorKind::kActorStopped
                                                                                   : RuntimeErrorKind::kActorNotFound,
                                                                    target.why);
      if (e.kind == EnvelopeKind::kAsk) {
        answers_.reply(e, std::move(failure));
      } else if (e.kind == EnvelopeKind::kStreamOpen) {
        answers_.end_stream(e, failure);
      } else {
        node_.dead_letter(target_of(e), target.why);
      }
      return;
    }
    flush();
    held_.cell = std::move(target.cell);
    if (!e.sender_endpoint.empty()) held_.caller = answers_.caller_of(e);
    held_.target = FlowTarget::of(e.target_id, e.target_name);
  }
  if (!held_.cell->room_for(held_.chain.size() + 1)) {
    refuse(e, *held_.cell);
    return;
  }
  DynamicReply answer;
  if (e.kind == EnvelopeKind::kAsk) {
    answer = DynamicReply(RemoteAnswer(answers_, answers_.caller_of(e), e.correlation, held_.cell));
  } else if (e.kind == EnvelopeKind::kStreamOpen) {
    auto sink = streams_.produce(answers_.caller_of(e), e.correlation, e.credit);
    if (!sink) {
      answers_.end_stream(e, make_failure<RuntimeError>(
                                 RuntimeErrorKind::kOverloaded,
                                 fmt::format("this caller reads {} streams from node {} already "
                                             "(NodeConfig::max_streams_per_caller)",
                                             streams_.max_per_caller(), node_.endpoint())));
      return;
    }
    answer = DynamicReply(std::move(sink));
  }
  held_.awaited |= e.kind != EnvelopeKind::kTell;
  held_.chain.append(WireCallMessage::create(e, std::move(answer), limits_, held_.arena));
}

bool InboundCalls::forward_tell(const EnvelopeView& e, const std::string& owner) {
  RemoteLink* link = node_.remote();
  if (link == nullptr) return false;
  Envelope out = link->envelope(EnvelopeKind::kTell);
  out.target_name = std::string(e.target_name);
  out.method = std::string(e.method);
  out.credit = 1;
  try {
    read_payload(e.bytes, limits_, [&](std::optional<wire::Value::Reader> payload) {
      if (payload) out.payload = read_value(*payload, limits_.nesting_limit);
    });
  } catch (const std::exception&) {
    return false;  // unreadable: a dead letter here, as any tell that cannot be handled
  }
  if (auto why = link->tell(*link->peer(owner), out)) {
    node_.dead_letter(target_of(e), why->describe());
  }
  return true;
}

void InboundCalls::flush() {
  held_.arena.close();
  if (held_.chain.empty()) return;
  auto cell = std::move(held_.cell);
  auto caller = std::move(held_.caller);
  // Tells only: nobody waits for them, so a pool worker takes them while this thread reads on;
  // a run with asks in it may be answered here at once (a guest turn).
  cell->post(held_.chain, !std::exchange(held_.awaited, false));
  if (caller && cell->over_capacity()) notice_congestion(*cell, caller, held_.target);
}

void InboundCalls::refuse(const EnvelopeView& e, ActorCell& target) {
  NodeMetrics::bump(node_.metrics().mailbox_refused);
  Failure overloaded = target.overloaded_failure();
  if (e.kind == EnvelopeKind::kAsk) {
    answers_.reply(e, overloaded);
  } else if (e.kind == EnvelopeKind::kStreamOpen) {
    answers_.end_stream(e, overloaded);
  } else {
    node_.dead_letter(target.describe(), overloaded.describe());
  }
  // Its sender should have been muted: it may not have heard yet, or it let its muting lapse.
  if (held_.caller) notice_congestion(target, held_.caller, held_.target);
}

void InboundCalls::notice_congestion(ActorCell& cell, const std::shared_ptr<Transport::Peer>& caller,
                                     const FlowTarget& target) {
  NoticeKey key{caller.get(), target};
  auto it = notices_.find(key);
  if (it != notices_.end() && !it->second->released()) return;  // told already
  if (notices_.size() >= kNoticesSwept) std::erase_if(notices_, [](const auto& n) { return n.second->released(); });
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

void InboundCalls::caller_gone(const std::string& endpoint) {
  std::erase_if(notices_, [&](const auto& n) { return n.first.first->endpoint() == endpoint; });
}

}  // namespace pulsing::detail
