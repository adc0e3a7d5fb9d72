#include "runtime/placement_service.hpp"

#include <fmt/format.h>

#include "runtime/node_core.hpp"
#include "runtime/spawner.hpp"

namespace pulsing::detail {

Value PlacementService::place(std::string kind, Value options, std::vector<Value> args) {
  auto error = [](const Failure& f) { return Value(Value::Map{{"error", failure_to_value(f)}}); };
  auto node = node_.lock();
  if (!node) return error(make_failure<RuntimeError>(RuntimeErrorKind::kShutdown, "the node is shutting down"));
  SpawnOptions spawn;
  try {
    spawn = spawn_options_from_value(options);
  } catch (const ConversionError& bad) {
    return error(make_failure<RuntimeError>(RuntimeErrorKind::kBadArguments, fmt::format("spawn options: {}", bad.what())));
  }
  Result<AnyRef> built = node->spawner().host(kind, spawn, std::move(args));
  if (!built.ok()) {
    const auto* runtime = dynamic_cast<const RuntimeError*>(built.failure().error.get());
    if (runtime != nullptr && runtime->kind() == RuntimeErrorKind::kShutdown) {
      return error(make_failure<RuntimeError>(RuntimeErrorKind::kRefused,
                                              fmt::format("node {} is shutting down", node->member_name())));
    }
    return error(built.failure());
  }
  const AnyRef& ref = built.value();
  return Value::Map{{"address", Value(ref.address())}, {"class", std::string(ref.class_name())}, {"name", ref.name()}};
}

Task<bool> PlacementService::release(std::string kind, std::string key, std::string requester) {
  auto node = node_.lock();
  if (!node) co_return true;  // shutting down: its activations end with it
  co_return co_await node->entities().release(kind, key, requester);
}

}  // namespace pulsing::detail
