// fuzz_seeds DIR: writes the fuzz targets' seed corpus, DIR/<target>/<name>, with the project's
// own encoders: real frames of envelopes, gossip packets (plain, sealed under the fuzz key, and
// for the seal-then-open mode), JSON texts and HTTP requests. Run once and committed as
// tests/fuzz/corpus/; run it again (into that folder) after a wire format changes:
//   build-fuzz/tests/fuzz/fuzz_seeds tests/fuzz/corpus
// An ordinary program: it fuzzes nothing.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <limits>
#include <memory>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "gossip_test_key.hpp"
#include "membership/codec.hpp"
#include "membership/datagram_seal.hpp"
#include "messaging/envelope.hpp"
#include "messaging/error.hpp"
#include "messaging/json.hpp"
#include "messaging/value.hpp"
#include "security/cluster_key.hpp"

namespace {

namespace fs = std::filesystem;
namespace membership = pulsing::membership;
using pulsing::Envelope;
using pulsing::EnvelopeKind;
using pulsing::Value;

void write(const fs::path& dir, const std::string& name, std::span<const std::byte> bytes) {
  fs::create_directories(dir);
  std::ofstream out(dir / name, std::ios::binary | std::ios::trunc);
  out.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
  if (!out) throw std::runtime_error("cannot write " + (dir / name).string());
}

void write(const fs::path& dir, const std::string& name, std::string_view text) {
  write(dir, name, std::as_bytes(std::span(text.data(), text.size())));
}

pulsing::ActorAddress some_actor() {
  return {pulsing::NodeId{0x1234abcd}, "tcp://127.0.0.1:7001", pulsing::ActorId{42}};
}

std::vector<std::byte> frame_of(std::initializer_list<Envelope> envelopes) {
  std::vector<std::byte> frame;
  for (const auto& envelope : envelopes) pulsing::append_envelope(frame, envelope);
  return frame;
}

void envelope_seeds(const fs::path& dir) {
  Envelope tell;
  tell.kind = EnvelopeKind::kTell;
  tell.sender_node = 7;
  tell.target_id = 3;
  tell.target_node = 9;
  tell.method = "add";
  tell.payload = Value::List{1, "two", 3.5, nullptr, true, std::uint64_t{1} << 63};
  write(dir, "tell_list", frame_of({tell}));

  Envelope ask;
  ask.kind = EnvelopeKind::kAsk;
  ask.correlation = 1001;
  ask.target_name = "calculator";
  ask.method = "describe";
  ask.deadline_ms = 5000;
  ask.trace_id = 0xfeed;
  ask.span_id = 0xbeef;
  ask.payload = Value::Map{{"bytes", Value::Bytes{std::byte{0}, std::byte{0xff}}},
                           {"actor", some_actor()},
                           {"nested", Value::List{Value::List{Value::Map{{"k", -1}}}}}};
  write(dir, "ask_map", frame_of({ask}));

  Envelope reply;
  reply.kind = EnvelopeKind::kReply;
  reply.correlation = 1001;
  reply.error = pulsing::BusinessError(404, "no such thing", Value::Map{{"name", "x"}}).to_value();
  write(dir, "reply_error", frame_of({reply}));

  Envelope open;
  open.kind = EnvelopeKind::kStreamOpen;
  open.correlation = 5;
  open.target_id = 8;
  open.method = "numbers";
  open.credit = 16;
  Envelope item;
  item.kind = EnvelopeKind::kStreamItem;
  item.correlation = 5;
  item.payload = 12;
  Envelope end;
  end.kind = EnvelopeKind::kStreamEnd;
  end.correlation = 5;
  write(dir, "stream_batch", frame_of({open, item, end}));

  Envelope ping;
  ping.kind = EnvelopeKind::kPing;
  ping.correlation = 77;
  Envelope flow;
  flow.kind = EnvelopeKind::kFlow;
  flow.target_id = 4;
  flow.payload = Value::Map{{"congested", true}};
  write(dir, "ping_flow", frame_of({ping, flow}));
}

membership::Packet probe_packet() {
  return {.cluster = pulsing::fuzz::kTestCluster,
          .messages = {membership::Ping{.seq = 1, .target = "node-b"},
                       membership::IndirectPing{.seq = 2, .target = "node-c", .target_address = "127.0.0.1:7947"},
                       membership::Ack{.seq = 3}, membership::Nack{.seq = 4}}};
}

membership::Packet gossip_packet() {
  return {.cluster = pulsing::fuzz::kTestCluster,
          .messages = {membership::Alive{.who = membership::make_identity("node-a", "127.0.0.1:7946", {{"zone", "a"}}),
                                         .incarnation = 3},
                       membership::Suspect{.name = "node-b", .incarnation = 1, .from = "node-a"},
                       membership::Dead{.name = "node-c", .incarnation = 2, .from = "node-c"}}};
}

// Large enough to be deflated.
membership::Packet state_packet() {
  membership::StateSync sync{.reply_wanted = true, .join = true, .from = "node-a", .members = {}};
  for (int i = 0; i < 12; ++i) {
    auto name = "node-" + std::to_string(i);
    sync.members.push_back({.who = membership::make_identity(name, "127.0.0.1:" + std::to_string(7000 + i),
                                                             {{"role", i % 2 == 0 ? "worker" : "api"}}),
                            .incarnation = static_cast<std::uint64_t>(i),
                            .state = static_cast<membership::MemberState>(i % 4)});
  }
  return {.cluster = pulsing::fuzz::kTestCluster, .messages = {sync}};
}

// fuzz_gossip's input: the mode byte, then the datagram.
std::vector<std::byte> with_mode(std::uint8_t mode, std::span<const std::byte> datagram) {
  std::vector<std::byte> input{std::byte{mode}};
  input.insert(input.end(), datagram.begin(), datagram.end());
  return input;
}

void gossip_seeds(const fs::path& dir) {
  auto probe = membership::encode(probe_packet());
  auto gossip = membership::encode(gossip_packet());
  auto state = membership::encode(state_packet());
  if (state.front() != membership::kDeflatedEncoding) throw std::runtime_error("the state packet is not deflated");
  write(dir, "plain_probe", with_mode(0, probe));
  write(dir, "plain_gossip", with_mode(0, gossip));
  write(dir, "plain_state_deflated", with_mode(0, state));

  auto keys = std::make_shared<const pulsing::security::Keyring>(
      std::vector{pulsing::security::ClusterKey::parse(pulsing::fuzz::kTestKey)});
  membership::DatagramSeal seal(keys, pulsing::fuzz::kTestCluster, {}, pulsing::fuzz::kTestSender);
  write(dir, "sealed_gossip", with_mode(1, seal.seal(gossip, pulsing::fuzz::kTestNowMs)));
  write(dir, "sealed_state", with_mode(1, seal.seal(state, pulsing::fuzz::kTestNowMs)));
  write(dir, "seal_then_open_probe", with_mode(2, probe));
}

void json_seeds(const fs::path& dir) {
  write(dir, "object", R"({"name":"calc","args":[1,-2,2.5,"x",null,true,false],"big":18446744073709551615})");
  write(dir, "tags", pulsing::to_json_text(Value::List{Value::Bytes{std::byte{1}, std::byte{2}, std::byte{3}},
                                                       some_actor(), std::numeric_limits<double>::infinity(),
                                                       Value::Map{{"$bytes", 1}}}));
  write(dir, "nested", R"([[[{"a":[[{}]],"b":{"c":[]}}]]])");
  write(dir, "strings", R"(["\u00e9\ud83d\ude00","tab\tnew\nline","\"quoted\"",""])");
  write(dir, "numbers", "[0,-0,1e10,-1.5e-7,1.7976931348623157e308,9223372036854775807,-9223372036854775808,0.1]");
}

