#include "broker/handlers/delete_groups.h"

#include "broker/handlers/group_util.h"

namespace floe::broker {

using protocol::ErrorCode;

asio::awaitable<DeleteGroupsHandler::Response> DeleteGroupsHandler::handle(RequestContext& ctx, Request& req) {
  Response resp;
  for (const auto& id : req.groups_names) {
    auto& r = resp.results.emplace_back();
    r.group_id = id;
    ErrorCode e = group_precheck(ctx.broker, id);
    if (e == ErrorCode::none) e = co_await ctx.broker.groups->delete_group(id);
    r.error_code = protocol::code(e);
  }
  co_return resp;
}

}  // namespace floe::broker
