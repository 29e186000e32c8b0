// Runs blocking work (metadata store and object store calls) on the broker's
// blocking pool and resumes the calling coroutine on its own executor with the
// result or the exception. Network threads never block.
#pragma once

#include <asio/awaitable.hpp>
#include <asio/co_spawn.hpp>
#include <asio/thread_pool.hpp>
#include <asio/use_awaitable.hpp>
#include <type_traits>
#include <utility>

namespace floe {

template <typename F>
auto run_blocking(asio::thread_pool& pool, F f) -> asio::awaitable<std::invoke_result_t<F>> {
  using R = std::invoke_result_t<F>;
  co_return co_await asio::co_spawn(
      pool, [f = std::move(f)]() mutable -> asio::awaitable<R> { co_return f(); }, asio::use_awaitable);
}

}  // namespace floe
