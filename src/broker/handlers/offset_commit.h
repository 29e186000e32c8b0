#pragma once

#include <asio/awaitable.hpp>

#include "broker/handlers/context.h"
#include "protocol/generated/offset_commit_request.h"
#include "protocol/generated/offset_commit_response.h"

namespace floe::broker {

// OffsetCommit: stores committed offsets in the metadata store after the
// coordinator checked the member and generation (or accepted a standalone
// commit).
struct OffsetCommitHandler {
  using Request = protocol::OffsetCommitRequest;
  using Response = protocol::OffsetCommitResponse;
  static constexpr int16_t kMinVersion = 0;
  static constexpr int16_t kMaxVersion = 9;
  static asio::awaitable<Response> handle(RequestContext& ctx, Request& req);
};

}  // namespace floe::broker
