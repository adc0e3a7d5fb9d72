// Outbox: what waits to go to one peer in one direction (requests on our connection to it,
// answers on its connection to us), and the policy that bounds it.
//
// Envelopes are kept whole and length-prefixed in chunks of at most a frame's size (one envelope
// larger than that has a chunk of its own): a transport sends each chunk as one frame, with no
// copy. Two lanes, each in order: control traffic (is_control: replies, credit, flow notices,
// resolve, watch, ping, registry, lookups) and calls (everything else). take() empties the
// control lane first, so control never waits behind a backlog of calls to the same peer.
//
// The bound, in bytes (TransportOptions::max_pending_bytes, "max" below), holds for each lane
// on its own, so that a flood of calls never refuses control:
//   - past max, senders are told to slow down (kCongested), and a sender that may wait does;
//   - requests past kPendingLimitFactor × max are refused, and replies past max (a caller that
//     does not read its answers); stream items (bounded by their reader's credit) and flow
//     notices (one per target and episode) never are.
// Thread-safety: none. Its owner guards it (ZmqTransport::Peer holds it under a spin lock).
#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <optional>
#include <utility>
#include <vector>

#include "messaging/envelope.hpp"
#include "messaging/frame_buffers.hpp"

namespace pulsing {

// Requests past this many times max_pending_bytes are refused.
inline constexpr std::size_t kPendingLimitFactor = 4;

class Outbox {
 public:
  struct Chunk {
    std::vector<std::byte> bytes;
    std::size_t envelopes = 0;
    std::size_t unanswered = 0;  // of them, not requests
    bool awaited = false;        // holds a request that expects an answer, or an answer
  };
  // How large a chunk may grow: `frame` bytes, `awaited` once it holds something a caller waits
  // for (see TransportOptions::max_awaited_frame_bytes).
  struct ChunkSizes {
    std::size_t frame = 0;
    std::size_t awaited = 0;
  };
  // What admit() decided for one envelope.
  enum class Admission : std::uint8_t {
    kQueue,      // there is room
    kCongested,  // queue it, and tell the sender to slow down
    kWait,       // past the bound: the sender waits for room (it said it may)
    kRefuse,     // past the hard bound for its kind
  };

  // Whether an envelope of `kind` and `size` bytes goes in, given the bound `max` and whether
  // its sender may wait now.
  Admission admit(EnvelopeKind kind, std::size_t size, std::size_t max, bool may_wait) const;
  // Appends an encoded envelope to its kind's lane (taking a fresh buffer from `buffers` when
  // the lane's last chunk is full).
  void append(EncodedEnvelope& encoded, EnvelopeKind kind, ChunkSizes sizes, FrameBuffers& buffers);
  // The oldest chunk of control, else of calls, taken out; none (and no longer flagged) when
  // both lanes are empty.
  std::optional<Chunk> take();
  // Takes everything out: the number of envelopes dropped, and of them, not requests.
  std::pair<std::size_t, std::size_t> clear();

  bool empty() const { return control_.chunks.empty() && calls_.chunks.empty(); }
  std::size_t bytes() const { return control_.bytes + calls_.bytes; }
  std::size_t count() const { return count_; }  // envelopes
  std::size_t unanswered() const { return unanswered_; }

  // Whether the owner has put it on its list of outboxes to send (owner's bookkeeping).
  bool flagged = false;
  // Called once the outbox drains to half its bound (Transport::notify_room).
  std::vector<std::function<void()>> on_room;

 private:
  struct Lane {
    std::deque<Chunk> chunks;
    std::size_t bytes = 0;
  };
  Lane& lane_of(EnvelopeKind kind) { return is_control(kind) ? control_ : calls_; }
  const Lane& lane_of(EnvelopeKind kind) const { return is_control(kind) ? control_ : calls_; }

  Lane control_;
  Lane calls_;
  std::size_t count_ = 0;
  std::size_t unanswered_ = 0;
};

}  // namespace pulsing
