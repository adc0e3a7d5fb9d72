#include "runtime/cluster_registry.hpp"

#include <algorithm>

#include <fmt/format.h>

#include "common/log.hpp"
#include "runtime/node_core.hpp"
#include "runtime/registry_wire.hpp"
#include "runtime/remote.hpp"

namespace pulsing::detail {

namespace {
Failure shut_down() { return make_failure<RuntimeError>(RuntimeErrorKind::kShutdown, "the node has shut down"); }
}  // namespace

ClusterRegistry::ClusterRegistry(NodeCore& node, registry::Config config)
    : node_(node), config_(config), machine_(std::move(config)), random_(std::random_device{}()) {}

template <typename F>
void ClusterRegistry::feed(F&& f) {
  registry::Output out;
  {
    std::lock_guard lock(mutex_);
    f(Clock::now(), out);
    queue_locked(out);
  }
  carry_out(out);
}

void ClusterRegistry::on_member_event(const membership::MemberEvent& e) {
  feed([&](Clock::time_point now, registry::Output& out) {
    switch (e.kind) {
      case membership::EventKind::kJoined:
      case membership::EventKind::kAlive:
      case membership::EventKind::kUpdated: machine_.member_up(e.member.name, "tcp://" + e.member.address, now, out); break;
      case membership::EventKind::kDead:
      case membership::EventKind::kLeft: machine_.member_down(e.member.name, now, out); break;
      case membership::EventKind::kSuspect: break;  // still live: its names still resolve
      case membership::EventKind::kRestarted:
        machine_.member_restarted(e.member.name, "tcp://" + e.member.address, now, out);
        break;
    }
  });
}

void ClusterRegistry::add_local(const std::string& name, ActorId id, const std::string& class_name) {
  feed([&](Clock::time_point now, registry::Output& out) { machine_.add_local(name, id.value, class_name, now, out); });
}

void ClusterRegistry::remove_local(const std::string& name, ActorId id) {
  feed([&](Clock::time_point now, registry::Output& out) { machine_.remove_local(name, id.value, now, out); });
}

Future<ClusterRegistry::Instances> ClusterRegistry::find(const std::string& name, std::chrono::milliseconds wait) {
  auto found = std::make_shared<Promise<Instances>>();
  feed([&](Clock::time_point now, registry::Output& out) {
    // stop() sets stopped_ before it takes the lookups waiting under the mutex: a lookup added
    // here either sees it set or is among those stop() fails.
    if (stopped_.load()) {
      found->fail(shut_down());
    } else if (const auto* hit = machine_.cached(name, now)) {
      found->set_value(*hit);  // no continuation yet: nothing runs under the mutex
    } else {
      lookups_[machine_.lookup(name, now + wait, now, out)] = found;
    }
  });
  auto complete = std::make_shared<Promise<Instances>>();
  auto future = complete->future();
  found->future().then([this, complete, name, wait](Result<Instances> r) {
    if (!r.ok()) {
      complete->fail(r.failure());
      return;
    }
    Instances instances = std::move(r.value());
    // This node's own instance, first; the owners may not have heard of it yet.
    auto own = std::find_if(instances.begin(), instances.end(),
                            [&](const registry::Instance& i) { return i.member == node_.member_name(); });
    if (own != instances.end()) {
      std::rotate(instances.begin(), own, own + 1);
    } else if (auto cell = node_.registry().find(name)) {
      instances.insert(instances.begin(), registry::Instance{node_.member_name(), node_.endpoint(), node_.node_id().value,
                                                             cell->id().value, std::string(cell->methods().class_name())});
    }
    if (!instances.empty()) {
      complete->set_value(std::move(instances));
    } else if (wait.count() > 0) {
      complete->fail(make_failure<TimeoutError>(fmt::format("resolve '{}'", name), wait.count()));
    } else {
      complete->fail(make_failure<RuntimeError>(RuntimeErrorKind::kActorNotFound,
                                                fmt::format("no actor is named '{}' in the cluster", name)));
    }
  });
  return future;
}

Future<AnyRef> ClusterRegistry::resolve(const std::string& name, const ResolveOptions& options) {
  if (stopped_.load()) return Future<AnyRef>::ready(shut_down());
  if (options.pick == Pick::kLocalFirst) {
    if (auto cell = node_.registry().find(name)) return Future<AnyRef>::ready(AnyRef(std::move(cell)));
  }
  {
    // The cache answers most resolves: pick straight from it, with no future in between.
    std::unique_lock lock(mutex_);
    if (const auto* hit = machine_.cached(name, Clock::now()); hit != nullptr && !hit->empty()) {
      registry::Instance picked = (*hit)[pick_locked(name, hit->size(), options.pick)];
      lock.unlock();
      return Future<AnyRef>::ready(reference(name, picked));
    }
  }
  auto resolved = std::make_shared<Promise<AnyRef>>();
  auto future = resolved->future();
  find(name, options.wait).then([this, resolved, name, how = options.pick](Result<Instances> r) {
    if (!r.ok()) {
      resolved->fail(r.failure());
      return;
    }
    std::size_t at;
    {
      std::lock_guard lock(mutex_);
      at = pick_locked(name, r.value().size(), how);
    }
    resolved->set_value(reference(name, r.value()[at]));
  });
  return future;
}

Future<std::vector<AnyRef>> ClusterRegistry::resolve_all(const std::string& name, std::chrono::milliseconds wait) {
  auto listed = std::make_shared<Promise<std::vector<AnyRef>>>();
  auto future = listed->future();
  find(name, wait).then([this, listed, name](Result<Instances> r) {
    if (!r.ok()) {
      listed->fail(r.failure());
      return;
    }
    std::vector<AnyRef> refs;
    refs.reserve(r.value().size());
    for (const auto& instance : r.value()) refs.push_back(reference(name, instance));
    listed->set_value(std::move(refs));
  });
  return future;
}

std::size_t ClusterRegistry::pick_locked(const std::string& name, std::size_t instances, Pick how) {
  // kLocalFirst gets here when this node serves no instance: round robin. Turns are kept only
  // for pools, so that resolving many single names leaves nothing behind.
  if (instances == 1) return 0;
  if (how == Pick::kRandom) return std::uniform_int_distribution<std::size_t>(0, instances - 1)(random_);
  return next_instance_[name]++ % instances;
}

void ClusterRegistry::forget(const std::string& name, const ActorAddress& instance) {
  std::lock_guard lock(mutex_);
  machine_.forget_cached(name, instance.node.value, instance.actor.value);
}

AnyRef ClusterRegistry::reference(const std::string& name, const registry::Instance& i) {
  if (i.member == node_.member_name()) {
    if (auto cell = node_.registry().find(name)) return AnyRef(std::move(cell));
  }
  ActorAddress address{NodeId{i.node_id}, i.endpoint, ActorId{i.actor_id}};
  return AnyRef(std::make_shared<RemoteActor>(node_.shared_from_this(), node_.remote()->peer(i.endpoint),
                                              std::move(address), name, i.class_name));
}

Result<Value> ClusterRegistry::receive_update(const Value& payload, std::string_view from) {
  registry::Message message;
  try {
    message = registry_update_from_value(payload, config_.max_batch);
  } catch (const std::exception& e) {
    reject_update(e.what());
    return make_failure<RuntimeError>(RuntimeErrorKind::kProtocol, fmt::format("unreadable registry update: {}", e.what()));
  }
  std::optional<registry::UpdateAck> ack;
  feed([&](Clock::time_point now, registry::Output& out) { ack = machine_.receive(message, from, now, out); });
  return update_result_to_value(ack ? ack->result : registry::UpdateResult::kApplied);
}

void ClusterRegistry::reachable(const std::string& endpoint) {
  feed([&](Clock::time_point now, registry::Output& out) { machine_.reachable(endpoint, now, out); });
}

void ClusterRegistry::reject_update(std::string_view why) {
  if (unreadable_.fetch_add(1) % 1000 == 0) log().warn("registry: dropped an unreadable update ({} so far): {}", unreadable_.load(), why);
}

Value ClusterRegistry::answer_lookup(const std::string& name) {
  std::lock_guard lock(mutex_);
  return instances_to_value(machine_.answer(registry::Lookup{0, name}).instances);
}

void ClusterRegistry::queue_locked(registry::Output& out) {
  if (!stopped_.load()) {
    for (auto& m : out.messages) outbox_.push_back(std::move(m));
  }
  out.messages.clear();
}

void ClusterRegistry::carry_out(registry::Output& out) {
  drain();
  std::vector<std::pair<std::shared_ptr<Promise<Instances>>, Instances>> done;
  {
    std::lock_guard lock(mutex_);
    for (auto& c : out.completions) {
      auto it = lookups_.find(c.lookup);
      if (it == lookups_.end()) continue;
      done.emplace_back(std::move(it->second), std::move(c.instances));
      lookups_.erase(it);
    }
  }
  for (auto& [promise, instances] : done) promise->set_value(std::move(instances));
  arm_timer();
}

void ClusterRegistry::drain() {
  std::unique_lock lock(mutex_);
  if (draining_) return;  // the thread draining sends what was queued meanwhile, in order
  draining_ = true;
  while (!outbox_.empty() && !stopped_.load()) {
    registry::Outgoing m = std::move(outbox_.front());
    outbox_.pop_front();
    lock.unlock();
    send(m);
    lock.lock();
  }
  outbox_.clear();
  draining_ = false;
}

void ClusterRegistry::send(registry::Outgoing& m) {
  RemoteLink* link = node_.remote();
  if (link == nullptr || m.endpoint.empty()) return;
  auto peer = link->peer(m.endpoint);
  if (const auto* lookup = std::get_if<registry::Lookup>(&m.message)) {
    Envelope e = link->envelope(EnvelopeKind::kLookup);
    e.target_name = lookup->name;
    auto [slot, reply] = make_value_reply();
    link->request(*peer, std::move(e), config_.lookup_timeout, std::move(slot),
                  {nullptr, fmt::format("lookup '{}' at {}", lookup->name, m.to)});
    reply.then([this, id = lookup->id, name = lookup->name, owner = m.to, from = peer->endpoint()](Result<Value> r) {
      if (!r.ok()) {
        feed([&](Clock::time_point now, registry::Output& out) { machine_.undeliverable(id, owner, now, out); });
        return;
      }
      registry::LookupAnswer answer{id, name, {}};
      try {
        answer.instances = instances_from_value(r.value(), config_.max_batch);
      } catch (const std::exception& bad) {
        log().warn("registry: unreadable lookup answer from {}: {}", owner, bad.what());
      }
      feed([&](Clock::time_point now, registry::Output& out) { machine_.receive(answer, from, now, out); });
    });
    return;
  }
  // An update: the owner answers whether it applied it; one that fails (its connection lost, no
  // answer in time) has its owner repaired by the machine.
  const auto* a = std::get_if<registry::Announce>(&m.message);
  std::uint64_t id = a != nullptr ? a->id : std::get<registry::Withdraw>(m.message).id;
  Envelope e = link->envelope(EnvelopeKind::kRegistry);
  e.payload = registry_update_to_value(m.message);
  auto [slot, reply] = make_value_reply();
  link->request(*peer, std::move(e), config_.update_timeout, std::move(slot),
                {nullptr, fmt::format("registry update {} to {}", id, m.to)});
  reply.then([this, id, owner = m.to, from = peer->endpoint()](Result<Value> r) {
    std::optional<registry::UpdateResult> result;
    if (r.ok()) {
      try {
        result = update_result_from_value(r.value());
      } catch (const std::exception& bad) {
        log().warn("registry: unreadable answer to an update from {}: {}", owner, bad.what());
      }
    }
    feed([&](Clock::time_point now, registry::Output& out) {
      if (result) {
        machine_.receive(registry::UpdateAck{id, *result}, from, now, out);
      } else {
        machine_.undelivered(id, now);
      }
    });
  });
}

void ClusterRegistry::arm_timer() {
  Clock::time_point next;
  {
    std::lock_guard lock(mutex_);
    next = machine_.next_timer();
    if (stopped_.load() || next >= timer_at_) return;  // the armed timer comes first anyway
    timer_at_ = next;
  }
  node_.timers().schedule(next, [this] { tick(); });
}

void ClusterRegistry::tick() {
  feed([&](Clock::time_point now, registry::Output& out) {
    timer_at_ = Clock::time_point::max();
    if (!stopped_.load()) machine_.tick(now, out);
  });
}

void ClusterRegistry::stop() {
  if (stopped_.exchange(true)) return;
  std::map<std::uint64_t, std::shared_ptr<Promise<Instances>>> waiting;
  {
    std::lock_guard lock(mutex_);
    waiting.swap(lookups_);
  }
  for (auto& [id, promise] : waiting) promise->fail(shut_down());
}

registry::Stats ClusterRegistry::stats() const {
  std::lock_guard lock(mutex_);
  return machine_.stats();
}

}  // namespace pulsing::detail
