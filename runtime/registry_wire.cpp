#include "runtime/registry_wire.hpp"

#include <stdexcept>

#include <fmt/format.h>

namespace pulsing::detail {
namespace {

const Value& field(const Value& map, std::string_view key, Value::Kind kind) {
  const Value* v = map.is_map() ? map.find(key) : nullptr;
  if (v == nullptr) throw std::invalid_argument(fmt::format("registry message without '{}'", key));
  if (v->kind() != kind) {
    throw std::invalid_argument(fmt::format("registry message field '{}' is {}, not {}", key,
                                            Value::kind_name(v->kind()), Value::kind_name(kind)));
  }
  return *v;
}

const Value::List& list_of(const Value& map, std::string_view key, std::size_t limit) {
  const auto& list = field(map, key, Value::Kind::kList).as_list();
  if (list.size() > limit) {
    throw std::invalid_argument(fmt::format("registry message of {} {} exceeds the limit of {}", list.size(), key, limit));
  }
  return list;
}

Value names_to_value(const std::vector<registry::NamedActor>& names) {
  Value::List list;
  list.reserve(names.size());
  for (const auto& n : names) list.push_back(Value::Map{{"name", n.name}, {"actor", n.actor_id}, {"class", n.class_name}});
  return list;
}

std::vector<registry::NamedActor> names_from_value(const Value& message, std::size_t max_names) {
  std::vector<registry::NamedActor> out;
  for (const Value& n : list_of(message, "names", max_names)) {
    out.push_back({field(n, "name", Value::Kind::kText).as_text(), field(n, "actor", Value::Kind::kUint).as_uint(),
                   field(n, "class", Value::Kind::kText).as_text()});
  }
  return out;
}

}  // namespace

Value registry_update_to_value(const registry::Message& message) {
  if (const auto* a = std::get_if<registry::Announce>(&message)) {
    return Value::Map{{"kind", "announce"},          {"member", a->member},     {"endpoint", a->endpoint},
                      {"node", a->node_id},          {"complete", a->complete}, {"names", names_to_value(a->names)},
                      {"id", a->id},                 {"reply", a->reply}};
  }
  const auto& w = std::get<registry::Withdraw>(message);
  return Value::Map{{"kind", "withdraw"},
                    {"member", w.member},
                    {"node", w.node_id},
                    {"names", names_to_value(w.names)},
                    {"id", w.id}};
}

registry::Message registry_update_from_value(const Value& value, std::size_t max_names) {
  const std::string& kind = field(value, "kind", Value::Kind::kText).as_text();
  if (kind == "announce") {
    return registry::Announce{field(value, "member", Value::Kind::kText).as_text(),
                              field(value, "endpoint", Value::Kind::kText).as_text(),
                              field(value, "node", Value::Kind::kUint).as_uint(),
                              field(value, "complete", Value::Kind::kBool).as_bool(), names_from_value(value, max_names),
                              field(value, "id", Value::Kind::kUint).as_uint(),
                              field(value, "reply", Value::Kind::kBool).as_bool()};
  }
  if (kind == "withdraw") {
    return registry::Withdraw{field(value, "member", Value::Kind::kText).as_text(),
                              field(value, "node", Value::Kind::kUint).as_uint(), names_from_value(value, max_names),
                              field(value, "id", Value::Kind::kUint).as_uint()};
  }
  throw std::invalid_argument(fmt::format("unknown registry message kind '{}'", kind));
}

Value update_result_to_value(registry::UpdateResult result) {
  switch (result) {
    case registry::UpdateResult::kApplied: return "applied";
    case registry::UpdateResult::kHeld: return "held";
    case registry::UpdateResult::kRefused: break;
  }
  return "refused";
}

registry::UpdateResult update_result_from_value(const Value& value) {
  if (value.is_text()) {
    const std::string& text = value.as_text();
    if (text == "applied") return registry::UpdateResult::kApplied;
    if (text == "held") return registry::UpdateResult::kHeld;
    if (text == "refused") return registry::UpdateResult::kRefused;
  }
  throw std::invalid_argument("an answer to a registry update that is not applied, held or refused");
}

Value instances_to_value(const std::vector<registry::Instance>& instances) {
  Value::List list;
  list.reserve(instances.size());
  for (const auto& i : instances) {
    list.push_back(Value::Map{{"member", i.member}, {"endpoint", i.endpoint}, {"node", i.node_id},
                              {"actor", i.actor_id}, {"class", i.class_name}});
  }
  return list;
}

std::vector<registry::Instance> instances_from_value(const Value& value, std::size_t max_instances) {
  if (!value.is_list()) throw std::invalid_argument("a lookup answer that is not a list");
  if (value.as_list().size() > max_instances) {
    throw std::invalid_argument(
        fmt::format("a lookup answer of {} instances exceeds the limit of {}", value.as_list().size(), max_instances));
  }
  std::vector<registry::Instance> out;
  for (const Value& i : value.as_list()) {
    out.push_back({field(i, "member", Value::Kind::kText).as_text(), field(i, "endpoint", Value::Kind::kText).as_text(),
                   field(i, "node", Value::Kind::kUint).as_uint(), field(i, "actor", Value::Kind::kUint).as_uint(),
                   field(i, "class", Value::Kind::kText).as_text()});
  }
  return out;
}

}  // namespace pulsing::detail
