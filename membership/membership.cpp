#include "membership/membership.hpp"

#include <algorithm>
#include <cmath>
#include <stdexcept>
#include <utility>

namespace pulsing::membership {

namespace {

using std::chrono::milliseconds;

bool is_live(MemberState s) { return s == MemberState::kAlive || s == MemberState::kSuspect; }

// memberlist's push-pull scaling: above 32 members the exchange (whose cost grows with N) runs
// less often.
milliseconds push_pull_interval(milliseconds base, std::size_t n) {
  constexpr double kThreshold = 32;
  if (static_cast<double>(n) <= kThreshold) return base;
  double multiplier = std::ceil(std::log2(static_cast<double>(n)) - std::log2(kThreshold)) + 1.0;
  return milliseconds(static_cast<std::int64_t>(static_cast<double>(base.count()) * multiplier));
}

}  // namespace

Membership::Membership(Config config)
    : config_(std::move(config)),
      self_{config_.name, config_.address, config_.meta, config_.initial_incarnation, MemberState::kAlive, {}},
      random_(config_.random_seed),
      awareness_(std::max(1, config_.awareness_max_multiplier)) {
  if (config_.name.empty()) throw std::invalid_argument("membership: the node needs a name");
  if (config_.address.empty()) throw std::invalid_argument("membership: the node needs an address");
}

// ---- start, leave, metadata

void Membership::start(Clock::time_point now, std::vector<std::string> seeds, Output& out) {
  self_.state_since = now;
  std::erase(seeds, config_.address);
  seeds_ = std::move(seeds);
  joined_ = seeds_.empty();
  // Random phases: nodes started together do not probe and gossip in lockstep.
  auto phase = [&](milliseconds interval) {
    auto span = static_cast<std::uint64_t>(std::max<std::int64_t>(interval.count(), 1));
    return now + milliseconds(static_cast<std::int64_t>(random_() % span));
  };
  next_probe_ = phase(config_.probe_interval);
  next_gossip_ = phase(config_.gossip_interval);
  next_push_pull_ = now + config_.push_pull_interval;
  broadcasts_.push(self_.name, alive_of(self_));
  if (!joined_) {
    join_backoff_ = config_.join_retry_min;
    try_join(now, out);
  }
}

void Membership::leave(Clock::time_point now, Output& out) {
  if (leaving_) return;
  leaving_ = true;
  self_.state = MemberState::kLeft;
  self_.state_since = now;
  probe_.reset();
  Dead farewell{self_.name, self_.incarnation, self_.name};
  for (const Record* r : pick(static_cast<std::size_t>(config_.gossip_nodes),
                              [](const Record& r) { return is_live(r.member.state); })) {
    send(out, r->member.address, {farewell});
  }
  broadcasts_.push(self_.name, farewell);  // after the direct sends: once in each packet
}

void Membership::update_meta(Metadata meta, Clock::time_point, Output&) {
  self_.meta = std::move(meta);
  ++self_.incarnation;
  broadcasts_.push(self_.name, alive_of(self_));
}

// ---- views

std::vector<Member> Membership::members() const {
  std::vector<Member> all;
  all.reserve(members_.size() + 1);
  all.push_back(self_);
  for (const auto& [name, record] : members_) all.push_back(record.member);
  return all;
}

const Member* Membership::find(std::string_view name) const {
  if (name == self_.name) return &self_;
  auto it = members_.find(std::string(name));
  return it == members_.end() ? nullptr : &it->second.member;
}

// ---- input

void Membership::receive(const Packet& packet, const std::string& from, Clock::time_point now, Output& out) {
  ++stats_.packets_received;
  if (packet.cluster != config_.cluster) {
    ++stats_.foreign_packets;
    return;
  }
  for (const Message& message : packet.messages) {
    std::visit(
        [&](const auto& m) {
          using M = std::decay_t<decltype(m)>;
          if constexpr (std::is_same_v<M, Ping>) on_ping(packet, m, from, now, out);
          if constexpr (std::is_same_v<M, IndirectPing>) on_indirect_ping(m, from, now, out);
          if constexpr (std::is_same_v<M, Ack>) on_ack(m, now, out);
          if constexpr (std::is_same_v<M, Nack>) on_nack(m);
          if constexpr (std::is_same_v<M, Alive>) on_alive(m, now, out);
          if constexpr (std::is_same_v<M, Suspect>) on_suspect(m, now, out);
          if constexpr (std::is_same_v<M, Dead>) on_dead(m, now, out);
          if constexpr (std::is_same_v<M, StateSync>) on_state(packet, m, from, now, out);
        },
        message);
  }
  if (!joined_ && live_ > 0) joined_ = true;
}

void Membership::on_ping(const Packet&, const Ping& m, const std::string& from, Clock::time_point, Output& out) {
  if (m.target != self_.name) {
    ++stats_.misdirected_pings;
    return;
  }
  send(out, from, {Ack{m.seq}});
}

void Membership::on_indirect_ping(const IndirectPing& m, const std::string& from, Clock::time_point now,
                                  Output& out) {
  std::uint32_t seq = next_seq_++;
  relays_[seq] = Relay{from, m.seq, m.want_nack, now + probe_timeout()};
  send(out, m.target_address, {Ping{seq, m.target}});
}

void Membership::on_ack(const Ack& m, Clock::time_point, Output& out) {
  if (auto it = relays_.find(m.seq); it != relays_.end()) {
    send(out, it->second.requester_address, {Ack{it->second.requester_seq}});
    relays_.erase(it);
    return;
  }
  if (probe_ && probe_->seq == m.seq) {
    awareness_.apply(-1);
    probe_.reset();
  }
}

void Membership::on_nack(const Nack& m) {
  if (probe_ && probe_->seq == m.seq) {
    ++probe_->nacks;
    ++stats_.nacks_received;
  }
}

void Membership::on_alive(const Alive& m, Clock::time_point now, Output& out, bool spread) {
  if (m.name == self_.name) {
    // Someone speaks for this node with a newer word than its own (an earlier run, or another
    // process using its name): outrank it.
    if (!leaving_ && (m.incarnation > self_.incarnation ||
                      (m.incarnation == self_.incarnation && (m.address != self_.address || m.meta != self_.meta)))) {
      refute(m.incarnation, out);
    }
    return;
  }
  if (m.name.empty() || m.address.empty()) return;
  auto it = members_.find(m.name);
  if (it == members_.end()) {
    Record record{Member{m.name, m.address, m.meta, m.incarnation, MemberState::kAlive, now}, std::nullopt};
    name_index_[m.name] = names_.size();
    names_.push_back(m.name);
    probe_order_.push_back(m.name);  // probed within this round
    auto& r = members_.emplace(m.name, std::move(record)).first->second;
    ++live_;
    out.events.push_back({EventKind::kJoined, r.member});
    if (spread) broadcasts_.push(m.name, m);
    return;
  }
  Record& r = it->second;
  if (m.incarnation <= r.member.incarnation) {
    if (m.incarnation < r.member.incarnation) ++stats_.stale_messages;  // a repeat is no news, nor stale
    return;
  }
  bool changed = r.member.address != m.address || r.member.meta != m.meta;
  r.member.incarnation = m.incarnation;
  r.member.address = m.address;
  r.member.meta = m.meta;
  switch (r.member.state) {
    case MemberState::kAlive:
      if (changed) out.events.push_back({EventKind::kUpdated, r.member});
      break;
    case MemberState::kSuspect: set_state(r, MemberState::kAlive, now, EventKind::kAlive, out); break;
    case MemberState::kDead:
    case MemberState::kLeft: set_state(r, MemberState::kAlive, now, EventKind::kJoined, out); break;
  }
  if (spread) broadcasts_.push(m.name, m);
}

void Membership::on_suspect(const Suspect& m, Clock::time_point now, Output& out) {
  if (m.name == self_.name) {
    if (!leaving_ && m.incarnation >= self_.incarnation) refute(m.incarnation, out);
    return;
  }
  auto it = members_.find(m.name);
  if (it == members_.end()) return;
  Record& r = it->second;
  if (m.incarnation < r.member.incarnation) {
    ++stats_.stale_messages;
    return;
  }
  switch (r.member.state) {
    case MemberState::kAlive: suspect(r, m.incarnation, m.from, now, out); break;
    case MemberState::kSuspect:
      if (r.suspicion) {
        auto before = r.suspicion->deadline();
        if (r.suspicion->confirm(m.from)) {
          suspicion_deadlines_.erase({before, m.name});
          suspicion_deadlines_.insert({r.suspicion->deadline(), m.name});
          broadcasts_.push(m.name, m);  // others count this confirmation too
        }
      }
      break;
    case MemberState::kDead:
    case MemberState::kLeft:
      // The suspector missed the verdict (its gossip ran out before reaching it): say it again.
      if (m.incarnation == r.member.incarnation) {
        bool left = r.member.state == MemberState::kLeft;
        broadcasts_.push(m.name, Dead{m.name, r.member.incarnation, left ? m.name : self_.name});
      }
      break;
  }
}

void Membership::on_dead(const Dead& m, Clock::time_point now, Output& out) {
  if (m.name == self_.name) {
    if (!leaving_ && m.incarnation >= self_.incarnation) refute(m.incarnation, out);
    return;
  }
  auto it = members_.find(m.name);
  if (it == members_.end()) return;
  Record& r = it->second;
  if (m.incarnation < r.member.incarnation) {
    ++stats_.stale_messages;
    return;
  }
  if (!is_live(r.member.state)) return;
  bool left = m.from == m.name;
  r.member.incarnation = m.incarnation;
  set_state(r, left ? MemberState::kLeft : MemberState::kDead, now, left ? EventKind::kLeft : EventKind::kDead, out);
  broadcasts_.push(m.name, m);
}

void Membership::on_state(const Packet& p, const StateSync& m, const std::string& from, Clock::time_point now,
                          Output& out) {
  // The answer to this node's join is the cluster's view: news to this node only, so it is not
  // gossiped again (memberlist re-gossips it, and a burst of joins then crowds out the news that
  // matters: each joiner itself).
  const bool answers_join = m.join && !m.reply_wanted;
  for (const Member& e : m.members) {
    switch (e.state) {
      case MemberState::kAlive: on_alive(alive_of(e), now, out, /*spread=*/!answers_join); break;
      // Someone else's verdict of death is only a suspicion here: this node checks for itself.
      case MemberState::kSuspect:
      case MemberState::kDead: on_suspect(Suspect{e.name, e.incarnation, p.sender}, now, out); break;
      case MemberState::kLeft: on_dead(Dead{e.name, e.incarnation, e.name}, now, out); break;
    }
  }
  if (m.reply_wanted) send_state(out, from, false, m.join);
}

// ---- timers

Clock::time_point Membership::next_timer() const {
  Clock::time_point next = next_gossip_;
  if (!leaving_) {
    next = std::min(next, probe_ ? (probe_->indirect_sent ? probe_->fail_at : probe_->indirect_at) : next_probe_);
    next = std::min(next, next_push_pull_);
    if (!joined_ && !seeds_.empty()) next = std::min(next, next_join_);
  }
  for (const auto& [seq, relay] : relays_) next = std::min(next, relay.nack_at);
  if (!suspicion_deadlines_.empty()) next = std::min(next, suspicion_deadlines_.begin()->first);
  return next;
}

void Membership::tick(Clock::time_point now, Output& out) {
  if (!leaving_) {
    if (!joined_ && !seeds_.empty() && now >= next_join_) try_join(now, out);
    if (probe_) advance_probe(now, out);
    if (!probe_ && now >= next_probe_) start_probe(now, out);
  }
  expire_relays(now, out);
  expire_suspicions(now, out);
  if (now >= next_gossip_) {
    gossip(now, out);
    reap(now);
    next_gossip_ = std::max(next_gossip_ + config_.gossip_interval, now);
  }
  if (!leaving_ && now >= next_push_pull_) push_pull(now, out);
}

void Membership::try_join(Clock::time_point now, Output& out) {
  ++stats_.join_attempts;
  for (const auto& seed : seeds_) send_state(out, seed, true, true);
  next_join_ = now + join_backoff_;
  join_backoff_ = std::min(join_backoff_ * 2, config_.join_retry_max);
}

void Membership::start_probe(Clock::time_point now, Output& out) {
  next_probe_ = now + probe_interval();
  const Record* target = nullptr;
  for (std::size_t tries = 0; tries <= probe_order_.size() && target == nullptr; ++tries) {
    if (probe_next_ >= probe_order_.size()) {
      // A new round: every member once, in a fresh random order.
      probe_order_ = names_;
      std::shuffle(probe_order_.begin(), probe_order_.end(), random_);
      probe_next_ = 0;
      if (probe_order_.empty()) return;
    }
    auto it = members_.find(probe_order_[probe_next_++]);
    if (it != members_.end() && is_live(it->second.member.state)) target = &it->second;
  }
  if (target == nullptr) return;
  const Member& m = target->member;
  probe_ = Probe{next_seq_++, m.name, m.incarnation, now + probe_timeout(), now + probe_interval()};
  ++stats_.probes;
  std::vector<Message> messages{Ping{probe_->seq, m.name}};
  // Lifeguard: a suspect hears of the suspicion from its prober directly, and can refute fast.
  if (m.state == MemberState::kSuspect) messages.push_back(Suspect{m.name, m.incarnation, self_.name});
  send(out, m.address, std::move(messages));
}

void Membership::advance_probe(Clock::time_point now, Output& out) {
  auto it = members_.find(probe_->target);
  if (it == members_.end() || !is_live(it->second.member.state)) {
    probe_.reset();
    return;
  }
  Record& target = it->second;
  if (!probe_->indirect_sent && now >= probe_->indirect_at) {
    probe_->indirect_sent = true;
    auto helpers = pick(static_cast<std::size_t>(config_.indirect_checks), [&](const Record& r) {
      return r.member.state == MemberState::kAlive && r.member.name != probe_->target;
    });
    for (const Record* h : helpers) {
      send(out, h->member.address, {IndirectPing{probe_->seq, target.member.name, target.member.address, true}});
    }
    probe_->expected_nacks = static_cast<int>(helpers.size());
    stats_.indirect_probes += helpers.size();
    out.fallback_probes.push_back({target.member.address, target.member.name, probe_->seq});
  }
  if (now < probe_->fail_at) return;
  // No ack by the end of the interval. Missing nacks hint that this node's own network is the
  // problem (Lifeguard); with nobody to ask, it cannot tell, and counts it against itself.
  ++stats_.failed_probes;
  awareness_.apply(probe_->expected_nacks > 0 ? probe_->expected_nacks - probe_->nacks : 1);
  // Accuses the incarnation probed (a newer one heard of since is not accused), and confirms a
  // suspicion already heard of: this node's own failed probe is an independent confirmation.
  Suspect accusation{target.member.name, probe_->incarnation, self_.name};
  probe_.reset();
  on_suspect(accusation, now, out);
}

void Membership::expire_relays(Clock::time_point now, Output& out) {
  for (auto it = relays_.begin(); it != relays_.end();) {
    if (it->second.nack_at > now) {
      ++it;
      continue;
    }
    if (it->second.want_nack) send(out, it->second.requester_address, {Nack{it->second.requester_seq}});
    it = relays_.erase(it);
  }
}

void Membership::expire_suspicions(Clock::time_point now, Output& out) {
  while (!suspicion_deadlines_.empty() && suspicion_deadlines_.begin()->first <= now) {
    std::string name = suspicion_deadlines_.begin()->second;
    suspicion_deadlines_.erase(suspicion_deadlines_.begin());
    auto it = members_.find(name);
    if (it == members_.end() || it->second.member.state != MemberState::kSuspect) continue;
    Record& r = it->second;
    Dead verdict{name, r.member.incarnation, self_.name};
    set_state(r, MemberState::kDead, now, EventKind::kDead, out);
    broadcasts_.push(name, verdict);
  }
}

void Membership::gossip(Clock::time_point now, Output& out) {
  if (broadcasts_.empty()) return;
  auto targets = pick(static_cast<std::size_t>(config_.gossip_nodes),
                      [&](const Record& r) { return gossip_target(r, now); });
  for (const Record* r : targets) {
    if (broadcasts_.empty()) break;
    send(out, r->member.address, {});
  }
}

void Membership::push_pull(Clock::time_point now, Output& out) {
  next_push_pull_ = now + push_pull_interval(config_.push_pull_interval, live_count());
  auto target = pick(1, [](const Record& r) { return r.member.state == MemberState::kAlive; });
  if (!target.empty()) {
    ++stats_.push_pulls;
    send_state(out, target.front()->member.address, true, false);
  }
  // A seed that is not a live member may be up behind a partition that has healed since (both
  // sides have long forgotten each other): an exchange with it merges the two again.
  std::vector<const std::string*> missing;
  for (const auto& seed : seeds_) {
    bool live = std::any_of(members_.begin(), members_.end(), [&](const auto& entry) {
      return entry.second.member.address == seed && is_live(entry.second.member.state);
    });
    if (!live) missing.push_back(&seed);
  }
  if (!missing.empty()) {
    ++stats_.push_pulls;
    send_state(out, *missing[random_() % missing.size()], true, false);
  }
}

void Membership::reap(Clock::time_point now) {
  while (!departed_.empty() && departed_.front().first + config_.reap_after <= now) {
    std::string name = std::move(departed_.front().second);
    departed_.pop_front();
    auto it = members_.find(name);
    // Still gone, and not since a later departure (that one has its own entry further on).
    if (it != members_.end() && !is_live(it->second.member.state) &&
        it->second.member.state_since + config_.reap_after <= now) {
      forget(name);
    }
  }
}

// ---- helpers

void Membership::refute(std::uint64_t claimed_incarnation, Output&) {
  self_.incarnation = std::max(self_.incarnation, claimed_incarnation) + 1;
  ++stats_.refutations;
  awareness_.apply(1);  // being suspected hints that this node is the slow one
  broadcasts_.push(self_.name, alive_of(self_));
}

void Membership::set_state(Record& r, MemberState state, Clock::time_point now, EventKind event, Output& out) {
  if (r.suspicion) {
    suspicion_deadlines_.erase({r.suspicion->deadline(), r.member.name});
    r.suspicion.reset();
  }
  bool was_live = is_live(r.member.state);
  bool now_live = is_live(state);
  if (was_live && !now_live) --live_;
  if (!was_live && now_live) ++live_;
  r.member.state = state;
  r.member.state_since = now;
  if (!now_live) departed_.emplace_back(now, r.member.name);
  out.events.push_back({event, r.member});
  if (live_ == 0 && !seeds_.empty() && joined_) {
    // Everyone else is gone: alone again, so look for the cluster through the seeds.
    joined_ = false;
    join_backoff_ = config_.join_retry_min;
    next_join_ = now + config_.join_retry_min;
  }
}

void Membership::suspect(Record& r, std::uint64_t incarnation, const std::string& from, Clock::time_point now,
                         Output& out) {
  r.member.incarnation = incarnation;
  set_state(r, MemberState::kSuspect, now, EventKind::kSuspect, out);
  auto n = static_cast<double>(live_count());
  auto base = milliseconds(static_cast<std::int64_t>(config_.suspicion_mult * std::max(1.0, std::log10(n)) *
                                                     static_cast<double>(config_.probe_interval.count())));
  auto longest = base * std::max(1, config_.suspicion_max_multiplier);
  // Confirmations expected (memberlist: suspicion_mult − 2), none when too few could give them.
  int expected = config_.suspicion_mult - 2;
  if (static_cast<int>(live_count()) - 2 < expected) expected = 0;
  r.suspicion.emplace(from, expected, base, longest, now);
  suspicion_deadlines_.insert({r.suspicion->deadline(), r.member.name});
  broadcasts_.push(r.member.name, Suspect{r.member.name, incarnation, from});
}

void Membership::send(Output& out, const std::string& to, std::vector<Message> messages) {
  Packet packet{config_.cluster, self_.name, self_.address, std::move(messages)};
  std::size_t used = packet_overhead_bound(packet);
  for (const auto& m : packet.messages) used += size_bound(m);
  if (used < config_.max_packet_bytes) {
    for (auto& m : broadcasts_.take(config_.max_packet_bytes - used, retransmit_limit())) {
      packet.messages.push_back(std::move(m));
    }
  }
  if (packet.messages.empty()) return;
  out.packets.push_back({to, std::move(packet)});
}

void Membership::send_state(Output& out, const std::string& to, bool reply_wanted, bool join) {
  // The state goes in as many packets as it takes; the flags ride on the first only, so that a
  // receiver answers once.
  Packet packet{config_.cluster, self_.name, self_.address, {}};
  const std::size_t overhead = packet_overhead_bound(packet) + size_bound(Message{StateSync{}});
  StateSync part{reply_wanted, join, {}};
  std::size_t used = overhead;
  auto flush = [&] {
    packet.messages.assign(1, std::move(part));
    out.packets.push_back({to, packet});
    part = StateSync{};
    used = overhead;
  };
  auto add = [&](const Member& m) {
    std::size_t bytes = size_bound(m);
    if (!part.members.empty() && used + bytes > config_.max_packet_bytes) flush();
    part.members.push_back(m);
    used += bytes;
  };
  add(self_);
  for (const auto& [name, record] : members_) add(record.member);
  flush();
}

int Membership::retransmit_limit() const {
  auto n = static_cast<double>(live_count());
  return config_.retransmit_mult * static_cast<int>(std::ceil(std::log10(n + 1.0)));
}

bool Membership::gossip_target(const Record& r, Clock::time_point now) const {
  if (is_live(r.member.state)) return true;
  // The dead may be alive behind a partition: keep telling them for a while.
  return now - r.member.state_since < config_.gossip_to_the_dead;
}

template <typename Eligible>
std::vector<const Membership::Record*> Membership::pick(std::size_t count, Eligible eligible) {
  std::vector<const Record*> chosen;
  if (count == 0 || names_.empty()) return chosen;
  auto already = [&](const Record* r) { return std::find(chosen.begin(), chosen.end(), r) != chosen.end(); };
  // Random draws first (cheap in a large cluster where most members qualify) ...
  std::uniform_int_distribution<std::size_t> index(0, names_.size() - 1);
  for (std::size_t tries = 0; tries < 4 * count && chosen.size() < count; ++tries) {
    const Record& r = members_.at(names_[index(random_)]);
    if (eligible(r) && !already(&r)) chosen.push_back(&r);
  }
  if (chosen.size() == count) return chosen;
  // ... then a full scan, from a random start, when few qualify.
  std::size_t start = index(random_);
  for (std::size_t i = 0; i < names_.size() && chosen.size() < count; ++i) {
    const Record& r = members_.at(names_[(start + i) % names_.size()]);
    if (eligible(r) && !already(&r)) chosen.push_back(&r);
  }
  return chosen;
}

void Membership::forget(const std::string& name) {
  auto at = name_index_.find(name);
  if (at != name_index_.end()) {
    std::size_t i = at->second;
    name_index_.erase(at);
    if (i + 1 != names_.size()) {
      names_[i] = std::move(names_.back());
      name_index_[names_[i]] = i;
    }
    names_.pop_back();
  }
  members_.erase(name);
}

}  // namespace pulsing::membership
