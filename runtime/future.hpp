// Future<T> / Promise<T>: the result of an ask, a spawn or a resolve. A future always completes,
// exactly once: with a value, or with a Failure (one of the four error categories).
//   - .get() blocks the calling thread (do not call it inside an actor handler: co_await instead);
//   - co_await inside an actor's coroutine handler suspends the handler; it continues on its own
//     actor, never on the completing thread;
//   - .then(f) runs f(Result) on the completing thread (keep it short).
// A Promise destroyed without completing fails its future (RuntimeError kActorStopped), so a
// dropped request can never leave a caller waiting.
//
// Thread-safety: one consumer per future (get, co_await or then, once); completion may race
// from several threads (a reply and its timeout) and the first one wins.
#pragma once

#include <atomic>
#include <coroutine>
#include <functional>
#include <memory>
#include <optional>
#include <type_traits>
#include <utility>
#include <variant>

#include "messaging/error.hpp"

namespace pulsing {

// A value or a failure.
template <typename T>
class Result {
 public:
  using Stored = std::conditional_t<std::is_void_v<T>, std::monostate, T>;

  Result(Stored value) : data_(std::in_place_index<0>, std::move(value)) {}  // NOLINT
  Result(Failure failure) : data_(std::in_place_index<1>, std::move(failure)) {}  // NOLINT

  bool ok() const { return data_.index() == 0; }
  const Failure& failure() const { return std::get<1>(data_); }
  Stored& value() & { return std::get<0>(data_); }
  // The value, or throws the failure's exception.
  T take() {
    if (!ok()) failure().raise();
    if constexpr (!std::is_void_v<T>) return std::move(std::get<0>(data_));
  }

 private:
  std::variant<Stored, Failure> data_;
};

namespace detail {

// Where a coroutine that suspended on a future continues. The actor running on this thread
// installs itself, so handlers resume on their own actor; with none installed, the coroutine
// resumes on the thread that completes the future.
class ResumeTarget {
 public:
  // A callable, safe to run on any thread at any time, that arranges for `h` to resume.
  virtual std::function<void()> resumer_for(std::coroutine_handle<> h) = 0;

 protected:
  virtual ~ResumeTarget() = default;
};
ResumeTarget* current_resume_target();
void set_current_resume_target(ResumeTarget* target);

// A thread that must not simply block, because what it waits for may need it (a node's I/O
// thread, running an actor's turn that blocks on a future), installs a pump: waiting then runs
// the pump until the result arrives. pump() returns false when it cannot run; waiting then blocks.
class WaitPump {
 public:
  virtual bool pump() = 0;

 protected:
  ~WaitPump() = default;
};
WaitPump* current_wait_pump();
void set_current_wait_pump(WaitPump* pump);
// Pushes the tells an actor's turn on this thread holds back (ActorCell::post_tell): what is
// awaited may depend on them.
void flush_before_waiting();

template <typename T>
class FutureState {
 public:
  using Stored = typename Result<T>::Stored;

  // Completes unless already completed; returns whether this call did it.
  bool complete(Result<T> result) {
    if (claimed_.exchange(true, std::memory_order_acq_rel)) return false;
    result_.emplace(std::move(result));
    if (on_complete_hook_) on_complete_hook_();
    auto prev = phase_.exchange(kDone, std::memory_order_acq_rel);
    if (prev == kWaiting) {
      phase_.notify_all();
    } else if (prev == kContinuation) {
      auto continuation = std::move(continuation_);
      continuation();
    }
    return true;
  }

  bool ready() const { return phase_.load(std::memory_order_acquire) == kDone; }

  // Installs the single continuation; false (and nothing installed) when already complete.
  bool set_continuation(std::function<void()> continuation) {
    continuation_ = std::move(continuation);
    std::uint8_t expected = kPending;
    if (phase_.compare_exchange_strong(expected, kContinuation, std::memory_order_acq_rel)) {
      return true;
    }
    continuation_ = nullptr;
    return false;
  }

