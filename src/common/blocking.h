// Runs blocking work (metadata store and object store calls) on the broker's
// blocking pool and resumes the calling coroutine on its own executor with the
// result or the exception. Network threads never block.
//
// `f` should capture by reference (or only trivially destructible values):
// GCC 12 destroys a lambda temporary written inside a co_await expression
// twice, harmless only when its destructor does nothing.
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
  // Named, not a temporary inside the co_await: GCC 12 destroys such a
  // temporary twice, which matters once `f` owns something.
  auto task = [f = std::move(f)]() mutable -> asio::awaitable<R> { co_return f(); };
  co_return co_await asio::co_spawn(pool, std::move(task), asio::use_awaitable);
}

}  // namespace floe
