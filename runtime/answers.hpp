// Answers: what this node sends back to the callers of the requests it received — replies, and
// the end of a stream that could not start — on the connection each request came on.
//
// Who answers is named by the connection, never by the frame: caller_of() asks the transport for
// the caller whose connection delivered the envelope (Transport::caller), and keeps the last one
// (consecutive envelopes mostly come from one caller: a frame is one caller's batch).
//
// Ownership: the transport outlives it (RemoteLink owns both; attach() before use).
// Thread-safety: send_reply() from any thread; the members that take an EnvelopeView, and
// caller_gone(), on the transport's I/O thread only.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "messaging/envelope.hpp"
#include "messaging/error.hpp"
#include "messaging/transport.hpp"
#include "messaging/value.hpp"
#include "runtime/future.hpp"

namespace pulsing::detail {

class Answers {
 public:
  explicit Answers(std::uint64_t node_id) : node_id_(node_id) {}
  Answers(const Answers&) = delete;
  Answers& operator=(const Answers&) = delete;

  // REQUIRES: once, before anything is sent.
  void attach(Transport& transport) { transport_ = &transport; }

  // An envelope from this node (the transport stamps its endpoint as the sender's).
  Envelope envelope(EnvelopeKind kind) const;

  // Where the answers to `request` go: its caller's connection.
  std::shared_ptr<Transport::Peer> caller_of(const EnvelopeView& request);
  // Answers `request` (nothing when it names no caller: nowhere to answer).
  void reply(const EnvelopeView& request, Result<Value> result);
  // Ends the stream `open` asked for, before it started, with `failure`.
  void end_stream(const EnvelopeView& open, const Failure& failure);
  // Sends the answer to request `correlation` of `caller`. A reply to a node that went away is
  // lost with it.
  void send_reply(Transport::Peer& caller, std::uint64_t correlation, Result<Value> result);
  // The same, with a successful outcome that `result` writes (no Value in between).
  void send_reply(Transport::Peer& caller, std::uint64_t correlation, const PayloadWriter& result);
  // The caller's connection closed: it is not kept any more.
  void caller_gone(const std::string& endpoint);

 private:
  const std::uint64_t node_id_;
  Transport* transport_ = nullptr;
  std::shared_ptr<Transport::Peer> last_caller_;  // I/O thread only: caller_of()'s cache
};

}  // namespace pulsing::detail
