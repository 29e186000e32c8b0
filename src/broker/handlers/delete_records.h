#pragma once

#include <asio/awaitable.hpp>

#include "broker/handlers/context.h"
#include "protocol/generated/delete_records_request.h"
#include "protocol/generated/delete_records_response.h"

namespace floe::broker {

// Advances log start offsets.
struct DeleteRecordsHandler {
  using Request = protocol::DeleteRecordsRequest;
  using Response = protocol::DeleteRecordsResponse;
  static constexpr int16_t kMinVersion = 0;
  static constexpr int16_t kMaxVersion = 2;
  static asio::awaitable<Response> handle(RequestContext& ctx, Request& req);
};

}  // namespace floe::broker
