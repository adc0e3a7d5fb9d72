// Streams: an actor method returning Stream<T> produces items with co_yield; the caller reads
// them with a StreamReader<T> (blocking next(), range-for, or co_await next_async()).
//
// Flow control is credit based: the producer may run at most `window` items ahead of the reader;
// at that point it is parked (its actor goes on serving other messages) until the reader takes
// half a window. So a slow reader slows the producer and memory stays bounded.
// Dropping (or cancel()ing) the reader cancels the producer at its next yield: its frame is
// destroyed, running its destructors. A producer's error reaches the reader as the exception.
// Between items (and at co_await points) the actor may handle other messages.
//
// g++ 12 miscompiles `co_yield Aggregate{...}` when the aggregate holds a std::string (the
// temporary is destroyed twice; a compiler bug, not ours). Yield a named value instead:
//   Chunk chunk{token};  co_yield std::move(chunk);
//
// Thread-safety: a StreamReader is used by one thread (or coroutine) at a time; the channel
// between producer and reader is internally synchronised.
#pragma once

#include <condition_variable>
#include <coroutine>
#include <cstddef>
#include <deque>
#include <exception>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>

#include "messaging/convert.hpp"
#include "messaging/error.hpp"
#include "runtime/future.hpp"

namespace pulsing {

template <typename T>
class Stream;

namespace detail {

// The producer's side of a channel, as a Stream coroutine sees it: items of type T, whatever
// the reader reads (T itself, or Value for a reader that called by name).
template <typename T>
class StreamSink {
 public:
  virtual ~StreamSink() = default;
  virtual void push(T&& item) = 0;
  // No credit left: the producer must park. Runs `wake` (on any thread) once credit returns or
  // the reader cancels; returns false (and does not keep `wake`) if that is already so.
  virtual bool park(std::function<void()> wake) = 0;
  virtual bool cancelled() const = 0;
  virtual void finish(std::optional<Failure> failure) = 0;
};

// What a reader does, for a producer on another node: items taken (to grant credit) and
// cancellation. Set once, before the channel is shared.
class StreamReaderEvents {
 public:
  void set_reader_events(std::function<void(std::size_t)> on_consumed, std::function<void()> on_cancel) {
    on_consumed_ = std::move(on_consumed);
    on_cancel_ = std::move(on_cancel);
  }

 protected:
  void consumed(std::size_t n) const {
    if (on_consumed_) on_consumed_(n);
  }
  void reader_cancelled() const {
    if (on_cancel_) on_cancel_();
  }

 private:
  std::function<void(std::size_t)> on_consumed_;
  std::function<void()> on_cancel_;
};

template <typename T>
class StreamChannel final : public StreamSink<T>, public StreamReaderEvents {
 public:
  explicit StreamChannel(std::size_t window) : window_(window ? window : 1), credit_(window_) {}

  // Producer side.
  void push(T&& item) override {
    std::function<void()> reader_wake;
    {
      std::lock_guard lock(mutex_);
      if (cancelled_) return;
      items_.push_back(std::move(item));
      if (credit_ > 0) --credit_;
      reader_wake = std::exchange(reader_wake_, nullptr);
    }
    ready_.notify_one();
    if (reader_wake) reader_wake();
  }
  bool park(std::function<void()> wake) override {
    std::lock_guard lock(mutex_);
    if (credit_ > 0 || cancelled_) return false;
    producer_wake_ = std::move(wake);
    return true;
  }
  bool cancelled() const override {
    std::lock_guard lock(mutex_);
    return cancelled_;
  }
  void finish(std::optional<Failure> failure) override {
    std::function<void()> reader_wake;
    {
      std::lock_guard lock(mutex_);
      if (done_) return;
      done_ = true;
      failure_ = std::move(failure);
      producer_wake_ = nullptr;  // the producer is gone; drop what it left to wake it
      reader_wake = std::exchange(reader_wake_, nullptr);
    }
    ready_.notify_one();
    if (reader_wake) reader_wake();
  }

