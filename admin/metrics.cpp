#include "admin/metrics.hpp"

#include <cstdint>
#include <initializer_list>
#include <string_view>
#include <utility>
#include <vector>
#include <string>

#include <fmt/format.h>

#include "admin/views.hpp"

namespace pulsing::admin {
namespace {

// One metric family: HELP and TYPE once, then a line per label set.
class Exposition {
 public:
  using Labelled = std::initializer_list<std::pair<std::string_view, std::uint64_t>>;

  void counter(std::string_view name, std::string_view help, std::uint64_t value) {
    family(name, help, "counter");
    out_ += fmt::format("{} {}\n", name, value);
  }
  void gauge(std::string_view name, std::string_view help, std::uint64_t value) {
    family(name, help, "gauge");
    out_ += fmt::format("{} {}\n", name, value);
  }
  // name{label="key"} value, for each (key, value).
  void labelled(std::string_view type, std::string_view name, std::string_view help, std::string_view label,
                Labelled values) {
    labelled_range(type, name, help, label, values);
  }
  void labelled(std::string_view type, std::string_view name, std::string_view help, std::string_view label,
                const std::vector<std::pair<std::string, std::uint64_t>>& values) {
    labelled_range(type, name, help, label, values);
  }
  // name{direction="in",kind="..."}: calls that crossed the network.
  void directed(std::string_view name, std::string_view help, Labelled in, Labelled out) {
    family(name, help, "counter");
    for (const auto& [kind, value] : in) out_ += fmt::format("{}{{direction=\"in\",kind=\"{}\"}} {}\n", name, kind, value);
    for (const auto& [kind, value] : out) out_ += fmt::format("{}{{direction=\"out\",kind=\"{}\"}} {}\n", name, kind, value);
  }

  std::string take() { return std::move(out_); }

 private:
  template <typename Values>
  void labelled_range(std::string_view type, std::string_view name, std::string_view help, std::string_view label,
                      const Values& values) {
    family(name, help, type);
    for (const auto& [key, value] : values) out_ += fmt::format("{}{{{}=\"{}\"}} {}\n", name, label, key, value);
  }

  void family(std::string_view name, std::string_view help, std::string_view type) {
    out_ += fmt::format("# HELP {} {}\n# TYPE {} {}\n", name, help, name, type);
  }

