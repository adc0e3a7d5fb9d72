// Flow control across the wire: an actor over its mailbox capacity slows its senders on other
// nodes the way it slows local ones, and only them.
//
// The receiving node, on its I/O thread, posts calls into the actor's mailbox; once the mailbox
// is over capacity it sends each caller whose calls it posted one kFlow notice "congested"
// (credit 0) for that target, and puts a CongestionNotice for it among the actor's muted
// senders (ActorCell::add_muted). When the mailbox drains to half (or the actor stops), the
// notice is released: a kFlow "room" notice (credit 1) goes back. Calls past the hard bound
// are refused as kOverloaded (ActorCell::room_for). Nothing stops reading: other actors' calls,
// replies and control traffic flow on.
//
// The sending node keeps the targets it was told are congested (CongestedTargets). Sending to
// one mutes the sending actor after its current message, until the room notice comes or the
// peer goes down; a thread that is not an actor waits, at most to its deadline. With no target
// congested, pacing costs one atomic load per send.
//
// Thread-safety: every public member from any thread.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/address.hpp"
#include "runtime/mute_list.hpp"

namespace pulsing::detail {

// How a caller named the actor it called: its id (non-zero), else its name. The flow notices
// about it name it the same way, so that the caller finds its own reference's target.
struct FlowTarget {
  // The target called by `id` if it is non-zero, else by `name`: the one place the rule is kept.
  static FlowTarget of(std::uint64_t id, std::string_view name) {
    return FlowTarget{id, id != 0 ? std::string() : std::string(name)};
  }
  std::uint64_t id = 0;
  std::string name;
  auto operator<=>(const FlowTarget&) const = default;
};

// The sending side: targets on other nodes that said they are congested.
class CongestedTargets {
 public:
  // At most this many (peer, target) pairs are held; notices past it are ignored (a peer cannot
  // grow this table without bound).
  static constexpr std::size_t kMaxEntries = 65'536;

  // A kFlow notice from `peer` about `target`: congested (`room` false) or room again.
  void on_notice(const std::string& peer, const FlowTarget& target, bool room);
  // After a call to `target` at `peer` was sent: if the target is congested, mutes the current
  // actor (ActorCell::mute_current) or, on a thread that is no actor, waits until the target
  // has room, the peer is gone, or `deadline`.
  // The target is named as FlowTarget::of names it (`name` used only when `id` is 0).
  void pace(const std::string& peer, std::uint64_t id, std::string_view name, Clock::time_point deadline);
  // `peer` went down (or died, or the node stops): nothing held for it holds anyone any more.
  void peer_gone(const std::string& peer);
  void clear();
  std::size_t size() const;

 private:
  struct Entry {
    MuteList muted;  // actors muted on this target
  };
  using Key = std::pair<std::string, FlowTarget>;
  void release_locked(std::map<Key, std::shared_ptr<Entry>>::iterator it, std::vector<std::shared_ptr<Entry>>& out);

  mutable std::mutex mutex_;
  std::condition_variable room_;  // a target got room, or a peer went
  std::map<Key, std::shared_ptr<Entry>> congested_;  // guarded by mutex_
  std::atomic<std::size_t> size_{0};                 // congested_.size(), read without the lock
};

// The receiving side's record of one caller told that one target is congested: released (by the
// target's mailbox), it sends the caller the room notice through `send`, once.
class CongestionNotice final : public Muted {
 public:
  using Send = std::function<void(bool room)>;
  explicit CongestionNotice(Send send) : send_(std::move(send)) {}
  void unmute() override {
    if (!released_.exchange(true, std::memory_order_acq_rel)) send_(true);
  }
  bool released() const { return released_.load(std::memory_order_acquire); }

 private:
  const Send send_;
  std::atomic<bool> released_{false};
};

}  // namespace pulsing::detail
