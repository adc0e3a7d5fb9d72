// Every knob of the membership protocol, with its default and why. The defaults are
// hashicorp/memberlist's "local" profile (bench/README.md), so that measurements compare like for
// like; a deployment across data centres would stretch the timeouts.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include "membership/member.hpp"

namespace pulsing::membership {

using std::chrono::milliseconds;

// What a user chooses (NodeConfig::membership). Config adds what the node running the
// protocol sets itself: one setting, one source.
struct Options {
  // This node: its name (unique in the cluster; a node defaults it to its advertised
  // "host:port") and the metadata it announces.
  std::string name;
  Metadata meta;
  // Packets from another cluster are ignored (and counted): two clusters that share a network
  // must not merge by accident.
  std::string cluster = "pulsing";
  // Seeds the protocol's randomness (probe order, gossip targets, timer phases): a fixed seed
  // makes a simulated run reproducible. 0: the UDP driver draws one, different on every node
  // (nodes sharing a seed would choose in step: the same probe order, the same gossip targets).
  std::uint64_t random_seed = 0;

  // Failure detection. Every `probe_interval` the node probes one member (randomised
  // round-robin: each member once per round, in a fresh random order each round). No ack within
  // `probe_timeout` → `indirect_checks` other members probe it on our behalf; no ack by the end
  // of the interval → suspect. 1 s / 200 ms / 1: the local profile (a LAN answers in < 1 ms).
  milliseconds probe_interval{1'000};
  milliseconds probe_timeout{200};
  int indirect_checks = 1;

  // Lifeguard local health (awareness): a node that misses its own deadlines (acks it expected,
  // nacks it did not get, refutations it had to make) scales probe interval and timeout by up to
  // `awareness_max_multiplier` (8), so a slow node does not accuse healthy ones.
  int awareness_max_multiplier = 8;

  // Suspicion: a suspect is declared dead after a timeout that starts at
  // `suspicion_max_multiplier` × the base timeout and shrinks towards the base (`suspicion_mult`
  // × max(1, log10 N) × probe_interval) as independent suspicions confirm it (Lifeguard's
  // dynamic suspicion). 3 and 6: memberlist's local profile.
  int suspicion_mult = 3;
  int suspicion_max_multiplier = 6;

  // Gossip: every `gossip_interval`, up to `gossip_nodes` random members get the pending
  // updates; each update is sent L = `retransmit_mult` × ceil(log10(N + 1)) times by every node
  // that has it. Each node then receives about L copies of it, so about N·e^−L nodes miss it.
  // memberlist's local profile has 2: at 48 nodes L = 4 and about one node misses each update,
  // left to a push-pull 15–30 s later. 4 (its LAN profile) makes a miss unlikely at any size
  // (N·e^−L ≈ 0.02 at 48 nodes, 10^−4 at 10,000) for twice the bytes per update, and costs
  // nothing while the cluster is quiet.
  milliseconds gossip_interval{100};
  int gossip_nodes = 3;
  int retransmit_mult = 4;
  // Members dead or left are still gossiped to this long (they may be alive behind a
  // partition), and forgotten after `reap_after` (state stays bounded).
  milliseconds gossip_to_the_dead{15'000};
  milliseconds reap_after{30'000};

  // Full-state exchange with one random member: heals partitions, repairs what gossip missed,
  // and makes a join complete at once. Every `push_pull_interval`, scaled up above 32 members as
  // memberlist does (the cost grows with N).
  milliseconds push_pull_interval{15'000};
  // A node that has just joined exchanges full state once more after [1, 2) × this: a burst of
  // N joins makes N² pieces of news, of which gossip misses about N²·e^−L (0.8 for 48 nodes
  // joining at once), and this repairs them for the cost of one more full state per join
  // rather than 15–30 s later. 1 s: the burst is over, and the ≤ 3 s of M1 is kept.
  milliseconds join_sync_after{1'000};

  // Joining: seeds are tried until one answers; the wait between attempts doubles from
  // `join_retry_min` up to `join_retry_max`. A node whose seeds all stay silent runs alone and
  // keeps trying.
  milliseconds join_retry_min{500};
  milliseconds join_retry_max{30'000};

  // The largest packet sent (UDP without fragmentation on common networks): updates beyond it
  // wait for the next packet; a full state is split across several packets.
  std::size_t max_packet_bytes = 1'400;
  // The most metadata (`meta`, or what Membership::update_meta announces) this node may have,
  // by its encoded size: size_bound(const Metadata&) in messages.hpp, the keys and values plus
  // about 40 bytes per entry. A node with more refuses to start, and update_meta refuses it.
  // Why: an alive message is never split, so it must fit in one packet, and beside the ping or
  // ack it often rides on (a suspected node's refutation goes back with its ack); one that did
  // not could never be gossiped, and its node could never refute a suspicion. 512
  // (memberlist's MetaMaxSize): room for the CURVE key announcement (104 bytes alone) and a few tags,
  // and, in a packet of 1,400 bytes, for a name and an address of 200 characters each. The
  // packet sets a second limit, which depends on the name, address and cluster name
  // (Membership::check_meta): the smaller of the two applies.
  std::size_t max_meta_bytes = 512;
};

// Every knob of one member's protocol: the options, and where this run of it is.
struct Config : Options {
  // The address this member's gossip is received on ("host:port").
  std::string address;
  // This run of the member: a later run must have a higher number. The driver passes the wall
  // clock in milliseconds. Incarnations start at first_incarnation(run) (member.hpp), so a node
  // restarted after a crash outranks everything said about its earlier run and is alive again
  // everywhere (memberlist left such nodes "dead" after mass restarts), and the others tell that
  // it restarted (EventKind::kRestarted). REQUIRES: below 2^43 (the year 2248 in milliseconds).
  std::uint64_t run = 0;
};

}  // namespace pulsing::membership
