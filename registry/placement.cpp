#include "registry/placement.hpp"

#include <algorithm>

#include <xxhash.h>

namespace pulsing::registry {

std::uint64_t Placement::member_hash(std::string_view member) { return XXH3_64bits(member.data(), member.size()); }

Placement::Rank Placement::rank_of(std::uint64_t member_hash, std::string_view name) {
  return {XXH3_64bits_withSeed(name.data(), name.size(), member_hash), member_hash};
}

Placement::Rank Placement::rank(std::string_view member, std::string_view name) {
  return rank_of(member_hash(member), name);
}

void Placement::set_members(std::vector<std::string> members) {
  std::sort(members.begin(), members.end());
  members.erase(std::unique(members.begin(), members.end()), members.end());
  names_ = std::move(members);
  rebuild();
}

void Placement::add(const std::string& member) {
  auto it = std::lower_bound(names_.begin(), names_.end(), member);
  if (it != names_.end() && *it == member) return;
  names_.insert(it, member);
  rebuild();
}

void Placement::remove(std::string_view member) {
  auto it = std::lower_bound(names_.begin(), names_.end(), member);
  if (it == names_.end() || *it != member) return;
  names_.erase(it);
  rebuild();
}

bool Placement::contains(std::string_view member) const {
  return std::binary_search(names_.begin(), names_.end(), member);
}

void Placement::rebuild() {
  members_.clear();
  members_.reserve(names_.size());
  for (std::size_t i = 0; i < names_.size(); ++i) members_.push_back({member_hash(names_[i]), i});
}

std::vector<std::string> Placement::owners(std::string_view name, std::size_t replicas) const {
  replicas = std::min(replicas, members_.size());
  // The top R of N by a partial selection: R is small (3), N up to thousands.
  std::vector<std::pair<Rank, std::size_t>> top;  // rank, index in names_
  top.reserve(replicas + 1);
  for (const Entry& m : members_) {
    Rank r = rank_of(m.hash, name);
    if (top.size() == replicas && !(r > top.back().first)) continue;
    auto at = std::find_if(top.begin(), top.end(), [&](const auto& t) { return r > t.first; });
    top.insert(at, {r, m.index});
    if (top.size() > replicas) top.pop_back();
  }
  std::vector<std::string> out;
  out.reserve(top.size());
  for (const auto& t : top) out.push_back(names_[t.second]);
  return out;
}

bool Placement::owns(std::string_view member, std::string_view name, std::size_t replicas) const {
  auto it = std::lower_bound(names_.begin(), names_.end(), member);
  if (it == names_.end() || *it != member || replicas == 0) return false;
  const Entry& self = members_[static_cast<std::size_t>(it - names_.begin())];
  Rank mine = rank_of(self.hash, name);
  // Owner iff fewer than `replicas` members are preferred to it.
  std::size_t better = 0;
  for (const Entry& m : members_) {
    if (m.index != self.index && rank_of(m.hash, name) > mine && ++better >= replicas) return false;
  }
  return true;
}

}  // namespace pulsing::registry
