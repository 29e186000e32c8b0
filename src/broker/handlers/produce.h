#pragma once

#include <asio/awaitable.hpp>
#include <optional>

#include "broker/handlers/context.h"
#include "protocol/generated/produce_request.h"
#include "protocol/generated/produce_response.h"

namespace floe::broker {

// Produce: validates each partition's batch, hands the valid ones to the
// shared WAL, and answers once they are committed (acks=1 and acks=-1 both
// mean durable in object storage and committed; acks=0 gets no answer).
//
// Order: requests of one connection reach the WAL in the order they arrived,
// because nothing before the append suspends while their topics are in the
// topic cache. A topic the broker does not know yet is looked up in the
// metadata store first, and a pipelined request behind that one may then
// reach the WAL before it.
//
// Versions 0-2 carry the pre-v2 message formats, which floe does not store;
// they are advertised because librdkafka enables compression only when
// Produce v0 is listed, and answered with UNSUPPORTED_VERSION per partition.
struct ProduceHandler {
  using Request = protocol::ProduceRequest;
  using Response = protocol::ProduceResponse;
  static constexpr int16_t kMinVersion = 0;
  static constexpr int16_t kMaxVersion = 11;
  static asio::awaitable<std::optional<Response>> handle(RequestContext& ctx, Request& req);
};

}  // namespace floe::broker
