#include "cli/services.hpp"

#include <algorithm>
#include <cstdint>
#include <map>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <utility>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "common/text.hpp"
#include "runtime/actor.hpp"
#include "runtime/stream.hpp"

namespace pulsing::cli {
namespace {

class Echo : public Actor {
 public:
  Value echo(Value value) { return value; }
  PULSING_METHODS(Echo, echo)
};

class Calculator : public Actor {
 public:
  explicit Calculator(std::optional<std::int64_t> initial) : total_(initial.value_or(0)) {}
  std::int64_t add(std::int64_t n) { return total_ += n; }
  std::int64_t get() { return total_; }
  std::int64_t reset() { return std::exchange(total_, 0); }
  PULSING_METHODS(Calculator, add, get, reset)

 private:
  std::int64_t total_ = 0;
};

class Counter : public Actor {
 public:
  std::int64_t increment() { return ++count_; }
  std::int64_t add(std::int64_t n) { return count_ += n; }
  std::int64_t get() { return count_; }
  PULSING_METHODS(Counter, increment, add, get)

 private:
  std::int64_t count_ = 0;
};

class KeyValue : public Actor {
 public:
  Value put(std::string key, Value value) {
    auto [it, inserted] = entries_.try_emplace(std::move(key), value);
    if (inserted) return Value();
    return std::exchange(it->second, std::move(value));
  }
  Value get(std::string key) {
    auto it = entries_.find(key);
    return it == entries_.end() ? Value() : it->second;
  }
  bool remove(std::string key) { return entries_.erase(key) > 0; }
  std::vector<std::string> keys() {
    std::vector<std::string> out;
    for (const auto& [key, value] : entries_) out.push_back(key);
    return out;
  }
  PULSING_METHODS(KeyValue, put, get, remove, keys)

 private:
  std::map<std::string, Value, std::less<>> entries_;
};

class Tokens : public Actor {
 public:
  // n tokens of a canned answer (cycled), as a language model would stream them; a toy model
  // ignores the prompt.
  Stream<std::string> generate(std::string /*prompt*/, std::int64_t n) {
    if (n < 0) throw std::invalid_argument(fmt::format("generate: n must be at least 0, not {}", n));
    static const std::vector<std::string> words = {"Actors", " keep", " their", " state", " private",
                                                   " and",    " talk", " in",    " messages", "."};
    for (std::int64_t i = 0; i < n; ++i) {
      std::string token = words[static_cast<std::size_t>(i) % words.size()];
      co_yield std::move(token);
    }
  }
  PULSING_METHODS(Tokens, generate)
};

// The built-in entity kind: a shopping cart per key, which keeps its items in this node's memory
// while passivated (a real one would save them to a database in on_passivate).
class Cart : public Actor {
 public:
  explicit Cart(std::string key) : key_(std::move(key)) {}
  void on_activate() override {
    std::lock_guard lock(saved_mutex());
    if (auto it = saved().find(key_); it != saved().end()) items_ = std::move(it->second);
  }
  void on_passivate() override {
    std::lock_guard lock(saved_mutex());
    saved()[key_] = std::move(items_);
  }
  std::int64_t add_item(std::string item) {
    items_.push_back(std::move(item));
    return static_cast<std::int64_t>(items_.size());
  }
  std::vector<std::string> items() { return items_; }
  std::int64_t clear() { return static_cast<std::int64_t>(std::exchange(items_, {}).size()); }
  PULSING_METHODS(Cart, add_item, items, clear)

 private:
  static std::mutex& saved_mutex() {
    static std::mutex m;
    return m;
  }
  static std::map<std::string, std::vector<std::string>>& saved() {
    static std::map<std::string, std::vector<std::string>> m;
    return m;
  }
  std::string key_;
  std::vector<std::string> items_;
};

}  // namespace

const std::vector<std::string>& service_kinds() {
  static const std::vector<std::string> kinds = {"echo", "calculator", "counter", "kv", "tokens"};
  return kinds;
}

std::vector<ServiceSpec> parse_services(std::string_view list) {
  std::vector<ServiceSpec> specs;
  for (std::string_view item : split_list(list)) {
    auto equals = item.find('=');
    ServiceSpec spec;
    spec.kind = std::string(equals == std::string_view::npos ? item : item.substr(equals + 1));
    spec.name = std::string(equals == std::string_view::npos ? item : item.substr(0, equals));
    const auto& kinds = service_kinds();
    if (std::find(kinds.begin(), kinds.end(), spec.kind) == kinds.end()) {
      throw std::invalid_argument(fmt::format("unknown service kind '{}' in '{}' (the kinds are {})", spec.kind, item,
                                              fmt::join(kinds, ", ")));
    }
    if (!detail::valid_actor_name(spec.name)) throw std::invalid_argument(detail::invalid_name(spec.name).describe());
    specs.push_back(std::move(spec));
  }
  return specs;
}

std::vector<std::string> parse_kinds(std::string_view list) {
  if (list == "none") return {};
  std::vector<std::string> kinds = service_kinds();
  kinds.push_back(kEntityKind);
  if (list == "all") return kinds;
  std::vector<std::string> chosen;
  for (std::string_view item : split_list(list)) {
    if (std::find(kinds.begin(), kinds.end(), item) == kinds.end()) {
      throw std::invalid_argument(fmt::format("unknown kind '{}' (the kinds are {})", item, fmt::join(kinds, ", ")));
    }
    chosen.emplace_back(item);
  }
  return chosen;
}

void register_service_kinds(Node& node, const std::vector<std::string>& kinds) {
  for (const auto& kind : kinds) {
    if (kind == "echo") node.register_kind<Echo>(kind);
    if (kind == "calculator") node.register_kind<Calculator, std::optional<std::int64_t>>(kind);
    if (kind == "counter") node.register_kind<Counter>(kind);
    if (kind == "kv") node.register_kind<KeyValue>(kind);
    if (kind == "tokens") node.register_kind<Tokens>(kind);
    if (kind == kEntityKind) node.register_entity<Cart>(kind);
  }
}

AnyRef spawn_service(Node& node, const ServiceSpec& spec) {
  // A service's kind is hosted too, if it is not already.
  register_service_kinds(node, {spec.kind});
  return node.spawn_kind(spec.kind, {.name = spec.name}).get();
}

}  // namespace pulsing::cli