  void wait() {
    if (ready()) return;
    flush_before_waiting();
    if (WaitPump* pump = current_wait_pump()) {
      while (!ready() && pump->pump()) {
      }
    }
    std::uint8_t expected = kPending;
    if (phase_.compare_exchange_strong(expected, kWaiting, std::memory_order_acq_rel) ||
        expected == kWaiting) {
      phase_.wait(kWaiting, std::memory_order_acquire);
    }
  }

  Result<T>& result() { return *result_; }

  // Runs on completion, before any consumer sees the result (cancels a pending timeout).
  // REQUIRES: set before the future can complete.
  void set_on_complete_hook(std::function<void()> hook) { on_complete_hook_ = std::move(hook); }

 private:
  static constexpr std::uint8_t kPending = 0, kWaiting = 1, kContinuation = 2, kDone = 3;
  std::atomic<bool> claimed_{false};
  std::atomic<std::uint8_t> phase_{kPending};
  std::optional<Result<T>> result_;
  std::function<void()> continuation_;
  std::function<void()> on_complete_hook_;
};

}  // namespace detail

template <typename T>
class Future;

template <typename T>
class Promise {
 public:
  Promise() : state_(std::make_shared<detail::FutureState<T>>()) {}
  Promise(Promise&&) noexcept = default;
  Promise& operator=(Promise&& other) noexcept {
    if (this != &other) {
      break_if_pending();
      state_ = std::move(other.state_);
    }
    return *this;
  }
  ~Promise() { break_if_pending(); }

  Future<T> future() const { return Future<T>(state_); }

  template <typename... V>
  bool set_value(V&&... value) {
    return state_->complete(Result<T>(typename Result<T>::Stored(std::forward<V>(value)...)));
  }
  bool fail(Failure failure) { return state_->complete(Result<T>(std::move(failure))); }
  bool complete(Result<T> result) { return state_->complete(std::move(result)); }
  bool done() const { return state_->ready(); }
  const std::shared_ptr<detail::FutureState<T>>& state() const { return state_; }

 private:
  void break_if_pending() {
    if (state_ && !state_->ready()) {
      fail(make_failure<RuntimeError>(RuntimeErrorKind::kActorStopped,
                                      "the request was dropped without an answer"));
    }
  }
  std::shared_ptr<detail::FutureState<T>> state_;
};

template <typename T>
class [[nodiscard]] Future {
 public:
  Future() = default;
  explicit Future(std::shared_ptr<detail::FutureState<T>> state) : state_(std::move(state)) {}

  // A future that is already complete.
  static Future ready(Result<T> result) {
    Promise<T> promise;
    promise.complete(std::move(result));
    return promise.future();
  }

  bool valid() const { return state_ != nullptr; }
  bool ready() const { return state_->ready(); }

  // Blocks until complete; returns the value or throws the failure.
  T get() {
    state_->wait();
    return state_->result().take();
  }
  // Blocks until complete; returns the Result without throwing.
  Result<T> result() {
    state_->wait();
    return std::move(state_->result());
  }

  // Runs `f(Result<T>)` once complete, on the completing thread (or now, if already complete).
  template <typename F>
  void then(F&& f) {
    auto state = state_;
    auto run = [state, f = std::forward<F>(f)]() mutable { f(std::move(state->result())); };
    if (!state_->set_continuation(run)) run();
  }

  auto operator co_await() && { return Awaiter{std::move(state_)}; }
  auto operator co_await() & { return Awaiter{state_}; }

 private:
  struct Awaiter {
    std::shared_ptr<detail::FutureState<T>> state;
    bool await_ready() const { return state->ready(); }
    bool await_suspend(std::coroutine_handle<> h) {
      std::function<void()> resume;
      if (auto* target = detail::current_resume_target()) {
        resume = target->resumer_for(h);
      } else {
        resume = [h] { h.resume(); };
      }
      return state->set_continuation(std::move(resume));
    }
    T await_resume() { return state->result().take(); }
  };

  std::shared_ptr<detail::FutureState<T>> state_;
};

}  // namespace pulsing
