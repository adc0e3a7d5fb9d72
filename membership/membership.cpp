#include "membership/membership.hpp"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <stdexcept>
#include <utility>

#include <fmt/format.h>

namespace pulsing::membership {

namespace {

using std::chrono::milliseconds;

// memberlist's push-pull scaling: above 32 members the exchange (whose cost grows with N) runs
// less often.
milliseconds push_pull_interval(milliseconds base, std::size_t n) {
  constexpr double kThreshold = 32;
  if (static_cast<double>(n) <= kThreshold) return base;
  double multiplier = std::ceil(std::log2(static_cast<double>(n)) - std::log2(kThreshold)) + 1.0;
  return milliseconds(static_cast<std::int64_t>(static_cast<double>(base.count()) * multiplier));
}

// The room for updates in a packet that carries nothing else (a gossip round's packets): the
// largest update the broadcast queue accepts. Every queued update then fits in some packet the
// node sends; those that open with a ping or an ack may have to leave the largest ones to the
// next gossip round.
std::size_t gossip_room(const Config& c) {
  const std::size_t overhead = packet_overhead_bound(Packet{c.cluster, {}});
  return c.max_packet_bytes > overhead ? c.max_packet_bytes - overhead : 0;
}

}  // namespace

Membership::Membership(Config config)
    : config_(std::move(config)),
      self_{config_.name, config_.address, config_.meta, first_incarnation(config_.run), MemberState::kAlive, {}},
      self_identity_(make_identity(config_.name, config_.address, config_.meta)),
      random_(config_.random_seed),
      awareness_(std::max(1, config_.awareness_max_multiplier)),
      broadcasts_(gossip_room(config_)) {
  if (config_.name.empty()) throw std::invalid_argument("membership: the node needs a name");
  if (config_.address.empty()) throw std::invalid_argument("membership: the node needs an address");
  check_meta(config_.meta);
}

void check_meta(const Config& config, const Metadata& meta) {
  const std::size_t bytes = size_bound(meta);
  if (bytes > config.max_meta_bytes) {
    throw std::invalid_argument(fmt::format(
        "membership: metadata of {} bytes exceeds the limit of {} bytes (max_meta_bytes)", bytes,
        config.max_meta_bytes));
  }
  // The node's alive message without its metadata, and the ping it may ride beside.
  const std::size_t others = size_bound(Alive{make_identity(config.name, config.address), 0}) -
                             size_bound(Metadata{}) + size_bound(Ping{0, config.name});
  const std::size_t room = gossip_room(config);
  if (others + size_bound(Metadata{}) > room) {
    throw std::invalid_argument(fmt::format(
        "membership: this node's name ({} bytes) and address ({} bytes) leave no room for its alive message "
        "beside a ping in a packet of {} bytes (max_packet_bytes)",
        config.name.size(), config.address.size(), config.max_packet_bytes));
  }
  if (others + bytes > room) {
    throw std::invalid_argument(fmt::format(
        "membership: metadata of {} bytes exceeds the limit of {} bytes that a packet of {} bytes "
        "(max_packet_bytes) leaves beside this node's name ({} bytes), address ({} bytes) and a ping",
        bytes, room - others, config.max_packet_bytes, config.name.size(),
        config.address.size()));
  }
}

void Membership::check_meta(const Metadata& meta) const { membership::check_meta(config_, meta); }

// ---- start, leave, metadata

void Membership::start(Clock::time_point now, std::vector<std::string> seeds, Output& out) {
  self_.state_since = now;
  started_at_ = now;
  std::erase(seeds, config_.address);
  seeds_ = std::move(seeds);
  joined_ = seeds_.empty();
  // Random phases: nodes started together do not probe, gossip and exchange state in lockstep.
  next_probe_ = now + jitter(config_.probe_interval);
  next_gossip_ = now + jitter(config_.gossip_interval);
  next_push_pull_ = now + jitter(config_.push_pull_interval);
  broadcasts_.push(self_.name, self_alive());
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
                              [](const Record& r) { return is_live(r.state); })) {
    send(out, r->who->address, {farewell});
  }
  broadcasts_.push(self_.name, farewell);  // after the direct sends: once in each packet
}

