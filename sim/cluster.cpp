#include "sim/cluster.hpp"

#include <cstdlib>
#include <string>

namespace pulsing::sim {

using membership::MemberState;
using membership::Output;

std::uint64_t sim_seed(std::uint64_t fallback) {
  const char* text = std::getenv("PULSING_SIM_SEED");
  return text == nullptr ? fallback : std::stoull(text);
}

SimCluster::SimCluster(std::uint64_t seed, std::size_t nodes, Config base, NetworkModel network)
    : base_(std::move(base)), network_(network), random_(seed), nodes_(nodes) {
  for (std::size_t i = 0; i < nodes; ++i) {
    names_.push_back(name(i));
    by_address_[address(i)] = i;
  }
}

void SimCluster::start(std::size_t i, const std::vector<std::size_t>& seeds) {
  Config config = base_;
  config.name = name(i);
  config.address = address(i);
  config.random_seed = random_();
  config.run =
      static_cast<std::uint64_t>(std::chrono::duration_cast<milliseconds>(now_.time_since_epoch()).count());
  nodes_[i].machine = std::make_unique<membership::Membership>(config);
  std::vector<std::string> seed_addresses;
  for (std::size_t s : seeds) seed_addresses.push_back(address(s));
  Output out;
  nodes_[i].machine->start(now_, std::move(seed_addresses), out);
  apply(i, out);
}

void SimCluster::crash(std::size_t i) {
  nodes_[i].machine.reset();
  ++nodes_[i].timer_generation;
}

void SimCluster::pause(std::size_t i, milliseconds span) { nodes_[i].paused_until = now_ + span; }

void SimCluster::leave(std::size_t i) {
  Output out;
  nodes_[i].machine->leave(now_, out);
  apply(i, out);
}

void SimCluster::update_meta(std::size_t i, membership::Metadata meta) {
  Output out;
  nodes_[i].machine->update_meta(std::move(meta), now_, out);
  apply(i, out);
}

void SimCluster::start_converged() {
  for (std::size_t i = 0; i < nodes_.size(); ++i) {
    if (!running(i)) start(i, {});
  }
  // One answer for all, in parts as a real one comes: the nodes share its identities, as they
  // would share those of gossip, and no node's output grows with the cluster.
  constexpr std::size_t kPart = 1'024;
  std::vector<membership::Packet> answer;
  for (std::size_t i = 0; i < nodes_.size(); ++i) {
    if (i % kPart == 0) answer.push_back({base_.cluster, {membership::StateSync{false, true, name(0), {}}}});
    const membership::Member& self = nodes_[i].machine->self();
    std::get<membership::StateSync>(answer.back().messages.front())
        .members.push_back({membership::make_identity(self.name, self.address, self.meta), self.incarnation, self.state});
  }
  for (std::size_t i = 0; i < nodes_.size(); ++i) {
    for (const auto& part : answer) {
      Output out;
      nodes_[i].machine->receive(part, address(0), now_, out);
      apply(i, out);
    }
  }
}

void SimCluster::partition(const std::vector<int>& group_of_node) { groups_ = group_of_node; }

bool SimCluster::connected(std::size_t a, std::size_t b) const {
  return groups_.empty() || groups_[a] == groups_[b];
}

void SimCluster::apply(std::size_t i, Output& out) {
  for (auto& e : out.events) {
    if (observer_) {
      observer_(i, now_, e);
    } else {
      nodes_[i].events.push_back({now_, e.kind, e.member.name});
    }
  }
  std::uniform_real_distribution<double> unit(0.0, 1.0);
  std::uniform_int_distribution<std::int64_t> delay(network_.min_delay.count() * 1'000,
                                                    network_.max_delay.count() * 1'000);
  for (auto& o : out.packets) {
    ++packets_sent_;
    for (const auto& m : o.packet.messages) bytes_sent_ += membership::size_bound(m);
    auto to = by_address_.find(o.to);
    if (to == by_address_.end()) continue;  // nobody there
    auto packet = std::make_shared<const membership::Packet>(std::move(o.packet));
    int copies = unit(random_) < network_.duplicate ? 2 : 1;
    for (int c = 0; c < copies; ++c) {
      if (unit(random_) < network_.loss) continue;
      auto at = now_ + std::chrono::microseconds(delay(random_));
      queue_.push({at, next_order_++, to->second, 0, i, packet});
    }
  }
  for (auto& f : out.fallback_probes) {
    auto to = by_address_.find(f.address);
    if (to == by_address_.end()) continue;
    // The target answers on the reliable channel if it runs, is reachable, and is who was meant;
    // the answer arrives after a round trip (two delays), as an Ack from the target.
    std::size_t target = to->second;
    if (!running(target) || !connected(i, target) || nodes_[target].machine->self().name != f.target) continue;
    auto ack = std::make_shared<const membership::Packet>(
        membership::Packet{base_.cluster, {membership::Ack{f.seq}}});
    // A paused target answers once it continues.
    auto at = std::max(now_, nodes_[target].paused_until) + std::chrono::microseconds(delay(random_) + delay(random_));
    queue_.push({at, next_order_++, i, 0, target, ack});
  }
  schedule_timer(i);
}

void SimCluster::schedule_timer(std::size_t i) {
  Node& n = nodes_[i];
  if (!n.machine) return;
  queue_.push({std::max(now_, n.machine->next_timer()), next_order_++, i, ++n.timer_generation, std::nullopt, {}});
}

void SimCluster::step(const Pending& p) {
  now_ = std::max(now_, p.at);
  Node& n = nodes_[p.node];
  if (!n.machine) return;  // crashed: packets and timers vanish
  if (now_ < n.paused_until) {
    // Stopped: handled when the node continues, after what reached it earlier.
    Pending later = p;
    later.at = n.paused_until;
    later.order = next_order_++;
    queue_.push(std::move(later));
    return;
  }
  Output out;
  if (p.packet) {
    if (!connected(*p.from, p.node)) return;
    n.machine->receive(*p.packet, address(*p.from), now_, out);
  } else {
    if (p.timer_generation != n.timer_generation) return;  // superseded
    n.machine->tick(now_, out);
  }
  apply(p.node, out);
}

void SimCluster::run_to(Clock::time_point until) {
  while (!queue_.empty() && queue_.top().at <= until) {
    Pending p = queue_.top();
    queue_.pop();
    step(p);
  }
  now_ = std::max(now_, until);
}

bool SimCluster::run_until(const std::function<bool()>& done, milliseconds limit) {
  // `done` may be costly (a whole-cluster check): it is asked at most every kCheckEvery of
  // virtual time, which bounds how late a condition is noticed.
  constexpr milliseconds kCheckEvery{10};
  auto until = now_ + limit;
  if (done()) return true;
  auto next_check = now_ + kCheckEvery;
  while (!queue_.empty() && queue_.top().at <= until) {
    Pending p = queue_.top();
    queue_.pop();
    step(p);
    if (now_ >= next_check) {
      if (done()) return true;
      next_check = now_ + kCheckEvery;
    }
  }
  now_ = until;
  return done();
}

std::optional<MemberState> SimCluster::view(std::size_t observer, std::size_t subject) const {
  return nodes_[observer].machine->state_of(names_[subject]);
}

bool SimCluster::converged() const {
  std::size_t running_count = 0;
  for (const auto& n : nodes_) running_count += n.machine != nullptr;
  // The counts first: cheap, and they rule out most states that are not converged.
  for (std::size_t i = 0; i < nodes_.size(); ++i) {
    if (running(i) && nodes_[i].machine->live_count() != running_count) return false;
  }
  for (std::size_t i = 0; i < nodes_.size(); ++i) {
    if (!running(i)) continue;
    for (std::size_t j = 0; j < nodes_.size(); ++j) {
      if (running(j) && view(i, j) != MemberState::kAlive) return false;
    }
  }
  return true;
}

}  // namespace pulsing::sim
