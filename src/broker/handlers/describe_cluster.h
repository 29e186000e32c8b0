#pragma once

#include <asio/awaitable.hpp>

#include "broker/handlers/context.h"
#include "protocol/generated/describe_cluster_request.h"
#include "protocol/generated/describe_cluster_response.h"

namespace floe::broker {

// Describes the cluster: this broker, the controller id and the cluster id.
struct DescribeClusterHandler {
  using Request = protocol::DescribeClusterRequest;
  using Response = protocol::DescribeClusterResponse;
  static constexpr int16_t kMinVersion = 0;
  static constexpr int16_t kMaxVersion = 1;
  static asio::awaitable<Response> handle(RequestContext& ctx, Request& req);
};

}  // namespace floe::broker
