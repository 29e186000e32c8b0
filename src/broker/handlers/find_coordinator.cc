#include "broker/handlers/find_coordinator.h"

#include "groups/placement.h"
#include "protocol/generated/error_codes.h"

namespace floe::broker {

using protocol::ErrorCode;

namespace {

constexpr int8_t kGroupKey = 0;
constexpr int8_t kTransactionKey = 1;

struct Answer {
  ErrorCode error = ErrorCode::none;
  std::optional<std::string> message;
  int32_t node_id = -1;
  std::string host;
  int32_t port = -1;
};

Answer find(const RequestContext& ctx, const std::string& key, int8_t key_type) {
  Answer a;
  if (key_type != kGroupKey && key_type != kTransactionKey) {
    a.error = ErrorCode::invalid_request;
    a.message = "Unknown coordinator type " + std::to_string(key_type);
    return a;
  }
  const Broker& broker = ctx.broker;
  auto live = broker.live_brokers();
  auto node = groups::coordinator_for(key, live);
  if (!node || *node != broker.identity.node_id || (key_type == kGroupKey && !broker.groups)) {
    // Another broker's endpoint would be named here once brokers register
    // (DESIGN §5); until then only this one is live.
    a.error = ErrorCode::coordinator_not_available;
    a.message = "The coordinator is not available.";
    return a;
  }
  const Listener& me = broker.advertised_for(ctx.connection.listener_name);
  a.node_id = *node;
  a.host = me.host;
  a.port = me.port;
  return a;
}

}  // namespace

asio::awaitable<FindCoordinatorHandler::Response> FindCoordinatorHandler::handle(RequestContext& ctx, Request& req) {
  Response resp;
  if (ctx.api_version < 4) {
    // v0 has no key type: always a group.
    Answer a = find(ctx, req.key, ctx.api_version >= 1 ? req.key_type : kGroupKey);
    resp.error_code = protocol::code(a.error);
    resp.error_message = a.message;
    resp.node_id = a.node_id;
    resp.host = a.host;
    resp.port = a.port;
    co_return resp;
  }
  for (const auto& key : req.coordinator_keys) {
    Answer a = find(ctx, key, req.key_type);
    auto& c = resp.coordinators.emplace_back();
    c.key = key;
    c.error_code = protocol::code(a.error);
    c.error_message = a.message;
    c.node_id = a.node_id;
    c.host = a.host;
    c.port = a.port;
  }
  co_return resp;
}

}  // namespace floe::broker
