// BroadcastQueue: the membership updates a node still has to gossip. Each update rides along on
// outgoing packets until it has been sent `limit` times (the protocol passes
// retransmit_mult × ceil(log10(N + 1)), enough to reach every member with high probability).
// The least-sent updates go first, and a newer update about a member replaces the older one
// (only the latest word on each member is worth spreading).
//
// Every queued update fits in a packet that carries nothing else: the owner states how large
// that room is (max_item_bytes), and larger updates are refused (and counted) rather than
// queued, where they could never be sent. So a packet that starts empty always carries
// something while the queue is not empty, and no update waits for good.
//
// Thread-compatible.
#pragma once

#include <cstddef>
#include <cstdint>
#include <limits>
#include <map>
#include <utility>
#include <string>
#include <vector>

#include "membership/messages.hpp"

namespace pulsing::membership {

class BroadcastQueue {
 public:
  // `max_item_bytes`: the largest update (by size_bound()) this queue may hold; the owner passes
  // the room for updates in a packet that carries nothing else (Membership: max_packet_bytes
  // minus the overhead of an empty packet). The default, no limit, is for tests only.
  explicit BroadcastQueue(std::size_t max_item_bytes = std::numeric_limits<std::size_t>::max())
      : max_item_bytes_(max_item_bytes) {}

  // Queues `update` about `member`, replacing what was queued about it, and returns true.
  // An update larger than max_item_bytes() could never be sent: it is refused (false) and
  // counted in oversized(), and what was queued about `member` is dropped too. That older word
  // is superseded by the refused one, and spreading it would contradict what the owner now
  // knows (a suspicion the member has refuted, say).
  bool push(const std::string& member, Message update);

  // Updates for one packet, least-sent first, at most `budget` bytes by size_bound(). Each one
  // taken counts as sent once; those sent `limit` times leave the queue. Updates too large for
  // what is left of the packet are skipped (a few in a row end the scan: a long queue is not
  // scanned per packet); since none is larger than max_item_bytes(), a `budget` of at least
  // max_item_bytes() takes at least the first update in line whenever the queue is not empty.
  std::vector<Message> take(std::size_t budget, int limit);
  // Forgets what was queued about `member`.
  void drop(const std::string& member);

  std::size_t size() const { return items_.size(); }
  bool empty() const { return items_.empty(); }
  std::size_t max_item_bytes() const { return max_item_bytes_; }
  // Updates push() refused as larger than max_item_bytes(), since construction.
  std::uint64_t oversized() const { return oversized_; }

 private:
  struct Item {
    Message update;
    std::size_t bytes;
    int sent;
    std::uint64_t order;  // newer first among equally sent ones
  };
  // (sent, -order): the sending order, unique since orders are.
  using Key = std::pair<int, std::int64_t>;

  using Items = std::map<std::string, Item>;

  std::size_t max_item_bytes_;
  std::uint64_t oversized_ = 0;
  Items items_;
  std::map<Key, Items::iterator> queue_;  // map iterators stay valid until their erase
  std::uint64_t next_order_ = 0;
};

}  // namespace pulsing::membership
