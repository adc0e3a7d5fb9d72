// The runtime's network side.
//   RemoteLink   a node's link to other nodes: owns its Transport, sends asks / tells / resolves
//                and matches their replies (PendingRequests: with timeouts, and failing them at
//                once when the peer goes down), and dispatches what arrives: calls to
//                InboundCalls, the runtime's own requests to ControlServices, streams to
//                RemoteStreams; answers leave through Answers.
//   RemoteActor  what a reference holds for an actor on another node.
// Calls cross the wire by name with Value arguments; errors keep their category and fields
// (Error::to_value). Internal to the runtime.
//
// Back-pressure is per target (runtime/remote_flow.hpp, runtime/inbound_calls.hpp): a mailbox over
// its capacity mutes the callers that fill it, on their own nodes, and refuses calls past its
// hard bound as kOverloaded; reading never pauses, so one congested actor slows nothing else.
// The transport's I/O thread runs the turns of the actors its input wakes (see
// Scheduler::enter_guest): a remote request and its reply cost no thread hop beyond ZeroMQ's.
// Thread-safety: every public member may be called from any thread.
#pragma once

#include <atomic>
#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include <fmt/format.h>

#include "messaging/transport.hpp"
#include "runtime/actor_cell.hpp"
#include "runtime/answers.hpp"
#include "runtime/control_services.hpp"
#include "runtime/future.hpp"
#include "runtime/inbound_calls.hpp"
#include "runtime/pending_requests.hpp"
#include "runtime/remote_flow.hpp"
#include "runtime/remote_streams.hpp"
#include "runtime/remote_watches.hpp"
#include "runtime/stream.hpp"
#include "runtime/timer_service.hpp"

namespace pulsing {
class AnyRef;
namespace detail {

class ActorCell;
class NodeCore;
class RemoteActor;

// A reply slot that is the state of the caller's Future<T> itself (one allocation per ask): a
// successful reply is converted to T on arrival by `convert`, whose exceptions fail the future
// as a protocol error naming the operation `what` ("the reply to add: expected int, got text").
template <typename T>
class ReplyState final : public FutureState<T>, public ReplySlot {
 public:
  using Convert = typename Result<T>::Stored (*)(Value&&);
  ReplyState(Convert convert, std::string_view what) : convert_(convert), what_(what) {}

  void deliver(Result<Value> reply) override {
    if (!reply.ok()) {
      this->complete(Result<T>(reply.failure()));
      return;
    }
    std::optional<Result<T>> converted;
    try {
      converted.emplace(convert_(std::move(reply.value())));
    } catch (const std::exception& bad) {
      converted.emplace(make_failure<RuntimeError>(RuntimeErrorKind::kProtocol, fmt::format("the reply to {}: {}", what_, bad.what())));
    }
    this->complete(std::move(*converted));
  }

 private:
  const Convert convert_;
  const std::string_view what_;  // REQUIRES: outlives the slot (static storage)
};

// A slot for a reply of type T, and its caller's future. `convert` as for ReplyState.
template <typename T>
std::pair<std::shared_ptr<ReplySlot>, Future<T>> make_reply(typename ReplyState<T>::Convert convert,
                                                            std::string_view what) {
  auto state = std::make_shared<ReplyState<T>>(convert, what);
  return {state, Future<T>(state)};
}

// A reply taken as it is.
inline std::pair<std::shared_ptr<ReplySlot>, Future<Value>> make_value_reply() {
  return make_reply<Value>([](Value&& v) { return std::move(v); }, "a request");
}

class RemoteLink final : public TransportHandler, private WaitPump {
 public:
  // Binds `config.listen`. Throws std::runtime_error naming the address if it cannot. Nothing
  // is read or sent before start(): what is sent meanwhile waits.
  // `make_transport`: empty for ZeroMQ.
  RemoteLink(NodeCore& node, TransportConfig config, const TransportFactory& make_transport);
  ~RemoteLink() override;
  // Starts the I/O thread. REQUIRES: once, after the node has set up everything the link's
  // callbacks read (its registry, its membership).
  void start() { transport_->start(); }

  const std::string& endpoint() const { return transport_->endpoint(); }
  const std::string& bound_endpoint() const { return transport_->bound_endpoint(); }
  std::shared_ptr<Transport::Peer> peer(const std::string& endpoint) { return transport_->peer(endpoint); }
  TransportStats transport_stats() const { return transport_->stats(); }

