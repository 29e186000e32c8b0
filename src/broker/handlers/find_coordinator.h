#pragma once

#include <asio/awaitable.hpp>

#include "broker/handlers/context.h"
#include "protocol/generated/find_coordinator_request.h"
#include "protocol/generated/find_coordinator_response.h"

namespace floe::broker {

// FindCoordinator: the broker that coordinates a group or a transactional id
// (DESIGN §5's rendezvous hash over the live brokers); v4 answers several
// keys at once.
struct FindCoordinatorHandler {
  using Request = protocol::FindCoordinatorRequest;
  using Response = protocol::FindCoordinatorResponse;
  static constexpr int16_t kMinVersion = 0;
  static constexpr int16_t kMaxVersion = 4;
  static asio::awaitable<Response> handle(RequestContext& ctx, Request& req);
};

}  // namespace floe::broker
