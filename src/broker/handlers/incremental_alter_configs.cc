#include "broker/handlers/incremental_alter_configs.h"

#include <algorithm>
#include <map>
#include <set>

#include "broker/handlers/admin_util.h"
#include "broker/topic_cache.h"
#include "broker/topic_config.h"

namespace floe::broker {

using protocol::ErrorCode;

namespace {

enum class Op : int8_t { set = 0, remove = 1, append = 2, subtract = 3 };

std::string_view op_name(Op op) {
  switch (op) {
    case Op::set: return "SET";
    case Op::remove: return "DELETE";
    case Op::append: return "APPEND";
    case Op::subtract: return "SUBTRACT";
  }
  return "UNKNOWN";
}

std::vector<std::string> split(std::string_view s) {
  std::vector<std::string> out;
  if (s.empty()) return out;
  size_t start = 0;
  while (true) {
    size_t comma = s.find(',', start);
    out.emplace_back(s.substr(start, comma == std::string_view::npos ? comma : comma - start));
    if (comma == std::string_view::npos) return out;
    start = comma + 1;
  }
}

std::string join(const std::vector<std::string>& items) {
  std::string out;
  for (size_t i = 0; i < items.size(); ++i) out += (i ? "," : "") + items[i];
  return out;
}

}  // namespace

asio::awaitable<IncrementalAlterConfigsHandler::Response> IncrementalAlterConfigsHandler::handle(RequestContext& ctx,
                                                                                                Request& req) {
  Broker& broker = ctx.broker;
  co_return co_await alter_each_resource<Response>(
      broker, req, [&](const auto& res) -> asio::awaitable<ApiError> {
        std::vector<std::string> names;
        std::string nulls;
        for (const auto& c : res.configs) {
          names.push_back(c.name);
          if (c.config_operation < 0 || c.config_operation > 3) {
            co_return api_error(ErrorCode::invalid_request, "Unknown config operation " +
                                                                std::to_string(c.config_operation) + " for " + c.name);
          }
          if (static_cast<Op>(c.config_operation) != Op::remove && !c.value) {
            nulls += (nulls.empty() ? "" : ", ") + c.name;
          }
        }
        if (auto dup = duplicate_keys(names)) co_return *dup;
        if (!nulls.empty()) co_return api_error(ErrorCode::invalid_request, "Null value not supported for : " + nulls);
        if (static_cast<ResourceType>(res.resource_type) != ResourceType::topic) {
          co_return refuse_non_topic_alter(broker, res.resource_type, res.resource_name);
        }
        ConfigTopic found = find_config_topic(broker, res.resource_name);
        if (!found.error.ok()) co_return found.error;
        const meta::Topic& topic = *found.topic;

        std::map<std::string, std::string> wanted = topic.configs;
        for (const auto& c : res.configs) {
          const Op op = static_cast<Op>(c.config_operation);
          const TopicConfigKey* key = find_topic_config_key(c.name);
          if (op == Op::remove) {
            wanted.erase(c.name);  // deleting a key that is not set (or unknown) changes nothing
            continue;
          }
          if (!key) co_return api_error(ErrorCode::invalid_config, "Unknown topic config name: " + c.name);
          if (op == Op::set) {
            wanted[c.name] = *c.value;
            continue;
          }
          if (key->type != TopicConfigType::list) {
            co_return api_error(ErrorCode::invalid_config, "Can't " + std::string(op_name(op)) + " to key " + c.name +
                                                               " because its type is not LIST.");
          }
          // APPEND and SUBTRACT start from the topic's value: its override, or
          // what it gets from the broker (Kafka: the default).
          auto it = wanted.find(c.name);
          std::string current;
          try {
            current = it != wanted.end() ? validate_topic_config(c.name, it->second) : broker_level_value(broker.config, *key);
          } catch (const TopicConfigError& err) {
            co_return api_error(ErrorCode::invalid_config, err.what());
          }
          std::vector<std::string> items = split(current);
          std::vector<std::string> operand;
          try {
            operand = split(validate_topic_config(c.name, *c.value));
          } catch (const TopicConfigError& err) {
            co_return api_error(ErrorCode::invalid_config, err.what());
          }
          for (const auto& item : operand) {
            auto pos = std::find(items.begin(), items.end(), item);
            if (op == Op::append && pos == items.end()) items.push_back(item);
            if (op == Op::subtract && pos != items.end()) items.erase(pos);
          }
          wanted[c.name] = join(items);
        }
        co_return co_await replace_topic_configs(broker, topic, wanted, req.validate_only);
      });
}

}  // namespace floe::broker
