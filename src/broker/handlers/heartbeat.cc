#include "broker/handlers/heartbeat.h"

#include "broker/handlers/group_util.h"

namespace floe::broker {

using protocol::ErrorCode;

asio::awaitable<HeartbeatHandler::Response> HeartbeatHandler::handle(RequestContext& ctx, Request& req) {
  Response resp;
  ErrorCode e = group_precheck(ctx.broker, req.group_id);
  if (e == ErrorCode::none)
    e = co_await ctx.broker.groups->heartbeat(req.group_id, req.generation_id, req.member_id, req.group_instance_id);
  resp.error_code = protocol::code(e);
  co_return resp;
}

}  // namespace floe::broker