  // Reader side.
  enum class Poll { kItem, kEnd, kEmpty };
  // Takes the next item if one is there. Throws the producer's failure at the end.
  Poll poll(std::optional<T>& out) {
    std::function<void()> producer_wake;
    Poll result = Poll::kEmpty;
    {
      std::lock_guard lock(mutex_);
      if (!items_.empty()) {
        out.emplace(std::move(items_.front()));
        items_.pop_front();
        ++credit_;
        // Wake a parked producer once half a window is free: fewer wake-ups than per item.
        if (producer_wake_ && credit_ >= (window_ + 1) / 2) producer_wake = std::exchange(producer_wake_, nullptr);
        result = Poll::kItem;
      } else if (done_) {
        if (failure_) failure_->raise();
        result = Poll::kEnd;
      }
    }
    if (producer_wake) producer_wake();
    if (result == Poll::kItem) consumed(1);
    return result;
  }
  // Waits until poll() has something to say, or until `deadline`; false on timeout.
  bool wait_until(Clock::time_point deadline) {
    std::unique_lock lock(mutex_);
    return ready_.wait_until(lock, deadline, [&] { return !items_.empty() || done_; });
  }
  // Runs `wake` once an item or the end arrives; false (not kept) if one is there already.
  bool on_ready(std::function<void()> wake) {
    std::lock_guard lock(mutex_);
    if (!items_.empty() || done_) return false;
    reader_wake_ = std::move(wake);
    return true;
  }
  void cancel() {
    std::function<void()> producer_wake;
    bool ended;
    {
      std::lock_guard lock(mutex_);
      if (cancelled_) return;
      cancelled_ = true;
      ended = done_;
      items_.clear();
      producer_wake = std::exchange(producer_wake_, nullptr);
    }
    if (producer_wake) producer_wake();
    if (!ended) reader_cancelled();
  }
  std::size_t buffered() const {
    std::lock_guard lock(mutex_);
    return items_.size();
  }

 private:
  const std::size_t window_;
  mutable std::mutex mutex_;
  std::condition_variable ready_;
  std::deque<T> items_;
  std::size_t credit_;
  bool done_ = false;
  bool cancelled_ = false;
  std::optional<Failure> failure_;
  std::function<void()> producer_wake_;
  std::function<void()> reader_wake_;
};

// Feeds a producer of T into a sink of Value: for readers that called by name, and for readers
// on other nodes.
template <typename T>
class ValueSink final : public StreamSink<T> {
 public:
  explicit ValueSink(std::shared_ptr<StreamSink<Value>> inner) : inner_(std::move(inner)) {}
  void push(T&& item) override { inner_->push(to_value(item)); }
  bool park(std::function<void()> wake) override { return inner_->park(std::move(wake)); }
  bool cancelled() const override { return inner_->cancelled(); }
  void finish(std::optional<Failure> failure) override { inner_->finish(std::move(failure)); }

 private:
  std::shared_ptr<StreamSink<Value>> inner_;
};

template <typename T>
struct StreamPromise {
  std::shared_ptr<StreamSink<T>> sink;
  // Set by the runtime: called at each yield (after the item went out) and at the end.
  std::function<void()> on_yield;
  std::function<void()> on_done;
  std::exception_ptr error;

  Stream<T> get_return_object();
  std::suspend_always initial_suspend() noexcept { return {}; }
  auto final_suspend() noexcept {
    struct Final {
      bool await_ready() noexcept { return false; }
      void await_suspend(std::coroutine_handle<StreamPromise> h) noexcept {
        auto done = std::move(h.promise().on_done);
        if (done) done();  // may destroy this frame
      }
      void await_resume() noexcept {}
    };
    return Final{};
  }
  // Every yield suspends, and the runtime decides when the next step runs (at once, or once the
  // reader returns credit): so other messages interleave and a slow reader parks the producer.
  template <typename V>
  auto yield_value(V&& item) {
    sink->push(T(std::forward<V>(item)));
    struct Yield {
      StreamPromise* promise;
      bool await_ready() noexcept { return false; }
      void await_suspend(std::coroutine_handle<>) { promise->on_yield(); }
      void await_resume() noexcept {}
    };
    return Yield{this};
  }
  void return_void() {}
  void unhandled_exception() { error = std::current_exception(); }
};

}  // namespace detail

template <typename T>
class [[nodiscard]] Stream {
 public:
  using promise_type = detail::StreamPromise<T>;
  using value_type = T;
  using Handle = std::coroutine_handle<promise_type>;

