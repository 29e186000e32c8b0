#pragma once

#include <asio/awaitable.hpp>

#include "broker/handlers/context.h"
#include "protocol/generated/create_topics_request.h"
#include "protocol/generated/create_topics_response.h"

namespace floe::broker {

// Creates topics in the metadata store, synchronously (timeout_ms is not
// needed: a topic exists once the store has it).
struct CreateTopicsHandler {
  using Request = protocol::CreateTopicsRequest;
  using Response = protocol::CreateTopicsResponse;
  static constexpr int16_t kMinVersion = 0;
  static constexpr int16_t kMaxVersion = 7;
  static asio::awaitable<Response> handle(RequestContext& ctx, Request& req);
};

}  // namespace floe::broker
