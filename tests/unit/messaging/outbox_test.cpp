// Outbox: the order chunks leave in (control ahead of calls, each lane in order) and the bound
// each lane holds on its own.
#include "messaging/outbox.hpp"

#include <doctest/doctest.h>

#include <string>
#include <vector>

namespace pulsing {
namespace {

constexpr std::size_t kMax = 4096;  // the bound the tests give admit()

Envelope envelope_of(EnvelopeKind kind, std::uint64_t correlation, std::size_t payload_bytes = 0) {
  Envelope e;
  e.kind = kind;
  e.correlation = correlation;
  e.method = std::string(payload_bytes, 'x');
  return e;
}

class OutboxFixture {
 public:
  Outbox::Admission offer(EnvelopeKind kind, std::uint64_t correlation, std::size_t payload_bytes = 0) {
    Envelope e = envelope_of(kind, correlation, payload_bytes);
    EncodedEnvelope encoded(e);
    auto admission = box.admit(kind, encoded.size(), kMax, false);
    if (admission != Outbox::Admission::kRefuse) box.append(encoded, kind, {kMax, kMax}, buffers);
    return admission;
  }

  // The correlations of the envelopes in the order take() hands them out.
  std::vector<std::uint64_t> drain() {
    std::vector<std::uint64_t> order;
    while (auto chunk = box.take()) {
      decode_frame(chunk->bytes, [&](const EnvelopeView& e) { order.push_back(e.correlation); });
    }
    return order;
  }

  Outbox box;
  FrameBuffers buffers{kMax, 4};
};

TEST_CASE_FIXTURE(OutboxFixture, "control queued behind calls leaves first, and each lane keeps its order") {
  for (std::uint64_t i = 1; i <= 3; ++i) offer(EnvelopeKind::kTell, i);
  offer(EnvelopeKind::kRegistry, 100);
  offer(EnvelopeKind::kAsk, 4);
  offer(EnvelopeKind::kPing, 101);
  CHECK(box.count() == 6);
  CHECK(drain() == std::vector<std::uint64_t>{100, 101, 1, 2, 3, 4});
  CHECK(box.empty());
  CHECK(box.bytes() == 0);
  CHECK(box.count() == 0);
  CHECK_FALSE(box.flagged);
}

TEST_CASE_FIXTURE(OutboxFixture, "a stream cancel and a stop stay behind the calls sent before them") {
  offer(EnvelopeKind::kStreamOpen, 1);
  offer(EnvelopeKind::kStreamCancel, 2);
  offer(EnvelopeKind::kTell, 3);
  offer(EnvelopeKind::kStop, 4);
  offer(EnvelopeKind::kStreamCredit, 100);
  CHECK(drain() == std::vector<std::uint64_t>{100, 1, 2, 3, 4});
}

TEST_CASE_FIXTURE(OutboxFixture, "a flood of calls past the hard bound is refused while control still goes in") {
  std::uint64_t correlation = 1;
  while (offer(EnvelopeKind::kTell, correlation++, 512) != Outbox::Admission::kRefuse) {
    REQUIRE(correlation < 1000);
  }
  CHECK(box.bytes() <= kMax * kPendingLimitFactor);
  // The calls lane is full; registry updates, lookups and pings are judged by their own lane.
  CHECK(offer(EnvelopeKind::kRegistry, 100) == Outbox::Admission::kQueue);
  CHECK(offer(EnvelopeKind::kLookup, 101) == Outbox::Admission::kQueue);
  CHECK(offer(EnvelopeKind::kPing, 102) == Outbox::Admission::kQueue);
  auto order = drain();
  REQUIRE(order.size() == correlation - 2 + 3);
  CHECK(order[0] == 100);
  CHECK(order[1] == 101);
  CHECK(order[2] == 102);
  CHECK(order[3] == 1);
}

TEST_CASE_FIXTURE(OutboxFixture, "past the bound a call is congested, then refused, and a sender that may wait waits") {
  std::uint64_t correlation = 1;
  Outbox::Admission admission = Outbox::Admission::kQueue;
  while (admission == Outbox::Admission::kQueue) admission = offer(EnvelopeKind::kTell, correlation++, 512);
  CHECK(admission == Outbox::Admission::kCongested);
  CHECK(box.admit(EnvelopeKind::kAsk, 600, kMax, true) == Outbox::Admission::kWait);
  while (admission == Outbox::Admission::kCongested) admission = offer(EnvelopeKind::kTell, correlation++, 512);
  CHECK(admission == Outbox::Admission::kRefuse);
}

TEST_CASE_FIXTURE(OutboxFixture, "replies past the bound are refused and stream items never are") {
  std::uint64_t correlation = 1;
  while (offer(EnvelopeKind::kReply, correlation++, 512) != Outbox::Admission::kRefuse) {
    REQUIRE(correlation < 1000);
  }
  for (int i = 0; i < 40; ++i) CHECK(offer(EnvelopeKind::kStreamItem, 1000 + i, 512) != Outbox::Admission::kRefuse);
}

TEST_CASE_FIXTURE(OutboxFixture, "clear drops both lanes and says how many were not requests") {
  offer(EnvelopeKind::kTell, 1);
  offer(EnvelopeKind::kAsk, 2);
  offer(EnvelopeKind::kRegistry, 3);
  auto [dropped, unanswered] = box.clear();
  CHECK(dropped == 3);
  CHECK(unanswered == 1);
  CHECK(box.empty());
  CHECK_FALSE(box.take().has_value());
}

}  // namespace
}  // namespace pulsing