void Membership::update_meta(Metadata meta, Clock::time_point, Output&) {
  check_meta(meta);  // before anything changes: a refused update leaves the old one announced
  self_.meta = std::move(meta);
  ++self_.incarnation;
  self_identity_ = make_identity(self_.name, self_.address, self_.meta);
  broadcasts_.push(self_.name, self_alive());
}

// ---- views

std::vector<Member> Membership::members() const {
  std::vector<Member> all;
  all.reserve(members_.size() + 1);
  all.push_back(self_);
  for (const Record& r : members_) all.push_back(r.member());
  return all;
}

std::optional<Member> Membership::find(std::string_view name) const {
  if (name == self_.name) return self_;
  const Record* r = members_.find(name);
  return r == nullptr ? std::nullopt : std::optional(r->member());
}

std::optional<MemberState> Membership::state_of(std::string_view name) const {
  if (name == self_.name) return self_.state;
  const Record* r = members_.find(name);
  return r == nullptr ? std::nullopt : std::optional(r->state);
}

// ---- input

void Membership::receive(const Packet& packet, const std::string& from, Clock::time_point now, Output& out) {
  ++stats_.packets_received;
  if (packet.cluster != config_.cluster) {
    ++stats_.foreign_packets;
    return;
  }
  bool accused = false;  // of this run
  bool accuses_earlier_run = false;
  std::vector<Message> newer;  // this node's word on members the sender spoke of as older news
  std::size_t newer_room = broadcasts_.max_item_bytes();  // what one packet holds beside nothing else
  for (const Message& message : packet.messages) {
    std::visit(
        [&](const auto& m) {
          using M = std::decay_t<decltype(m)>;
          if constexpr (std::is_same_v<M, Suspect> || std::is_same_v<M, Dead>) {
            if (m.name == self_.name) {
              const bool earlier = run_of(m.incarnation) < run_of(self_.incarnation);
              accuses_earlier_run |= earlier;
              accused |= !earlier;
            } else if (const Record* r = members_.find(m.name);
                       r != nullptr && r->state == MemberState::kAlive && m.incarnation < r->incarnation) {
              Message word = Alive{r->who, r->incarnation};
              if (std::size_t bytes = size_bound(word); bytes <= newer_room) {  // one packet's worth
                newer_room -= bytes;
                newer.push_back(std::move(word));
              }
            }
          }
          if constexpr (std::is_same_v<M, Ping>) on_ping(packet, m, from, now, out);
          if constexpr (std::is_same_v<M, IndirectPing>) on_indirect_ping(m, from, now, out);
          if constexpr (std::is_same_v<M, Ack>) on_ack(m, now, out);
          if constexpr (std::is_same_v<M, Nack>) on_nack(m, now);
          if constexpr (std::is_same_v<M, Alive>) on_alive(m, Heard::kGossip, now, out);
          if constexpr (std::is_same_v<M, Suspect>) on_suspect(m, now, out);
          if constexpr (std::is_same_v<M, Dead>) on_dead(m, now, out);
          if constexpr (std::is_same_v<M, StateSync>) on_state(m, from, now, out);
        },
        message);
  }
  if ((accused || accuses_earlier_run) && !leaving_ && !from.empty()) {
    // Whoever says this node is suspect or dead hears its alive message straight away, not only
    // through gossip. A refutation reaches each member through gossip alone with high probability,
    // not for certain: after a pause of 1.5 s in a cluster of eight (the chaos suite's
    // pause-short), some member missed it and declared a live node dead in 27 simulated runs of
    // 2,000. An accusation this node refuted already (an older incarnation) means its sender
    // missed that refutation.
    // The sender of an accusation of the earlier run has not heard of this one, which may not
    // know it either (after a mass restart nobody this run knows may know the sender). Telling
    // it makes it gossip this run, and its gossip comes back with itself in it.
    ++(accuses_earlier_run ? stats_.earlier_run_answers : stats_.accusations_answered);
    send(out, from, {self_alive()});
  }
  if (!newer.empty() && !from.empty()) {
    // The sender still spreads a suspicion or a death older than what this node knows: it missed
    // the member's refutation (gossip reaches each member with high probability, not for
    // certain), and it would go on to declare that member dead, or keep it dead until a
    // full-state exchange 15-30 s later. This node tells it.
    ++stats_.stale_news_answered;
    send(out, from, std::move(newer));
  }
  if (!joined_ && live_ > 0) {
    joined_ = true;
    // One more full-state exchange soon: news of the nodes that joined in the same burst may
    // have missed this node (Config::join_sync_after).
    next_join_sync_ = now + config_.join_sync_after + jitter(config_.join_sync_after);
  }
}

