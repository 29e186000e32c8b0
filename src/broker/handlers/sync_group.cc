#include "broker/handlers/sync_group.h"

#include "broker/handlers/group_util.h"

namespace floe::broker {

using protocol::ErrorCode;

asio::awaitable<SyncGroupHandler::Response> SyncGroupHandler::handle(RequestContext& ctx, Request& req) {
  Response resp;
  if (ErrorCode e = group_precheck(ctx.broker, req.group_id); e != ErrorCode::none) {
    resp.error_code = protocol::code(e);
    co_return resp;
  }
  // From v5 both must be given (Kafka's areMandatoryProtocolTypeAndNamePresent).
  if (ctx.api_version >= 5 && (!req.protocol_type || !req.protocol_name)) {
    resp.error_code = protocol::code(ErrorCode::inconsistent_group_protocol);
    co_return resp;
  }
  groups::SyncRequest s;
  s.group_id = req.group_id;
  s.generation = req.generation_id;
  s.member_id = req.member_id;
  s.instance_id = req.group_instance_id;
  if (ctx.api_version >= 5) {
    s.protocol_type = req.protocol_type;
    s.protocol_name = req.protocol_name;
  }
  for (auto& a : req.assignments) s.assignments.emplace_back(std::move(a.member_id), std::move(a.assignment));
  groups::SyncResult r = co_await ctx.broker.groups->sync(std::move(s));
  resp.error_code = protocol::code(r.error);
  resp.protocol_type = r.protocol_type;
  resp.protocol_name = r.protocol_name;
  resp.assignment = std::move(r.assignment);
  co_return resp;
}

}  // namespace floe::broker
