#pragma once

#include <asio/awaitable.hpp>

#include "broker/handlers/context.h"
#include "protocol/generated/init_producer_id_request.h"
#include "protocol/generated/init_producer_id_response.h"

namespace floe::broker {

// InitProducerId for idempotent producers: a fresh producer id from the
// metadata store (unique across brokers), epoch 0. Transactional ids are
// refused until transactions exist.
struct InitProducerIdHandler {
  using Request = protocol::InitProducerIdRequest;
  using Response = protocol::InitProducerIdResponse;
  static constexpr int16_t kMinVersion = 0;
  static constexpr int16_t kMaxVersion = 5;
  static asio::awaitable<Response> handle(RequestContext& ctx, Request& req);
};

}  // namespace floe::broker
