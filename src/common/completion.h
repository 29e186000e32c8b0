// A one-shot result handed from one thread to a coroutine on another
// executor: the producer thread calls set(), the waiting coroutine co_awaits
// wait() or wait_until(). Safe if set() runs before the wait starts, and if
// the waiter is gone by the time set() runs.
//
// REQUIRES: the waiter's executor is a strand (or an io_context run by one
// thread). set() hands the value over by posting to that executor; on a plain
// multi-threaded io_context the post could run between the waiter's check and
// its wait, and the wait would never end.
#pragma once

#include <asio/awaitable.hpp>
#include <asio/post.hpp>
#include <asio/redirect_error.hpp>
#include <asio/steady_timer.hpp>
#include <asio/use_awaitable.hpp>
#include <memory>
#include <optional>

namespace floe {

template <typename T>
class Completion {
 public:
  explicit Completion(asio::any_io_executor waiter) : state_(std::make_shared<State>(waiter)) {}

  // Any thread. The first value wins; later ones are ignored.
  void set(T value) const {
    asio::post(state_->timer.get_executor(), [s = state_, v = std::move(value)]() mutable {
      if (s->value) return;
      s->value = std::move(v);
      s->timer.cancel();
    });
  }

  // On the waiter's executor.
  asio::awaitable<T> wait() const {
    auto r = co_await wait_until(asio::steady_timer::time_point::max());
    co_return std::move(*r);
  }

  // On the waiter's executor; nullopt when the deadline passes first.
  asio::awaitable<std::optional<T>> wait_until(asio::steady_timer::time_point deadline) const {
    auto s = state_;
    while (!s->value) {
      if (std::chrono::steady_clock::now() >= deadline) co_return std::nullopt;
      s->timer.expires_at(deadline);
      std::error_code ec;
      co_await s->timer.async_wait(asio::redirect_error(asio::use_awaitable, ec));
    }
    co_return s->value;
  }

 private:
  struct State {
    explicit State(asio::any_io_executor ex) : timer(ex) {}
    asio::steady_timer timer;
    std::optional<T> value;
  };
  std::shared_ptr<State> state_;
};

}  // namespace floe
