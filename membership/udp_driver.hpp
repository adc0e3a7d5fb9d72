// UdpDriver: runs the membership state machine (membership.hpp) over UDP and real time. A thread
// of its own runs a Boost.Asio loop: it receives and decodes packets, sends what the state
// machine returns, and wakes it at next_timer(). Addresses are "host:port". Numeric ones are
// parsed at each send and remembered nowhere. Host names are looked up asynchronously (a datagram
// to a name without an answer yet is dropped, and the protocol retries as for a seed that does
// not answer: a container not started), and their answers are kept in an AddressCache
// (address_cache.hpp): bounded, least recently used forgotten first, and each answer expires
// (30 s), so a member whose name now resolves to another IP (a recreated container) is reached
// there. An answer is looked up again early, while still used, when its member becomes suspect
// and when an ICMP error reports nothing listening at it. A failed lookup keeps the answer held.
//
// With a keyring every datagram is sealed (datagram_seal.hpp) and only sealed ones that open
// are decoded: a node without the key, or with another, never becomes a member. (The packets
// inside leave their cluster name out: the seal binds it in.) Refused
// datagrams (by Refusal) and bad packets (garbage, another protocol version, too large) are
// dropped and counted; the node goes on. A node whose seeds stay silent logs that it runs alone, and keeps trying.
//
// Thread-safety: every public member may be called from any thread. Event handlers and the
// fallback prober run on the driver's thread and must not block it.
#pragma once

#include <array>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "membership/codec.hpp"
#include "membership/datagram_seal.hpp"
#include "membership/membership.hpp"

namespace pulsing::membership {

struct DriverStats {
  Stats protocol;
  std::uint64_t datagrams_sent = 0;
  std::uint64_t bytes_sent = 0;
  std::uint64_t datagrams_received = 0;  // decodable or not
  std::uint64_t bytes_received = 0;
  std::uint64_t bad_packets = 0;     // undecodable, dropped
  std::uint64_t send_failures = 0;   // the kernel refused a datagram
  std::uint64_t unresolved = 0;      // datagrams dropped: no answer for the host name (yet), or not host:port
  std::uint64_t lookups = 0;           // host-name lookups started: first ones, refreshes, retries
  std::uint64_t lookup_failures = 0;   // lookups that found no address (an answer held stays in use)
  std::uint64_t addresses_cached = 0;  // host names in the driver's AddressCache now (bounded)
  // Datagrams refused before decoding, by reason (index: Refusal; kNone stays 0).
  std::array<std::uint64_t, kRefusalKinds> refused{};
};

// How a driver protects its datagrams. No keys: plain datagrams, and sealed ones are refused
// (kUnsealed) — the developer mode of a node on loopback.
struct Sealing {
  std::shared_ptr<const security::Keyring> keys;
  SealOptions options;
};

class UdpDriver {
 public:
  using EventHandler = std::function<void(const MemberEvent&)>;
  // Asked to probe a member over a reliable channel; on an answer, call fallback_ack().
  using FallbackProber = std::function<void(const FallbackProbe&)>;

  // Binds UDP on `bind` ("host:port"; port 0 picks a free one). An empty config.address becomes
  // the bound "host:port". Throws std::runtime_error naming the address when it cannot bind.
  UdpDriver(Config config, const std::string& bind, std::vector<std::string> seeds, Sealing sealing = {},
            PacketLimits limits = {});
  ~UdpDriver();  // stop()
  UdpDriver(const UdpDriver&) = delete;
  UdpDriver& operator=(const UdpDriver&) = delete;

  // REQUIRES: before start().
  void on_event(EventHandler handler);
  void set_fallback_prober(FallbackProber prober);

  // Joins (through the seeds) and runs. REQUIRES: called once.
  void start();
  // Leaves gracefully, keeps gossiping for `linger` so that the word spreads, then stops.
  void leave(std::chrono::milliseconds linger);
  // Stops at once (a crash, as far as the others can tell). Idempotent.
  void stop();
  // The reliable channel reached the target of probe `seq` (FallbackProbe::target: the caller
  // checks that it was who answered).
  void fallback_ack(std::uint32_t seq);
  // Seals with `keys`' primary from now on and opens what any key of it sealed: a step of a key
  // rotation. Takes effect on the driver's thread, before the next datagram it handles.
  // REQUIRES: keys is not null, and the driver was made with keys (Sealing::keys): a driver
  // does not go from plain to sealed while it runs. Throws std::invalid_argument otherwise.
  void set_keys(std::shared_ptr<const security::Keyring> keys);
  // Announces new metadata for this node (Membership::update_meta), on the driver's thread.
  // Throws std::invalid_argument at once, in the caller's thread, when the metadata is too large
  // (Membership::check_meta, Options::max_meta_bytes); nothing changes then.
  void update_meta(Metadata meta);

  std::uint16_t port() const;
  const std::string& address() const;  // this node's advertised "host:port"
  std::vector<Member> members() const;
  std::size_t live_count() const;
  bool joined() const;
  DriverStats stats() const;

 private:
  class Loop;
  std::unique_ptr<Loop> loop_;
};

}  // namespace pulsing::membership
