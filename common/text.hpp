// Small text helpers shared by the layers (header-only, stateless, thread-safe).
#pragma once

#include <string_view>
#include <vector>

namespace pulsing {

// The non-empty items of a `separator`-separated list ("a,,b," gives "a", "b"), as views into
// `text` (which must outlive them).
inline std::vector<std::string_view> split_list(std::string_view text, char separator = ',') {
  std::vector<std::string_view> items;
  while (!text.empty()) {
    auto at = text.find(separator);
    std::string_view item = text.substr(0, at);
    if (!item.empty()) items.push_back(item);
    if (at == std::string_view::npos) break;
    text.remove_prefix(at + 1);
  }
  return items;
}

}  // namespace pulsing
