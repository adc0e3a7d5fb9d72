#include "sim/registry_cluster.hpp"

#include <algorithm>

namespace pulsing::sim {

using membership::EventKind;

SimRegistryCluster::SimRegistryCluster(std::uint64_t seed, std::size_t nodes, Config membership,
                                       NetworkModel network, registry::Config base)
    : cluster_(seed, nodes, std::move(membership), network),
      base_(std::move(base)),
      network_(network),
      random_(seed ^ 0x9e3779b97f4a7c15ULL),
      registries_(nodes),
      runs_(nodes, 0) {
  cluster_.set_observer([this](std::size_t i, Clock::time_point, const membership::MemberEvent& e) { on_member_event(i, e); });
}

void SimRegistryCluster::crash(std::size_t i) {
  cluster_.crash(i);
  registries_[i].reset();
}

void SimRegistryCluster::start(std::size_t i, const std::vector<std::size_t>& seeds) {
  registry::Config c = base_;
  c.member = SimCluster::name(i);
  c.endpoint = endpoint(i);
  c.node_id = random_();
  registries_[i] = std::make_unique<registry::Registry>(c);
  cluster_.start(i, seeds);
}

bool SimRegistryCluster::add(std::size_t i, const std::string& name, std::uint64_t actor_id) {
  registry::Output out;
  bool added = registries_[i]->add_local(name, actor_id, "SimService", cluster_.now(), out);
  carry_out(i, out);
  return added;
}

void SimRegistryCluster::remove(std::size_t i, const std::string& name, std::uint64_t actor_id) {
  registry::Output out;
  registries_[i]->remove_local(name, actor_id, cluster_.now(), out);
  carry_out(i, out);
}

void SimRegistryCluster::on_member_event(std::size_t i, const membership::MemberEvent& e) {
  if (!registries_[i]) return;
  registry::Output out;
  auto now = cluster_.now();
  switch (e.kind) {
    case EventKind::kJoined:
    case EventKind::kAlive:
    case EventKind::kUpdated: registries_[i]->member_up(e.member.name, "tcp://" + e.member.address, now, out); break;
    case EventKind::kDead:
    case EventKind::kLeft: registries_[i]->member_down(e.member.name, now, out); break;
    case EventKind::kSuspect: break;  // still live: a suspect's names still resolve
    case EventKind::kRestarted: registries_[i]->member_restarted(e.member.name, "tcp://" + e.member.address, now, out); break;
  }
  carry_out(i, out);
}

Clock::duration SimRegistryCluster::delay() {
  std::uniform_int_distribution<std::int64_t> us(network_.min_delay.count() * 1'000, network_.max_delay.count() * 1'000);
  return std::chrono::microseconds(us(random_));
}

void SimRegistryCluster::carry_out(std::size_t i, registry::Output& out) {
  for (auto& c : out.completions) completed_[{i, c.lookup}] = std::move(c.instances);
  for (auto& m : out.messages) {
    std::size_t to = static_cast<std::size_t>(std::stoul(m.to.substr(m.to.rfind('-') + 1)));
    send(i, to, std::move(m.message));
  }
}

void SimRegistryCluster::deliver(const InFlight& m) {
  if (!registries_[m.from]) return;  // the sender crashed since
  auto now = cluster_.now();
  const bool update = std::holds_alternative<registry::Announce>(m.message) ||
                      std::holds_alternative<registry::Withdraw>(m.message);
  if (!cluster_.reachable(m.from, m.to) || !registries_[m.to]) {
    // A crashed node refuses the connection; a partition just loses the message.
    if (cluster_.running(m.to)) return;
    registry::Output out;
    if (const auto* lookup = std::get_if<registry::Lookup>(&m.message)) {
      registries_[m.from]->undeliverable(lookup->id, SimCluster::name(m.to), now, out);
    } else if (update) {
      registries_[m.from]->undelivered(update_id(m.message), now);
    }
    carry_out(m.from, out);
    return;
  }
  if (update && lose_(random_)) {
    // Lost with a connection that broke: the sender's transport reports it.
    registries_[m.from]->undelivered(update_id(m.message), now);
    ++updates_lost_;
    return;
  }
  if (const auto* lookup = std::get_if<registry::Lookup>(&m.message)) {
    // The answer travels back as a message of its own.
    send(m.to, m.from, registries_[m.to]->answer(*lookup));
    return;
  }
  registry::Output out;
  auto ack = registries_[m.to]->receive(m.message, endpoint(m.from), now, out);
  carry_out(m.to, out);
  if (ack) send(m.to, m.from, *ack);
}

void SimRegistryCluster::send(std::size_t from, std::size_t to, registry::Message message) {
  // In order per pair of nodes, as on one TCP connection: never before the one sent last.
  auto& last = last_arrival_[{from, to}];
  last = std::max(last, cluster_.now() + delay());
  queue_.push({last, next_order_++, from, to, std::move(message)});
}

std::uint64_t SimRegistryCluster::update_id(const registry::Message& m) {
  if (const auto* a = std::get_if<registry::Announce>(&m)) return a->id;
  return std::get<registry::Withdraw>(m).id;
}

void SimRegistryCluster::lose_updates(double probability) { lose_ = std::bernoulli_distribution(probability); }

Clock::time_point SimRegistryCluster::next_event() const {
  Clock::time_point next = queue_.empty() ? Clock::time_point::max() : queue_.top().at;
  for (const auto& r : registries_) {
    if (r) next = std::min(next, r->next_timer());
  }
  return next;
}

void SimRegistryCluster::run_due() {
  auto now = cluster_.now();
  while (!queue_.empty() && queue_.top().at <= now) {
    InFlight m = queue_.top();
    queue_.pop();
    deliver(m);
  }
  for (std::size_t i = 0; i < size(); ++i) {
    if (!registries_[i] || registries_[i]->next_timer() > now) continue;
    registry::Output out;
    registries_[i]->tick(now, out);
    carry_out(i, out);
  }
}

void SimRegistryCluster::run_for(milliseconds span) {
  auto until = cluster_.now() + span;
  while (true) {
    auto next = std::min(next_event(), until);
    if (next > cluster_.now()) cluster_.run_to(next);
    run_due();
    if (cluster_.now() >= until) return;
  }
}

std::vector<registry::Instance> SimRegistryCluster::resolve(std::size_t i, const std::string& name, milliseconds wait) {
  if (const auto* hit = registries_[i]->cached(name, cluster_.now())) return *hit;
  registry::Output out;
  std::uint64_t id = registries_[i]->lookup(name, cluster_.now() + wait, cluster_.now(), out);
  carry_out(i, out);
  // Every lookup completes: by an answer, or at its deadline after every owner was asked (each
  // at most lookup_timeout).
  auto limit = cluster_.now() + wait + base_.lookup_timeout * static_cast<long>(base_.replicas + 1) + milliseconds(100);
  while (!completed_.contains({i, id}) && cluster_.now() < limit && registries_[i]) run_for(milliseconds(1));
  auto it = completed_.find({i, id});
  if (it == completed_.end()) return {};
  auto found = std::move(it->second);
  completed_.erase(it);
  return found;
}

}  // namespace pulsing::sim
