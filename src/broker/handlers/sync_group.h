#pragma once

#include <asio/awaitable.hpp>

#include "broker/handlers/context.h"
#include "protocol/generated/sync_group_request.h"
#include "protocol/generated/sync_group_response.h"

namespace floe::broker {

// SyncGroup: the leader hands in the assignment; every member gets its part.
struct SyncGroupHandler {
  using Request = protocol::SyncGroupRequest;
  using Response = protocol::SyncGroupResponse;
  static constexpr int16_t kMinVersion = 0;
  static constexpr int16_t kMaxVersion = 5;
  static asio::awaitable<Response> handle(RequestContext& ctx, Request& req);
};

}  // namespace floe::broker
