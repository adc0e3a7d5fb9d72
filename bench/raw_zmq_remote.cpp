// raw_zmq_remote: the remote workloads W5–W7 of bench/README.md written directly on ZeroMQ and
// Cap'n Proto, with no actor runtime: the baseline that says what the wire itself costs.
//
//   raw_zmq_remote --workload W5|W6|W7|W5s|W6s|W7s [--scale F]
//
// The process is the client; it starts its own server as a child process (remote_util.hpp)
// and times only its own work. Client DEALER → server ROUTER over tcp://127.0.0.1:<port>. Every
// tell, ask and reply is one Cap'n Proto message (bench/raw_bench.capnp), built and serialised
// on its own into one ZeroMQ frame, the way a runtime sends one envelope: no batching of
// several logical messages into one frame; ZeroMQ batches frames into syscalls as it does
// anyway. A received frame that is not 8-byte aligned is copied before Cap'n Proto reads it.
//
// Every workload starts with 1,000 untimed asks (the connection is up and warm), then:
//   W5  1,000,000 tells with a 64-byte text, then one `count` ask; timed until its reply,
//       which must say that every tell was counted → msgs/s, the sender's peak RSS.
//   W6  100,000 sequential asks (value → value + 1), each timed → p50 µs, p99, round trips/s.
//   W7  500,000 asks with 64 outstanding at all times → round trips/s.
// Then the client sends `stop`, and the server exits. W5s–W7s are the same over CURVE: the
// server's and the client's key pairs derived from the benchmark's cluster key as pulsing derives
// them, and a ZAP handler in the server that admits the client's key (the protection pulsing's
// nodes have).
#include <capnp/message.h>
#include <capnp/serialize.h>
#include <kj/io.h>

#include <zmq.hpp>
#include <zmq_addon.hpp>

#include "bench/raw_bench.capnp.h"
#include "security/curve_keys.hpp"
#include "bench_util.hpp"
#include "remote_util.hpp"

#include <array>
#include <cstdint>
#include <iterator>
#include <optional>
#include <thread>
#include <cstdio>
#include <cstring>
#include <exception>
#include <stdexcept>
#include <string>
#include <vector>

namespace {

namespace remote = bench::remote;

constexpr const char* kSystem = "raw-zmq";
constexpr const char* kUsage = "usage: raw_zmq_remote --workload W5|W6|W7|W5s|W6s|W7s [--scale F]";

// High-water marks, in messages, on both sockets and in both directions. ZeroMQ's default is
// 1,000; 10,000 lets a burst of small tells ride through kernel buffer hiccups while still
// bounding the sender's memory (a full pipe blocks the sender: flow control).
constexpr int kHwm = 10'000;

// Builds and reads Msg frames. One per socket owner; not thread safe.
class Codec {
 public:
  zmq::message_t encode(Msg::Kind kind, uint64_t id, int64_t value, const std::string* text = nullptr) {
    // The first segment is reused (the builder zeroes what it used when it goes away), as
    // Cap'n Proto recommends for many small messages; the frame is written straight into the
    // ZeroMQ message, one copy.
    capnp::MallocMessageBuilder builder(kj::arrayPtr(scratch_.data(), scratch_.size()));
    auto msg = builder.initRoot<Msg>();
    msg.setKind(kind);
    msg.setId(id);
    msg.setValue(value);
    if (text != nullptr) msg.setText(capnp::Text::Reader(text->c_str(), text->size()));
    size_t bytes = capnp::computeSerializedSizeInWords(builder) * sizeof(capnp::word);
    zmq::message_t frame(bytes);
    kj::ArrayOutputStream out(kj::arrayPtr(static_cast<kj::byte*>(frame.data()), bytes));
    capnp::writeMessage(out, builder);
    return frame;
  }

  // Calls f(Msg::Reader) on the frame's message and returns what f returns. Throws on a frame
  // Cap'n Proto cannot read (default reader limits: traversal 64 MiB, nesting 64).
  template <class F>
  auto decode(const zmq::message_t& frame, F&& f) {
    size_t bytes = frame.size();
    if (bytes % sizeof(capnp::word) != 0) throw std::runtime_error("frame is not whole words");
    const auto* words = static_cast<const capnp::word*>(frame.data());
    if (reinterpret_cast<uintptr_t>(frame.data()) % alignof(capnp::word) != 0) {
      aligned_.resize(bytes / sizeof(capnp::word));
      std::memcpy(aligned_.data(), frame.data(), bytes);
      words = aligned_.data();
    }
    capnp::FlatArrayMessageReader reader(kj::arrayPtr(words, bytes / sizeof(capnp::word)));
    return f(reader.getRoot<Msg>());
  }

