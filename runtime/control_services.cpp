#include "runtime/control_services.hpp"

#include <string>

#include <fmt/format.h>

#include "runtime/answers.hpp"
#include "runtime/cluster_registry.hpp"
#include "runtime/local_target.hpp"
#include "runtime/node_core.hpp"
#include "runtime/remote.hpp"

namespace pulsing::detail {

ControlServices::ControlServices(NodeCore& node, Answers& answers)
    : node_(node),
      answers_(answers),
      // A reply to a watcher goes through the node: the actor may outlive this link (a node that
      // could not stop it in time).
      watched_(std::make_shared<WatchedActors>(
          node.config().max_watches_per_caller,
          [node = node.weak_from_this()](Transport::Peer& caller, std::uint64_t correlation, Result<Value> notice) {
            auto core = node.lock();
            if (RemoteLink* link = core ? core->remote() : nullptr) {
              link->answers().send_reply(caller, correlation, std::move(notice));
            }
          },
          [](Result<StopNotice> r) {
            return r.ok() ? Result<Value>(stop_notice_to_value(r.value())) : Result<Value>(r.failure());
          })) {}

void ControlServices::on_request(const EnvelopeView& e) {
  switch (e.kind) {
    case EnvelopeKind::kResolve: return on_resolve(e);
    case EnvelopeKind::kWatch: return on_watch(e);
    case EnvelopeKind::kStop: return on_stop(e);
    case EnvelopeKind::kPing: return on_ping(e);
    case EnvelopeKind::kRegistry: return on_registry(e);
    case EnvelopeKind::kLookup: return on_lookup(e);
    default: return;
  }
}

void ControlServices::on_resolve(const EnvelopeView& e) {
  auto target = find_local_target(node_, node_.endpoint(), e);
  if (!target.cell) {
    answers_.reply(e, make_failure<RuntimeError>(RuntimeErrorKind::kActorNotFound, target.why));
    return;
  }
  answers_.reply(e, Result<Value>(Value::Map{{"address", Value(target.cell->address())},
                                             {"class", std::string(target.cell->methods().class_name())}}));
}

void ControlServices::on_watch(const EnvelopeView& e) {
  auto target = find_local_target(node_, node_.endpoint(), e);
  if (!target.cell) {
    if (!target.stopped) {
      answers_.reply(e, make_failure<RuntimeError>(RuntimeErrorKind::kActorNotFound, target.why));
      return;
    }
    // Gone already: as a local watch of a stopped actor, it completes at once.
    ActorAddress address{node_.node_id(), node_.endpoint(), ActorId{e.target_id}};
    answers_.reply(e, Result<Value>(stop_notice_to_value(StopNotice{std::move(address), "", StopReason::kStopped})));
    return;
  }
  if (e.sender_endpoint.empty()) return;  // nowhere to answer
  if (!watched_->add(target.cell, answers_.caller_of(e), e.correlation)) {
    answers_.reply(e, make_failure<RuntimeError>(RuntimeErrorKind::kOverloaded,
                                                 fmt::format("this caller holds {} watches on node {} already "
                                                             "(NodeConfig::max_watches_per_caller)",
                                                             watched_->max_per_caller(), node_.endpoint())));
  }
}

void ControlServices::on_stop(const EnvelopeView& e) {
  auto target = find_local_target(node_, node_.endpoint(), e);
  if (target.cell) {
    target.cell->request_stop();
  } else if (!target.stopped) {
    node_.dead_letter(target_of(e), target.why);
  }
}

void ControlServices::on_ping(const EnvelopeView& e) { answers_.reply(e, Result<Value>(Value(node_.member_name()))); }

void ControlServices::on_registry(const EnvelopeView& e) {
  auto* names = node_.cluster_registry();
  if (names == nullptr) {
    answers_.reply(e, make_failure<RuntimeError>(RuntimeErrorKind::kProtocol,
                                                 "this node is not in a cluster: it keeps no registry shard"));
    return;
  }
  Result<Value> answer = [&]() -> Result<Value> {
    try {
      return names->receive_update(e.payload(limits_), Transport::endpoint_of_identity(e.sender_endpoint));
    } catch (const DecodeError& bad) {
      names->reject_update(bad.what());
      return make_failure<RuntimeError>(RuntimeErrorKind::kProtocol, fmt::format("unreadable registry update: {}", bad.what()));
    }
  }();
  if (e.correlation != 0) answers_.reply(e, std::move(answer));
}

void ControlServices::on_lookup(const EnvelopeView& e) {
  auto* names = node_.cluster_registry();
  if (names == nullptr) {
    answers_.reply(e, make_failure<RuntimeError>(RuntimeErrorKind::kActorNotFound,
                                                 "this node is not in a cluster: it keeps no registry shard"));
    return;
  }
  answers_.reply(e, Result<Value>(names->answer_lookup(std::string(e.target_name))));
}

}  // namespace pulsing::detail