void http_seeds(const fs::path& dir) {
  write(dir, "get_health", "GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n");
  write(dir, "get_metrics_token",
        "GET /metrics?name=x&y HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer fuzz-token\r\n\r\n");
  write(dir, "head_members_http10", "HEAD /members HTTP/1.0\r\nAuthorization: Bearer fuzz-token\r\n\r\n");
  write(dir, "post_body", "POST /actors HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\n\r\nhello");
  write(dir, "pipelined",
        "GET /ready HTTP/1.1\r\nHost: h\r\n\r\nGET /throw?why HTTP/1.1\r\nHost: h\r\n"
        "Authorization: Bearer fuzz-token\r\n\r\nGET /nope HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n");
  write(dir, "chunked",
        "GET /empty HTTP/1.1\r\nHost: h\r\nAuthorization: Bearer fuzz-token\r\nTransfer-Encoding: chunked\r\n\r\n"
        "3\r\nabc\r\n0\r\n\r\n");
  // Past the 8 KiB header limit: the server's 431.
  write(dir, "header_too_long", "GET /health HTTP/1.1\r\nHost: h\r\nX-Long: " + std::string(8300, 'a') + "\r\n\r\n");
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::cerr << "usage: fuzz_seeds DIR (writes DIR/fuzz_envelope, DIR/fuzz_gossip, DIR/fuzz_json, DIR/fuzz_http)\n";
    return 2;
  }
  const fs::path root = argv[1];
  envelope_seeds(root / "fuzz_envelope");
  gossip_seeds(root / "fuzz_gossip");
  json_seeds(root / "fuzz_json");
  http_seeds(root / "fuzz_http");
  std::cout << "fuzz_seeds: wrote the seeds under " << root.string() << "\n";
  return 0;
}
