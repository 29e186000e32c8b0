#pragma once

#include <asio/awaitable.hpp>

#include "broker/handlers/context.h"
#include "protocol/generated/describe_configs_request.h"
#include "protocol/generated/describe_configs_response.h"

namespace floe::broker {

// Describes topic configs (every Kafka topic key, with sources and synonyms) and the broker's settings.
struct DescribeConfigsHandler {
  using Request = protocol::DescribeConfigsRequest;
  using Response = protocol::DescribeConfigsResponse;
  static constexpr int16_t kMinVersion = 0;
  static constexpr int16_t kMaxVersion = 4;
  static asio::awaitable<Response> handle(RequestContext& ctx, Request& req);
};

}  // namespace floe::broker
