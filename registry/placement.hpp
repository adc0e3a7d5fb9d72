// Placement of names on members by rendezvous (highest-random-weight) hashing: the owners of a
// name are the R members whose hash of (member, name) is highest. Every node that sees the same
// members computes the same owners, with no coordination; a member joining or leaving moves only
// the names it gains or loses (about R/N of them), and the owners of a name form an ordered list,
// so a lookup that fails at the first owner tries the next.
//
// Members are named by their membership name (unique in the cluster). Value type;
// thread-compatible.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace pulsing::registry {

class Placement {
 public:
  // The members to place names on (live ones: alive or suspect). Order and duplicates do not
  // matter.
  void set_members(std::vector<std::string> members);
  void add(const std::string& member);
  void remove(std::string_view member);
  bool contains(std::string_view member) const;
  std::size_t size() const { return members_.size(); }
  const std::vector<std::string>& members() const { return names_; }

  // The min(replicas, size()) owners of `name`, most preferred first.
  std::vector<std::string> owners(std::string_view name, std::size_t replicas) const;
  // Whether `member` is among the owners of `name` (no list built).
  bool owns(std::string_view member, std::string_view name, std::size_t replicas) const;

  // How much `name` prefers a member: the owners of a name are the members of greatest rank.
  struct Rank {
    std::uint64_t weight = 0;  // the hash of (member, name)
    std::uint64_t member = 0;  // the member's hash: ties (rare) go to the smaller
    bool operator>(const Rank& o) const { return weight != o.weight ? weight > o.weight : member < o.member; }
  };
  static Rank rank(std::string_view member, std::string_view name);

 private:
  static std::uint64_t member_hash(std::string_view member);
  static Rank rank_of(std::uint64_t member_hash, std::string_view name);
  struct Entry {
    std::uint64_t hash;
    std::size_t index;  // in names_
  };
  void rebuild();

  std::vector<std::string> names_;  // sorted, unique
  std::vector<Entry> members_;      // one per name, same order
};

}  // namespace pulsing::registry
