#pragma once

#include <asio/awaitable.hpp>

#include "broker/handlers/context.h"
#include "protocol/generated/list_groups_request.h"
#include "protocol/generated/list_groups_response.h"

namespace floe::broker {

// ListGroups: the groups this broker coordinates, with state (v4+) and type
// (v5+) filters.
struct ListGroupsHandler {
  using Request = protocol::ListGroupsRequest;
  using Response = protocol::ListGroupsResponse;
  static constexpr int16_t kMinVersion = 0;
  static constexpr int16_t kMaxVersion = 5;
  static asio::awaitable<Response> handle(RequestContext& ctx, Request& req);
};

}  // namespace floe::broker
