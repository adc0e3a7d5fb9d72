#include "runtime/local_registry.hpp"

#include <fmt/format.h>

namespace pulsing::detail {

namespace {
Failure shutting_down() {
  return make_failure<RuntimeError>(RuntimeErrorKind::kShutdown, "the node is shutting down");
}
}  // namespace

Result<AnyRef> LocalRegistry::add(const std::shared_ptr<ActorCell>& cell) {
  std::vector<std::shared_ptr<Promise<AnyRef>>> waiting;
  {
    // The names lock also orders add() against close(), named or not.
    std::lock_guard names(names_mutex_);
    if (closed_) return shutting_down();
    if (!cell->name().empty()) {
      auto [it, inserted] = names_.try_emplace(cell->name(), cell);
      if (!inserted) {
        return make_failure<RuntimeError>(
            RuntimeErrorKind::kNameTaken,
            fmt::format("the name '{}' is taken by {}", cell->name(), it->second->describe()));
      }
      if (auto w = waiters_.find(cell->name()); w != waiters_.end()) {
        waiting = std::move(w->second);
        waiters_.erase(w);
      }
    }
    live_.fetch_add(1, std::memory_order_acq_rel);
    Shard& shard = shard_of(cell->id());
    std::lock_guard lock(shard.mutex);
    shard.cells.emplace(cell->id().value, cell);
  }
  AnyRef ref(cell);
  for (auto& p : waiting) p->set_value(ref);
  return ref;
}

std::shared_ptr<ActorCell> LocalRegistry::remove(ActorCell& cell) {
  std::shared_ptr<ActorCell> removed;
  {
    Shard& shard = shard_of(cell.id());
    std::lock_guard lock(shard.mutex);
    auto it = shard.cells.find(cell.id().value);
    if (it == shard.cells.end()) return nullptr;
    removed = std::move(it->second);
    shard.cells.erase(it);
  }
  if (!cell.name().empty()) {
    std::lock_guard names(names_mutex_);
    auto it = names_.find(cell.name());
    if (it != names_.end() && it->second.get() == &cell) names_.erase(it);
  }
  if (live_.fetch_sub(1, std::memory_order_acq_rel) == 1) {
    std::lock_guard lock(empty_mutex_);
    empty_.notify_all();
  }
  return removed;
}

std::shared_ptr<ActorCell> LocalRegistry::find(ActorId id) const {
  const Shard& shard = shard_of(id);
  std::lock_guard lock(shard.mutex);
  auto it = shard.cells.find(id.value);
  return it == shard.cells.end() ? nullptr : it->second;
}

std::shared_ptr<ActorCell> LocalRegistry::find(std::string_view name) const {
  std::lock_guard lock(names_mutex_);
  auto it = names_.find(std::string(name));
  return it == names_.end() ? nullptr : it->second;
}

void LocalRegistry::wait_for(const std::string& name, std::shared_ptr<Promise<AnyRef>> promise) {
  std::shared_ptr<ActorCell> found;
  {
    std::lock_guard lock(names_mutex_);
    if (closed_) {
      promise->fail(shutting_down());
      return;
    }
    auto it = names_.find(name);
    if (it == names_.end()) {
      waiters_[name].push_back(std::move(promise));
      return;
    }
    found = it->second;
  }
  promise->set_value(AnyRef(std::move(found)));
}

std::vector<std::shared_ptr<ActorCell>> LocalRegistry::all() const {
  std::vector<std::shared_ptr<ActorCell>> out;
  for (const Shard& shard : shards_) {
    std::lock_guard lock(shard.mutex);
    for (const auto& [id, cell] : shard.cells) out.push_back(cell);
  }
  return out;
}

void LocalRegistry::close() {
  std::vector<std::shared_ptr<Promise<AnyRef>>> waiting;
  {
    std::lock_guard lock(names_mutex_);
    closed_ = true;
    for (auto& [name, list] : waiters_) waiting.insert(waiting.end(), list.begin(), list.end());
    waiters_.clear();
  }
  for (auto& p : waiting) p->fail(shutting_down());
}

bool LocalRegistry::wait_empty(std::chrono::milliseconds limit) {
  std::unique_lock lock(empty_mutex_);
  return empty_.wait_for(lock, limit, [&] { return size() == 0; });
}

void LocalRegistry::clear() {
  for (Shard& shard : shards_) {
    std::unordered_map<std::uint64_t, std::shared_ptr<ActorCell>> cells;
    {
      std::lock_guard lock(shard.mutex);
      cells.swap(shard.cells);
    }
  }
  std::lock_guard lock(names_mutex_);
  names_.clear();
}

}  // namespace pulsing::detail
