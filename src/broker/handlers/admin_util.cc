#include "broker/handlers/admin_util.h"

#include "broker/topic_cache.h"
#include "broker/topic_config.h"

#include <set>

namespace floe::broker {

asio::awaitable<void> refresh_topics(Broker& broker, bool reload) {
  if (reload) {
    co_await broker.topics->reload(broker);
  } else {
    co_await broker.topics->refresh(broker);
  }
}

std::optional<std::string_view> resource_type_name(int8_t type) {
  switch (static_cast<ResourceType>(type)) {
    case ResourceType::topic: return "TOPIC";
    case ResourceType::broker: return "BROKER";
    case ResourceType::broker_logger: return "BROKER_LOGGER";
    case ResourceType::client_metrics: return "CLIENT_METRICS";
    case ResourceType::group: return "GROUP";
    default: return std::nullopt;
  }
}

ConfigTopic find_config_topic(Broker& broker, const std::string& name) {
  using protocol::ErrorCode;
  if (name.empty()) return {nullptr, api_error(ErrorCode::invalid_request, "Default topic resources are not allowed.")};
  if (auto why = invalid_topic_name_reason(name)) return {nullptr, api_error(ErrorCode::invalid_topic_exception, *why)};
  auto topic = broker.topics->find(name);
  if (!topic) return {nullptr, api_error(ErrorCode::unknown_topic_or_partition, topic_does_not_exist(name))};
  return {std::move(topic), {}};
}

ApiError refuse_non_topic_alter(const Broker& broker, int8_t type, const std::string& name) {
  using protocol::ErrorCode;
  switch (static_cast<ResourceType>(type)) {
    case ResourceType::broker:
      return api_error(ErrorCode::invalid_request,
                       "floe does not support dynamic broker configs yet: set broker settings in the broker's "
                       "config file or on its command line and restart it");
    case ResourceType::broker_logger:
      return api_error(ErrorCode::invalid_request,
                       "floe does not support changing log levels at run time yet: set log.level and restart the "
                       "broker");
    default:
      return api_error(ErrorCode::invalid_request,
                       "floe does not support altering " + std::string(resource_type_name(type).value_or("UNKNOWN")) +
                           " configs");
  }
}

std::optional<ApiError> duplicate_keys(const std::vector<std::string>& names) {
  std::set<std::string_view> seen;
  for (const auto& n : names) {
    if (!seen.insert(n).second) {
      return api_error(protocol::ErrorCode::invalid_request, "Error due to duplicate config keys");
    }
  }
  return std::nullopt;
}

asio::awaitable<ApiError> replace_topic_configs(Broker& broker, const meta::Topic& topic,
                                                const std::map<std::string, std::string>& wanted,
                                                bool validate_only) {
  std::map<std::string, std::string> next;
  try {
    next = validate_topic_configs(broker.config, wanted);
  } catch (const TopicConfigError& e) {
    co_return api_error(protocol::ErrorCode::invalid_config, e.what());
  }
  if (validate_only) co_return ApiError{};
  std::map<std::string, std::optional<std::string>> changes;
  for (const auto& [k, v] : topic.configs) {
    if (!next.contains(k)) changes.emplace(k, std::nullopt);
  }
  for (const auto& [k, v] : next) {
    auto it = topic.configs.find(k);
    if (it == topic.configs.end() || it->second != v) changes.emplace(k, v);
  }
  if (changes.empty()) co_return ApiError{};
  const protocol::Uuid id = topic.id;
  ApiError e = co_await call_meta(broker, "alter the configs of topic " + topic.name,
                                  [&] { broker.meta->alter_topic_configs(id, changes); });
  if (e.code == protocol::ErrorCode::unknown_topic_id) {
    e = api_error(protocol::ErrorCode::unknown_topic_or_partition, topic_does_not_exist(topic.name));
  }
  if (!e.ok()) co_return e;
  std::string summary;
  for (const auto& [k, v] : changes) summary += " " + k + (v ? "=" + *v : " (removed)");
  FLOE_LOG(info, "admin") << "topic " << topic.name << " configs changed:" << summary;
  std::map<std::string, std::string> set_now;
  for (const auto& [k, v] : changes) {
    if (v) set_now.emplace(k, *v);
  }
  for (const auto& key : ignored_topic_configs(set_now)) {
    FLOE_LOG(warn, "admin") << "topic " << topic.name << ": " << key << "=" << set_now.at(key)
                            << " accepted and ignored: floe keeps all data in object storage";
  }
  co_await refresh_topics(broker, true);
  co_return ApiError{};
}

}  // namespace floe::broker