  std::string out_;
};

}  // namespace

std::string prometheus_text(const Node& node) {
  const NodeStats s = node.stats();
  auto by_state = members_by_state(node);
  auto members = [&](membership::MemberState state) { return by_state[state]; };
  auto errors = [&](ErrorCategory category) { return s.handler_errors[static_cast<std::size_t>(category)]; };

  Exposition e;
  e.counter("pulsing_messages_handled_total", "Messages (asks, tells, stream starts) handled by this node's actors.",
            s.messages_handled);
  e.directed("pulsing_remote_calls_total", "Calls that crossed the network, by direction and kind.",
             {{"ask", s.asks_in}, {"tell", s.tells_in}, {"stream", s.streams_in}},
             {{"ask", s.asks_out}, {"tell", s.tells_out}, {"stream", s.streams_out}});
  e.labelled("counter", "pulsing_transport_envelopes_total", "Envelopes sent and received over ZeroMQ.", "direction",
             {{"in", s.transport.envelopes_received}, {"out", s.transport.envelopes_sent}});
  e.counter("pulsing_transport_frames_rejected_total", "Frames from other nodes that could not be read.",
            s.transport.frames_rejected);
  e.counter("pulsing_transport_connections_lost_total",
            "Connections to other nodes that were up and were lost (closed, or silent past the heartbeat).",
            s.transport.connections_lost);
  e.labelled("counter", "pulsing_transport_callers_total",
             "Connections to this node that presented a CURVE key, admitted or refused (a key it does not know).",
             "outcome", {{"admitted", s.transport.callers_admitted}, {"refused", s.transport.callers_refused}});
  e.labelled("counter", "pulsing_not_permitted_total",
             "Requests refused because the caller's role may not send them, by role.", "role",
             {{"operator", s.not_permitted[0]}, {"observer", s.not_permitted[1]}});
  e.gauge("pulsing_transport_links", "Connections this node opened to other nodes and holds now (up, or trying).",
          s.transport.links);
  e.counter("pulsing_ask_timeouts_total", "Remote asks that got no answer in time.", s.ask_timeouts);
  e.counter("pulsing_foreign_replies_total", "Replies that did not come from the node asked: dropped.",
            s.foreign_replies);
  e.labelled("counter", "pulsing_handler_errors_total", "Failures returned by this node's handlers, by category.",
             "category",
             {{"business", errors(ErrorCategory::kBusiness)},
              {"system", errors(ErrorCategory::kSystem)},
              {"timeout", errors(ErrorCategory::kTimeout)},
              {"runtime", errors(ErrorCategory::kRuntime)}});
  e.counter("pulsing_restarts_total", "Actor restarts by their supervisors.", s.restarts);
  e.counter("pulsing_dead_letters_total", "Tells that no actor will ever handle.", s.dead_letters);
  e.gauge("pulsing_entities_active", "Activations of entities (virtual actors) on this node.", s.entities_active);
  e.counter("pulsing_entity_activations_total", "Entities activated on this node.", s.entity_activations);
  e.counter("pulsing_entity_passivations_total", "Activations passivated: idle, moved to another node, or the node stopping.",
            s.entity_passivations);
  e.gauge("pulsing_remote_watches", "Watches other nodes hold on this node's actors.", s.watches_held);
  e.labelled("counter", "pulsing_refused_total", "Requests refused at a bound on this node's memory, by bound.", "bound",
             {{"watches_per_caller", s.watches_refused},
              {"streams_per_caller", s.streams_refused},
              {"mailbox", s.mailbox_refused},
              {"outbox", s.transport.envelopes_refused}});
  e.gauge("pulsing_congested_targets", "Actors on other nodes that said they are congested: senders to them are slowed.",
          s.congested_targets);
  e.gauge("pulsing_actors", "Actors on this node.", s.actors);
  e.gauge("pulsing_mailbox_depth", "User messages waiting, all mailboxes together.", s.queued);
  e.gauge("pulsing_mailbox_depth_max", "User messages waiting in the fullest mailbox.", s.max_queued);
  e.labelled("gauge", "pulsing_members", "Cluster members as this node sees them, by state.", "state",
             {{"alive", members(membership::MemberState::kAlive)},
              {"suspect", members(membership::MemberState::kSuspect)},
              {"dead", members(membership::MemberState::kDead)},
              {"left", members(membership::MemberState::kLeft)}});
  e.gauge("pulsing_registry_entries", "Name instances held in this node's registry shard.", s.registry.entries);
  e.counter("pulsing_registry_lookups_total", "Registry lookups started on this node.", s.registry.lookups);
  e.counter("pulsing_registry_rejected_total", "Registry messages refused (oversized, stale, from the dead).",
            s.registry.rejected);
  e.counter("pulsing_registry_unacknowledged_total",
            "Registry updates whose owner did not answer applied (lost connection, timeout, refused).",
            s.registry.unacknowledged);
  e.counter("pulsing_registry_repairs_total", "Complete announces sent to repair an owner that missed updates.",
            s.registry.repairs);
  e.labelled("counter", "pulsing_gossip_datagrams_total", "Gossip (SWIM) datagrams.", "direction",
             {{"in", s.gossip.datagrams_received}, {"out", s.gossip.datagrams_sent}});
  e.labelled("counter", "pulsing_gossip_bytes_total", "Gossip (SWIM) bytes.", "direction",
             {{"in", s.gossip.bytes_received}, {"out", s.gossip.bytes_sent}});
  e.counter("pulsing_gossip_bad_packets_total", "Gossip datagrams that could not be read.", s.gossip.bad_packets);
  auto refused = [&](membership::Refusal r) {
    return std::pair<std::string_view, std::uint64_t>{membership::to_string(r), s.gossip.refused[static_cast<std::size_t>(r)]};
  };
  using membership::Refusal;
  e.labelled("counter", "pulsing_gossip_refused_total", "Gossip datagrams refused before anything read them.",
             "reason",
             {refused(Refusal::kUnsealed), refused(Refusal::kMalformed), refused(Refusal::kUnknownKey),
              refused(Refusal::kForged), refused(Refusal::kStale), refused(Refusal::kReplayed)});
  e.counter("pulsing_gossip_failed_probes_total", "Probes of a member that got no answer: each made it suspect.",
            s.gossip.protocol.failed_probes);
  e.counter("pulsing_gossip_refutations_total", "Suspicions of this node (or its death) that it denied.",
            s.gossip.protocol.refutations);
  e.gauge("pulsing_insecure", "1 when this node runs without a cluster key: its gossip is not authenticated.",
          node.cluster_keys() == nullptr ? 1 : 0);
  if (auto keys = node.cluster_keys()) {
    // One sample per key of the ring; the value is its place: 0 the primary, then secondaries.
    std::vector<std::pair<std::string, std::uint64_t>> ring;
    for (std::size_t i = 0; i < keys->keys().size(); ++i) ring.emplace_back(keys->keys()[i].id(), i);
    e.labelled("gauge", "pulsing_cluster_key", "The cluster keys in use, by id: 0 is the primary, 1 and 2 secondaries.",
               "id", ring);
  }
  e.counter("pulsing_gossip_incredible_incarnations_total",
            "Gossip naming an incarnation far beyond any honest one (forged): refused.",
            s.gossip.protocol.incredible_incarnations);
  e.counter("pulsing_gossip_oversized_updates_total",
            "Gossip about a member too large for any packet of this node: not spread.",
            s.gossip.protocol.oversized_updates);
  e.counter("pulsing_gossip_strangers_met_total",
            "Pings from an address no known member has, answered with a full-state exchange (after a restart).",
            s.gossip.protocol.strangers_met);
  e.counter("pulsing_gossip_earlier_run_answers_total",
            "Accusations of this node's earlier run, answered with this run's alive message.",
            s.gossip.protocol.earlier_run_answers);
  e.counter("pulsing_gossip_accusations_answered_total",
            "Suspicions or deaths of this node, answered with its alive message straight to their sender.",
            s.gossip.protocol.accusations_answered);
  e.counter("pulsing_gossip_stale_news_answered_total",
            "Suspicions or deaths of a member older than this node's word that it is alive, answered with that word.",
            s.gossip.protocol.stale_news_answered);
  e.counter("pulsing_gossip_suspicions_challenged_total",
            "Suspicions put to the suspect itself a probe interval before their verdict.",
            s.gossip.protocol.suspicions_challenged);
  return e.take();
}

}  // namespace pulsing::admin