void Membership::on_ping(const Packet&, const Ping& m, const std::string& from, Clock::time_point now, Output& out) {
  if (m.target != self_.name) {
    ++stats_.misdirected_pings;
    return;
  }
  send(out, from, {Ack{m.seq}});
  // A ping from an address that no member known here has: the sender knows this node, and this
  // node not it. That is how a run restarted together with its seeds (a mass restart) meets
  // the members that stayed up: nothing else they send says who they are, and waiting for
  // their next full-state exchange took 5.5-12 s in the chaos suite. An exchange with the
  // sender now, at most one a probe interval (a sender's address may be a name this node knows
  // by another text), and only in the first push_pull_interval of this run, when it is news.
  if (from.empty() || leaving_ || now >= started_at_ + config_.push_pull_interval || now < next_stranger_check_) return;
  next_stranger_check_ = now + config_.probe_interval;
  if (members_.find_address(from) != nullptr) return;
  ++stats_.strangers_met;
  send_state(out, from, /*reply_wanted=*/true, /*join=*/false);
}

void Membership::on_indirect_ping(const IndirectPing& m, const std::string& from, Clock::time_point now,
                                  Output& out) {
  std::uint32_t seq = next_seq_++;
  relays_[seq] = Relay{m.target_address, from, m.seq, m.want_nack, now + probe_timeout()};
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

void Membership::on_nack(const Nack& m, Clock::time_point now) {
  if (!probe_ || probe_->seq != m.seq) return;
  ++stats_.nacks_received;
  // Everyone asked could not reach the target either, and say so themselves: the verdict need not
  // wait for the end of the interval, only for the fallback probe, which went out with the
  // indirect ones and gets a probe timeout of its own (nacks come after about that long anyway,
  // unless the target's host refused their pings).
  if (++probe_->nacks == probe_->expected_nacks) {
    probe_->fail_at = std::min(probe_->fail_at, std::max(now, probe_->indirect_at + probe_timeout()));
  }
}

void Membership::unreachable(const std::string& address, Clock::time_point now, Output& out) {
  ++stats_.unreachable;
  if (probe_ && !probe_->indirect_sent) {
    const Record* target = members_.find(probe_->target);
    if (target != nullptr && target->who->address == address) {
      probe_->indirect_at = now;
      advance_probe(now, out);
    }
  }
  bool refused = false;
  for (auto& [seq, relay] : relays_) {
    if (relay.target_address == address) {
      relay.nack_at = now;
      refused = true;
    }
  }
  if (refused) expire_relays(now, out);
}

void Membership::on_alive(const Alive& m, Heard heard, Clock::time_point now, Output& out) {
  if (!credible(m.incarnation, now)) return;
  const Identity& who = *m.who;
  const bool spread = heard != Heard::kJoinAnswer;
  if (who.name == self_.name) {
    // Someone speaks for this node with a newer word than its own (an earlier run, or another
    // process using its name): outrank it.
    if (!leaving_ && (m.incarnation > self_.incarnation ||
                      (m.incarnation == self_.incarnation && (who.address != self_.address || who.meta != self_.meta)))) {
      refute(m.incarnation, out);
    }
    return;
  }
  if (who.name.empty() || who.address.empty()) return;
  Record* known = members_.find(who.name);
  if (known == nullptr) {
    // Probed within this round, at a random place in what is left of it (at the end, a newcomer
    // would be probed by nobody until every node's round is nearly over, since rounds start
    // together when a cluster forms: a crash right after the join then went unseen for ~10 s).
    probe_order_.push_back(static_cast<std::uint32_t>(members_.size()));
    std::size_t left = probe_order_.size() - std::min(probe_next_, probe_order_.size());
    std::swap(probe_order_.back(), probe_order_[probe_order_.size() - 1 - random_() % left]);
    Record& r = members_.insert({m.who, m.incarnation, now, MemberState::kAlive, /*quiet=*/!spread});
    ++live_;
    out.events.push_back({EventKind::kJoined, r.member()});
    if (spread) broadcasts_.push(who.name, m);
    return;
  }
  Record& r = *known;
  if (m.incarnation <= r.incarnation) {
    if (m.incarnation < r.incarnation) {
      ++stats_.stale_messages;
    } else if (heard == Heard::kGossip && r.quiet && r.state == MemberState::kAlive) {
      // Old news to this node, but others have not all heard it yet: this node spreads it too.
      r.quiet = false;
      broadcasts_.push(who.name, m);
    }
    return;  // a repeat is no news, nor stale
  }
  bool changed = r.who->address != who.address || r.who->meta != who.meta;
  // A new run of a member still live here: it crashed and came back before being declared dead.
  const bool restarted = run_of(m.incarnation) != run_of(r.incarnation) && is_live(r.state);
  r.incarnation = m.incarnation;
  r.quiet = !spread;
  if (changed) MemberTable::set_identity(r, m.who);
  switch (r.state) {
    case MemberState::kAlive:
      if (restarted) {
        set_state(r, MemberState::kAlive, now, EventKind::kRestarted, out);
      } else if (changed) {
        out.events.push_back({EventKind::kUpdated, r.member()});
      }
      break;
    case MemberState::kSuspect:
      set_state(r, MemberState::kAlive, now, restarted ? EventKind::kRestarted : EventKind::kAlive, out);
      break;
    case MemberState::kDead:
    case MemberState::kLeft: set_state(r, MemberState::kAlive, now, EventKind::kJoined, out); break;
  }
  if (spread) broadcasts_.push(who.name, m);
  if (restarted && !leaving_) {
    // The new run knows only what its seeds told it, and they may have restarted with it (a
    // mass restart): this node tells it of itself rather than wait for a full-state exchange.
    send(out, who.address, {self_alive()});
  }
}

void Membership::on_suspect(const Suspect& m, Clock::time_point now, Output& out) {
  if (!credible(m.incarnation, now)) return;
  if (m.name == self_.name) {
    if (!leaving_ && m.incarnation >= self_.incarnation) refute(m.incarnation, out);
    return;
  }
  Record* known = members_.find(m.name);
  if (known == nullptr) return;
  Record& r = *known;
  if (m.incarnation < r.incarnation) {
    ++stats_.stale_messages;
    return;
  }
  switch (r.state) {
    case MemberState::kAlive: suspect(r, m.incarnation, m.from, now, out); break;
    case MemberState::kSuspect:
      if (auto s = suspicions_.find(m.name); s != suspicions_.end()) {
        auto before = s->second.deadline();
        if (s->second.confirm(m.from)) {
          suspicion_deadlines_.erase({before, m.name});
          suspicion_deadlines_.insert({s->second.deadline(), m.name});
          if (challenges_.erase({challenge_time(before), m.name}) != 0) {
            challenges_.insert({challenge_time(s->second.deadline()), m.name});
          }
          broadcasts_.push(m.name, m);  // others count this confirmation too
        }
      }
      break;
    case MemberState::kDead:
    case MemberState::kLeft:
      // The suspector missed the verdict (its gossip ran out before reaching it): say it again.
      if (m.incarnation == r.incarnation) {
        bool left = r.state == MemberState::kLeft;
        broadcasts_.push(m.name, Dead{m.name, r.incarnation, left ? m.name : self_.name});
      }
      break;
  }
}

void Membership::on_dead(const Dead& m, Clock::time_point now, Output& out) {
  if (!credible(m.incarnation, now)) return;
  if (m.name == self_.name) {
    if (!leaving_ && m.incarnation >= self_.incarnation) refute(m.incarnation, out);
    return;
  }
  Record* known = members_.find(m.name);
  if (known == nullptr) return;
  Record& r = *known;
  if (m.incarnation < r.incarnation) {
    ++stats_.stale_messages;
    return;
  }
  if (!is_live(r.state)) return;
  bool left = m.from == m.name;
  r.incarnation = m.incarnation;
  set_state(r, left ? MemberState::kLeft : MemberState::kDead, now, left ? EventKind::kLeft : EventKind::kDead, out);
  broadcasts_.push(m.name, m);
}

void Membership::on_state(const StateSync& m, const std::string& from, Clock::time_point now,
                          Output& out) {
  // The answer to this node's join is the cluster's view: news to this node only, kept quiet
  // until gossip says it again (memberlist gossips it all on, and a burst of joins then crowds
  // out the news that matters: each joiner itself).
  const Heard heard = m.join && !m.reply_wanted ? Heard::kJoinAnswer : Heard::kStateSync;
  for (const StateSync::Entry& e : m.members) {
    if (heard == Heard::kJoinAnswer && e.state == MemberState::kAlive && e.incarnation == self_.incarnation &&
        *e.who == *self_identity_) {
      broadcasts_.drop(self_.name);  // the cluster has this node's news already: its seeds spread it
      continue;
    }
    switch (e.state) {
      case MemberState::kAlive: on_alive(Alive{e.who, e.incarnation}, heard, now, out); break;
      // Someone else's verdict of death is only a suspicion here: this node checks for itself.
      case MemberState::kSuspect:
      case MemberState::kDead: on_suspect(Suspect{e.who->name, e.incarnation, m.from}, now, out); break;
      case MemberState::kLeft: on_dead(Dead{e.who->name, e.incarnation, e.who->name}, now, out); break;
    }
  }
  if (m.reply_wanted) send_state(out, from, false, m.join);
}

// ---- timers

Clock::time_point Membership::next_timer() const {
  Clock::time_point next = next_gossip_;
  if (!leaving_) {
    next = std::min(next, probe_ ? (probe_->indirect_sent ? probe_->fail_at : probe_->indirect_at) : next_probe_);
    next = std::min({next, next_push_pull_, next_join_sync_});
    if (!joined_ && !seeds_.empty()) next = std::min(next, next_join_);
  }
  for (const auto& [seq, relay] : relays_) next = std::min(next, relay.nack_at);
  if (!suspicion_deadlines_.empty()) next = std::min(next, suspicion_deadlines_.begin()->first);
  if (!challenges_.empty()) next = std::min(next, challenges_.begin()->first);
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
  if (!leaving_ && now >= next_join_sync_) {
    next_join_sync_ = Clock::time_point::max();
    exchange_state(out);
  }
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
      probe_order_.resize(members_.size());
      std::iota(probe_order_.begin(), probe_order_.end(), 0U);
      std::shuffle(probe_order_.begin(), probe_order_.end(), random_);
      probe_next_ = 0;
      if (probe_order_.empty()) return;
    }
    std::uint32_t n = probe_order_[probe_next_++];
    if (n != kForgotten && is_live(members_.at(n).state)) target = &members_.at(n);
  }
  if (target == nullptr) return;
  const Record& m = *target;
  probe_ = Probe{next_seq_++, m.name(), m.incarnation, now + probe_timeout(), now + probe_interval()};
  ++stats_.probes;
  std::vector<Message> messages{Ping{probe_->seq, m.name()}};
  // Lifeguard: a suspect hears of the suspicion from its prober directly, and can refute fast.
  if (m.state == MemberState::kSuspect) messages.push_back(Suspect{m.name(), m.incarnation, self_.name});
  send(out, m.who->address, std::move(messages));
}

