#include "runtime/named_ref.hpp"

namespace pulsing::detail {

bool instance_gone(const Failure& failure) {
  const auto* runtime = dynamic_cast<const RuntimeError*>(failure.error.get());
  if (runtime == nullptr) return false;
  switch (runtime->kind()) {
    case RuntimeErrorKind::kNodeUnreachable:
    case RuntimeErrorKind::kActorNotFound:
    case RuntimeErrorKind::kActorStopped: return true;
    default: return false;
  }
}

}  // namespace pulsing::detail