  using Operation = RequestOperation;
  // Sends an ask (or a resolve) and completes `reply` with the reply's payload, its error, a
  // TimeoutError after `timeout`, or NodeUnreachable when the peer is or goes down.
  void request(Transport::Peer& peer, Envelope envelope, std::chrono::milliseconds timeout,
               std::shared_ptr<ReplySlot> reply, Operation operation);
  // Sends a tell (or a stop request); why it cannot be sent, if it cannot (the caller counts the
  // dead letter): the peer is down, or too much is queued for it (kOverloaded).
  std::optional<Failure> tell(Transport::Peer& peer, const Envelope& envelope);
  Future<AnyRef> resolve(const std::string& endpoint, const std::string& name, std::chrono::milliseconds timeout);
  // Asks the node at `endpoint` for its member name: membership's probe over TCP, which packet
  // loss alone cannot fail.
  Future<Value> ping(const std::string& endpoint, std::chrono::milliseconds timeout);

  // Opens a stream (`open` names target, method and arguments) whose items go to `inbound`;
  // `events` (the reader's channel) reports consumption, granting the producer credit in
  // batches of half a window, and cancellation, which reaches the producer.
  void open_stream(Transport::Peer& peer, Envelope open, std::uint32_t window, InboundStream inbound,
                   StreamReaderEvents& events);

  // Completes `slot` with the stop notice of the actor `watch` (a kWatch envelope) targets on
  // `peer`: one request per (node, actor), however many watch it.
  void watch(Transport::Peer& peer, Envelope watch, std::shared_ptr<ReplySlot> slot, Operation operation);
  // Watches held: by other nodes on this node's actors, and by this node on others' (pairs).
  std::size_t watched_here() const { return control_.watched().size(); }
  std::uint64_t watches_refused() const { return control_.watched().refused(); }
  std::size_t watching_elsewhere() const { return watching_.size(); }
  // Streams this node produces for readers elsewhere; opens refused at max_streams_per_caller.
  std::size_t streams_producing() const { return streams_.producing(); }
  std::uint64_t streams_refused() const { return streams_.refused(); }

  // An envelope from this node (sender fields filled in).
  Envelope envelope(EnvelopeKind kind) const { return answers_.envelope(kind); }
  // What answers the requests of other nodes (RemoteAnswer, the watches held here).
  Answers& answers() { return answers_; }

  // Membership declared the member at `endpoint` dead: the requests pending on it fail as
  // unreachable, and the streams read from it end so, without waiting for its connection's
  // heartbeat (TransportConfig::heartbeat_timeout). Done on the timer thread: the caller (the
  // gossip thread) does not run the callers' continuations.
  void member_dead(const std::string& endpoint);

  // Fails every outstanding request with kShutdown and stops the transport. Idempotent.
  void stop();

  // After a call to `target` at `peer` was sent: slows the sender while the target says it is
  // congested (CongestedTargets::pace).
  void pace(const Transport::Peer& peer, std::uint64_t target_id, std::string_view target_name,
            Clock::time_point deadline) {
    congested_.pace(peer.endpoint(), target_id, target_name, deadline);
  }
  // Targets on other nodes that said they are congested (pairs of node and actor).
  std::size_t congested_targets() const { return congested_.size(); }

  // TransportHandler (on the I/O thread).
  void on_envelope(const EnvelopeView& envelope) override;
  void after_frame() override { inbound_.flush(); }  // posts the held calls
  // The I/O thread is a guest of the node's scheduler (Scheduler::enter_guest): it runs the
  // actors its input wakes, between passes. A turn there that blocks on a future keeps the
  // I/O going meanwhile (WaitPump), so that the answer it waits for can arrive.
  void on_io_thread_start() override;
  void on_io_thread_end() override;
  void after_io_pass() override;
  void on_peer_down(const std::string& endpoint, const std::string& why, std::size_t dropped) override;
  // The registry repairs the owners there that missed updates while the connection was down.
  void on_peer_up(const std::string& endpoint) override;
  // A reader's connection closed: the streams this node produces for it stop.
  void on_caller_gone(const std::string& endpoint) override;

 private:
  // The requests' one deadline timer, on the node's TimerService: it calls expire_requests().
  class DeadlineTimer final : public PendingRequests::Alarm {
   public:
    DeadlineTimer(TimerService& timers, RemoteLink& link) : timers_(timers), link_(link) {}
    void set(Clock::time_point when) override;
    void clear() override;

   private:
    TimerService& timers_;
    RemoteLink& link_;
    std::optional<TimerService::TimerId> timer_;  // guarded by the table's lock (its only caller)
  };

