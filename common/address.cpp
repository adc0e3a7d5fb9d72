#include "common/address.hpp"

#include <charconv>

#include <fmt/format.h>

namespace pulsing {

namespace {
constexpr std::string_view kScheme = "pulsing://";

template <typename Int>
bool parse_int(std::string_view text, Int& out, int base) {
  if (text.empty()) return false;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), out, base);
  return ec == std::errc{} && end == text.data() + text.size();
}
}  // namespace

std::string ActorAddress::to_string() const {
  return fmt::format("{}{}/{:016x}/{}", kScheme, endpoint, node.value, actor.value);
}

std::optional<ActorAddress> ActorAddress::parse(std::string_view text) {
  if (!text.starts_with(kScheme)) return std::nullopt;
  text.remove_prefix(kScheme.size());
  // The endpoint may itself contain '/' ("tcp://h:p"), so split from the right.
  auto last = text.rfind('/');
  if (last == std::string_view::npos) return std::nullopt;
  auto middle = text.rfind('/', last == 0 ? 0 : last - 1);
  if (middle == std::string_view::npos || middle >= last) return std::nullopt;
  ActorAddress address;
  address.endpoint = std::string(text.substr(0, middle));
  if (!parse_int(text.substr(middle + 1, last - middle - 1), address.node.value, 16) ||
      !parse_int(text.substr(last + 1), address.actor.value, 10)) {
    return std::nullopt;
  }
  return address;
}

std::string endpoint_address(std::string_view endpoint) {
  constexpr std::string_view kTcp = "tcp://";
  if (endpoint.starts_with(kTcp)) endpoint.remove_prefix(kTcp.size());
  return std::string(endpoint);
}

}  // namespace pulsing
