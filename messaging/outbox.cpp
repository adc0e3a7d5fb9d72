#include "messaging/outbox.hpp"

#include <cstdint>

namespace pulsing {

Outbox::Admission Outbox::admit(EnvelopeKind kind, std::size_t size, std::size_t max, bool may_wait) const {
  const Lane& lane = lane_of(kind);
  if (lane.chunks.empty()) return Admission::kQueue;  // one envelope always goes: nothing else would
  const bool answer = travels_back(kind);
  const std::size_t refuse_past = !answer                      ? max * kPendingLimitFactor
                                  : kind == EnvelopeKind::kReply ? max
                                                                 : SIZE_MAX;
  if (lane.bytes + size <= max) return Admission::kQueue;
  if (may_wait && !answer) return Admission::kWait;
  if (lane.bytes + size > refuse_past) return Admission::kRefuse;
  return Admission::kCongested;
}

void Outbox::append(EncodedEnvelope& encoded, EnvelopeKind kind, ChunkSizes sizes, FrameBuffers& buffers) {
  const bool awaited = travels_back(kind) || expects_reply(kind);
  Lane& lane = lane_of(kind);
  // The last chunk, unless it would grow past its frame size (smaller once awaited).
  const bool last_fits = !lane.chunks.empty() && lane.chunks.back().bytes.size() + encoded.size() <=
                                                   (awaited || lane.chunks.back().awaited ? sizes.awaited : sizes.frame);
  if (!last_fits) lane.chunks.push_back({buffers.take()});
  Chunk& chunk = lane.chunks.back();
  chunk.awaited |= awaited;
  std::size_t at = chunk.bytes.size();
  chunk.bytes.resize(at + encoded.size());
  encoded.write_to(chunk.bytes.data() + at);
  ++chunk.envelopes;
  const bool unanswered = !expects_reply(kind);
  chunk.unanswered += unanswered;
  unanswered_ += unanswered;
  lane.bytes += encoded.size();
  ++count_;
}

std::optional<Outbox::Chunk> Outbox::take() {
  Lane& lane = !control_.chunks.empty() ? control_ : calls_;
  if (lane.chunks.empty()) {
    flagged = false;
    return std::nullopt;
  }
  Chunk chunk = std::move(lane.chunks.front());
  lane.chunks.pop_front();
  lane.bytes -= chunk.bytes.size();
  count_ -= chunk.envelopes;
  unanswered_ -= chunk.unanswered;
  return chunk;
}

std::pair<std::size_t, std::size_t> Outbox::clear() {
  std::pair<std::size_t, std::size_t> dropped{count_, unanswered_};
  control_ = {};
  calls_ = {};
  count_ = unanswered_ = 0;
  flagged = false;
  return dropped;
}

}  // namespace pulsing
