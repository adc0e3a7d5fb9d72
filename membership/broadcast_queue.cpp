#include "membership/broadcast_queue.hpp"

namespace pulsing::membership {

namespace {
// take() gives up on a packet after this many queued updates in a row did not fit in what is
// left of it: the rest are most likely as big, and a long queue must not be scanned per packet.
// This never starves the queue: every update fits in an empty packet (max_item_bytes), so the
// first in line always goes in one, and then moves behind the updates sent fewer times.
constexpr int kMaxMisses = 8;
}  // namespace

void BroadcastQueue::drop(const std::string& member) {
  if (auto it = items_.find(member); it != items_.end()) {
    queue_.erase({it->second.sent, -static_cast<std::int64_t>(it->second.order)});
    items_.erase(it);
  }
}

bool BroadcastQueue::push(const std::string& member, Message update) {
  drop(member);
  std::size_t bytes = size_bound(update);
  if (bytes > max_item_bytes_) {
    ++oversized_;
    return false;
  }
  std::uint64_t order = next_order_++;
  auto item = items_.emplace(member, Item{std::move(update), bytes, 0, order}).first;
  queue_.emplace(Key{0, -static_cast<std::int64_t>(order)}, item);
  return true;
}

std::vector<Message> BroadcastQueue::take(std::size_t budget, int limit) {
  std::vector<Message> out;
  std::vector<Items::iterator> taken;
  int misses = 0;
  for (auto it = queue_.begin(); it != queue_.end() && misses < kMaxMisses;) {
    Item& item = it->second->second;
    if (item.bytes > budget) {
      ++misses;  // a smaller one further on may still fit
      ++it;
      continue;
    }
    misses = 0;
    budget -= item.bytes;
    out.push_back(item.update);
    taken.push_back(it->second);
    it = queue_.erase(it);
  }
  for (auto item : taken) {
    if (++item->second.sent >= limit) {
      items_.erase(item);
    } else {
      queue_.emplace(Key{item->second.sent, -static_cast<std::int64_t>(item->second.order)}, item);
    }
  }
  return out;
}

}  // namespace pulsing::membership
