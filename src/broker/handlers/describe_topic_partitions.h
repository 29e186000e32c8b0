#pragma once

#include <asio/awaitable.hpp>

#include "broker/handlers/context.h"
#include "protocol/generated/describe_topic_partitions_request.h"
#include "protocol/generated/describe_topic_partitions_response.h"

namespace floe::broker {

// Describes topics and their partitions, paged by a cursor (Kafka 3.8+ admin clients).
struct DescribeTopicPartitionsHandler {
  using Request = protocol::DescribeTopicPartitionsRequest;
  using Response = protocol::DescribeTopicPartitionsResponse;
  static constexpr int16_t kMinVersion = 0;
  static constexpr int16_t kMaxVersion = 0;
  static asio::awaitable<Response> handle(RequestContext& ctx, Request& req);
};

}  // namespace floe::broker