void Membership::advance_probe(Clock::time_point now, Output& out) {
  const Record* target = members_.find(probe_->target);
  if (target == nullptr || !is_live(target->state)) {
    probe_.reset();
    return;
  }
  const std::string& address = target->who->address;
  if (!probe_->indirect_sent && now >= probe_->indirect_at) {
    probe_->indirect_sent = true;
    auto helpers = pick(static_cast<std::size_t>(config_.indirect_checks), [&](const Record& r) {
      return r.state == MemberState::kAlive && r.name() != probe_->target;
    });
    for (const Record* h : helpers) {
      send(out, h->who->address, {IndirectPing{probe_->seq, probe_->target, address, true}});
    }
    probe_->expected_nacks = static_cast<int>(helpers.size());
    stats_.indirect_probes += helpers.size();
    out.fallback_probes.push_back({address, probe_->target, probe_->seq});
  }
  if (now < probe_->fail_at) return;
  // No ack by the end of the interval. Missing nacks hint that this node's own network is the
  // problem (Lifeguard); with nobody to ask, it cannot tell, and counts it against itself.
  ++stats_.failed_probes;
  awareness_.apply(probe_->expected_nacks > 0 ? probe_->expected_nacks - probe_->nacks : 1);
  // Accuses the incarnation probed (a newer one heard of since is not accused), and confirms a
  // suspicion already heard of: this node's own failed probe is an independent confirmation.
  Suspect accusation{probe_->target, probe_->incarnation, self_.name};
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
  while (!challenges_.empty() && challenges_.begin()->first <= now) {
    std::string name = challenges_.begin()->second;
    challenges_.erase(challenges_.begin());
    const Record* r = members_.find(name);
    if (r == nullptr || r->state != MemberState::kSuspect) continue;
    // The suspect answers an accusation with its alive message (receive), so a member that
    // continued after a pause, and whose refutation this node missed, is alive again here
    // before the verdict rather than dead.
    ++stats_.suspicions_challenged;
    send(out, r->who->address, {Suspect{name, r->incarnation, self_.name}});
  }
  while (!suspicion_deadlines_.empty() && suspicion_deadlines_.begin()->first <= now) {
    std::string name = suspicion_deadlines_.begin()->second;
    suspicion_deadlines_.erase(suspicion_deadlines_.begin());
    Record* r = members_.find(name);
    if (r == nullptr || r->state != MemberState::kSuspect) continue;
    Dead verdict{name, r->incarnation, self_.name};
    set_state(*r, MemberState::kDead, now, EventKind::kDead, out);
    broadcasts_.push(name, verdict);
  }
}

