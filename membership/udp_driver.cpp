#include "membership/udp_driver.hpp"

#include "common/thread_role.hpp"

#include <array>
#include <atomic>
#include <charconv>
#include <cstring>
#include <mutex>
#include <optional>
#include <random>
#include <stdexcept>
#include <thread>
#include <utility>

#include <linux/errqueue.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <boost/asio.hpp>
#include <fmt/format.h>
#include <fmt/ranges.h>

#include "common/log.hpp"
#include "membership/address_cache.hpp"

namespace pulsing::membership {

namespace asio = boost::asio;
using asio::ip::udp;

namespace {

// "host:port" or "[v6 host]:port" → host and port. Throws std::invalid_argument naming it.
std::pair<std::string, std::string> split_address(const std::string& address) {
  auto colon = address.rfind(':');
  if (colon == std::string::npos || colon == 0 || colon + 1 == address.size()) {
    throw std::invalid_argument(fmt::format("address '{}' is not host:port", address));
  }
  std::string host = address.substr(0, colon);
  if (host.size() > 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
  return {host, address.substr(colon + 1)};
}

// A port number, 0 to 65535, and nothing else (not a service name); none otherwise.
std::optional<std::uint16_t> parse_port(const std::string& port) {
  std::uint16_t number = 0;
  auto [end, failed] = std::from_chars(port.data(), port.data() + port.size(), number);
  if (failed != std::errc{} || end != port.data() + port.size()) return std::nullopt;
  return number;
}

// The host and port of split_address() as an endpoint when the host is an IP address; none for
// a host name or a port that is not a number.
std::optional<udp::endpoint> numeric_endpoint(const std::string& host, const std::string& port) {
  boost::system::error_code ec;
  auto ip = asio::ip::make_address(host, ec);
  auto number = parse_port(port);
  if (ec || !number) return std::nullopt;
  return udp::endpoint(ip, *number);
}

std::string to_address(const udp::endpoint& e) {
  return e.address().is_v6() ? fmt::format("[{}]:{}", e.address().to_string(), e.port())
                             : fmt::format("{}:{}", e.address().to_string(), e.port());
}

}  // namespace

class UdpDriver::Loop {
 public:
  Loop(Config config, const std::string& bind, std::vector<std::string> seeds, Sealing sealing, PacketLimits limits)
      : socket_(io_), timer_(io_), resolver_(io_), seeds_(std::move(seeds)), limits_(limits) {
    auto [host, port] = split_address(bind);
    try {
      boost::system::error_code ec;
      auto ip = asio::ip::make_address(host, ec);
      udp::endpoint local;
      if (ec) {
        local = *udp::resolver(io_).resolve(udp::v4(), host, port).begin();
      } else {
        local = udp::endpoint(ip, static_cast<std::uint16_t>(std::stoi(port)));
      }
      socket_.open(local.protocol());
      socket_.bind(local);
      receive_icmp_errors(local.protocol());
    } catch (const std::exception& e) {
      throw std::runtime_error(fmt::format("cannot bind UDP on {}: {}", bind, e.what()));
    }
    port_ = socket_.local_endpoint().port();
    if (config.address.empty()) config.address = fmt::format("{}:{}", host, port_);
    address_ = config.address;
    cluster_ = config.cluster;
    if (config.random_seed == 0) {
      std::random_device entropy;
      config.random_seed = (std::uint64_t{entropy()} << 32 | entropy()) | 1;
    }
    name_ = config.name;
    if (sealing.keys != nullptr) seal_ = std::make_unique<DatagramSeal>(sealing.keys, config.cluster, sealing.options);
    machine_ = std::make_unique<Membership>(std::move(config));
  }

  ~Loop() { stop(); }

  void on_event(EventHandler handler) { handlers_.push_back(std::move(handler)); }
  void set_fallback_prober(FallbackProber prober) { prober_ = std::move(prober); }

  void start() {
    Output out;
    {
      std::lock_guard lock(mutex_);
      machine_->start(Clock::now(), seeds_, out);
    }
    receive();
    carry_out(out);
    thread_ = std::thread([this] {
      mark_runtime_thread();
      io_.run();
    });
  }

  void leave(std::chrono::milliseconds linger) {
    asio::post(io_, [this] { run([&](Output& out) { machine_->leave(Clock::now(), out); }); });
    std::this_thread::sleep_for(linger);  // the gossip goes on meanwhile, on the loop's thread
    stop();
  }

