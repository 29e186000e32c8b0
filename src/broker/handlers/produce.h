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
// Order: requests of one connection reach the WAL in the order they arrived.
// They run side by side (net/ lets produces overlap), and one may wait for
// the metadata store (a topic not cached yet) while those behind it do not,
// so each takes a ticket on arrival and submits on its turn.
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
