#include "broker/handlers/metadata.h"

#include <set>

#include "broker/authorized_operations.h"
#include "broker/topic_cache.h"
#include "broker/topic_names.h"
#include "protocol/generated/error_codes.h"

namespace floe::broker {

using protocol::ErrorCode;

namespace {

using TopicResult = MetadataHandler::Response::MetadataResponseTopic;

// floe is leaderless: this broker serves every partition, so it is the
// leader, the only replica and the whole ISR of each. Epoch 0 never changes.
void fill_partitions(const meta::Topic& topic, int32_t node, TopicResult& out) {
  out.partitions.reserve(static_cast<size_t>(topic.partitions));
  for (int32_t p = 0; p < topic.partitions; ++p) {
    auto& part = out.partitions.emplace_back();
    part.partition_index = p;
    part.leader_id = node;
    part.leader_epoch = 0;
    part.replica_nodes = {node};
    part.isr_nodes = {node};
  }
}

}  // namespace

asio::awaitable<MetadataHandler::Response> MetadataHandler::handle(RequestContext& ctx, Request& req) {
  Broker& broker = ctx.broker;
  const int32_t node = broker.identity.node_id;
  const Listener& me = broker.advertised_for(ctx.connection.listener_name);
  Response resp;
  Response::MetadataResponseBroker b;
  b.node_id = node;
  b.host = me.host;
  b.port = me.port;
  b.rack = broker.identity.rack;
  resp.brokers.push_back(std::move(b));
  resp.cluster_id = broker.identity.cluster_id;
  resp.controller_id = node;
  if (req.include_cluster_authorized_operations) resp.cluster_authorized_operations = kAllClusterOperations;

  TopicCache& topics = *broker.topics;
  // At most one version query a second: other brokers' topic changes show
  // up here within a second.
  co_await topics.refresh(broker);

  auto add = [&](const meta::Topic& topic) {
    TopicResult& t = resp.topics.emplace_back();
    t.name = topic.name;
    t.topic_id = topic.id;
    t.is_internal = false;
    fill_partitions(topic, node, t);
    if (req.include_topic_authorized_operations) t.topic_authorized_operations = kAllTopicOperations;
  };

  // All topics: a null list (v1+), or an empty one in v0.
  const bool all = !req.topics || (ctx.api_version == 0 && req.topics->empty());
  if (all) {
    for (const auto& t : topics.all()) add(*t);
    co_return resp;
  }

  // v0-v3 always create missing topics when the broker allows it.
  const bool auto_create = ctx.api_version < 4 || req.allow_auto_topic_creation;
  std::set<std::string> seen_names;
  std::set<protocol::Uuid> seen_ids;
  for (const auto& wanted : *req.topics) {
    auto fail = [&](ErrorCode code) {
      TopicResult& t = resp.topics.emplace_back();
      t.name = wanted.name;
      t.topic_id = wanted.topic_id;
      t.error_code = protocol::code(code);
      if (req.include_topic_authorized_operations) t.topic_authorized_operations = kAllTopicOperations;
    };
    if (!wanted.name) {
      // By id (v10+).
      if (!seen_ids.insert(wanted.topic_id).second) continue;
      TopicCache::TopicPtr topic = co_await topics.lookup(broker, wanted.topic_id);
      if (topic) {
        add(*topic);
      } else {
        fail(ErrorCode::unknown_topic_id);
      }
      continue;
    }
    const std::string& name = *wanted.name;
    if (!seen_names.insert(name).second) continue;
    if (!valid_topic_name(name)) {
      fail(ErrorCode::invalid_topic_exception);
      continue;
    }
    TopicCache::TopicPtr topic;
    ErrorCode err = ErrorCode::none;
    if (auto_create) {
      std::tie(err, topic) = co_await topics.get_or_create(broker, name);
    } else {
      topic = co_await topics.lookup(broker, name);
      if (!topic) err = ErrorCode::unknown_topic_or_partition;
    }
    if (topic) {
      add(*topic);
    } else {
      fail(err);
    }
  }
  co_return resp;
}

}  // namespace floe::broker
