#include "runtime/calls.hpp"

namespace pulsing::detail {

void refuse(ActorCell& cell, DynamicReply& reply, const Failure& failure) {
  if (reply.is_tell()) {
    cell.node().dead_letter(cell.describe(), failure.describe());
  } else {
    reply.fail(failure);
  }
}

const MethodEntry* find_method(ActorCell& cell, std::string_view method, DynamicReply& reply) {
  const MethodEntry* entry = cell.methods().find(method);
  if (entry == nullptr) {
    refuse(cell, reply,
           make_failure<RuntimeError>(RuntimeErrorKind::kUnknownMethod,
                                      fmt::format("{} has no method '{}' (its methods: {})", cell.methods().class_name(),
                                                  method, cell.methods().names())));
  }
  return entry;
}

void refuse_arguments(const MethodEntry& entry, ActorCell& cell, DynamicReply& reply, std::string_view why) {
  refuse(cell, reply,
         make_failure<RuntimeError>(RuntimeErrorKind::kBadArguments,
                                    fmt::format("{}.{}: {}", cell.methods().class_name(), entry.signature, why)));
}

std::string wrong_arity(std::size_t expected, std::size_t got) {
  return fmt::format("expected {} argument{}, got {}", expected, expected == 1 ? "" : "s", got);
}

}  // namespace pulsing::detail
