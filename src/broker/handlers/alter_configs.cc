#include "broker/handlers/alter_configs.h"

#include <map>
#include <set>

#include "broker/handlers/admin_util.h"
#include "broker/topic_cache.h"

namespace floe::broker {

using protocol::ErrorCode;

asio::awaitable<AlterConfigsHandler::Response> AlterConfigsHandler::handle(RequestContext& ctx, Request& req) {
  Broker& broker = ctx.broker;
  co_return co_await alter_each_resource<Response>(
      broker, req, [&](const auto& res) -> asio::awaitable<ApiError> {
        std::vector<std::string> names;
        std::string nulls;
        std::map<std::string, std::string> wanted;
        for (const auto& c : res.configs) {
          names.push_back(c.name);
          if (!c.value) {
            nulls += (nulls.empty() ? "" : ", ") + c.name;
          } else {
            wanted[c.name] = *c.value;
          }
        }
        if (auto dup = duplicate_keys(names)) co_return *dup;
        if (!nulls.empty()) co_return api_error(ErrorCode::invalid_request, "Null value not supported for : " + nulls);
        if (static_cast<ResourceType>(res.resource_type) != ResourceType::topic) {
          co_return refuse_non_topic_alter(broker, res.resource_type, res.resource_name);
        }
        ConfigTopic found = find_config_topic(broker, res.resource_name);
        if (!found.error.ok()) co_return found.error;
        // AlterConfigs replaces every override of the topic with the given set.
        co_return co_await replace_topic_configs(broker, *found.topic, wanted, req.validate_only);
      });
}

}  // namespace floe::broker
