#include "broker/handlers/describe_groups.h"

#include "broker/authorized_operations.h"
#include "broker/handlers/group_util.h"

namespace floe::broker {

using protocol::ErrorCode;

asio::awaitable<DescribeGroupsHandler::Response> DescribeGroupsHandler::handle(RequestContext& ctx, Request& req) {
  Response resp;
  for (const auto& id : req.groups) {
    auto& r = resp.groups.emplace_back();
    r.group_id = id;
    if (ctx.api_version >= 3 && req.include_authorized_operations) r.authorized_operations = kAllGroupOperations;
    if (ErrorCode e = group_precheck(ctx.broker, id); e != ErrorCode::none) {
      r.error_code = protocol::code(e);
      continue;
    }
    groups::GroupDescription d = co_await ctx.broker.groups->describe_group(id);
    r.error_code = protocol::code(d.error);
    r.group_state = std::move(d.state);
    r.protocol_type = std::move(d.protocol_type);
    r.protocol_data = std::move(d.protocol);
    for (auto& m : d.members) {
      auto& rm = r.members.emplace_back();
      rm.member_id = std::move(m.member_id);
      rm.group_instance_id = std::move(m.instance_id);
      rm.client_id = std::move(m.client_id);
      rm.client_host = std::move(m.client_host);
      rm.member_metadata = std::move(m.metadata);
      rm.member_assignment = std::move(m.assignment);
    }
  }
  co_return resp;
}

}  // namespace floe::broker
