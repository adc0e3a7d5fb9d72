// ReplayGuard: decides whether an authenticated datagram is new, so that one captured off the
// wire and sent again is refused.
//
// Each sender (a random 64-bit id drawn at every start of a node, so a restart is a new sender)
// numbers its datagrams 1, 2, 3... and stamps them with its wall clock in milliseconds. A
// datagram is refused when its clock is more than `window` away from ours (kStale: a capture
// replayed later, or a sender whose clock is far off) or when its sequence number was seen
// before from that sender (kReplayed). UDP reorders, so "seen" is kept as the highest number and
// a bitmap of the 64 below it, as IPsec does; a number more than 64 below the highest is
// refused too.
//
// The table is bounded (`max_senders`). When it is full, the sender heard from longest ago is
// forgotten and the clock of its last datagram becomes a floor: a datagram from a sender not in
// the table must be newer than every forgotten one, so forgetting never reopens a replay.
// What the guard cannot know: datagrams sent to this node's previous run within `window` before
// it started (a restart empties the table). They are gossip the protocol already tolerates
// twice (news at an incarnation already known changes nothing).
//
// REQUIRES: admit() only datagrams whose header was authenticated (a forger must not fill the
// table). Not thread-safe: one thread at a time.
#pragma once

#include <cstddef>
#include <cstdint>
#include <unordered_map>

namespace pulsing::membership {

class ReplayGuard {
 public:
  enum class Verdict { kFresh, kStale, kReplayed };

  // REQUIRES: max_senders > 0.
  ReplayGuard(std::uint64_t window_ms, std::size_t max_senders);

  // Records and admits (kFresh) datagram `sequence` of `sender`, stamped `clock_ms`, at our
  // clock `now_ms`; or refuses it, recording nothing.
  Verdict admit(std::uint64_t sender, std::uint64_t sequence, std::uint64_t clock_ms, std::uint64_t now_ms);

  std::size_t senders() const { return senders_.size(); }

 private:
  struct Seen {
    std::uint64_t highest = 0;     // the highest sequence number admitted
    std::uint64_t below = 0;       // bit i: highest - 1 - i was admitted
    std::uint64_t last_clock = 0;  // the clock of the newest datagram admitted
    std::uint64_t heard_at = 0;    // our clock then: who is forgotten first
  };
  static constexpr std::uint64_t kReorderSpan = 64;

  static bool seen_before(const Seen& seen, std::uint64_t sequence);
  static void record(Seen& seen, std::uint64_t sequence);
  void make_room();

  std::uint64_t window_ms_;
  std::size_t max_senders_;
  std::uint64_t floor_ = 0;  // a new sender's datagram must be stamped later than this
  std::unordered_map<std::uint64_t, Seen> senders_;
};

}  // namespace pulsing::membership
