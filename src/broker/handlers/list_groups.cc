#include "broker/handlers/list_groups.h"

#include <algorithm>
#include <cctype>

#include "broker/handlers/group_util.h"
#include "common/log.h"

namespace floe::broker {

using protocol::ErrorCode;

namespace {

// Every classic group is of this type (KIP-848 adds "consumer").
constexpr const char* kClassicGroupType = "classic";

bool equals_ignore_case(const std::string& a, const std::string& b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) == std::tolower(static_cast<unsigned char>(y));
         });
}

bool passes(const std::vector<std::string>& filter, const std::string& value) {
  return filter.empty() ||
         std::any_of(filter.begin(), filter.end(), [&](const std::string& f) { return equals_ignore_case(f, value); });
}

}  // namespace

asio::awaitable<ListGroupsHandler::Response> ListGroupsHandler::handle(RequestContext& ctx, Request& req) {
  Response resp;
  if (!ctx.broker.groups) {
    resp.error_code = protocol::code(ErrorCode::coordinator_not_available);
    co_return resp;
  }
  std::vector<groups::GroupListing> listed;
  try {
    listed = co_await ctx.broker.groups->list_groups();
  } catch (const std::exception& e) {
    FLOE_LOG(error, "groups") << "cannot list groups: " << e.what();
    resp.error_code = protocol::code(ErrorCode::coordinator_not_available);
    co_return resp;
  }
  const auto live = ctx.broker.live_brokers();
  for (auto& g : listed) {
    if (groups::coordinator_for(g.group_id, live) != ctx.broker.identity.node_id) continue;
    if (ctx.api_version >= 4 && !passes(req.states_filter, g.state)) continue;
    if (ctx.api_version >= 5 && !passes(req.types_filter, kClassicGroupType)) continue;
    auto& r = resp.groups.emplace_back();
    r.group_id = std::move(g.group_id);
    r.protocol_type = std::move(g.protocol_type);
    r.group_state = std::move(g.state);
    r.group_type = kClassicGroupType;
  }
  co_return resp;
}

}  // namespace floe::broker
