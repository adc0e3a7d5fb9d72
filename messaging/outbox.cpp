#include "messaging/outbox.hpp"

#include <cstdint>

namespace pulsing {

Outbox::Admission Outbox::admit(EnvelopeKind kind, std::size_t size, std::size_t max, bool may_wait) const {
  if (pending_.empty()) return Admission::kQueue;  // one envelope always goes: nothing else would
  const bool answer = travels_back(kind);
  const std::size_t refuse_past = !answer                      ? max * kPendingLimitFactor
                                  : kind == EnvelopeKind::kReply ? max
                                                                 : SIZE_MAX;
  if (bytes_ + size <= max) return Admission::kQueue;
  if (may_wait && !answer) return Admission::kWait;
  if (bytes_ + size > refuse_past) return Admission::kRefuse;
  return Admission::kCongested;
}

void Outbox::append(EncodedEnvelope& encoded, EnvelopeKind kind, ChunkSizes sizes, FrameBuffers& buffers) {
  const bool awaited = travels_back(kind) || expects_reply(kind);
  // The last chunk, unless it would grow past its frame size (smaller once awaited).
  const bool last_fits = !pending_.empty() && pending_.back().bytes.size() + encoded.size() <=
                                           (awaited || pending_.back().awaited ? sizes.awaited : sizes.frame);
  if (!last_fits) pending_.push_back({buffers.take()});
  Chunk& chunk = pending_.back();
  chunk.awaited |= awaited;
  std::size_t at = chunk.bytes.size();
  chunk.bytes.resize(at + encoded.size());
  encoded.write_to(chunk.bytes.data() + at);
  ++chunk.envelopes;
  const bool unanswered = !expects_reply(kind);
  chunk.unanswered += unanswered;
  unanswered_ += unanswered;
  bytes_ += encoded.size();
  ++count_;
}

std::optional<Outbox::Chunk> Outbox::take() {
  if (pending_.empty()) {
    flagged = false;
    return std::nullopt;
  }
  Chunk chunk = std::move(pending_.front());
  pending_.pop_front();
  bytes_ -= chunk.bytes.size();
  count_ -= chunk.envelopes;
  unanswered_ -= chunk.unanswered;
  return chunk;
}

std::pair<std::size_t, std::size_t> Outbox::clear() {
  std::pair<std::size_t, std::size_t> dropped{count_, unanswered_};
  pending_.clear();
  bytes_ = count_ = unanswered_ = 0;
  flagged = false;
  return dropped;
}

}  // namespace pulsing
