// BroadcastQueue: the membership updates a node still has to gossip. Each update rides along on
// outgoing packets until it has been sent `limit` times (the protocol passes
// retransmit_mult × ceil(log10(N + 1)), enough to reach every member with high probability).
// The least-sent updates go first, and a newer update about a member replaces the older one
// (only the latest word on each member is worth spreading).
//
// Thread-compatible.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <utility>
#include <string>
#include <vector>

#include "membership/messages.hpp"

namespace pulsing::membership {

class BroadcastQueue {
 public:
  // Queues `update` about `member`, replacing what was queued about it.
  void push(const std::string& member, Message update);

  // Updates for one packet, least-sent first, at most `budget` bytes by size_bound(). Each one
  // taken counts as sent once; those sent `limit` times leave the queue.
  std::vector<Message> take(std::size_t budget, int limit);
  // Forgets what was queued about `member`.
  void drop(const std::string& member);

  std::size_t size() const { return items_.size(); }
  bool empty() const { return items_.empty(); }

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

  Items items_;
  std::map<Key, Items::iterator> queue_;  // map iterators stay valid until their erase
  std::uint64_t next_order_ = 0;
};

}  // namespace pulsing::membership