void Membership::gossip(Clock::time_point now, Output& out) {
  if (broadcasts_.empty()) return;
  auto targets = pick(static_cast<std::size_t>(config_.gossip_nodes),
                      [&](const Record& r) { return gossip_target(r, now); });
  for (const Record* r : targets) {
    if (broadcasts_.empty()) break;
    send(out, r->who->address, {});
  }
}

void Membership::push_pull(Clock::time_point now, Output& out) {
  next_push_pull_ = now + push_pull_interval(config_.push_pull_interval, live_count());
  exchange_state(out);
  // A seed that is not a live member may be up behind a partition that has healed since (both
  // sides have long forgotten each other): an exchange with it merges the two again.
  std::vector<const std::string*> missing;
  for (const auto& seed : seeds_) {
    bool live = std::any_of(members_.begin(), members_.end(),
                            [&](const Record& r) { return r.who->address == seed && is_live(r.state); });
    if (!live) missing.push_back(&seed);
  }
  if (!missing.empty()) {
    ++stats_.push_pulls;
    send_state(out, *missing[random_() % missing.size()], true, false);
  }
}

void Membership::exchange_state(Output& out) {
  auto target = pick(1, [](const Record& r) { return r.state == MemberState::kAlive; });
  if (target.empty()) return;
  ++stats_.push_pulls;
  send_state(out, target.front()->who->address, true, false);
}

