#pragma once

#include <asio/awaitable.hpp>

#include "broker/handlers/context.h"
#include "protocol/generated/offset_fetch_request.h"
#include "protocol/generated/offset_fetch_response.h"

namespace floe::broker {

// OffsetFetch: committed offsets from the metadata store; v8+ several groups
// per request. -1 for a partition without a committed offset.
struct OffsetFetchHandler {
  using Request = protocol::OffsetFetchRequest;
  using Response = protocol::OffsetFetchResponse;
  static constexpr int16_t kMinVersion = 0;
  static constexpr int16_t kMaxVersion = 9;
  static asio::awaitable<Response> handle(RequestContext& ctx, Request& req);
};

}  // namespace floe::broker
