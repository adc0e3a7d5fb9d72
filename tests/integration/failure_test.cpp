// Failures between processes: a peer killed mid-ask, a peer restarted on the same port, and a
// barrage of malformed frames from a raw ZeroMQ socket.
#include <cstdint>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include <capnp/message.h>
#include <capnp/serialize.h>
#include <doctest/doctest.h>
#include <zmq.hpp>

#include "integration_support.hpp"
#include "messaging/envelope.capnp.h"
#include "messaging/envelope.hpp"

namespace pulsing::integration {

namespace {

// Whether `f` failed as a call to a lost peer should: NodeUnreachable, or its own timeout.
template <typename F>
bool fails_as_unreachable(F&& f) {
  try {
    f();
  } catch (const RuntimeError& e) {
    return e.kind() == RuntimeErrorKind::kNodeUnreachable;
  } catch (const TimeoutError&) {
    return true;
  }
  return false;
}

}  // namespace

TEST_CASE("a peer killed with SIGKILL mid-ask: the ask and a watch fail as unreachable, later calls too") {
  Node node(test_process_config());
  auto child = NodeProcess::start();
  auto calc = resolve<Calculator>(node, child, "calc");
  auto launcher = resolve<Launcher>(node, child, "launcher");
  CHECK(calc.ask(&Calculator::add, 1).get() == 1);

  auto pending = calc.with_timeout(20s).ask(&Calculator::slow, 10'000);
  auto watched = calc.watch();
  // The child is handling it (not just about to receive it) when it dies.
  REQUIRE(eventually([&] { return launcher.ask(&Launcher::slow_calls).get() == 1; }));
  child.kill();

  auto lost = expect_error<RuntimeError>([&] { pending.get(); });
  CHECK(lost.kind() == RuntimeErrorKind::kNodeUnreachable);
  CHECK(std::string(lost.what()).find(child.endpoint()) != std::string::npos);
  // A watch of an actor whose node died says so (it cannot say how the actor ended).
  CHECK(expect_error<RuntimeError>([&] { watched.get(); }).kind() == RuntimeErrorKind::kNodeUnreachable);

  // Later calls fail the same way, and a tell becomes a dead letter.
  CHECK(fails_as_unreachable([&] { calc.with_timeout(5s).ask(&Calculator::add, 1).get(); }));
  REQUIRE(eventually([&] {
    auto before = node.dead_letters();
    calc.tell(&Calculator::add, 1);
    return node.dead_letters() > before;
  }));
  CHECK(fails_as_unreachable([&] { node.resolve_at(child.endpoint(), "calc", 5s).get(); }));
}

TEST_CASE("a peer restarted on the same port: resolve_at works again, stale references are refused") {
  Node node(test_process_config());
  auto child = NodeProcess::start();
  const std::string endpoint = child.endpoint();
  auto old_calc = resolve<Calculator>(node, child, "calc");
  CHECK(old_calc.ask(&Calculator::add, 41).get() == 41);

  child.kill();
  REQUIRE(eventually([&] { return fails_as_unreachable([&] { old_calc.with_timeout(5s).ask(&Calculator::value).get(); }); }));

  // The port is free again once the child is gone; bind it anew (retried: another process
  // could briefly hold it).
  std::optional<NodeProcess> restarted;
  REQUIRE(eventually([&] {
    try {
      restarted.emplace(NodeProcess::start_at(endpoint));
      return true;
    } catch (const std::runtime_error& e) {
      MESSAGE("restart on " << endpoint << " failed: " << e.what());
      return false;
    }
  }));
  CHECK(restarted->endpoint() == endpoint);

  // Traffic resumes once the connection is back up (ZeroMQ reconnects by itself).
  std::optional<ActorRef<Calculator>> calc;
  REQUIRE(eventually(
      [&] {
        try {
          calc = node.resolve_at<Calculator>(endpoint, "calc", 2s).get();
          return true;
        } catch (const Error&) {
          return false;
        }
      },
      20s));
  CHECK(calc->ask(&Calculator::add, 1).get() == 1);  // a new run: fresh state
  CHECK(calc->ask(&Calculator::value).get() == 1);
  // A reference to the earlier run names an actor that no longer exists.
  CHECK(runtime_kind([&] { old_calc.ask(&Calculator::value).get(); }) == RuntimeErrorKind::kActorNotFound);
  CHECK(restarted->terminate() == 0);
}

namespace {

std::vector<std::byte> frame_of(const Envelope& envelope) {
  std::vector<std::byte> frame;
  append_envelope(frame, envelope);
  return frame;
}

// A tell to `target` with no sender endpoint: nothing is ever answered to it.
Envelope tell(std::string target, std::string method, std::vector<Value> args) {
  Envelope e;
  e.kind = EnvelopeKind::kTell;
  e.target_name = std::move(target);
  e.method = std::move(method);
  e.payload = Value(std::move(args));
  return e;
}

// One envelope written with the schema directly (protocol version and kind as given), framed.
std::vector<std::byte> raw_envelope_frame(std::uint16_t version, std::uint16_t kind) {
  capnp::MallocMessageBuilder message;
  auto envelope = message.initRoot<wire::Envelope>();
  envelope.setVersion(version);
  envelope.setKind(static_cast<wire::Kind>(kind));
  envelope.getTarget().setName("calc");
  envelope.setMethod("add");
  auto words = capnp::messageToFlatArray(message);
  auto bytes = words.asBytes();
  std::vector<std::byte> frame(8);
  std::uint64_t length = bytes.size();
  for (int i = 0; i < 8; ++i) frame[static_cast<std::size_t>(i)] = static_cast<std::byte>(length >> (8 * i));
  for (auto b : bytes) frame.push_back(static_cast<std::byte>(b));
  return frame;
}

std::vector<std::byte> length_prefix(std::uint64_t length) {
  std::vector<std::byte> out(8);
  for (int i = 0; i < 8; ++i) out[static_cast<std::size_t>(i)] = static_cast<std::byte>(length >> (8 * i));
  return out;
}

class RawDealer {
 public:
  explicit RawDealer(const std::string& endpoint) : socket_(context_, zmq::socket_type::dealer) {
    socket_.set(zmq::sockopt::linger, 0);
    socket_.set(zmq::sockopt::sndtimeo, 10'000);  // a send never blocks a test for long
    socket_.set(zmq::sockopt::sndhwm, 100'000);
    socket_.connect(endpoint);
  }
  // Sends one message of `parts` frames; false if it could not be sent in time.
  bool send(const std::vector<std::vector<std::byte>>& parts) {
    for (std::size_t i = 0; i < parts.size(); ++i) {
      auto flags = i + 1 < parts.size() ? zmq::send_flags::sndmore : zmq::send_flags::none;
      if (!socket_.send(zmq::buffer(parts[i].data(), parts[i].size()), flags)) return false;
    }
    ++sent_;
    return true;
  }
  bool send(const std::vector<std::byte>& frame) { return send(std::vector<std::vector<std::byte>>{frame}); }
  int sent() const { return sent_; }

 private:
  zmq::context_t context_;
  zmq::socket_t socket_;
  int sent_ = 0;
};

}  // namespace

TEST_CASE("a barrage of malformed frames from a raw ZeroMQ socket: the node still answers afterwards") {
  Node node(test_process_config());
  auto child = NodeProcess::start();
  auto calc = resolve<Calculator>(node, child, "calc");
  CHECK(calc.ask(&Calculator::value).get() == 0);

  RawDealer raw(child.endpoint());
  std::mt19937_64 random(20240611);
  auto garbage = [&](std::size_t size) {
    std::vector<std::byte> bytes(size);
    for (auto& b : bytes) b = static_cast<std::byte>(random());
    return bytes;
  };
  // Frames that decode would only reach "nobody" (a dead letter), never "calc".
  const auto valid = frame_of(tell("nobody", "add", {1}));

  // Random bytes of random sizes, empty frames included.
  for (int i = 0; i < 2000; ++i) REQUIRE(raw.send(garbage(random() % 2048)));
  // Every truncation of a valid frame.
  for (std::size_t n = 0; n < valid.size(); ++n) REQUIRE(raw.send(std::vector<std::byte>(valid.begin(), valid.begin() + static_cast<std::ptrdiff_t>(n))));
  // Length prefixes that lie, followed by a little or nothing.
  for (std::uint64_t length : {std::uint64_t{0}, std::uint64_t{1}, std::uint64_t{7}, std::uint64_t{valid.size()},
                               std::uint64_t{1} << 32, std::uint64_t{1} << 63, ~std::uint64_t{0}}) {
    REQUIRE(raw.send(length_prefix(length)));
    auto tail = length_prefix(length);
    auto junk = garbage(64);
    tail.insert(tail.end(), junk.begin(), junk.end());
    REQUIRE(raw.send(tail));
  }
  // A valid envelope followed by junk, and valid ones with bytes flipped in the length prefix.
  for (int i = 0; i < 200; ++i) {
    auto frame = valid;
    auto junk = garbage(1 + random() % 100);
    frame.insert(frame.end(), junk.begin(), junk.end());
    REQUIRE(raw.send(frame));
    auto flipped = valid;
    flipped[random() % 8] ^= static_cast<std::byte>(1 + random() % 255);
    REQUIRE(raw.send(flipped));
  }
  // Envelopes of another protocol version, or of a kind this version does not know.
  for (std::uint16_t version : {0, 2, 999}) REQUIRE(raw.send(raw_envelope_frame(version, 1)));
  for (std::uint16_t kind : {9, 200, 65535}) REQUIRE(raw.send(raw_envelope_frame(kProtocolVersion, kind)));
  // Values nested past the decoding limit.
  Value deep = Value(std::vector<Value>{});
  for (int i = 0; i < 200; ++i) deep = Value(std::vector<Value>{deep});
  REQUIRE(raw.send(frame_of(tell("calc", "add", {deep}))));
  // Oversized: 20 MiB, past the traversal limit (16 MiB), as garbage and behind a "valid" length.
  {
    auto big = garbage(std::size_t{20} << 20);
    REQUIRE(raw.send(big));
    auto prefixed = length_prefix(big.size());
    prefixed.insert(prefixed.end(), big.begin(), big.end());
    REQUIRE(raw.send(prefixed));
  }
  // Multi-part messages (a pulsing peer sends one part), valid parts among them.
  for (int i = 0; i < 500; ++i) {
    std::vector<std::vector<std::byte>> parts;
    std::size_t count = 2 + random() % 4;
    for (std::size_t p = 0; p < count; ++p) parts.push_back(random() % 3 == 0 ? valid : garbage(random() % 256));
    REQUIRE(raw.send(parts));
  }
  REQUIRE(raw.send(std::vector<std::vector<std::byte>>{valid, {}}));
  CHECK(raw.sent() > 3000);

  // Last on the same connection, a well-formed tell: once it has taken effect, the node has read
  // every frame sent before it.
  REQUIRE(raw.send(frame_of(tell("calc", "add", {7}))));
  REQUIRE(eventually([&] { return calc.ask(&Calculator::value).get() == 7; }));

  // And it still answers as before.
  CHECK(calc.ask(&Calculator::add, 1).get() == 8);
  CHECK(node.resolve_at<Calculator>(child.endpoint(), "calc").get().ask(&Calculator::value).get() == 8);
  auto again = NodeProcess::start();  // and other nodes still talk to it
  CHECK(resolve<Calculator>(node, again, "calc").ask(&Calculator::add_via_any, AnyRef(calc), 2).get() == 10);
  CHECK(child.terminate() == 0);
}

}  // namespace pulsing::integration
