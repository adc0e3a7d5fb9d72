#include "runtime/remote_watches.hpp"

#include <stdexcept>
#include <string_view>

#include <fmt/format.h>

#include "messaging/error.hpp"
#include "runtime/actor_cell.hpp"
#include "runtime/remote.hpp"

namespace pulsing::detail {

Value stop_notice_to_value(const StopNotice& notice) {
  return Value::Map{{"address", Value(notice.address)},
                    {"name", notice.name},
                    {"reason", std::string(to_string(notice.reason))},
                    {"error", notice.error ? failure_to_value(*notice.error) : Value()}};
}

StopNotice stop_notice_from_value(const Value& v) {
  auto field = [&](std::string_view key) -> const Value& {
    const Value* found = v.find(key);
    if (found == nullptr) throw std::invalid_argument(fmt::format("no '{}'", key));
    return *found;
  };
  StopNotice notice{field("address").as_actor(), field("name").as_text()};
  const std::string& reason = field("reason").as_text();
  if (reason == to_string(StopReason::kStopped)) {
    notice.reason = StopReason::kStopped;
  } else if (reason == to_string(StopReason::kCrashed)) {
    notice.reason = StopReason::kCrashed;
  } else if (reason == to_string(StopReason::kShutdown)) {
    notice.reason = StopReason::kShutdown;
  } else if (reason == to_string(StopReason::kPassivated)) {
    notice.reason = StopReason::kPassivated;
  } else {
    throw std::invalid_argument(fmt::format("unknown stop reason '{}'", reason));
  }
  if (!field("error").is_null()) notice.error = failure_from_value(field("error"));
  return notice;
}

// ---------------------------------------------------------------- WatchedActors

bool WatchedActors::add(const std::shared_ptr<ActorCell>& cell, std::shared_ptr<Transport::Peer> caller,
                        std::uint64_t correlation) {
  const std::uint64_t actor = cell->id().value;
  bool first;
  {
    std::lock_guard lock(mutex_);
    std::size_t& held = per_caller_[caller->endpoint()];
    if (held >= max_per_caller_) {
      if (held == 0) per_caller_.erase(caller->endpoint());
      refused_.fetch_add(1, std::memory_order_relaxed);
      return false;
    }
    ++held;
    ++size_;
    auto [it, inserted] = by_actor_.try_emplace(actor);
    first = inserted;
    it->second.push_back({std::move(caller), correlation});
  }
  // One local watch per actor, for every caller, armed while its entry lives. It may complete
  // at once (the actor stopped meanwhile): then it runs here, after the lock is let go. The
  // actor may outlive this table (a node that could not stop it in time).
  if (first) {
    cell->watch().then([weak = weak_from_this(), actor](Result<StopNotice> r) {
      if (auto self = weak.lock()) self->stopped(actor, r);
    });
  }
  return true;
}

void WatchedActors::stopped(std::uint64_t actor, const Result<StopNotice>& notice) {
  std::vector<Watcher> watchers;
  {
    std::lock_guard lock(mutex_);
    auto it = by_actor_.find(actor);
    if (it == by_actor_.end()) return;
    watchers = std::move(it->second);
    by_actor_.erase(it);
    for (const auto& w : watchers) forget_locked(w);
  }
  Result<Value> payload = encode_(notice);
  for (auto& w : watchers) reply_(*w.caller, w.correlation, payload);
}

void WatchedActors::forget_locked(const Watcher& w) {
  if (--per_caller_[w.caller->endpoint()] == 0) per_caller_.erase(w.caller->endpoint());
  --size_;
}

template <typename Drop>
void WatchedActors::erase_locked(Drop drop) {
  for (auto& entry : by_actor_) {
    std::erase_if(entry.second, [&](const Watcher& w) {
      if (!drop(w.caller->endpoint())) return false;
      forget_locked(w);
      return true;
    });
  }
  // An actor left with no watcher keeps its entry: its local watch is still armed, and a later
  // watcher shares it (a caller that watches and leaves, again and again, arms none).
}

void WatchedActors::caller_gone(const std::string& identity) {
  std::lock_guard lock(mutex_);
  if (!per_caller_.contains(identity)) return;
  erase_locked([&](const std::string& caller) { return caller == identity; });
}

void WatchedActors::node_dead(const std::string& endpoint) {
  std::lock_guard lock(mutex_);
  erase_locked([&](const std::string& caller) { return Transport::identity_is_of(caller, endpoint); });
}

std::size_t WatchedActors::size() const {
  std::lock_guard lock(mutex_);
  return size_;
}

// ---------------------------------------------------------------- WatchingActors

// The slot of the one request for a pair: its outcome goes to every watcher of the pair.
class WatchingActors::FanOut final : public ReplySlot {
 public:
  FanOut(WatchingActors& owner, Key key) : owner_(owner), key_(std::move(key)) {}
  void deliver(Result<Value> outcome) override { owner_.deliver(key_, outcome); }

 private:
  WatchingActors& owner_;  // the link's: outlives its requests (stop() fails them first)
  const Key key_;
};

void WatchingActors::add(const std::string& endpoint, std::uint64_t actor, std::shared_ptr<ReplySlot> slot,
                         const Send& send) {
  Key key{endpoint, actor};
  {
    std::lock_guard lock(mutex_);
    auto& slots = waiting_[key];
    slots.push_back(std::move(slot));
    if (slots.size() > 1) return;  // the request is out already
  }
  send(std::make_shared<FanOut>(*this, std::move(key)));
}

void WatchingActors::deliver(const Key& key, const Result<Value>& outcome) {
  std::vector<std::shared_ptr<ReplySlot>> slots;
  {
    std::lock_guard lock(mutex_);
    auto it = waiting_.find(key);
    if (it == waiting_.end()) return;
    slots = std::move(it->second);
    waiting_.erase(it);
  }
  for (auto& slot : slots) slot->deliver(outcome);
}

std::size_t WatchingActors::size() const {
  std::lock_guard lock(mutex_);
  return waiting_.size();
}

}  // namespace pulsing::detail
