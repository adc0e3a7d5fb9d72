#include "runtime/caller_access.hpp"

#include "runtime/actor_cell.hpp"
#include "runtime/local_registry.hpp"

namespace pulsing::detail {

void CallerAccess::allow_observers(const std::string& actor_name, const std::vector<std::string>& methods) {
  std::lock_guard lock(mutex_);
  observable_[actor_name].insert(methods.begin(), methods.end());
}

bool CallerAccess::permits(const EnvelopeView& e) const {
  switch (e.role) {
    case CallerRole::kNode: return true;
    case CallerRole::kOperator:
      switch (e.kind) {
        case EnvelopeKind::kAsk:
        case EnvelopeKind::kTell:
        case EnvelopeKind::kStreamOpen:
        case EnvelopeKind::kStreamCredit:
        case EnvelopeKind::kStreamCancel:
        case EnvelopeKind::kResolve:
        case EnvelopeKind::kWatch:
        case EnvelopeKind::kStop:
        case EnvelopeKind::kPing:
        case EnvelopeKind::kLookup: return true;
        default: return false;
      }
    case CallerRole::kObserver:
      switch (e.kind) {
        case EnvelopeKind::kResolve:
        case EnvelopeKind::kPing:
        case EnvelopeKind::kLookup: return true;
        case EnvelopeKind::kAsk: return observer_may_ask(e);
        default: return false;
      }
  }
  return false;
}

bool CallerAccess::observer_may_ask(const EnvelopeView& e) const {
  std::string name;
  if (!e.target_name.empty()) {
    name = e.target_name;
  } else if (auto cell = actors_.find(ActorId{e.target_id})) {
    name = cell->name();
  }
  if (name.empty()) return false;
  std::lock_guard lock(mutex_);
  auto it = observable_.find(name);
  return it != observable_.end() && it->second.contains(e.method);
}

}  // namespace pulsing::detail
