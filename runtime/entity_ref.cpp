#include "runtime/entity_ref.hpp"

#include <fmt/format.h>

#include "runtime/node_core.hpp"
#include "runtime/remote.hpp"

namespace pulsing {

AnyEntityRef::AnyEntityRef(std::shared_ptr<detail::NodeCore> node, std::string kind, std::string key)
    : node_(std::move(node)), kind_(std::move(kind)), key_(std::move(key)) {}

Result<AnyRef> AnyEntityRef::current() const {
  if (!node_) return make_failure<RuntimeError>(RuntimeErrorKind::kShutdown, "an empty entity reference");
  const std::string name = this->name();
  if (!detail::valid_actor_name(name) || kind_.find('/') != std::string::npos) return detail::invalid_name(name);
  auto owner = node_->entities().owner(kind_, key_);
  if (!owner.ok()) return owner.failure();
  AnyRef at;
  if (owner.value().self || node_->remote() == nullptr) {
    auto cell = node_->entities().target(kind_, key_);
    if (!cell.ok()) return cell.failure();
    at = AnyRef(std::move(cell.value()));
  } else {
    // Reached by name at the owner, which activates it there if need be.
    at = AnyRef(detail::RemoteActor::by_name(node_, "tcp://" + owner.value().address, name, ""));
  }
  return timeout_.count() > 0 ? at.with_timeout(timeout_) : at;
}

Future<Value> AnyEntityRef::ask(std::string_view method, std::vector<Value> args) const {
  return retrying<Value>(
      [method = std::string(method), args = std::move(args)](const AnyRef& at) { return at.ask(method, args); });
}

void AnyEntityRef::tell(std::string_view method, std::vector<Value> args) const {
  auto at = current();
  if (at.ok()) {
    at.value().tell(method, std::move(args));
  } else if (node_) {
    node_->dead_letter(name(), at.failure().describe());
  }
}

AnyEntityRef AnyEntityRef::with_timeout(std::chrono::milliseconds timeout) const {
  AnyEntityRef copy = *this;
  copy.timeout_ = timeout;
  return copy;
}

std::chrono::milliseconds AnyEntityRef::timeout() const {
  return timeout_.count() > 0 ? timeout_ : node_ ? node_->default_ask_timeout() : std::chrono::milliseconds(30'000);
}

void AnyEntityRef::later(std::chrono::milliseconds delay, std::function<void()> again) const {
  node_->timers().schedule(Clock::now() + delay, std::move(again));
}

}  // namespace pulsing
