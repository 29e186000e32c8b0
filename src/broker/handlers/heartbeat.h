#pragma once

#include <asio/awaitable.hpp>

#include "broker/handlers/context.h"
#include "protocol/generated/heartbeat_request.h"
#include "protocol/generated/heartbeat_response.h"

namespace floe::broker {

// Heartbeat: keeps a member's session alive and tells it about rebalances.
struct HeartbeatHandler {
  using Request = protocol::HeartbeatRequest;
  using Response = protocol::HeartbeatResponse;
  static constexpr int16_t kMinVersion = 0;
  static constexpr int16_t kMaxVersion = 4;
  static asio::awaitable<Response> handle(RequestContext& ctx, Request& req);
};

}  // namespace floe::broker
