#pragma once

#include <asio/awaitable.hpp>

#include "broker/handlers/context.h"
#include "protocol/generated/join_group_request.h"
#include "protocol/generated/join_group_response.h"

namespace floe::broker {

// JoinGroup: joins a member to a classic group and answers when the
// rebalance completes (groups/coordinator.h).
struct JoinGroupHandler {
  using Request = protocol::JoinGroupRequest;
  using Response = protocol::JoinGroupResponse;
  static constexpr int16_t kMinVersion = 0;
  static constexpr int16_t kMaxVersion = 9;
  static asio::awaitable<Response> handle(RequestContext& ctx, Request& req);
};

}  // namespace floe::broker
