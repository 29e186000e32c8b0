#pragma once

#include <asio/awaitable.hpp>

#include "broker/handlers/context.h"
#include "protocol/generated/fetch_request.h"
#include "protocol/generated/fetch_response.h"

namespace floe::broker {

// Fetch for consumers: reads committed batches through the read path, honours
// max_bytes and partition max bytes (the first batch always whole, KIP-74),
// and long-polls up to max_wait_ms for min_bytes, woken by commits.
// Fetch sessions (KIP-227) are declined with session id 0, which clients
// handle by sending full fetch requests.
struct FetchHandler {
  using Request = protocol::FetchRequest;
  using Response = protocol::FetchResponse;
  static constexpr int16_t kMinVersion = 4;
  static constexpr int16_t kMaxVersion = 12;
  static asio::awaitable<Response> handle(RequestContext& ctx, Request& req);
};

}  // namespace floe::broker
