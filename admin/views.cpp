#include "admin/views.hpp"

#include <algorithm>
#include <chrono>
#include <string>

namespace pulsing::admin {

Value members_view(const Node& node) {
  auto members = node.members();
  std::sort(members.begin(), members.end(), [](const auto& a, const auto& b) { return a.name < b.name; });
  const auto now = Clock::now();
  Value::List rows;
  for (const auto& m : members) {
    auto since = std::chrono::duration_cast<std::chrono::milliseconds>(now - m.state_since).count();
    rows.emplace_back(Value::Map{{"name", m.name},
                                 {"address", m.address},
                                 {"state", to_string(m.state)},
                                 {"incarnation", m.incarnation},
                                 {"since_ms", std::max<std::int64_t>(0, since)},
                                 {"self", m.name == node.member_name()}});
  }
  return rows;
}

Value actors_view(const Node& node) {
  auto actors = node.actors();
  std::sort(actors.begin(), actors.end(), [](const ActorInfo& a, const ActorInfo& b) {
    if (a.name.empty() != b.name.empty()) return b.name.empty();  // named ones first
    return a.name != b.name ? a.name < b.name : a.address.actor < b.address.actor;
  });
  Value::List rows;
  for (const auto& a : actors) {
    rows.emplace_back(Value::Map{{"name", a.name},
                                 {"class", a.class_name},
                                 {"id", a.address.actor.value},
                                 {"endpoint", a.address.endpoint},
                                 {"queued", a.queued}});
  }
  return rows;
}

Value stats_view(const Node& node) {
  const NodeStats s = node.stats();
  Value::Map members;
  for (const auto& [state, count] : members_by_state(node)) members[std::string(to_string(state))] = count;
  Value::Map errors;
  for (auto category : {ErrorCategory::kBusiness, ErrorCategory::kSystem, ErrorCategory::kTimeout,
                        ErrorCategory::kRuntime}) {
    errors[std::string(to_string(category))] = s.handler_errors[static_cast<std::size_t>(category)];
  }
  return Value::Map{{"node", node.member_name()},
                    {"endpoint", node.endpoint()},
                    {"members", std::move(members)},
                    {"actors", s.actors},
                    {"queued", s.queued},
                    {"max_queued", s.max_queued},
                    {"messages_handled", s.messages_handled},
                    {"asks_in", s.asks_in},
                    {"asks_out", s.asks_out},
                    {"tells_in", s.tells_in},
                    {"tells_out", s.tells_out},
                    {"streams_in", s.streams_in},
                    {"streams_out", s.streams_out},
                    {"ask_timeouts", s.ask_timeouts},
                    {"errors", std::move(errors)},
                    {"restarts", s.restarts},
                    {"dead_letters", s.dead_letters},
                    {"registry_entries", s.registry.entries},
                    {"gossip_bytes_in", s.gossip.bytes_received},
                    {"gossip_bytes_out", s.gossip.bytes_sent}};
}

std::map<membership::MemberState, std::uint64_t> members_by_state(const Node& node) {
  std::map<membership::MemberState, std::uint64_t> counts;
  for (auto state : {membership::MemberState::kAlive, membership::MemberState::kSuspect,
                     membership::MemberState::kDead, membership::MemberState::kLeft}) {
    counts[state] = 0;
  }
  for (const auto& m : node.members()) ++counts[m.state];
  return counts;
}

bool joined(const Node& node) {
  if (node.config().seeds.empty()) return true;
  const auto members = node.members();
  return std::any_of(members.begin(), members.end(), [&](const membership::Member& m) {
    return m.name != node.member_name() && m.state == membership::MemberState::kAlive;
  });
}

}  // namespace pulsing::admin
