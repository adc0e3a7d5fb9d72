#include "runtime/remote_flow.hpp"

#include "runtime/actor_cell.hpp"

namespace pulsing::detail {

void CongestedTargets::on_notice(const std::string& peer, const FlowTarget& target, bool room) {
  std::vector<std::shared_ptr<Entry>> released;
  {
    std::lock_guard lock(mutex_);
    auto it = congested_.find(Key{peer, target});
    if (!room) {
      if (it == congested_.end() && congested_.size() < kMaxEntries) {
        congested_.emplace(Key{peer, target}, std::make_shared<Entry>());
        size_.store(congested_.size(), std::memory_order_release);
      }
      return;
    }
    if (it == congested_.end()) return;
    release_locked(it, released);
  }
  room_.notify_all();
  for (auto& entry : released) entry->muted.release();
}

void CongestedTargets::pace(const std::string& peer, std::uint64_t id, std::string_view name,
                            Clock::time_point deadline) {
  if (size_.load(std::memory_order_acquire) == 0) return;
  Key key{peer, FlowTarget::of(id, name)};
  std::unique_lock lock(mutex_);
  auto it = congested_.find(key);
  if (it == congested_.end()) return;
  // The entry is released under this lock: an actor on its list now is unmuted by it.
  if (ActorCell::mute_current(it->second->muted) != ActorCell::Mute::kNoActor) return;
  room_.wait_until(lock, deadline, [&] { return !congested_.contains(key); });
}

void CongestedTargets::peer_gone(const std::string& peer) {
  std::vector<std::shared_ptr<Entry>> released;
  {
    std::lock_guard lock(mutex_);
    auto it = congested_.lower_bound(Key{peer, FlowTarget{}});
    while (it != congested_.end() && it->first.first == peer) release_locked(it++, released);
  }
  room_.notify_all();
  for (auto& entry : released) entry->muted.release();
}

void CongestedTargets::clear() {
  std::vector<std::shared_ptr<Entry>> released;
  {
    std::lock_guard lock(mutex_);
    while (!congested_.empty()) release_locked(congested_.begin(), released);
  }
  room_.notify_all();
  for (auto& entry : released) entry->muted.release();
}

std::size_t CongestedTargets::size() const { return size_.load(std::memory_order_acquire); }

void CongestedTargets::release_locked(std::map<Key, std::shared_ptr<Entry>>::iterator it,
                                      std::vector<std::shared_ptr<Entry>>& out) {
  out.push_back(std::move(it->second));
  congested_.erase(it);
  size_.store(congested_.size(), std::memory_order_release);
}

}  // namespace pulsing::detail