  void stop() {
    if (stopped_.exchange(true)) return;
    io_.stop();
    if (thread_.joinable()) thread_.join();
    boost::system::error_code ignored;
    socket_.close(ignored);
  }

  void fallback_ack(std::uint32_t seq) {
    asio::post(io_, [this, seq] {
      run([&](Output& out) {
        Packet ack{cluster_, {Ack{seq}}};
        machine_->receive(ack, {}, Clock::now(), out);
      });
    });
  }

  void set_keys(std::shared_ptr<const security::Keyring> keys) {
    if (keys == nullptr || seal_ == nullptr) {
      throw std::invalid_argument(keys == nullptr ? "membership: no keyring given"
                                                  : "membership: a driver started without a cluster key cannot "
                                                    "take one while it runs (restart it with the key)");
    }
    asio::post(io_, [this, keys = std::move(keys)] { seal_->set_keys(keys); });
  }

  void update_meta(Metadata meta) {
    machine_->check_meta(meta);  // throws here, to the caller: the posted update cannot fail
    asio::post(io_, [this, meta = std::move(meta)]() mutable {
      run([&](Output& out) { machine_->update_meta(std::move(meta), Clock::now(), out); });
    });
  }

  std::uint16_t port() const { return port_; }
  const std::string& address() const { return address_; }
  std::vector<Member> members() const {
    std::lock_guard lock(mutex_);
    return machine_->members();
  }
  std::size_t live_count() const {
    std::lock_guard lock(mutex_);
    return machine_->live_count();
  }
  bool joined() const {
    std::lock_guard lock(mutex_);
    return machine_->joined();
  }
  DriverStats stats() const {
    std::lock_guard lock(mutex_);
    DriverStats s = stats_;
    s.protocol = machine_->stats();
    return s;
  }

 private:
  // Runs `step` on the state machine, then carries out what it produced. Loop thread only.
  template <typename Step>
  void run(Step step) {
    Output out;
    {
      std::lock_guard lock(mutex_);
      step(out);
    }
    carry_out(out);
  }

  void receive() {
    socket_.async_receive_from(asio::buffer(buffer_), sender_, [this](boost::system::error_code ec, std::size_t n) {
      if (ec == asio::error::operation_aborted) return;
      if (!ec) on_datagram(n);
      if (ec) read_icmp_errors();  // an ICMP error was reported: the queue says about whom
      receive();
    });
  }

  // Asks the kernel to queue the ICMP errors that datagrams cause (an unconnected UDP socket
  // ignores them otherwise): "port unreachable" says that nothing listens there any more, which
  // lets the protocol suspect a crashed process within the probe that first reaches it.
  void receive_icmp_errors(const udp& protocol) {
    int on = 1;
    bool v6 = protocol == udp::v6();
    if (::setsockopt(socket_.native_handle(), v6 ? SOL_IPV6 : SOL_IP, v6 ? IPV6_RECVERR : IP_RECVERR, &on,
                     sizeof on) != 0) {
      log().warn("membership: no ICMP error reports on {} (a crashed peer is found by timeouts only)", address_);
    }
  }

  // Drains the socket's error queue; each "port unreachable" is handed to the state machine from
  // the loop (not from inside the send or receive that noticed it).
  void read_icmp_errors() {
    std::vector<udp::endpoint> refused;
    for (;;) {
      sockaddr_storage offender{};
      std::array<std::byte, 64> payload;  // the datagram that caused the error: not needed
      std::array<char, 256> control;
      iovec iov{payload.data(), payload.size()};
      msghdr msg{};
      msg.msg_name = &offender;
      msg.msg_namelen = sizeof offender;
      msg.msg_iov = &iov;
      msg.msg_iovlen = 1;
      msg.msg_control = control.data();
      msg.msg_controllen = control.size();
      if (::recvmsg(socket_.native_handle(), &msg, MSG_ERRQUEUE | MSG_DONTWAIT) < 0) break;  // drained
      for (cmsghdr* c = CMSG_FIRSTHDR(&msg); c != nullptr; c = CMSG_NXTHDR(&msg, c)) {
        bool icmp_error = (c->cmsg_level == SOL_IP && c->cmsg_type == IP_RECVERR) ||
                          (c->cmsg_level == SOL_IPV6 && c->cmsg_type == IPV6_RECVERR);
        if (!icmp_error) continue;
        sock_extended_err error;
        std::memcpy(&error, CMSG_DATA(c), sizeof error);
        bool from_icmp = error.ee_origin == SO_EE_ORIGIN_ICMP || error.ee_origin == SO_EE_ORIGIN_ICMP6;
        if (from_icmp && error.ee_errno == ECONNREFUSED && msg.msg_namelen <= sizeof offender) {
          udp::endpoint endpoint;
          std::memcpy(endpoint.data(), &offender, msg.msg_namelen);
          endpoint.resize(msg.msg_namelen);
          refused.push_back(endpoint);
        }
      }
    }
    if (refused.empty()) return;
    asio::post(io_, [this, refused = std::move(refused)] {
      run([&](Output& out) {
        for (const auto& endpoint : refused) {
          // A member addressed by host name is reported under that name, and its answer is
          // looked up again: nothing listens there any more, maybe because it moved.
          std::string numeric = to_address(endpoint);
          auto name = cache_.address_of(numeric);
          if (name) cache_.invalidate(*name);
          machine_->unreachable(name ? *name : numeric, Clock::now(), out);
        }
      });
    });
  }