  bool pump() override;  // WaitPump
  // Sends a request-direction envelope (see TransportConfig::max_pending_bytes): a user's thread
  // waits for room until `deadline`, the runtime's threads never wait, and an actor that finds
  // the peer congested is muted until its outbox drains.
  SendResult send_request(Transport::Peer& peer, const Envelope& envelope, Clock::time_point deadline);
  // A request the caller's role may not send (CallerAccess): counted, and answered with
  // kNotPermitted when the caller waits for an answer.
  void refuse_access(const EnvelopeView& envelope);
  void on_flow(const EnvelopeView& envelope);
  // Fails the requests pending on `endpoint` and ends the streams read from it, with `failure`.
  void fail_peer(const std::string& endpoint, const Failure& failure);
  void on_reply(const EnvelopeView& envelope);
  // Completes and forgets an outstanding request; false if it was no longer outstanding.
  bool complete(std::uint64_t correlation, Result<Value> result);
  // Fails the requests whose deadline has passed (the deadline timer's callback).
  void expire_requests();

  NodeCore& node_;
  DeadlineTimer deadline_timer_;
  PendingRequests requests_{deadline_timer_};
  RemoteStreams streams_;
  std::atomic<bool> stopped_{false};
  static std::uint64_t random_correlation_start();
  // Correlation ids start at a random value: a stranger cannot guess which are pending (and
  // answers are taken only from the node asked: PendingRequests::take_answer).
  std::atomic<std::uint64_t> next_correlation_{random_correlation_start()};
  Answers answers_;
  InboundCalls inbound_;
  ControlServices control_;
  CongestedTargets congested_;  // the targets elsewhere that said they are congested
  WatchingActors watching_;
  std::unique_ptr<Transport> transport_;               // last: its thread uses the above
};

// Arguments given as Values (calls by name), written into an envelope.
class ValueArgs final : public PayloadWriter {
 public:
  explicit ValueArgs(const std::vector<Value>& args) : args_(args) {}
  void write(wire::Value::Builder payload) const override;

 private:
  const std::vector<Value>& args_;
};

// The arguments of every call are written by a PayloadWriter, which lives on the caller's stack:
// each call sends its envelope before it returns.
class RemoteActor : public std::enable_shared_from_this<RemoteActor> {
 public:
  RemoteActor(std::shared_ptr<NodeCore> node, std::shared_ptr<Transport::Peer> peer, ActorAddress address,
              std::string name, std::string class_name);
  // The actor named `name` on the node at `endpoint`, reached by name with no lookup: each call
  // carries the name, and that node finds the actor (or, for an entity, activates it) on arrival.
  // REQUIRES: node->remote() is not null.
  static std::shared_ptr<RemoteActor> by_name(std::shared_ptr<NodeCore> node, const std::string& endpoint,
                                              std::string name, std::string class_name);

  // Sends the ask; `reply` receives its outcome.
  void ask(std::string_view method, const PayloadWriter& args, std::chrono::milliseconds timeout,
           std::shared_ptr<ReplySlot> reply) const;
  void tell(std::string_view method, const PayloadWriter& args) const;
  // Completes with the actor's stop notice when it stops for good; fails with NodeUnreachable
  // when its node goes away first.
  Future<StopNotice> watch() const;
  // Asks the actor to stop for good; a request that cannot be sent is counted as a dead letter.
  void stop() const;
  // Fails `inbound` at once when the node has no network any more.
  void open_stream(std::string_view method, const PayloadWriter& args, std::uint32_t window, InboundStream inbound,
                   StreamReaderEvents& events) const;

  const ActorAddress& address() const { return address_; }
  const std::string& name() const { return name_; }
  const std::string& class_name() const { return class_name_; }
  std::string describe() const;  // "actor 'calc' (Calculator #3) at tcp://127.0.0.1:7000"
  std::chrono::milliseconds default_timeout() const;

 private:
  Envelope to_target(EnvelopeKind kind) const;
  // After a call was sent: slows the caller while this actor says it is congested.
  void pace(RemoteLink& link, Clock::time_point deadline) const;
  Envelope call(EnvelopeKind kind, std::string_view method, const PayloadWriter& args) const;

  std::shared_ptr<NodeCore> node_;
  std::shared_ptr<Transport::Peer> peer_;
  ActorAddress address_;
  std::string name_;
  std::string class_name_;
};

}  // namespace detail
}  // namespace pulsing
