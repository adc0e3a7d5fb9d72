#include "runtime/answers.hpp"

#include <utility>

namespace pulsing::detail {

Envelope Answers::envelope(EnvelopeKind kind) const {
  Envelope e;
  e.kind = kind;
  e.sender_node = node_id_;
  return e;
}

std::shared_ptr<Transport::Peer> Answers::caller_of(const EnvelopeView& request) {
  if (!last_caller_ || last_caller_->endpoint() != request.sender_endpoint) {
    last_caller_ = transport_->caller(request.sender_endpoint);
  }
  return last_caller_;
}

void Answers::reply(const EnvelopeView& request, Result<Value> result) {
  if (request.sender_endpoint.empty()) return;  // nowhere to answer
  send_reply(*caller_of(request), request.correlation, std::move(result));
}

void Answers::end_stream(const EnvelopeView& open, const Failure& failure) {
  Envelope e = envelope(EnvelopeKind::kStreamEnd);
  e.correlation = open.correlation;
  e.error = failure_to_value(failure);
  transport_->send(*caller_of(open), e);
}

void Answers::send_reply(Transport::Peer& caller, std::uint64_t correlation, Result<Value> result) {
  Envelope e = envelope(EnvelopeKind::kReply);
  e.correlation = correlation;
  if (result.ok()) {
    e.payload = std::move(result.value());
  } else {
    e.error = failure_to_value(result.failure());
  }
  transport_->send(caller, e);
}

void Answers::send_reply(Transport::Peer& caller, std::uint64_t correlation, const PayloadWriter& result) {
  Envelope e = envelope(EnvelopeKind::kReply);
  e.correlation = correlation;
  e.payload_writer = &result;
  transport_->send(caller, e);
}

void Answers::caller_gone(const std::string& endpoint) {
  if (last_caller_ && last_caller_->endpoint() == endpoint) last_caller_.reset();
}

}  // namespace pulsing::detail