  void on_datagram(std::size_t n) {
    {
      std::lock_guard lock(mutex_);
      ++stats_.datagrams_received;
      stats_.bytes_received += n;
    }
    std::span<const std::byte> bytes{buffer_.data(), n};
    if (!open(bytes)) return;
    Packet packet;
    try {
      packet = decode(bytes, limits_);
      // A sealed packet leaves its cluster out: the seal's associated data carried it, and only
      // a datagram of this cluster opened.
      if (seal_ != nullptr) packet.cluster = cluster_;
    } catch (const PacketError& e) {
      std::lock_guard lock(mutex_);
      if (stats_.bad_packets++ % 1000 == 0) {
        log().warn("membership: dropped a bad packet from {} ({} so far): {}", to_address(sender_),
                   stats_.bad_packets, e.what());
      }
      return;
    }
    // A member known by host name speaks as that name: the state machine then knows the sender
    // (Membership::on_ping takes an address no member has for a node that does not know it).
    std::string from = to_address(sender_);
    if (auto name = cache_.address_of(from)) from = std::move(*name);
    run([&](Output& out) { machine_->receive(packet, from, Clock::now(), out); });
  }

  // Opens a sealed datagram in place of `bytes` (into opened_), or refuses it: true when what is
  // in `bytes` now may be decoded. A node without keys refuses sealed datagrams.
  bool open(std::span<const std::byte>& bytes) {
    Refusal refusal = Refusal::kNone;
    if (seal_ != nullptr) {
      refusal = seal_->open(bytes, wall_clock_ms(), opened_);
      bytes = opened_;
    } else if (!bytes.empty() && bytes[0] == kSealedEncoding) {
      refusal = Refusal::kUnsealed;
    }
    if (refusal == Refusal::kNone) return true;
    std::uint64_t count;
    {
      std::lock_guard lock(mutex_);
      count = ++stats_.refused[static_cast<std::size_t>(refusal)];
    }
    if (count % 1000 == 1) {
      log().warn("membership: refused a datagram from {} ({}, {} so far){}", to_address(sender_), to_string(refusal),
                 count, refusal_hint(refusal));
    }
    return false;
  }

  const char* refusal_hint(Refusal refusal) const {
    if (refusal == Refusal::kUnsealed) {
      return seal_ != nullptr ? ": a node without the cluster key (or a stranger)"
                              : ": a node with a cluster key; this one has none";
    }
    if (refusal == Refusal::kUnknownKey) return ": a node with another cluster key";
    return "";
  }

  static std::uint64_t wall_clock_ms() {
    return static_cast<std::uint64_t>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                          std::chrono::system_clock::now().time_since_epoch())
                                          .count());
  }

  void carry_out(Output& out) {
    // A suspect addressed by host name may have moved (a recreated container): its answer is
    // looked up again at the next datagram to it, which follows soon (probes of suspects).
    for (const auto& e : out.events) {
      if (e.kind == EventKind::kSuspect) cache_.invalidate(e.member.address);
    }
    for (auto& o : out.packets) {
      if (seal_ == nullptr) {
        send(o.to, encode(o.packet));
        continue;
      }
      o.packet.cluster.clear();  // bound in by the seal instead (on_datagram)
      send(o.to, seal_->seal(encode(o.packet), wall_clock_ms()));
    }
    for (const auto& e : out.events) {
      for (const auto& handler : handlers_) handler(e);
    }
    if (prober_) {
      for (const auto& probe : out.fallback_probes) prober_(probe);
    }
    report_join_state();
    arm_timer();
  }

