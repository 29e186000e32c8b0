#include "broker/handlers/metadata.h"

#include "broker/authorized_operations.h"
#include "broker/topic_names.h"
#include "protocol/generated/error_codes.h"

namespace floe::broker {

using protocol::ErrorCode;


asio::awaitable<MetadataHandler::Response> MetadataHandler::handle(RequestContext& ctx, Request& req) {
  const Broker& broker = ctx.broker;
  const Listener& me = broker.advertised_for(ctx.connection.listener_name);
  Response resp;
  Response::MetadataResponseBroker b;
  b.node_id = broker.identity.node_id;
  b.host = me.host;
  b.port = me.port;
  b.rack = broker.identity.rack;
  resp.brokers.push_back(std::move(b));
  resp.cluster_id = broker.identity.cluster_id;
  resp.controller_id = broker.identity.node_id;

  // No topic exists until the metadata store arrives, so a request for all
  // topics gets an empty list and every named topic gets an error.
  if (req.topics) {
    for (const auto& t : *req.topics) {
      Response::MetadataResponseTopic topic;
      topic.name = t.name;
      topic.topic_id = t.topic_id;
      if (!t.name) {
        topic.error_code = protocol::code(ErrorCode::unknown_topic_id);
      } else if (!valid_topic_name(*t.name)) {
        topic.error_code = protocol::code(ErrorCode::invalid_topic_exception);
      } else {
        topic.error_code = protocol::code(ErrorCode::unknown_topic_or_partition);
      }
      if (req.include_topic_authorized_operations) topic.topic_authorized_operations = kAllTopicOperations;
      resp.topics.push_back(std::move(topic));
    }
  }
  if (req.include_cluster_authorized_operations) resp.cluster_authorized_operations = kAllClusterOperations;
  co_return resp;
}

}  // namespace floe::broker
