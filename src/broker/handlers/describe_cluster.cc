#include "broker/handlers/describe_cluster.h"

#include "broker/authorized_operations.h"
#include "protocol/generated/error_codes.h"

namespace floe::broker {

using protocol::ErrorCode;

namespace {

constexpr int8_t kBrokersEndpoint = 1;
constexpr int8_t kControllersEndpoint = 2;

}  // namespace

asio::awaitable<DescribeClusterHandler::Response> DescribeClusterHandler::handle(RequestContext& ctx, Request& req) {
  const Broker& broker = ctx.broker;
  Response resp;
  resp.endpoint_type = kBrokersEndpoint;
  resp.cluster_id = broker.identity.cluster_id;
  // v1 may ask for the controller endpoints; like a Kafka broker, floe
  // answers only for brokers (clients then ask with bootstrap.controllers).
  if (ctx.api_version >= 1 && req.endpoint_type != kBrokersEndpoint) {
    if (req.endpoint_type == kControllersEndpoint) {
      resp.error_code = protocol::code(ErrorCode::mismatched_endpoint_type);
      resp.error_message = "The request was sent to an endpoint of type BROKER, but we wanted an endpoint of type "
                           "CONTROLLER";
    } else {
      resp.error_code = protocol::code(ErrorCode::unsupported_endpoint_type);
      resp.error_message = "Unsupported endpoint type " + std::to_string(req.endpoint_type);
    }
    co_return resp;
  }
  // Every floe broker can do what a controller does, so each names itself, as
  // Metadata does.
  resp.controller_id = broker.identity.node_id;
  const Listener& me = broker.advertised_for(ctx.connection.listener_name);
  Response::DescribeClusterBroker b;
  b.broker_id = broker.identity.node_id;
  b.host = me.host;
  b.port = me.port;
  b.rack = broker.identity.rack;
  resp.brokers.push_back(std::move(b));
  if (req.include_cluster_authorized_operations) resp.cluster_authorized_operations = kAllClusterOperations;
  co_return resp;
}

}  // namespace floe::broker
