#pragma once

#include <asio/awaitable.hpp>

#include "broker/handlers/context.h"
#include "protocol/generated/list_offsets_request.h"
#include "protocol/generated/list_offsets_response.h"

namespace floe::broker {

// ListOffsets: earliest (-2), latest (-1), max timestamp (-3, v7+), earliest
// local (-4, v8+: the same as earliest, all data being in object storage), and
// the first offset whose timestamp is at or after a given time.
struct ListOffsetsHandler {
  using Request = protocol::ListOffsetsRequest;
  using Response = protocol::ListOffsetsResponse;
  static constexpr int16_t kMinVersion = 0;
  static constexpr int16_t kMaxVersion = 8;
  static asio::awaitable<Response> handle(RequestContext& ctx, Request& req);
};

}  // namespace floe::broker
