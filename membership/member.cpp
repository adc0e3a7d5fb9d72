#include "membership/member.hpp"

namespace pulsing::membership {

std::string_view to_string(MemberState state) {
  switch (state) {
    case MemberState::kAlive: return "alive";
    case MemberState::kSuspect: return "suspect";
    case MemberState::kDead: return "dead";
    case MemberState::kLeft: return "left";
  }
  return "unknown";
}

std::string_view to_string(EventKind kind) {
  switch (kind) {
    case EventKind::kJoined: return "joined";
    case EventKind::kSuspect: return "suspect";
    case EventKind::kAlive: return "alive";
    case EventKind::kDead: return "dead";
    case EventKind::kLeft: return "left";
    case EventKind::kUpdated: return "updated";
    case EventKind::kRestarted: return "restarted";
  }
  return "unknown";
}

}  // namespace pulsing::membership
