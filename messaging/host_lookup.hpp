// Host name lookups off the transport's I/O thread. ZeroMQ resolves "tcp://name:port" on its own
// I/O thread at every connection attempt, and a lookup that hangs (a name server that does not
// answer: Docker's resolver, asked about a stopped container on an internal network, takes 20 s)
// stalls every socket of the context: calls, answers and membership's probes to every other
// peer. So the transport looks names up here and hands ZeroMQ numeric addresses.
//
// Each lookup runs on a thread of its own, detached: a hung lookup is abandoned, never waited
// for. What it shares with its starter (the HostLookup) is kept alive by a shared_ptr.
// Thread-safety: start() from any thread; done(), address(), error() from any thread.
#pragma once

#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>

namespace pulsing {

// Returns the numeric IPv4 address of `host`; throws std::runtime_error saying why it has none.
using LookupFunction = std::function<std::string(const std::string& host)>;

// getaddrinfo, IPv4 (the transport's sockets are IPv4), the first address.
std::string lookup_ipv4(const std::string& host);

// An IPv4 address, or a bracketed IPv6 one: nothing to look up.
bool is_numeric_host(std::string_view host);

// Whether `host` (as a listen address or a bound endpoint shows it) stands for every
// interface: no address another node could reach this one at.
bool is_wildcard_host(std::string_view host);

// Whether `host` is written as this machine's loopback: "localhost", 127.x.y.z, ::1. Any other
// name may reach other machines (conservatively: names are not looked up).
bool is_loopback_host(std::string_view host);

class HostLookup {
 public:
  // Starts looking up `host` with `lookup` (lookup_ipv4 when empty); `wake`, if set, is called on
  // the lookup's thread once it is done.
  static std::shared_ptr<HostLookup> start(std::string host, LookupFunction lookup, std::function<void()> wake);

  const std::string& host() const { return host_; }
  bool done() const;
  // REQUIRES: done(). The address, or "" and error() saying why not.
  std::string address() const;
  std::string error() const;

 private:
  explicit HostLookup(std::string host) : host_(std::move(host)) {}

  const std::string host_;
  mutable std::mutex mutex_;
  bool done_ = false;          // guarded by mutex_
  std::string address_;        // guarded by mutex_
  std::string error_;          // guarded by mutex_
};

}  // namespace pulsing
