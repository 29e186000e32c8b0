#pragma once

#include <asio/awaitable.hpp>

#include "broker/handlers/context.h"
#include "protocol/generated/create_partitions_request.h"
#include "protocol/generated/create_partitions_response.h"

namespace floe::broker {

// Grows topics; floe places no replicas, so assignments only have to be well-formed.
struct CreatePartitionsHandler {
  using Request = protocol::CreatePartitionsRequest;
  using Response = protocol::CreatePartitionsResponse;
  static constexpr int16_t kMinVersion = 0;
  static constexpr int16_t kMaxVersion = 3;
  static asio::awaitable<Response> handle(RequestContext& ctx, Request& req);
};

}  // namespace floe::broker
