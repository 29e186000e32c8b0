#pragma once

#include <asio/awaitable.hpp>

#include "broker/handlers/context.h"
#include "protocol/generated/leave_group_request.h"
#include "protocol/generated/leave_group_response.h"

namespace floe::broker {

// LeaveGroup: members leave (v3+: several at once, static ones by instance id).
struct LeaveGroupHandler {
  using Request = protocol::LeaveGroupRequest;
  using Response = protocol::LeaveGroupResponse;
  static constexpr int16_t kMinVersion = 0;
  static constexpr int16_t kMaxVersion = 5;
  static asio::awaitable<Response> handle(RequestContext& ctx, Request& req);
};

}  // namespace floe::broker