void Membership::reap(Clock::time_point now) {
  while (!departed_.empty() && departed_.front().first + config_.reap_after <= now) {
    std::string name = std::move(departed_.front().second);
    departed_.pop_front();
    const Record* r = members_.find(name);
    // Still gone, and not since a later departure (that one has its own entry further on).
    if (r != nullptr && !is_live(r->state) && r->state_since + config_.reap_after <= now) forget(name);
  }
}

// ---- helpers

bool Membership::credible(std::uint64_t incarnation, Clock::time_point now) {
  const auto elapsed = std::chrono::duration_cast<milliseconds>(now - started_at_).count();
  const std::uint64_t clock = first_incarnation(config_.run + static_cast<std::uint64_t>(std::max<std::int64_t>(0, elapsed)));
  const std::uint64_t ceiling = clock > UINT64_MAX - kIncarnationHeadroom ? UINT64_MAX : clock + kIncarnationHeadroom;
  if (incarnation <= ceiling) return true;
  ++stats_.incredible_incarnations;
  return false;
}

void Membership::refute(std::uint64_t claimed_incarnation, Output&) {
  // Saturates rather than wrapping to 0 (credible() keeps claims far below the top anyway).
  const std::uint64_t claimed = std::max(self_.incarnation, claimed_incarnation);
  self_.incarnation = claimed == UINT64_MAX ? claimed : claimed + 1;
  ++stats_.refutations;
  awareness_.apply(1);  // being suspected hints that this node is the slow one
  broadcasts_.push(self_.name, self_alive());
}

