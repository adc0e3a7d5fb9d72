// What the transport tests share: a handler that collects what a transport delivers, and
// envelopes to send.
#pragma once

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <string>
#include <vector>

#include "messaging/transport.hpp"

namespace pulsing::testing {

using namespace std::chrono_literals;

// Collects what a transport delivers; waits on conditions with deadlines.
class Inbox : public TransportHandler {
 public:
  void on_envelope(const EnvelopeView& envelope) override {
    std::lock_guard lock(mutex_);
    envelopes_.push_back(envelope.decode({}));
    changed_.notify_all();
  }
  void on_caller_gone(const std::string& endpoint) override {
    std::lock_guard lock(mutex_);
    gone_.push_back(endpoint);
    changed_.notify_all();
  }
  void on_peer_up(const std::string& endpoint) override {
    std::lock_guard lock(mutex_);
    ups_.push_back(endpoint);
    changed_.notify_all();
  }
  void on_peer_down(const std::string& endpoint, const std::string& why, std::size_t dropped) override {
    std::lock_guard lock(mutex_);
    downs_.push_back({endpoint, why, dropped});
    changed_.notify_all();
  }

  bool wait_envelopes(std::size_t n, std::chrono::milliseconds limit = 10s) {
    std::unique_lock lock(mutex_);
    return changed_.wait_for(lock, limit, [&] { return envelopes_.size() >= n; });
  }
  bool wait_downs(std::size_t n, std::chrono::milliseconds limit = 10s) {
    std::unique_lock lock(mutex_);
    return changed_.wait_for(lock, limit, [&] { return downs_.size() >= n; });
  }
  bool wait_gone(const std::string& endpoint, std::chrono::milliseconds limit = 10s) {
    std::unique_lock lock(mutex_);
    return changed_.wait_for(lock, limit, [&] { return std::find(gone_.begin(), gone_.end(), endpoint) != gone_.end(); });
  }
  std::vector<Envelope> envelopes() {
    std::lock_guard lock(mutex_);
    return envelopes_;
  }
  struct Down {
    std::string endpoint, why;
    std::size_t dropped;
  };
  std::vector<Down> downs() {
    std::lock_guard lock(mutex_);
    return downs_;
  }
  std::vector<std::string> ups() {
    std::lock_guard lock(mutex_);
    return ups_;
  }
  std::vector<std::string> gone() {
    std::lock_guard lock(mutex_);
    return gone_;
  }

 private:
  std::mutex mutex_;
  std::condition_variable changed_;
  std::vector<Envelope> envelopes_;
  std::vector<Down> downs_;
  std::vector<std::string> gone_;
  std::vector<std::string> ups_;
};

// An answer to the request `correlation`.
inline Envelope reply_to(std::uint64_t correlation, std::int64_t value) {
  Envelope e;
  e.kind = EnvelopeKind::kReply;
  e.correlation = correlation;
  e.payload = value;
  return e;
}

inline Envelope tell(std::uint64_t n) {
  Envelope e;
  e.kind = EnvelopeKind::kTell;
  e.correlation = n;
  e.method = "add";
  e.payload = Value::List{static_cast<std::int64_t>(n)};
  return e;
}

}  // namespace pulsing::testing
