#include "runtime/calls.hpp"

namespace pulsing::detail {

void refuse(ActorCell& cell, DynamicReply& reply, const Failure& failure) {
  if (reply.is_tell()) {
    cell.node().dead_letter(cell.describe(), failure.describe());
  } else {
    reply.fail(failure);
  }
}

void invoke_by_name(ActorCell& cell, std::string_view method, std::vector<Value>&& args, DynamicReply&& reply) {
  const MethodEntry* entry = cell.methods().find(method);
  if (entry == nullptr) {
    refuse(cell, reply,
           make_failure<RuntimeError>(RuntimeErrorKind::kUnknownMethod,
                                      fmt::format("{} has no method '{}' (its methods: {})", cell.methods().class_name(),
                                                  method, cell.methods().names())));
    return;
  }
  entry->invoke(*entry, cell, std::move(args), std::move(reply));
}

}  // namespace pulsing::detail
