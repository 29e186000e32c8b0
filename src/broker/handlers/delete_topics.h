#pragma once

#include <asio/awaitable.hpp>

#include "broker/handlers/context.h"
#include "protocol/generated/delete_topics_request.h"
#include "protocol/generated/delete_topics_response.h"

namespace floe::broker {

// Deletes topics by name (v0-v5) or by name or id (v6).
struct DeleteTopicsHandler {
  using Request = protocol::DeleteTopicsRequest;
  using Response = protocol::DeleteTopicsResponse;
  static constexpr int16_t kMinVersion = 0;
  static constexpr int16_t kMaxVersion = 6;
  static asio::awaitable<Response> handle(RequestContext& ctx, Request& req);
};

}  // namespace floe::broker
