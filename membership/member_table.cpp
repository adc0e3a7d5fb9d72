#include "membership/member_table.hpp"

#include <algorithm>
#include <functional>
#include <utility>

namespace pulsing::membership {

MemberTable::Record* MemberTable::find(std::string_view name) {
  return const_cast<Record*>(std::as_const(*this).find(name));
}

const MemberTable::Record* MemberTable::find(std::string_view name) const {
  if (slots_.empty()) return nullptr;
  std::uint32_t n = slots_[slot_of(name)];
  return n == kEmpty ? nullptr : &records_[n];
}

namespace {
std::uint32_t hash_address(std::string_view address) {
  return static_cast<std::uint32_t>(std::hash<std::string_view>{}(address));
}
}  // namespace

void MemberTable::set_identity(Record& record, IdentityPtr who) {
  record.address_hash = hash_address(who->address);
  record.who = std::move(who);
}

const MemberTable::Record* MemberTable::find_address(std::string_view address) const {
  const std::uint32_t hash = hash_address(address);
  for (const Record& r : records_) {
    if (r.address_hash == hash && r.who->address == address) return &r;
  }
  return nullptr;
}

MemberTable::Record& MemberTable::insert(Record record) {
  record.address_hash = hash_address(record.who->address);
  if (2 * (records_.size() + 1) > slots_.size()) grow();
  slots_[slot_of(record.name())] = static_cast<std::uint32_t>(records_.size());
  records_.push_back(std::move(record));
  return records_.back();
}

std::optional<std::size_t> MemberTable::erase(std::string_view name) {
  if (slots_.empty()) return std::nullopt;
  std::size_t hole = slot_of(name);
  if (slots_[hole] == kEmpty) return std::nullopt;
  const std::size_t removed = slots_[hole];
  slots_[hole] = kEmpty;
  // Backward-shift deletion: a later entry of the same probe run moves into the hole when its
  // home slot does not lie (cyclically) between the hole and itself, so lookups never stop early.
  const std::size_t mask = slots_.size() - 1;
  for (std::size_t next = (hole + 1) & mask; slots_[next] != kEmpty; next = (next + 1) & mask) {
    std::size_t home = std::hash<std::string_view>{}(records_[slots_[next]].name()) & mask;
    if (((next - home) & mask) >= ((next - hole) & mask)) {
      slots_[hole] = slots_[next];
      slots_[next] = kEmpty;
      hole = next;
    }
  }
  const std::size_t last = records_.size() - 1;
  if (removed != last) {
    slots_[slot_of(records_[last].name())] = static_cast<std::uint32_t>(removed);
    records_[removed] = std::move(records_[last]);
  }
  records_.pop_back();
  return removed;
}

std::size_t MemberTable::slot_of(std::string_view name) const {
  const std::size_t mask = slots_.size() - 1;
  for (std::size_t i = std::hash<std::string_view>{}(name) & mask;; i = (i + 1) & mask) {
    if (slots_[i] == kEmpty || records_[slots_[i]].name() == name) return i;
  }
}

void MemberTable::grow() {
  slots_.assign(std::max<std::size_t>(16, 2 * slots_.size()), kEmpty);
  for (std::size_t n = 0; n < records_.size(); ++n) {
    slots_[slot_of(records_[n].name())] = static_cast<std::uint32_t>(n);
  }
}

}  // namespace pulsing::membership
