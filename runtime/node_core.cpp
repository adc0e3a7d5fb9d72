#include "runtime/node_core.hpp"

#include <random>

#include "common/log.hpp"
#include "runtime/remote.hpp"

namespace pulsing::detail {

NodeCore::NodeCore(NodeConfig config)
    : config_(std::move(config)),
      id_{std::random_device{}() * 0x100000001ull ^ std::random_device{}()},
      scheduler_(config_.worker_threads) {}

NodeCore::~NodeCore() { shutdown(); }

void NodeCore::start_network() {
  if (config_.listen.empty()) return;
  TransportConfig transport = config_.transport;
  transport.listen = config_.listen;
  transport.advertise = config_.advertise;
  remote_ = std::make_unique<RemoteLink>(*this, std::move(transport));
  endpoint_ = remote_->endpoint();
}

void NodeCore::dead_letter(std::string_view target, std::string_view why) {
  dead_letters_.fetch_add(1, std::memory_order_relaxed);
  auto now = Clock::now().time_since_epoch().count();
  auto last = last_dead_letter_log_.load(std::memory_order_relaxed);
  auto interval = std::chrono::duration_cast<Clock::duration>(config_.dead_letter_log_interval).count();
  if (now - last >= interval && last_dead_letter_log_.compare_exchange_strong(last, now)) {
    log().warn("[{}] dead letter: a tell to {} was dropped ({}); {} dead letters so far", config_.name, target,
               why, dead_letters_.load());
  }
}

void NodeCore::shutdown() {
  if (scheduler_.current_worker() != nullptr) {
    // It would wait for the calling handler to finish, then join its own thread.
    throw RuntimeError(RuntimeErrorKind::kShutdown,
                       "shutdown() was called from inside one of this node's actors; call it from "
                       "outside (an actor may stop() itself instead)");
  }
  if (shut_down_.exchange(true)) return;
  registry_.close();
  for (auto& cell : registry_.all()) cell->request_stop(StopReason::kShutdown);
  if (!registry_.wait_empty(config_.shutdown_grace)) {
    log().warn("[{}] shutdown: {} actors still busy after {} ms; stopping anyway", config_.name,
               registry_.size(), config_.shutdown_grace.count());
  }
  if (remote_) remote_->stop();
  timers_.stop();
  scheduler_.stop();
  registry_.clear();
}

}  // namespace pulsing::detail
