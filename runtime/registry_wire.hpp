// The name registry's messages (registry/messages.hpp) as Values, the payload of kRegistry
// envelopes (announce, withdraw) and of their replies (the owner's UpdateResult, as text), and
// of kLookup replies (the instances).
//
// Untrusted input: the from_value functions check every field's presence and kind, and the
// batch size against `max_names`, and throw std::invalid_argument naming the problem.
// Stateless; safe from any thread.
#pragma once

#include <cstddef>
#include <vector>

#include "messaging/value.hpp"
#include "registry/messages.hpp"

namespace pulsing::detail {

// REQUIRES: `message` is an Announce or a Withdraw.
Value registry_update_to_value(const registry::Message& message);
registry::Message registry_update_from_value(const Value& value, std::size_t max_names);

Value update_result_to_value(registry::UpdateResult result);
registry::UpdateResult update_result_from_value(const Value& value);

Value instances_to_value(const std::vector<registry::Instance>& instances);
std::vector<registry::Instance> instances_from_value(const Value& value, std::size_t max_instances);

}  // namespace pulsing::detail