  void arm_timer() {
    Clock::time_point next;
    {
      std::lock_guard lock(mutex_);
      next = machine_->next_timer();
    }
    if (timer_armed_ && next >= timer_at_) return;  // the armed timer comes first anyway
    timer_armed_ = true;
    timer_at_ = next;
    timer_.expires_at(next);
    timer_.async_wait([this](boost::system::error_code ec) {
      if (ec == asio::error::operation_aborted) return;
      timer_armed_ = false;
      run([&](Output& out) { machine_->tick(Clock::now(), out); });
    });
  }

  void report_join_state() {
    bool joined;
    std::uint64_t attempts;
    std::size_t live;
    {
      std::lock_guard lock(mutex_);
      joined = machine_->joined();
      attempts = machine_->stats().join_attempts;
      live = machine_->live_count();
    }
    if (joined && !was_joined_ && !seeds_.empty()) {
      log().info("membership: {} joined the cluster ({} members alive)", name_, live);
    }
    // Nodes started together miss each other's first attempt: warn after 3 failures, then 6,
    // 12, 24... (retries are spaced out, so this stays a few lines an hour).
    const std::uint64_t failed = attempts > 0 ? attempts - 1 : 0;
    const bool worth_saying = failed >= 3 && failed % 3 == 0 && ((failed / 3) & (failed / 3 - 1)) == 0;
    if (!joined && attempts != reported_attempts_ && worth_saying) {
      log().warn("membership: {} runs alone: no seed has answered after {} attempts ({}); still trying", name_,
                 failed, fmt::join(seeds_, ", "));
    }
    was_joined_ = joined;
    reported_attempts_ = attempts;
  }

  void send(const std::string& to, const std::vector<std::byte>& bytes) {
    std::pair<std::string, std::string> host_port;
    try {
      host_port = split_address(to);
    } catch (const std::invalid_argument& e) {
      count_malformed(e.what());
      return;
    }
    if (!parse_port(host_port.second)) {
      count_malformed(fmt::format("address '{}' has no port number", to));
      return;
    }
    if (auto endpoint = numeric_endpoint(host_port.first, host_port.second)) {
      send_to(*endpoint, bytes);  // numeric: parsed at each send, remembered nowhere
      return;
    }
    // A host name: the cached answer, if any (also while a fresh one is looked up).
    auto use = cache_.use(to, Clock::now());
    {
      std::lock_guard lock(mutex_);
      if (use.lookup_due) ++stats_.lookups;
      stats_.addresses_cached = cache_.size();
    }
    if (use.lookup_due) look_up(to, host_port.first, host_port.second);
    std::optional<udp::endpoint> endpoint;
    if (use.endpoint) {
      auto [ip, port] = split_address(*use.endpoint);  // as to_address() wrote it
      endpoint = numeric_endpoint(ip, port);
    }
    if (!endpoint) {  // no answer yet: this datagram is dropped (the protocol retries)
      std::lock_guard lock(mutex_);
      ++stats_.unresolved;
      return;
    }
    send_to(*endpoint, bytes);
  }

  // Looks `address` up in the background and reports the outcome to the cache.
  void look_up(const std::string& address, const std::string& host, const std::string& port) {
    resolver_.async_resolve(
        host, port, [this, address](boost::system::error_code failed, udp::resolver::results_type results) {
          if (failed == asio::error::operation_aborted) return;
          auto endpoint = failed ? std::nullopt : pick(results);
          if (endpoint) {
            cache_.resolved(address, to_address(*endpoint), Clock::now());
            return;
          }
          auto failures = cache_.failed(address, Clock::now());
          {
            std::lock_guard lock(mutex_);
            ++stats_.lookup_failures;
          }
          // Said at the 1st, 2nd, 4th, 8th... failure in a row: a few lines while a container is
          // not up yet, without a record per name kept anywhere but the (bounded) cache.
          if (failures > 0 && (failures & (failures - 1)) == 0) {
            log().warn("membership: cannot resolve {}: {} ({} attempts; retrying)", address,
                       failed ? failed.message() : "no address of this socket's family", failures);
          }
        });
  }