 private:
  std::array<capnp::word, 32> scratch_{};
  std::vector<capnp::word> aligned_;
};

void send(zmq::socket_t& sock, zmq::message_t&& frame, zmq::send_flags flags = zmq::send_flags::none) {
  if (!sock.send(frame, flags)) throw std::runtime_error("send timed out");
}

void recv(zmq::socket_t& sock, zmq::message_t& frame) {
  if (!sock.recv(frame)) throw std::runtime_error("receive timed out");
}

void set_options(zmq::socket_t& sock) {
  sock.set(zmq::sockopt::sndhwm, kHwm);
  sock.set(zmq::sockopt::rcvhwm, kHwm);
  sock.set(zmq::sockopt::sndtimeo, remote::kTimeoutMs);
  sock.set(zmq::sockopt::rcvtimeo, remote::kTimeoutMs);
  sock.set(zmq::sockopt::linger, 2'000);  // closing flushes what is queued (the stop), boundedly
}

// --- security (W5s–W7s) ----------------------------------------------------------------------

struct CurveKeys {
  pulsing::security::CurveKeyPair server, client;
};
CurveKeys curve_keys() {
  auto key = pulsing::security::ClusterKey::parse(remote::kBenchClusterKey);
  return {pulsing::security::derive_curve_pair(key, pulsing::security::KeyPurpose::kCurveServer),
          pulsing::security::derive_curve_pair(key, pulsing::security::KeyPurpose::kCurveNode)};
}
zmq::const_buffer bytes_of(const pulsing::security::CurveKey& key) { return zmq::const_buffer(key.data(), key.size()); }

// The server's ZAP handler, on a thread of its own (which alone touches its socket): admits
// `client`, refuses every other key. It ends when the context shuts down.
class ZapHandler {
 public:
  ZapHandler(zmq::context_t& ctx, const pulsing::security::CurveKey& client) : ctx_(ctx), socket_(ctx, zmq::socket_type::rep) {
    socket_.set(zmq::sockopt::linger, 0);
    socket_.bind("inproc://zeromq.zap.01");
    thread_ = std::thread([this, client] {
      try {
        while (true) {
          std::vector<zmq::message_t> request;
          if (!zmq::recv_multipart(socket_, std::back_inserter(request))) return;
          // version, request id, domain, address, identity, mechanism, the client's key
          if (request.size() != 7) throw std::runtime_error("a ZAP request of " + std::to_string(request.size()) + " frames");
          const bool admit = request[6].size() == client.size() &&
                             std::memcmp(request[6].data(), client.data(), client.size()) == 0;
          std::array<zmq::const_buffer, 6> reply{zmq::str_buffer("1.0"), zmq::buffer(request[1].data(), request[1].size()),
                                                 admit ? zmq::str_buffer("200") : zmq::str_buffer("400"),
                                                 zmq::str_buffer(""), zmq::str_buffer("client"), zmq::const_buffer()};
          zmq::send_multipart(socket_, reply);
        }
      } catch (const zmq::error_t&) {
        // The context is shutting down.
      }
      socket_.close();
    });
  }
  ~ZapHandler() {
    ctx_.shutdown();  // its blocking receive returns ETERM
    thread_.join();
  }

 private:
  zmq::context_t& ctx_;
  zmq::socket_t socket_;
  std::thread thread_;
};

// --- server ---------------------------------------------------------------------------------

// Serves on one ROUTER socket until `stop`: counts tells, answers asks and count asks.
int serve(const std::string& workload) {
  zmq::context_t ctx(1);
  std::optional<ZapHandler> zap;
  zmq::socket_t sock(ctx, zmq::socket_type::router);
  set_options(sock);
  if (remote::is_secure(workload)) {
    CurveKeys keys = curve_keys();
    zap.emplace(ctx, keys.client.public_key);
    sock.set(zmq::sockopt::curve_server, 1);
    sock.set(zmq::sockopt::curve_secretkey, bytes_of(keys.server.secret_key));
  }
  sock.bind("tcp://127.0.0.1:*");
  std::string endpoint = sock.get(zmq::sockopt::last_endpoint);
  remote::announce_port(std::stoi(endpoint.substr(endpoint.rfind(':') + 1)));

  Codec codec;
  zmq::message_t identity, frame;
  int64_t counted = 0;
  while (true) {
    recv(sock, identity);
    if (!identity.more()) throw std::runtime_error("ROUTER frame without a payload");
    recv(sock, frame);
    struct Reply {
      bool stop, reply;
      uint64_t id;
      int64_t value;
    };
    Reply r = codec.decode(frame, [&](Msg::Reader m) -> Reply {
      switch (m.getKind()) {
        case Msg::Kind::TELL:
          if (m.getText().size() == 64) ++counted;
          return {false, false, 0, 0};
        case Msg::Kind::ASK:
          return {false, true, m.getId(), m.getValue() + 1};
        case Msg::Kind::COUNT:
          return {false, true, m.getId(), counted};
        case Msg::Kind::STOP:
          return {true, false, 0, 0};
        case Msg::Kind::REPLY:
          break;
      }
      throw std::runtime_error("unexpected message kind");
    });
    if (r.stop) return 0;
    if (r.reply) {
      send(sock, std::move(identity), zmq::send_flags::sndmore);
      send(sock, codec.encode(Msg::Kind::REPLY, r.id, r.value));
    }
  }
}

// --- client ---------------------------------------------------------------------------------

// One ask and its reply; returns the reply's value.
int64_t ask(zmq::socket_t& sock, Codec& codec, Msg::Kind kind, uint64_t id, int64_t value) {
  send(sock, codec.encode(kind, id, value));
  zmq::message_t frame;
  recv(sock, frame);
  return codec.decode(frame, [&](Msg::Reader m) {
    if (m.getKind() != Msg::Kind::REPLY || m.getId() != id) throw std::runtime_error("unexpected reply");
    return m.getValue();
  });
}

void warm_up(zmq::socket_t& sock, Codec& codec) {
  for (int64_t i = 0; i < remote::kWarmupAsks; ++i)
    if (ask(sock, codec, Msg::Kind::ASK, static_cast<uint64_t>(i), i) != i + 1)
      throw std::runtime_error("wrong warm-up reply");
}

void w5(zmq::socket_t& sock, Codec& codec, const std::string& workload, double scale) {
  int64_t n = bench::scaled(remote::kW5Tells, scale);
  const std::string text = remote::tell_text();
  auto t0 = bench::Clock::now();
  for (int64_t i = 0; i < n; ++i) send(sock, codec.encode(Msg::Kind::TELL, 0, 0, &text));
  int64_t counted = ask(sock, codec, Msg::Kind::COUNT, 0, 0);
  double s = bench::seconds_since(t0);
  if (counted != n) throw std::runtime_error("the server counted " + std::to_string(counted) + " tells");
  bench::print_result(kSystem, workload.c_str(), static_cast<double>(n) / s, "msgs/s", n, s);
}

void w6(zmq::socket_t& sock, Codec& codec, const std::string& workload, double scale) {
  int64_t n = bench::scaled(remote::kW6Asks, scale);
  std::vector<int64_t> latencies_ns(static_cast<size_t>(n));
  auto t0 = bench::Clock::now();
  for (int64_t i = 0; i < n; ++i) {
    auto a = bench::Clock::now();
    if (ask(sock, codec, Msg::Kind::ASK, static_cast<uint64_t>(i), i) != i + 1)
      throw std::runtime_error("wrong reply");
    latencies_ns[static_cast<size_t>(i)] =
        std::chrono::duration_cast<std::chrono::nanoseconds>(bench::Clock::now() - a).count();
  }
  double s = bench::seconds_since(t0);
  remote::print_latency_result(kSystem, workload, latencies_ns, s);
}

void w7(zmq::socket_t& sock, Codec& codec, const std::string& workload, double scale) {
  int64_t n = bench::scaled(remote::kW7Asks, scale);
  int64_t sent = 0, received = 0;
  auto send_next = [&] {
    send(sock, codec.encode(Msg::Kind::ASK, static_cast<uint64_t>(sent), sent));
    ++sent;
  };
  zmq::message_t frame;
  auto t0 = bench::Clock::now();
  while (sent < std::min(n, remote::kW7Window)) send_next();
  while (received < n) {
    recv(sock, frame);
    bool ok = codec.decode(frame, [](Msg::Reader m) {
      return m.getKind() == Msg::Kind::REPLY && m.getValue() == static_cast<int64_t>(m.getId()) + 1;
    });
    if (!ok) throw std::runtime_error("wrong reply");
    ++received;
    if (sent < n) send_next();
  }
  double s = bench::seconds_since(t0);
  bench::print_result(kSystem, workload.c_str(), static_cast<double>(n) / s, "roundtrips/s", n, s);
}

void run_client(remote::ServerChild& server, const std::string& workload, double scale) {
  zmq::context_t ctx(1);
  zmq::socket_t sock(ctx, zmq::socket_type::dealer);
  set_options(sock);
  if (remote::is_secure(workload)) {
    CurveKeys keys = curve_keys();
    sock.set(zmq::sockopt::curve_serverkey, bytes_of(keys.server.public_key));
    sock.set(zmq::sockopt::curve_publickey, bytes_of(keys.client.public_key));
    sock.set(zmq::sockopt::curve_secretkey, bytes_of(keys.client.secret_key));
  }
  sock.connect("tcp://127.0.0.1:" + std::to_string(server.port()));
  Codec codec;
  warm_up(sock, codec);
  const std::string plain = remote::plain_workload(workload);
  if (plain == "W5") w5(sock, codec, workload, scale);
  if (plain == "W6") w6(sock, codec, workload, scale);
  if (plain == "W7") w7(sock, codec, workload, scale);
  send(sock, codec.encode(Msg::Kind::STOP, 0, 0));
}

}  // namespace

int main(int argc, char** argv) {
  return remote::run_main(argc, argv, "raw_zmq_remote", kUsage, /*secure=*/true, serve,
                          [](remote::ServerChild& server, const std::string& workload, double scale) {
                            run_client(server, workload, scale);
                            return true;
                          });
}
