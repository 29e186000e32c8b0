#include "broker/handlers/describe_topic_partitions.h"

#include <algorithm>
#include <set>

#include "broker/authorized_operations.h"
#include "broker/handlers/admin_util.h"
#include "broker/topic_cache.h"
#include "broker/topic_names.h"

namespace floe::broker {

using protocol::ErrorCode;

namespace {

// Kafka's max.request.partition.size.limit default: the most partitions one
// response carries, whatever the client asks for.
constexpr int32_t kMaxPartitionsPerResponse = 2000;

using TopicResult = DescribeTopicPartitionsHandler::Response::DescribeTopicPartitionsResponseTopic;

}  // namespace

asio::awaitable<DescribeTopicPartitionsHandler::Response> DescribeTopicPartitionsHandler::handle(
    RequestContext& ctx, Request& req) {
  Broker& broker = ctx.broker;
  const int32_t node = broker.identity.node_id;
  Response resp;

  const bool all_topics = req.topics.empty();
  std::set<std::string> requested;
  for (const auto& t : req.topics) requested.insert(t.name);

  // Kafka refuses a cursor outside the request with INVALID_REQUEST on every
  // topic it was asked about.
  std::optional<std::string> bad_cursor;
  if (req.cursor && !all_topics && !requested.contains(req.cursor->topic_name)) {
    bad_cursor = "DescribeTopicPartitionsRequest topic list should contain the cursor topic: " + req.cursor->topic_name;
  } else if (req.cursor && req.cursor->partition_index < 0) {
    bad_cursor = "DescribeTopicPartitionsRequest cursor partition must be valid: " + req.cursor->topic_name + "-" +
                 std::to_string(req.cursor->partition_index);
  }
  if (bad_cursor) {
    for (const auto& name : requested) {
      TopicResult& r = resp.topics.emplace_back();
      r.name = name;
      r.error_code = protocol::code(ErrorCode::invalid_request);
    }
    co_return resp;
  }

  co_await refresh_topics(broker, true);
  // Topics in name order, from the cursor's topic on.
  std::vector<std::string> names;
  if (all_topics) {
    for (const auto& t : broker.topics->all()) names.push_back(t->name);
  } else {
    names.assign(requested.begin(), requested.end());
  }
  if (req.cursor) {
    names.erase(names.begin(), std::lower_bound(names.begin(), names.end(), req.cursor->topic_name));
  }

  int32_t remaining = std::max(1, std::min(kMaxPartitionsPerResponse, req.response_partition_limit));
  for (const std::string& name : names) {
    if (remaining == 0) {
      // Full: the next page starts with this topic.
      resp.next_cursor.emplace();
      resp.next_cursor->topic_name = name;
      resp.next_cursor->partition_index = 0;
      break;
    }
    TopicResult& r = resp.topics.emplace_back();
    r.name = name;
    TopicCache::TopicPtr topic = broker.topics->find(name);
    if (!topic) {
      r.error_code = protocol::code(valid_topic_name(name) ? ErrorCode::unknown_topic_or_partition
                                                           : ErrorCode::invalid_topic_exception);
      continue;
    }
    r.topic_id = topic->id;
    r.is_internal = false;
    r.topic_authorized_operations = kAllTopicOperations;
    int32_t first = req.cursor && req.cursor->topic_name == name ? req.cursor->partition_index : 0;
    int32_t p = first;
    for (; p < topic->partitions && remaining > 0; ++p, --remaining) {
      auto& part = r.partitions.emplace_back();
      part.partition_index = p;
      part.leader_id = node;
      part.leader_epoch = 0;
      part.replica_nodes = {node};
      part.isr_nodes = {node};
      part.eligible_leader_replicas = std::vector<int32_t>{};
      part.last_known_elr = std::vector<int32_t>{};
    }
    if (p < topic->partitions) {
      // Cut inside this topic: the next page carries on from partition p.
      resp.next_cursor.emplace();
      resp.next_cursor->topic_name = name;
      resp.next_cursor->partition_index = p;
      break;
    }
  }
  co_return resp;
}

}  // namespace floe::broker
