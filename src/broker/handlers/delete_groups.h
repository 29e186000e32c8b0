#pragma once

#include <asio/awaitable.hpp>

#include "broker/handlers/context.h"
#include "protocol/generated/delete_groups_request.h"
#include "protocol/generated/delete_groups_response.h"

namespace floe::broker {

// DeleteGroups: deletes empty groups with their committed offsets.
struct DeleteGroupsHandler {
  using Request = protocol::DeleteGroupsRequest;
  using Response = protocol::DeleteGroupsResponse;
  static constexpr int16_t kMinVersion = 0;
  static constexpr int16_t kMaxVersion = 2;
  static asio::awaitable<Response> handle(RequestContext& ctx, Request& req);
};

}  // namespace floe::broker
