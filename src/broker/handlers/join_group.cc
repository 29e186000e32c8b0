#include "broker/handlers/join_group.h"

#include "broker/handlers/group_util.h"

namespace floe::broker {

using protocol::ErrorCode;

asio::awaitable<JoinGroupHandler::Response> JoinGroupHandler::handle(RequestContext& ctx, Request& req) {
  Response resp;
  const int16_t v = ctx.api_version;
  // Before v7 the protocol name is not nullable.
  auto finish = [&](std::optional<std::string> protocol_name) {
    resp.protocol_name = v >= 7 ? std::move(protocol_name) : std::optional<std::string>(protocol_name.value_or(""));
  };
  if (ErrorCode e = group_precheck(ctx.broker, req.group_id); e != ErrorCode::none) {
    resp.error_code = protocol::code(e);
    resp.member_id = req.member_id;
    finish(std::nullopt);
    co_return resp;
  }
  groups::JoinRequest j;
  j.group_id = req.group_id;
  j.member_id = req.member_id;
  j.instance_id = req.group_instance_id;
  j.protocol_type = req.protocol_type;
  for (auto& p : req.protocols) j.protocols.push_back({std::move(p.name), std::move(p.metadata)});
  j.session_timeout_ms = req.session_timeout_ms;
  // v0 has no rebalance timeout: the session timeout serves as both.
  j.rebalance_timeout_ms = v >= 1 ? req.rebalance_timeout_ms : req.session_timeout_ms;
  j.client_id = ctx.header.client_id.value_or("");
  j.client_host = client_host(ctx.connection);
  j.require_known_member_id = v >= 4;
  j.supports_skip_assignment = v >= 9;
  groups::JoinResult r = co_await ctx.broker.groups->join(std::move(j));
  resp.error_code = protocol::code(r.error);
  resp.generation_id = r.generation;
  resp.protocol_type = r.protocol_type;
  finish(r.protocol_name);
  resp.leader = r.leader;
  resp.skip_assignment = r.skip_assignment;
  resp.member_id = r.member_id;
  for (auto& m : r.members) {
    auto& rm = resp.members.emplace_back();
    rm.member_id = std::move(m.member_id);
    rm.group_instance_id = std::move(m.instance_id);
    rm.metadata = std::move(m.metadata);
  }
  co_return resp;
}

}  // namespace floe::broker
