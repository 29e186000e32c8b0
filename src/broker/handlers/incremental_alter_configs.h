#pragma once

#include <asio/awaitable.hpp>

#include "broker/handlers/context.h"
#include "protocol/generated/incremental_alter_configs_request.h"
#include "protocol/generated/incremental_alter_configs_response.h"

namespace floe::broker {

// Sets, deletes, appends to or subtracts from topic config overrides.
struct IncrementalAlterConfigsHandler {
  using Request = protocol::IncrementalAlterConfigsRequest;
  using Response = protocol::IncrementalAlterConfigsResponse;
  static constexpr int16_t kMinVersion = 0;
  static constexpr int16_t kMaxVersion = 1;
  static asio::awaitable<Response> handle(RequestContext& ctx, Request& req);
};

}  // namespace floe::broker
