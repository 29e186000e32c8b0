#pragma once

#include <asio/awaitable.hpp>

#include "broker/handlers/context.h"
#include "protocol/generated/offset_delete_request.h"
#include "protocol/generated/offset_delete_response.h"

namespace floe::broker {

// OffsetDelete: deletes a group's committed offsets, except those of topics
// its live members subscribe to (GROUP_SUBSCRIBED_TO_TOPIC).
struct OffsetDeleteHandler {
  using Request = protocol::OffsetDeleteRequest;
  using Response = protocol::OffsetDeleteResponse;
  static constexpr int16_t kMinVersion = 0;
  static constexpr int16_t kMaxVersion = 0;
  static asio::awaitable<Response> handle(RequestContext& ctx, Request& req);
};

}  // namespace floe::broker
