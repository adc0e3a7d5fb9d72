#include "runtime/remote_streams.hpp"

#include <utility>
#include <vector>

#include <fmt/format.h>

namespace pulsing::detail {

// The producer's end of a stream read by another node: sends items while the reader has granted
// credit, parks the producer when it has none, and stops it when the reader cancels.
class RemoteSink final : public StreamSink<Value> {
 public:
  RemoteSink(RemoteStreams& streams, std::shared_ptr<Transport::Peer> reader, std::uint64_t correlation,
             std::uint32_t credit)
      : streams_(streams), reader_(std::move(reader)), correlation_(correlation), credit_(credit) {}
  // Dropped unfinished (its call never ran): it no longer counts against its reader's bound.
  ~RemoteSink() override {
    if (!finished_) streams_.forget_producer({reader_->endpoint(), correlation_}, this);
  }

  void push(Value&& item) override {
    {
      std::lock_guard lock(mutex_);
      if (cancelled_ || finished_) return;
      if (credit_ > 0) --credit_;
    }
    Envelope e = streams_.envelope(EnvelopeKind::kStreamItem, correlation_);
    e.payload = std::move(item);
    if (!was_sent(streams_.transport_->send(*reader_, e))) cancel();  // the reader's node is gone
  }
  bool park(std::function<void()> wake) override {
    std::lock_guard lock(mutex_);
    if (credit_ > 0 || cancelled_) return false;
    wake_ = std::move(wake);
    return true;
  }
  bool cancelled() const override {
    std::lock_guard lock(mutex_);
    return cancelled_;
  }
  void finish(std::optional<Failure> failure) override {
    bool tell_reader;
    {
      std::lock_guard lock(mutex_);
      if (finished_) return;
      finished_ = true;
      tell_reader = !cancelled_;
      wake_ = nullptr;
    }
    if (tell_reader) {
      Envelope e = streams_.envelope(EnvelopeKind::kStreamEnd, correlation_);
      if (failure) e.error = failure_to_value(*failure);
      streams_.send(*reader_, e);
    }
    streams_.forget_producer({reader_->endpoint(), correlation_}, this);
  }

  void grant(std::uint32_t credit) {
    std::function<void()> wake;
    {
      std::lock_guard lock(mutex_);
      credit_ += credit;
      wake = std::exchange(wake_, nullptr);
    }
    if (wake) wake();
  }
  void cancel() {
    std::function<void()> wake;
    {
      std::lock_guard lock(mutex_);
      cancelled_ = true;
      wake = std::exchange(wake_, nullptr);
    }
    if (wake) wake();
  }