void Membership::set_state(Record& r, MemberState state, Clock::time_point now, EventKind event, Output& out) {
  if (auto s = suspicions_.find(r.name()); s != suspicions_.end()) {
    suspicion_deadlines_.erase({s->second.deadline(), r.name()});
    challenges_.erase({challenge_time(s->second.deadline()), r.name()});
    suspicions_.erase(s);
  }
  bool was_live = is_live(r.state);
  bool now_live = is_live(state);
  if (was_live && !now_live) --live_;
  if (!was_live && now_live) ++live_;
  r.state = state;
  r.state_since = now;
  if (!now_live) departed_.emplace_back(now, r.name());
  out.events.push_back({event, r.member()});
  if (live_ == 0 && !seeds_.empty() && joined_) {
    // Everyone else is gone: alone again, so look for the cluster through the seeds.
    joined_ = false;
    join_backoff_ = config_.join_retry_min;
    next_join_ = now + config_.join_retry_min;
  }
}

void Membership::suspect(Record& r, std::uint64_t incarnation, const std::string& from, Clock::time_point now,
                         Output& out) {
  r.incarnation = incarnation;
  set_state(r, MemberState::kSuspect, now, EventKind::kSuspect, out);
  auto n = static_cast<double>(live_count());
  auto base = milliseconds(static_cast<std::int64_t>(config_.suspicion_mult * std::max(1.0, std::log10(n)) *
                                                     static_cast<double>(config_.probe_interval.count())));
  auto longest = base * std::max(1, config_.suspicion_max_multiplier);
  // Confirmations expected (memberlist: suspicion_mult − 2), none when too few could give them.
  int expected = config_.suspicion_mult - 2;
  if (static_cast<int>(live_count()) - 2 < expected) expected = 0;
  const Suspicion& s = suspicions_.try_emplace(r.name(), from, expected, base, longest, now).first->second;
  suspicion_deadlines_.insert({s.deadline(), r.name()});
  challenges_.insert({challenge_time(s.deadline()), r.name()});
  broadcasts_.push(r.name(), Suspect{r.name(), incarnation, from});
}

