#pragma once

#include <asio/awaitable.hpp>

#include "broker/handlers/context.h"
#include "protocol/generated/describe_groups_request.h"
#include "protocol/generated/describe_groups_response.h"

namespace floe::broker {

// DescribeGroups: state, protocol and members of groups; "Dead" for a group
// that does not exist, as Kafka answers.
struct DescribeGroupsHandler {
  using Request = protocol::DescribeGroupsRequest;
  using Response = protocol::DescribeGroupsResponse;
  static constexpr int16_t kMinVersion = 0;
  static constexpr int16_t kMaxVersion = 5;
  static asio::awaitable<Response> handle(RequestContext& ctx, Request& req);
};

}  // namespace floe::broker
