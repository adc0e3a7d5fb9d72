#include "runtime/pending_requests.hpp"

#include <algorithm>
#include <functional>

namespace pulsing::detail {

std::optional<PendingRequests::Request> PendingRequests::add(std::uint64_t correlation, Request request,
                                                             Clock::time_point deadline) {
  std::lock_guard lock(mutex_);
  if (closed_) return request;
  pending_.emplace(correlation, std::move(request));
  if (deadlines_.size() > 2 * pending_.size() + 64) sweep();
  deadlines_.emplace_back(deadline, correlation);
  std::push_heap(deadlines_.begin(), deadlines_.end(), std::greater<>());
  if (!armed_ || deadline < *armed_) arm(deadline);
  return std::nullopt;
}

std::optional<PendingRequests::Request> PendingRequests::take(std::uint64_t correlation) {
  std::lock_guard lock(mutex_);
  auto it = pending_.find(correlation);
  if (it == pending_.end()) return std::nullopt;
  Request request = std::move(it->second);
  pending_.erase(it);
  return request;
}

std::optional<PendingRequests::Request> PendingRequests::take_answer(std::uint64_t correlation,
                                                                     std::string_view answered_by, bool* foreign) {
  std::lock_guard lock(mutex_);
  auto it = pending_.find(correlation);
  if (it == pending_.end()) return std::nullopt;
  if (it->second.peer == nullptr || it->second.peer->endpoint() != answered_by) {
    *foreign = true;
    return std::nullopt;
  }
  Request request = std::move(it->second);
  pending_.erase(it);
  return request;
}

std::vector<PendingRequests::Request> PendingRequests::expire(Clock::time_point now) {
  std::vector<Request> expired;
  std::lock_guard lock(mutex_);
  armed_.reset();  // the alarm that called us has gone off
  while (!deadlines_.empty() && deadlines_.front().first <= now) {
    std::uint64_t correlation = deadlines_.front().second;
    std::pop_heap(deadlines_.begin(), deadlines_.end(), std::greater<>());
    deadlines_.pop_back();
    auto it = pending_.find(correlation);
    if (it == pending_.end()) continue;  // answered in time
    expired.push_back(std::move(it->second));
    pending_.erase(it);
  }
  if (!deadlines_.empty() && !closed_) arm(deadlines_.front().first);
  return expired;
}

std::vector<PendingRequests::Request> PendingRequests::take_peer(const std::string& endpoint) {
  std::vector<Request> taken;
  std::lock_guard lock(mutex_);
  for (auto it = pending_.begin(); it != pending_.end();) {
    if (it->second.peer->endpoint() == endpoint) {
      taken.push_back(std::move(it->second));
      it = pending_.erase(it);
    } else {
      ++it;
    }
  }
  return taken;
}

std::vector<PendingRequests::Request> PendingRequests::close() {
  std::vector<Request> all;
  std::lock_guard lock(mutex_);
  if (closed_) return all;
  closed_ = true;
  all.reserve(pending_.size());
  for (auto& [correlation, request] : pending_) all.push_back(std::move(request));
  pending_.clear();
  deadlines_.clear();
  armed_.reset();
  alarm_.clear();
  return all;
}

std::size_t PendingRequests::size() const {
  std::lock_guard lock(mutex_);
  return pending_.size();
}

std::size_t PendingRequests::deadlines_kept() const {
  std::lock_guard lock(mutex_);
  return deadlines_.size();
}

void PendingRequests::arm(Clock::time_point when) {
  armed_ = when;
  alarm_.set(when);
}

void PendingRequests::sweep() {
  std::erase_if(deadlines_, [&](const Deadline& d) { return !pending_.contains(d.second); });
  std::make_heap(deadlines_.begin(), deadlines_.end(), std::greater<>());
}

}  // namespace pulsing::detail