  explicit Stream(Handle h) : handle_(h) {}
  Stream(Stream&& other) noexcept : handle_(std::exchange(other.handle_, {})) {}
  Stream& operator=(Stream&&) = delete;
  ~Stream() {
    if (handle_) handle_.destroy();
  }
  Handle release() { return std::exchange(handle_, {}); }

 private:
  Handle handle_;
};

template <typename T>
Stream<T> detail::StreamPromise<T>::get_return_object() {
  return Stream<T>(std::coroutine_handle<StreamPromise>::from_promise(*this));
}

template <typename T>
class StreamReader {
 public:
  StreamReader(std::shared_ptr<detail::StreamChannel<T>> channel, std::chrono::milliseconds item_timeout)
      : channel_(std::move(channel)), item_timeout_(item_timeout) {}
  StreamReader(StreamReader&&) noexcept = default;
  StreamReader& operator=(StreamReader&& other) noexcept {
    if (this != &other) {
      cancel();
      channel_ = std::move(other.channel_);
      item_timeout_ = other.item_timeout_;
    }
    return *this;
  }
  ~StreamReader() { cancel(); }

  // The next item, or nullopt at the end. Throws the producer's error, or TimeoutError when no
  // item comes within the item timeout. Blocks: inside an actor, co_await next_async() instead.
  std::optional<T> next() {
    std::optional<T> item;
    auto deadline = Clock::now() + item_timeout_;
    for (;;) {
      switch (channel_->poll(item)) {
        case Poll::kItem: return item;
        case Poll::kEnd: return std::nullopt;
        case Poll::kEmpty: break;
      }
      if (!channel_->wait_until(deadline)) {
        throw TimeoutError("stream read", item_timeout_.count());
      }
    }
  }

  // Like next(), as a future to co_await (no item timeout: the producer's actor bounds it).
  Future<std::optional<T>> next_async() {
    auto promise = std::make_shared<Promise<std::optional<T>>>();
    auto future = promise->future();
    poll_into(channel_, std::move(promise));
    return future;
  }

  // Stops reading: the producer is cancelled at its next yield.
  void cancel() {
    if (channel_) channel_->cancel();
  }
  std::size_t buffered() const { return channel_->buffered(); }

  // Range-for support: for (auto& item : reader).
  class iterator {
   public:
    using value_type = T;
    using difference_type = std::ptrdiff_t;
    explicit iterator(StreamReader* reader) : reader_(reader) { ++*this; }
    iterator() = default;
    T& operator*() { return *item_; }
    iterator& operator++() {
      item_ = reader_->next();
      if (!item_) reader_ = nullptr;
      return *this;
    }
    bool operator==(const iterator& other) const { return reader_ == other.reader_; }

   private:
    StreamReader* reader_ = nullptr;
    std::optional<T> item_;
  };
  iterator begin() { return iterator(this); }
  iterator end() { return iterator(); }

 private:
  using Poll = typename detail::StreamChannel<T>::Poll;

  static void poll_into(std::shared_ptr<detail::StreamChannel<T>> channel,
                        std::shared_ptr<Promise<std::optional<T>>> promise) {
    for (;;) {
      std::optional<T> item;
      try {
        switch (channel->poll(item)) {
          case Poll::kItem: promise->set_value(std::move(item)); return;
          case Poll::kEnd: promise->set_value(std::nullopt); return;
          case Poll::kEmpty: break;
        }
      } catch (...) {
        promise->fail(classify(std::current_exception()));
        return;
      }
      if (channel->on_ready([channel, promise] { poll_into(channel, promise); })) return;
    }
  }

  std::shared_ptr<detail::StreamChannel<T>> channel_;
  std::chrono::milliseconds item_timeout_;
};

}  // namespace pulsing
