// MemberTable: what one node knows of every other member, kept small: a record per member (its
// shared identity, incarnation and state), found by name in O(1) and numbered 0..size()-1 for
// random picks. Small because the simulator runs 10,000 nodes that each know 10,000 members:
// 10^8 records, of 40 bytes each plus an index slot of 4.
//
// Removing a record moves the last one into its place: numbers are stable only until erase().
// Thread-compatible.
#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <optional>
#include <string_view>
#include <vector>

#include "membership/messages.hpp"

namespace pulsing::membership {

class MemberTable {
 public:
  struct Record {
    IdentityPtr who;  // never null; replaced (same name) when the member announces a new one
    std::uint64_t incarnation = 0;
    Clock::time_point state_since{};  // when this node last saw `state` change
    MemberState state = MemberState::kAlive;
    // Known alive from the answer to this node's join and not gossiped since: gossiped when
    // heard again, so that a join's news has as many spreaders as nodes that hear it.
    bool quiet = false;
    // A hash of who->address, set by the table (insert(), set_identity()): find_address()
    // compares it before the text. It fits in the record's padding.
    std::uint32_t address_hash = 0;

    const std::string& name() const { return who->name; }
    Member member() const { return {who->name, who->address, who->meta, incarnation, state, state_since}; }
  };

  std::size_t size() const { return records_.size(); }
  bool empty() const { return records_.empty(); }
  Record& at(std::size_t i) { return records_[i]; }
  const Record& at(std::size_t i) const { return records_[i]; }
  Record* find(std::string_view name);
  const Record* find(std::string_view name) const;

  // Adds a record numbered size() - 1 afterwards. REQUIRES: none of the same name.
  Record& insert(Record record);
  // Gives `record` (one of this table's) a new identity. REQUIRES: of the same name.
  static void set_identity(Record& record, IdentityPtr who);
  // A record whose member is at `address`, if any. O(size()): for rare questions only.
  const Record* find_address(std::string_view address) const;
  // Removes the record of `name`, if any, and returns the number it had: the last record (the
  // one numbered size() afterwards) has taken it, unless it was the one removed.
  std::optional<std::size_t> erase(std::string_view name);

  auto begin() const { return records_.begin(); }
  auto end() const { return records_.end(); }

 private:
  static constexpr std::uint32_t kEmpty = UINT32_MAX;

  // The slot holding `name`'s number, or the empty slot where it would go.
  std::size_t slot_of(std::string_view name) const;
  void grow();

  std::deque<Record> records_;  // a deque: no reallocation slack, and no copying as it grows
  // Open addressing with linear probing: each slot is kEmpty or a number into records_. At most
  // half full, so that a lookup probes few slots.
  std::vector<std::uint32_t> slots_;
};

}  // namespace pulsing::membership
