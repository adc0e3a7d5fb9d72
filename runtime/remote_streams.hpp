// RemoteStreams: the streams that cross a node's link, both ways.
//   Reading   a stream this node reads from a producer on another node. Its items go to the
//             reader's InboundStream while they stay within the credit the reader granted (the
//             window at the open, then each grant()); an item past it fails the stream
//             (kProtocol) and cancels the producer, so the reader's memory is bounded by its
//             credit whatever the producer does. Items and ends count only when they come on the
//             connection to the node the stream was opened on: no other node can name it.
//   Producing a stream a local actor produces for a reader on another node (produce()): its sink
//             sends items while the reader has credit, parks the producer when it has none, and
//             stops it when the reader cancels or the reader's connection closes. At most
//             `max_per_caller` at once for one reader's connection; past it, produce() refuses
//             (and counts) the open.
// Every stream ends exactly once: its end, a failure, its peer lost, the reader's cancel, or
// close() (then kShutdown for readers, cancel for producers).
// Ownership: the tables are the object's; an InboundStream belongs to its reader, a sink is
// shared by its producer and (weakly) the table. Sinks send through the object:
// REQUIRES: it outlives every sink produce() made (the node keeps its link until its actors end).
// Thread-safety: every member from any thread; one mutex, never held while a reader's or a
// producer's callback runs or while sending.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>

#include "messaging/transport.hpp"
#include "runtime/stream.hpp"

namespace pulsing::detail {

// Where the items of a stream read from another node go (the reader's channel, typed or not).
struct InboundStream {
  std::function<bool(Value&&)> push;  // false: the item does not convert to the reader's type
  std::function<void(std::optional<Failure>)> finish;
};

class RemoteSink;

class RemoteStreams {
 public:
  // `node_id`: the sending node's run, stamped on every envelope sent.
  RemoteStreams(std::uint64_t node_id, std::size_t max_per_caller)
      : node_id_(node_id), max_per_caller_(max_per_caller) {}
  // REQUIRES: once, before any other member; `transport` outlives the object.
  void attach(Transport& transport) { transport_ = &transport; }

  // Reading. Registers the stream `correlation`, opened on the node at `endpoint` with credit
  // `window`; false (nothing kept: the caller finishes `inbound`) after close().
  bool read(std::uint64_t correlation, const std::string& endpoint, std::uint32_t window, InboundStream& inbound);
  // Ends the stream: its reader's finish(failure). Nothing if it ended already.
  void end_reading(std::uint64_t correlation, std::optional<Failure> failure);
  // The reader consumed `credit` more items: the producer may send that many more.
  void grant(std::uint64_t correlation, std::uint32_t credit);
  // The reader left: the stream is forgotten and the producer told to stop.
  void cancel_reading(std::uint64_t correlation);
  // The node at `endpoint` is lost: the streams read from it end with `failure`.
  void peer_lost(const std::string& endpoint, const Failure& failure);

  // Producing. A sink for the stream `correlation` that `caller` (the connection its open came
  // on) reads, with `credit` items granted; null (counted in refused()) when the caller has
  // max_per_caller() streams produced for it already.
  std::shared_ptr<StreamSink<Value>> produce(std::shared_ptr<Transport::Peer> caller, std::uint64_t correlation,
                                             std::uint32_t credit);
  std::size_t max_per_caller() const { return max_per_caller_; }
  std::uint64_t refused() const { return refused_.load(std::memory_order_relaxed); }
  // The reader's connection closed: the streams produced for it stop at their next yield.
  void caller_gone(const std::string& endpoint);

  // A stream item, end, credit or cancel (I/O thread).
  void on_envelope(const EnvelopeView& envelope);

  // Ends every stream, both ways; from now on read() keeps nothing. Idempotent.
  void close(const Failure& why);

  std::size_t reading() const;
  std::size_t producing() const;

 private:
  friend class RemoteSink;
  struct Reading {
    InboundStream inbound;
    std::string peer;
    std::uint64_t granted = 0;   // items the producer may send: the window, and the credit since
    std::uint64_t received = 0;  // items it sent; past `granted`, the stream fails
  };
  using ProducerKey = std::pair<std::string, std::uint64_t>;  // reader's endpoint, correlation

  void on_item(const EnvelopeView& e);
  void on_end(const EnvelopeView& e);
  void send_cancel(const std::string& peer, std::uint64_t correlation);
  Envelope envelope(EnvelopeKind kind, std::uint64_t correlation) const;
  void send(Transport::Peer& peer, const Envelope& envelope) { transport_->send(peer, envelope); }
  // Forgets `sink`'s entry (not another's under the same key) and its place in the caller's bound.
  void forget_producer(const ProducerKey& key, const RemoteSink* sink);

  const std::uint64_t node_id_;
  const std::size_t max_per_caller_;
  std::atomic<std::uint64_t> refused_{0};
  Transport* transport_ = nullptr;
  mutable std::mutex mutex_;
  std::unordered_map<std::uint64_t, Reading> reading_;          // guarded by mutex_
  std::map<ProducerKey, std::weak_ptr<RemoteSink>> producing_;  // guarded by mutex_
  std::unordered_map<std::string, std::size_t> producing_per_caller_;  // guarded by mutex_
  bool closed_ = false;                                         // guarded by mutex_
};

}  // namespace pulsing::detail
