#include "broker/handlers/leave_group.h"

#include "broker/handlers/group_util.h"

namespace floe::broker {

using protocol::ErrorCode;

asio::awaitable<LeaveGroupHandler::Response> LeaveGroupHandler::handle(RequestContext& ctx, Request& req) {
  Response resp;
  const bool batched = ctx.api_version >= 3;
  if (ErrorCode e = group_precheck(ctx.broker, req.group_id); e != ErrorCode::none) {
    resp.error_code = protocol::code(e);
    co_return resp;
  }
  std::vector<groups::LeavingMember> leaving;
  if (batched) {
    for (const auto& m : req.members) leaving.push_back({m.member_id, m.group_instance_id});
  } else {
    leaving.push_back({req.member_id, std::nullopt});
  }
  groups::LeaveResult r = co_await ctx.broker.groups->leave(req.group_id, leaving);
  resp.error_code = protocol::code(r.error);
  if (r.error != ErrorCode::none) co_return resp;
  if (!batched) {
    // One member, no member list: its outcome is the response's.
    if (!r.members.empty()) resp.error_code = protocol::code(r.members.front());
    co_return resp;
  }
  for (size_t i = 0; i < leaving.size() && i < r.members.size(); ++i) {
    auto& m = resp.members.emplace_back();
    m.member_id = leaving[i].member_id;
    m.group_instance_id = leaving[i].instance_id;
    m.error_code = protocol::code(r.members[i]);
  }
  co_return resp;
}

}  // namespace floe::broker
