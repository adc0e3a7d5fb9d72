#include "runtime/method_table.hpp"

#include <stdexcept>

namespace pulsing {

MethodTable::MethodTable(std::string_view class_name, std::vector<MethodEntry> entries)
    : class_name_(class_name), entries_(std::move(entries)) {
  for (std::size_t i = 0; i < entries_.size(); ++i) {
    for (std::size_t j = 0; j < i; ++j) {
      if (entries_[i].name == entries_[j].name) {
        throw std::logic_error(class_name_ + " registers method '" + entries_[i].name + "' twice");
      }
    }
  }
}

const MethodEntry* MethodTable::find(std::string_view name) const {
  for (const auto& e : entries_) {
    if (e.name == name) return &e;
  }
  return nullptr;
}

std::string MethodTable::names() const {
  std::string out;
  for (const auto& e : entries_) {
    if (!out.empty()) out += ", ";
    out += e.name;
  }
  return out;
}

}  // namespace pulsing