  // The first answer this socket can send to: of its own family, or an IPv4 one mapped into
  // IPv6 for an IPv6 socket.
  std::optional<udp::endpoint> pick(const udp::resolver::results_type& results) const {
    boost::system::error_code ec;
    const bool v6 = socket_.local_endpoint(ec).protocol() == udp::v6();
    std::optional<udp::endpoint> mapped;
    for (const auto& result : results) {
      const auto& endpoint = result.endpoint();
      if (endpoint.address().is_v6() == v6) return endpoint;
      if (v6 && !mapped) {
        mapped = udp::endpoint(asio::ip::make_address_v6(asio::ip::v4_mapped, endpoint.address().to_v4()),
                               endpoint.port());
      }
    }
    return mapped;
  }

  void send_to(const udp::endpoint& to, const std::vector<std::byte>& bytes) {
    boost::system::error_code ec;
    socket_.send_to(asio::buffer(bytes), to, 0, ec);
    if (ec == asio::error::connection_refused) {
      // The kernel reports an ICMP error caused by an earlier datagram on the next call, and this
      // datagram was not sent: read whose it was, and send again.
      read_icmp_errors();
      socket_.send_to(asio::buffer(bytes), to, 0, ec);
    }
    std::lock_guard lock(mutex_);
    if (ec) {
      ++stats_.send_failures;
    } else {
      ++stats_.datagrams_sent;
      stats_.bytes_sent += bytes.size();
    }
  }

  // An address that is not "host:port" (from a member's gossip): dropped, and said at the first
  // time and every 1000th after.
  void count_malformed(const std::string& why) {
    {
      std::lock_guard lock(mutex_);
      ++stats_.unresolved;
    }
    if (malformed_++ % 1000 == 0) log().warn("membership: dropped a datagram: {} ({} so far)", why, malformed_);
  }

  asio::io_context io_;
  udp::socket socket_;
  asio::steady_timer timer_;
  udp::resolver resolver_;
  std::thread thread_;
  std::atomic<bool> stopped_{false};
  std::vector<std::string> seeds_;
  PacketLimits limits_;
  std::uint16_t port_ = 0;
  std::string address_;
  std::string cluster_;
  std::string name_;
  // Seals what is sent and opens what arrives; null without keys. Sealing happens where
  // carry_out() runs: start() (before the loop's thread exists), then the loop's thread only.
  std::unique_ptr<DatagramSeal> seal_;

  mutable std::mutex mutex_;
  std::unique_ptr<Membership> machine_;  // guarded by mutex_
  DriverStats stats_;                    // guarded by mutex_

  // Loop thread only (or before start()).
  std::vector<EventHandler> handlers_;
  FallbackProber prober_;
  std::array<std::byte, 65'536> buffer_{};
  std::vector<std::byte> opened_;  // the datagram in buffer_, opened
  udp::endpoint sender_;
  AddressCache cache_;           // host names' answers, and the way back for ICMP errors
  std::uint64_t malformed_ = 0;  // datagrams to addresses that are not "host:port"
  bool timer_armed_ = false;
  Clock::time_point timer_at_{};
  bool was_joined_ = false;
  std::uint64_t reported_attempts_ = 0;
};

UdpDriver::UdpDriver(Config config, const std::string& bind, std::vector<std::string> seeds, Sealing sealing,
                     PacketLimits limits)
    : loop_(std::make_unique<Loop>(std::move(config), bind, std::move(seeds), std::move(sealing), limits)) {}
UdpDriver::~UdpDriver() = default;
void UdpDriver::on_event(EventHandler handler) { loop_->on_event(std::move(handler)); }
void UdpDriver::set_fallback_prober(FallbackProber prober) { loop_->set_fallback_prober(std::move(prober)); }
void UdpDriver::start() { loop_->start(); }
void UdpDriver::leave(std::chrono::milliseconds linger) { loop_->leave(linger); }
void UdpDriver::stop() { loop_->stop(); }
void UdpDriver::fallback_ack(std::uint32_t seq) { loop_->fallback_ack(seq); }
void UdpDriver::set_keys(std::shared_ptr<const security::Keyring> keys) { loop_->set_keys(std::move(keys)); }
void UdpDriver::update_meta(Metadata meta) { loop_->update_meta(std::move(meta)); }
std::uint16_t UdpDriver::port() const { return loop_->port(); }
const std::string& UdpDriver::address() const { return loop_->address(); }
std::vector<Member> UdpDriver::members() const { return loop_->members(); }
std::size_t UdpDriver::live_count() const { return loop_->live_count(); }
bool UdpDriver::joined() const { return loop_->joined(); }
DriverStats UdpDriver::stats() const { return loop_->stats(); }

}  // namespace pulsing::membership
