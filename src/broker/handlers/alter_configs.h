#pragma once

#include <asio/awaitable.hpp>

#include "broker/handlers/context.h"
#include "protocol/generated/alter_configs_request.h"
#include "protocol/generated/alter_configs_response.h"

namespace floe::broker {

// Replaces all of a topic's config overrides (legacy AlterConfigs).
struct AlterConfigsHandler {
  using Request = protocol::AlterConfigsRequest;
  using Response = protocol::AlterConfigsResponse;
  static constexpr int16_t kMinVersion = 0;
  static constexpr int16_t kMaxVersion = 2;
  static asio::awaitable<Response> handle(RequestContext& ctx, Request& req);
};

}  // namespace floe::broker