void Membership::send(Output& out, const std::string& to, std::vector<Message> messages) {
  Packet packet{config_.cluster, std::move(messages)};
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
  // The state goes in as many packets as it takes. A wanted reply is asked for in the first only,
  // so that the receiver answers once; every part says whether it belongs to a join.
  Packet packet{config_.cluster, {}};
  const std::size_t overhead = packet_overhead_bound(packet) + size_bound(Message{StateSync{false, join, self_.name, {}}});
  StateSync part{reply_wanted, join, self_.name, {}};
  std::size_t used = overhead;
  auto flush = [&] {
    packet.messages.assign(1, std::move(part));
    out.packets.push_back({to, packet});
    part = StateSync{false, join, self_.name, {}};
    used = overhead;
  };
  auto add = [&](StateSync::Entry e) {
    std::size_t bytes = size_bound(e);
    if (!part.members.empty() && used + bytes > config_.max_packet_bytes) flush();
    part.members.push_back(std::move(e));
    used += bytes;
  };
  add({self_identity_, self_.incarnation, self_.state});
  for (const Record& r : members_) add({r.who, r.incarnation, r.state});
  flush();
}

milliseconds Membership::jitter(milliseconds span) {
  auto n = static_cast<std::uint64_t>(std::max<std::int64_t>(span.count(), 1));
  return milliseconds(static_cast<std::int64_t>(random_() % n));
}

int Membership::retransmit_limit() const {
  auto n = static_cast<double>(live_count());
  return config_.retransmit_mult * static_cast<int>(std::ceil(std::log10(n + 1.0)));
}

bool Membership::gossip_target(const Record& r, Clock::time_point now) const {
  if (is_live(r.state)) return true;
  // The dead may be alive behind a partition: keep telling them for a while.
  return now - r.state_since < config_.gossip_to_the_dead;
}

template <typename Eligible>
std::vector<const Membership::Record*> Membership::pick(std::size_t count, Eligible eligible) {
  std::vector<const Record*> chosen;
  if (count == 0 || members_.empty()) return chosen;
  auto already = [&](const Record* r) { return std::find(chosen.begin(), chosen.end(), r) != chosen.end(); };
  // Random draws first (cheap in a large cluster where most members qualify) ...
  std::uniform_int_distribution<std::size_t> index(0, members_.size() - 1);
  for (std::size_t tries = 0; tries < 4 * count && chosen.size() < count; ++tries) {
    const Record& r = members_.at(index(random_));
    if (eligible(r) && !already(&r)) chosen.push_back(&r);
  }
  if (chosen.size() == count) return chosen;
  // ... then a full scan, from a random start, when few qualify.
  std::size_t start = index(random_);
  for (std::size_t i = 0; i < members_.size() && chosen.size() < count; ++i) {
    const Record& r = members_.at((start + i) % members_.size());
    if (eligible(r) && !already(&r)) chosen.push_back(&r);
  }
  return chosen;
}

void Membership::forget(const std::string& name) {
  auto number = members_.erase(name);
  if (!number) return;
  const auto removed = static_cast<std::uint32_t>(*number);
  const auto last = static_cast<std::uint32_t>(members_.size());  // the number the last one had
  // This round's order names members by number: the forgotten one is skipped, and the one that
  // took its number keeps its own turn.
  for (auto& n : probe_order_) {
    if (n == removed) {
      n = kForgotten;
    } else if (n == last) {
      n = removed;
    }
  }
}

}  // namespace pulsing::membership
