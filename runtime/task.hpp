// Task<T>: the return type of a coroutine handler (or helper) that may co_await futures, other
// tasks, or other actors' replies. Lazy: the body starts when the runtime starts it, or when
// another coroutine co_awaits it (then it runs inline and hands control back on completion).
//
// Ownership: a Task owns its coroutine frame until started as a top-level handler, when the
// runtime takes the frame (release()). Not thread-safe: a Task is used by one actor at a time.
#pragma once

#include <coroutine>
#include <exception>
#include <functional>
#include <optional>
#include <type_traits>
#include <utility>

namespace pulsing {

template <typename T = void>
class Task;

namespace detail {

template <typename T>
struct TaskResult {
  std::optional<T> value;
  template <typename V>
  void return_value(V&& v) { value.emplace(std::forward<V>(v)); }
  T take() { return std::move(*value); }
};
template <>
struct TaskResult<void> {
  void return_void() {}
  void take() {}
};

template <typename T>
struct TaskPromise : TaskResult<T> {
  std::coroutine_handle<> continuation;  // the coroutine awaiting this one, if any
  std::function<void()> on_done;         // a top-level handler's completion (runtime-owned)
  std::exception_ptr error;

  Task<T> get_return_object();
  std::suspend_always initial_suspend() noexcept { return {}; }
  auto final_suspend() noexcept {
    struct Final {
      bool await_ready() noexcept { return false; }
      std::coroutine_handle<> await_suspend(std::coroutine_handle<TaskPromise> h) noexcept {
        auto& p = h.promise();
        if (p.continuation) return p.continuation;
        if (p.on_done) {
          auto done = std::move(p.on_done);
          done();  // may destroy this frame; touch nothing after
        }
        return std::noop_coroutine();
      }
      void await_resume() noexcept {}
    };
    return Final{};
  }
  void unhandled_exception() { error = std::current_exception(); }

  // The result, or rethrows what the body threw.
  T result() {
    if (error) std::rethrow_exception(error);
    return this->take();
  }
};

}  // namespace detail

template <typename T>
class [[nodiscard]] Task {
 public:
  using promise_type = detail::TaskPromise<T>;
  using value_type = T;
  using Handle = std::coroutine_handle<promise_type>;

  Task() = default;
  explicit Task(Handle h) : handle_(h) {}
  Task(Task&& other) noexcept : handle_(std::exchange(other.handle_, {})) {}
  Task& operator=(Task&& other) noexcept {
    if (this != &other) {
      if (handle_) handle_.destroy();
      handle_ = std::exchange(other.handle_, {});
    }
    return *this;
  }
  ~Task() {
    if (handle_) handle_.destroy();
  }

  // Gives up ownership of the frame (the runtime then destroys it when done).
  Handle release() { return std::exchange(handle_, {}); }

  auto operator co_await() && noexcept {
    struct Awaiter {
      Handle handle;
      bool await_ready() noexcept { return false; }
      std::coroutine_handle<> await_suspend(std::coroutine_handle<> awaiting) noexcept {
        handle.promise().continuation = awaiting;
        return handle;
      }
      T await_resume() { return handle.promise().result(); }
    };
    return Awaiter{handle_};
  }

 private:
  Handle handle_;
};

template <typename T>
Task<T> detail::TaskPromise<T>::get_return_object() {
  return Task<T>(std::coroutine_handle<TaskPromise>::from_promise(*this));
}

template <typename T>
inline constexpr bool is_task_v = false;
template <typename T>
inline constexpr bool is_task_v<Task<T>> = true;

}  // namespace pulsing
