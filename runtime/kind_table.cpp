#include "runtime/kind_table.hpp"

#include <stdexcept>

#include <fmt/format.h>

#include "common/text.hpp"

namespace pulsing::detail {

bool valid_kind_name(std::string_view name) {
  if (name.empty() || name.size() > 64) return false;
  for (std::size_t i = 0; i < name.size(); ++i) {
    char c = name[i];
    bool letter = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
    bool other = (c >= '0' && c <= '9') || c == '.' || c == '-';
    if (!letter && (i == 0 || !other)) return false;
  }
  return true;
}

void KindTable::add(ActorKind kind) {
  if (!valid_kind_name(kind.name)) {
    throw std::invalid_argument(fmt::format("'{}' is not a valid kind name: use 1 to 64 characters from "
                                            "[A-Za-z0-9_.-], starting with a letter or '_'",
                                            kind.name));
  }
  std::lock_guard lock(mutex_);
  auto it = kinds_.find(kind.name);
  if (it != kinds_.end()) {
    if (it->second->type == kind.type) return;
    throw std::invalid_argument(fmt::format("kind '{}' is registered already, by another class", kind.name));
  }
  std::string name = kind.name;
  kinds_.emplace(std::move(name), std::make_shared<const ActorKind>(std::move(kind)));
}

void KindTable::remove(std::string_view name) {
  std::lock_guard lock(mutex_);
  if (auto it = kinds_.find(name); it != kinds_.end()) kinds_.erase(it);
}

std::shared_ptr<const ActorKind> KindTable::find(std::string_view name) const {
  std::lock_guard lock(mutex_);
  auto it = kinds_.find(name);
  return it == kinds_.end() ? nullptr : it->second;
}

std::optional<std::string> KindTable::name_of(std::type_index type) const {
  std::lock_guard lock(mutex_);
  for (const auto& [name, kind] : kinds_) {
    if (kind->type == type) return name;
  }
  return std::nullopt;
}

std::vector<std::string> KindTable::names() const {
  std::lock_guard lock(mutex_);
  std::vector<std::string> out;
  out.reserve(kinds_.size());
  for (const auto& [name, kind] : kinds_) out.push_back(name);
  return out;
}

bool KindTable::empty() const {
  std::lock_guard lock(mutex_);
  return kinds_.empty();
}

std::string KindTable::announcement() const {
  std::string out;
  for (const auto& name : names()) {
    if (!out.empty()) out += ',';
    out += name;
  }
  return out;
}

std::vector<std::string_view> announced_kinds(std::string_view text) { return split_list(text); }

bool announces_kind(std::string_view text, std::string_view kind) {
  for (std::string_view item : announced_kinds(text)) {
    if (item == kind) return true;
  }
  return false;
}

Failure bad_constructor_arguments(std::string_view constructor, std::string_view why) {
  return make_failure<RuntimeError>(RuntimeErrorKind::kBadArguments, fmt::format("{}: {}", constructor, why));
}

}  // namespace pulsing::detail
