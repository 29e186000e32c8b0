#include "broker/handlers/describe_configs.h"

#include <charconv>
#include <set>

#include "broker/handlers/admin_util.h"
#include "broker/topic_cache.h"
#include "broker/topic_config.h"

namespace floe::broker {

using protocol::ErrorCode;

namespace {

using Resource = DescribeConfigsHandler::Request::DescribeConfigsResource;
using Result = DescribeConfigsHandler::Response::DescribeConfigsResult;
using Entry = DescribeConfigsHandler::Response::DescribeConfigsResourceResult;
using Synonym = DescribeConfigsHandler::Response::DescribeConfigsSynonym;

constexpr int8_t kDynamicBrokerLoggerConfig = 6;  // Kafka's ConfigSource for logger levels

struct Options {
  bool synonyms = false;
  bool documentation = false;
};

// configuration_keys: null lists everything; a list (even empty, as in
// Kafka) lists only the keys it names.
bool wanted(const Resource& res, std::string_view name) {
  if (!res.configuration_keys) return true;
  for (const auto& k : *res.configuration_keys) {
    if (k == name) return true;
  }
  return false;
}

void describe_topic(const Config& config, const meta::Topic& topic, const Resource& res, const Options& o,
                    Result& out) {
  for (const ResolvedTopicConfig& c : resolve_topic_configs(config, topic.configs)) {
    if (!wanted(res, c.key->name)) continue;
    Entry& e = out.configs.emplace_back();
    e.name = std::string(c.key->name);
    e.value = c.value;
    e.read_only = false;
    e.is_default = c.source == TopicConfigSource::default_value;
    e.config_source = static_cast<int8_t>(c.source);
    e.is_sensitive = false;
    if (o.synonyms) {
      for (const auto& s : c.synonyms) e.synonyms.push_back(Synonym{s.name, s.value, static_cast<int8_t>(s.source), {}});
    }
    e.config_type = static_cast<int8_t>(c.key->type);
    if (o.documentation) e.documentation = std::string(c.key->doc);
  }
}

// The broker's settings: every key of floe's table, read-only (floe has no
// dynamic broker configs), secrets hidden.
void describe_broker(const Config& config, const Resource& res, const Options& o, Result& out) {
  for (const ConfigKey& key : config_keys()) {
    if (!wanted(res, key.name)) continue;
    const ConfigValue* v = config.find_value(key.name);
    const ConfigValue none;
    if (!v) v = &none;
    Entry& e = out.configs.emplace_back();
    e.name = std::string(key.name);
    e.value = key.sensitive ? std::nullopt : v->value;
    e.read_only = true;
    e.is_default = v->source == ConfigSource::default_value;
    e.config_source = kafka_config_source(v->source);
    e.is_sensitive = key.sensitive;
    if (o.synonyms) {
      auto shown = [&](const std::optional<std::string>& s) { return key.sensitive ? std::nullopt : s; };
      if (v->source != ConfigSource::default_value) {
        e.synonyms.push_back(Synonym{e.name, shown(v->value), kafka_config_source(v->source), {}});
      }
      std::optional<std::string> def =
          key.default_value ? std::optional<std::string>(std::string(*key.default_value))
                            : (v->source == ConfigSource::default_value ? v->value : std::nullopt);
      if (def) e.synonyms.push_back(Synonym{e.name, shown(def), kafka_config_source(ConfigSource::default_value), {}});
    }
    e.config_type = static_cast<int8_t>(key.type);
    if (o.documentation) e.documentation = std::string(key.help);
  }
}

// Kafka's check of a broker resource name: "" (cluster-wide dynamic
// defaults) or this broker's id.
std::optional<ApiError> check_broker_name(const Broker& broker, const std::string& name) {
  if (name.empty()) return std::nullopt;
  int32_t id = 0;
  auto [p, ec] = std::from_chars(name.data(), name.data() + name.size(), id);
  if (ec != std::errc() || p != name.data() + name.size()) {
    return api_error(ErrorCode::invalid_request, "Broker id must be an integer, but it is: " + name);
  }
  if (id != broker.identity.node_id) {
    return api_error(ErrorCode::invalid_request, "Unexpected broker id, expected " +
                                                     std::to_string(broker.identity.node_id) +
                                                     " or empty string, but received " + name);
  }
  return std::nullopt;
}

}  // namespace

asio::awaitable<DescribeConfigsHandler::Response> DescribeConfigsHandler::handle(RequestContext& ctx, Request& req) {
  Broker& broker = ctx.broker;
  const Config& config = broker.config;
  const Options o{ctx.api_version >= 1 && req.include_synonyms, ctx.api_version >= 3 && req.include_documentation};
  bool refreshed = false;

  Response resp;
  for (const Resource& res : req.resources) {
    Result& out = resp.results.emplace_back();
    out.resource_type = res.resource_type;
    out.resource_name = res.resource_name;
    auto fail = [&](const ApiError& e) {
      out.error_code = e.wire_code();
      out.error_message = e.message;
      out.configs.clear();
    };
    switch (static_cast<ResourceType>(res.resource_type)) {
      case ResourceType::topic: {
        if (res.resource_name.empty()) {
          fail(api_error(ErrorCode::invalid_request, "Default topic resources are not allowed."));
          break;
        }
        if (auto why = invalid_topic_name_reason(res.resource_name)) {
          fail(api_error(ErrorCode::invalid_topic_exception, *why));
          break;
        }
        if (!refreshed) {
          co_await refresh_topics(broker, true);
          refreshed = true;
        }
        TopicCache::TopicPtr topic = broker.topics->find(res.resource_name);
        if (!topic) {
          fail(api_error(ErrorCode::unknown_topic_or_partition, topic_does_not_exist(res.resource_name)));
          break;
        }
        describe_topic(config, *topic, res, o, out);
        break;
      }
      case ResourceType::broker:
        if (auto e = check_broker_name(broker, res.resource_name)) {
          fail(*e);
        } else if (!res.resource_name.empty()) {
          describe_broker(config, res, o, out);
        }
        // "" names the cluster-wide dynamic defaults, of which floe has none.
        break;
      case ResourceType::broker_logger:
        // Kafka lists every log4j logger; floe has one level for the whole
        // process, which it reports as the root logger's.
        if (auto e = check_broker_name(broker, res.resource_name)) {
          fail(*e);
        } else if (res.resource_name.empty()) {
          fail(api_error(ErrorCode::invalid_request, "Broker id must not be empty"));
        } else if (wanted(res, "root")) {
          Entry& e = out.configs.emplace_back();
          e.name = "root";
          const ConfigValue* level = config.find_value("log.level");
          e.value = level && level->value ? level->value : std::optional<std::string>(std::string(to_string(config.log_level)));
          e.read_only = false;
          e.config_source = kDynamicBrokerLoggerConfig;
          e.config_type = static_cast<int8_t>(ConfigType::string);
        }
        break;
      default:
        fail(api_error(ErrorCode::invalid_request,
                       "Unsupported resource type: " + std::to_string(res.resource_type)));
        break;
    }
  }
  co_return resp;
}

}  // namespace floe::broker