 private:
  RemoteStreams& streams_;
  const std::shared_ptr<Transport::Peer> reader_;
  const std::uint64_t correlation_;
  mutable std::mutex mutex_;
  std::uint32_t credit_;        // guarded by mutex_
  bool cancelled_ = false;      // guarded by mutex_
  bool finished_ = false;       // guarded by mutex_
  std::function<void()> wake_;  // guarded by mutex_: the parked producer
};

// ---- reading

bool RemoteStreams::read(std::uint64_t correlation, const std::string& endpoint, std::uint32_t window,
                         InboundStream& inbound) {
  std::lock_guard lock(mutex_);
  if (closed_) return false;
  reading_.emplace(correlation, Reading{std::move(inbound), endpoint, window});
  return true;
}

void RemoteStreams::end_reading(std::uint64_t correlation, std::optional<Failure> failure) {
  std::optional<Reading> reading;
  {
    std::lock_guard lock(mutex_);
    auto it = reading_.find(correlation);
    if (it == reading_.end()) return;
    reading = std::move(it->second);
    reading_.erase(it);
  }
  reading->inbound.finish(std::move(failure));
}

void RemoteStreams::grant(std::uint64_t correlation, std::uint32_t credit) {
  std::string peer;
  {
    std::lock_guard lock(mutex_);
    auto it = reading_.find(correlation);
    if (it == reading_.end()) return;
    it->second.granted += credit;
    peer = it->second.peer;
  }
  Envelope e = envelope(EnvelopeKind::kStreamCredit, correlation);
  e.credit = credit;
  send(*transport_->peer(peer), e);
}

void RemoteStreams::cancel_reading(std::uint64_t correlation) {
  std::string peer;
  {
    std::lock_guard lock(mutex_);
    auto it = reading_.find(correlation);
    if (it == reading_.end()) return;
    peer = std::move(it->second.peer);
    reading_.erase(it);
  }
  send_cancel(peer, correlation);
}

void RemoteStreams::peer_lost(const std::string& endpoint, const Failure& failure) {
  std::vector<std::uint64_t> lost;
  {
    std::lock_guard lock(mutex_);
    for (auto& [correlation, r] : reading_) {
      if (r.peer == endpoint) lost.push_back(correlation);
    }
  }
  for (auto correlation : lost) end_reading(correlation, failure);
}

void RemoteStreams::on_envelope(const EnvelopeView& e) {
  switch (e.kind) {
    case EnvelopeKind::kStreamItem: return on_item(e);
    case EnvelopeKind::kStreamEnd: return on_end(e);
    case EnvelopeKind::kStreamCredit:
    case EnvelopeKind::kStreamCancel: {
      std::shared_ptr<RemoteSink> sink;
      {
        std::lock_guard lock(mutex_);
        auto it = producing_.find({std::string(e.sender_endpoint), e.correlation});
        if (it != producing_.end()) sink = it->second.lock();
      }
      if (!sink) return;
      if (e.kind == EnvelopeKind::kStreamCredit) {
        sink->grant(e.credit);
      } else {
        sink->cancel();
      }
      return;
    }
    default: return;
  }
}

void RemoteStreams::on_item(const EnvelopeView& e) {
  std::function<bool(Value&&)> push;
  std::optional<std::uint64_t> overrun;
  {
    std::lock_guard lock(mutex_);
    auto it = reading_.find(e.correlation);
    // A stream the reader already left, or another node's (answers come on the connection to the
    // producer's node: that node is the only one that can name this stream).
    if (it == reading_.end() || it->second.peer != e.sender_endpoint) return;
    if (++it->second.received > it->second.granted) {
      overrun = it->second.granted;
    } else {
      push = it->second.inbound.push;
    }
  }
  std::string problem;
  if (overrun) {
    // Its items would pile up unread in the reader's channel: memory is bounded by credit.
    problem = fmt::format("sent more items than the {} it was granted", *overrun);
  } else {
    try {
      if (!push(e.payload(transport_->config().limits))) problem = "sent an item that does not convert to the reader's type";
    } catch (const DecodeError& bad) {
      problem = fmt::format("sent an unreadable item: {}", bad.what());
    }
  }
  if (problem.empty()) return;
  end_reading(e.correlation, make_failure<RuntimeError>(RuntimeErrorKind::kProtocol,
                                                        fmt::format("the producer at {} {}", e.sender_endpoint, problem)));
  send_cancel(std::string(e.sender_endpoint), e.correlation);  // end_reading forgot it already
}

void RemoteStreams::on_end(const EnvelopeView& e) {
  {
    std::lock_guard lock(mutex_);
    auto it = reading_.find(e.correlation);
    if (it == reading_.end() || it->second.peer != e.sender_endpoint) return;  // as for items
  }
  std::optional<Failure> failure;
  try {
    if (e.has_error) failure = failure_from_value(e.error(transport_->config().limits));
  } catch (const DecodeError& bad) {
    failure = make_failure<RuntimeError>(
        RuntimeErrorKind::kProtocol, fmt::format("an unreadable stream end from {}: {}", e.sender_endpoint, bad.what()));
  }
  end_reading(e.correlation, std::move(failure));
}

void RemoteStreams::send_cancel(const std::string& peer, std::uint64_t correlation) {
  send(*transport_->peer(peer), envelope(EnvelopeKind::kStreamCancel, correlation));
}

// ---- producing

std::shared_ptr<StreamSink<Value>> RemoteStreams::produce(std::shared_ptr<Transport::Peer> caller,
                                                          std::uint64_t correlation, std::uint32_t credit) {
  ProducerKey key{caller->endpoint(), correlation};
  std::lock_guard lock(mutex_);
  std::size_t& held = producing_per_caller_[key.first];
  auto same = producing_.find(key);  // a reader's node restarted: its earlier stream is cancelled
  if (held >= max_per_caller_ && same == producing_.end()) {
    refused_.fetch_add(1, std::memory_order_relaxed);
    return nullptr;
  }
  auto sink = std::make_shared<RemoteSink>(*this, std::move(caller), correlation, credit);
  if (same != producing_.end()) {
    same->second = sink;
  } else {
    producing_.emplace(std::move(key), sink);
    ++held;
  }
  return sink;
}

void RemoteStreams::caller_gone(const std::string& endpoint) {
  std::vector<std::shared_ptr<RemoteSink>> producers;
  {
    std::lock_guard lock(mutex_);
    for (auto& [key, weak] : producing_) {
      if (key.first != endpoint) continue;
      if (auto sink = weak.lock()) producers.push_back(std::move(sink));
    }
  }
  for (auto& sink : producers) sink->cancel();  // its reader is gone: stop at the next yield
}

void RemoteStreams::forget_producer(const ProducerKey& key, const RemoteSink* sink) {
  std::lock_guard lock(mutex_);
  auto it = producing_.find(key);
  // Not if the entry is another sink's now (the same correlation, opened again).
  if (it == producing_.end() || (!it->second.expired() && it->second.lock().get() != sink)) return;
  producing_.erase(it);
  auto held = producing_per_caller_.find(key.first);
  if (held != producing_per_caller_.end() && --held->second == 0) producing_per_caller_.erase(held);
}

// ---- both

void RemoteStreams::close(const Failure& why) {
  std::unordered_map<std::uint64_t, Reading> reading;
  std::map<ProducerKey, std::weak_ptr<RemoteSink>> producing;
  {
    std::lock_guard lock(mutex_);
    if (closed_) return;
    closed_ = true;
    reading.swap(reading_);
    producing.swap(producing_);
    producing_per_caller_.clear();
  }
  for (auto& [correlation, r] : reading) r.inbound.finish(why);
  for (auto& [key, weak] : producing) {
    if (auto sink = weak.lock()) sink->cancel();
  }
}

std::size_t RemoteStreams::reading() const {
  std::lock_guard lock(mutex_);
  return reading_.size();
}

std::size_t RemoteStreams::producing() const {
  std::lock_guard lock(mutex_);
  return producing_.size();
}

Envelope RemoteStreams::envelope(EnvelopeKind kind, std::uint64_t correlation) const {
  Envelope e;
  e.kind = kind;
  e.sender_node = node_id_;
  e.correlation = correlation;
  return e;
}

}  // namespace pulsing::detail
