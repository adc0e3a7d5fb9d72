// LocalRegistry: this node's live actors by id and by name, and the resolves waiting for a name
// to appear. Ids are sharded (spawning threads and stopping actors rarely meet on one lock);
// names have one lock (named actors are few and spawned rarely).
//
// Thread-safety: every member may be called from any thread.
#pragma once

#include <array>
#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "runtime/actor_cell.hpp"
#include "runtime/actor_ref.hpp"

namespace pulsing::detail {

class LocalRegistry {
 public:
  // Registers `cell` under its id and (if it has one) its name, completing resolves that wait
  // for that name. Fails with kNameTaken, or kShutdown once closed.
  Result<AnyRef> add(const std::shared_ptr<ActorCell>& cell);
  // Forgets a stopped actor. Returns the registry's reference, to be released by the caller
  // outside any lock of the cell.
  std::shared_ptr<ActorCell> remove(ActorCell& cell);

  std::shared_ptr<ActorCell> find(ActorId id) const;
  std::shared_ptr<ActorCell> find(std::string_view name) const;
  // Completes with the actor named `name` now or once it registers; `promise` stays with the
  // registry until then (the caller arms its timeout).
  void wait_for(const std::string& name, std::shared_ptr<Promise<AnyRef>> promise);

  std::vector<std::shared_ptr<ActorCell>> all() const;
  std::size_t size() const { return live_.load(std::memory_order_acquire); }

  // Refuses new actors from now on and fails every waiting resolve with kShutdown.
  void close();
  // Waits until no actor is registered, or `limit` passes; returns whether none is left.
  bool wait_empty(std::chrono::milliseconds limit);
  // Drops every reference (after shutdown).
  void clear();

 private:
  static constexpr std::size_t kShards = 16;
  struct Shard {
    mutable std::mutex mutex;
    std::unordered_map<std::uint64_t, std::shared_ptr<ActorCell>> cells;
  };
  Shard& shard_of(ActorId id) { return shards_[id.value % kShards]; }
  const Shard& shard_of(ActorId id) const { return shards_[id.value % kShards]; }

  std::array<Shard, kShards> shards_;
  mutable std::mutex names_mutex_;
  std::unordered_map<std::string, std::shared_ptr<ActorCell>> names_;  // guarded by names_mutex_
  std::unordered_map<std::string, std::vector<std::shared_ptr<Promise<AnyRef>>>> waiters_;  // ditto
  bool closed_ = false;                                                 // guarded by names_mutex_
  std::atomic<std::size_t> live_{0};
  std::mutex empty_mutex_;
  std::condition_variable empty_;
};

}  // namespace pulsing::detail
