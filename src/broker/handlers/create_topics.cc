#include "broker/handlers/create_topics.h"

#include <map>
#include <set>
#include <variant>

#include "broker/handlers/admin_util.h"
#include "broker/topic_cache.h"
#include "broker/topic_config.h"

namespace floe::broker {

using protocol::ErrorCode;

namespace {

using Topic = CreateTopicsHandler::Request::CreatableTopic;
using Result = CreateTopicsHandler::Response::CreatableTopicResult;

// A topic that passed validation.
struct Plan {
  int32_t partitions = 0;
  int16_t replication_factor = 0;
  std::map<std::string, std::string> configs;  // canonical
};

// Kafka refuses to create its metadata log topic; floe also refuses Kafka's
// group and transaction topics, which it does not use.
std::optional<std::string> reserved_name_reason(std::string_view name) {
  if (name == "__cluster_metadata") return "Creation of internal topic __cluster_metadata is prohibited.";
  if (name == "__consumer_offsets") {
    return "Creation of internal topic __consumer_offsets is prohibited: floe keeps consumer group offsets in its "
           "metadata store.";
  }
  if (name == "__transaction_state") {
    return "Creation of internal topic __transaction_state is prohibited: floe keeps transaction state in its "
           "metadata store.";
  }
  return std::nullopt;
}

// Partition count and replication factor, in Kafka's (KRaft controller's)
// order and words.
std::variant<Plan, ApiError> plan_layout(const Config& config, const Topic& t) {
  Plan plan;
  if (!t.assignments.empty()) {
    if (t.num_partitions != -1) {
      return api_error(ErrorCode::invalid_request,
                       "A manual partition assignment was specified, but numPartitions was not set to -1.");
    }
    if (t.replication_factor != -1) {
      return api_error(ErrorCode::invalid_request,
                       "A manual partition assignment was specified, but replicationFactor was not set to -1.");
    }
    std::set<int32_t> seen;
    for (const auto& a : t.assignments) {
      if (!seen.insert(a.partition_index).second) {
        return api_error(ErrorCode::invalid_replica_assignment,
                         "Found multiple manual partition assignments for partition " +
                             std::to_string(a.partition_index));
      }
      if (a.broker_ids.empty()) {
        return api_error(ErrorCode::invalid_replica_assignment,
                         "The manual partition assignment includes an empty replica list.");
      }
      std::set<int32_t> brokers;
      for (int32_t b : a.broker_ids) {
        if (!brokers.insert(b).second) {
          return api_error(ErrorCode::invalid_replica_assignment,
                           "The manual partition assignment includes the broker " + std::to_string(b) +
                               " more than once.");
        }
      }
    }
    // Partition indexes 0..n-1, each once.
    const int32_t n = static_cast<int32_t>(t.assignments.size());
    if (*seen.begin() != 0 || *seen.rbegin() != n - 1) {
      return api_error(ErrorCode::invalid_replica_assignment,
                       "partitions should be a consecutive 0-based integer sequence");
    }
    plan.partitions = n;
    plan.replication_factor = static_cast<int16_t>(t.assignments.front().broker_ids.size());
    return plan;
  }
  if (t.num_partitions == 0 || t.num_partitions < -1) {
    return api_error(ErrorCode::invalid_partitions, "Number of partitions was set to an invalid non-positive value.");
  }
  if (t.replication_factor == 0 || t.replication_factor < -1) {
    return api_error(ErrorCode::invalid_replication_factor,
                     "Replication factor must be larger than 0, or -1 to use the default value.");
  }
  plan.partitions = t.num_partitions == -1 ? config.num_partitions : t.num_partitions;
  // floe does not replicate (object storage is durable); any factor is
  // accepted and reported back as asked.
  plan.replication_factor =
      t.replication_factor == -1 ? static_cast<int16_t>(config.default_replication_factor) : t.replication_factor;
  return plan;
}

std::variant<std::map<std::string, std::string>, ApiError> plan_configs(const Config& config, const Topic& t) {
  std::map<std::string, std::string> raw;
  std::string nulls;
  for (const auto& c : t.configs) {
    if (!c.value) {
      nulls += (nulls.empty() ? "" : ",") + c.name;
      continue;
    }
    raw[c.name] = *c.value;  // a key given twice: the last value wins, as in Kafka
  }
  if (!nulls.empty()) return api_error(ErrorCode::invalid_config, "Null value not supported for topic configs: " + nulls);
  try {
    return validate_topic_configs(config, raw);
  } catch (const TopicConfigError& e) {
    return api_error(ErrorCode::invalid_config, e.what());
  }
}

}  // namespace

asio::awaitable<CreateTopicsHandler::Response> CreateTopicsHandler::handle(RequestContext& ctx, Request& req) {
  Broker& broker = ctx.broker;
  const Config& config = broker.config;
  co_await refresh_topics(broker, true);

  std::map<std::string, int> occurrences;
  for (const auto& t : req.topics) ++occurrences[t.name];

  Response resp;
  std::set<std::string> answered;
  bool created_any = false;
  for (const Topic& t : req.topics) {
    if (!answered.insert(t.name).second) continue;  // one answer per name
    Result& r = resp.topics.emplace_back();
    r.name = t.name;
    r.configs.emplace();
    auto fail = [&](const ApiError& e) {
      r.error_code = e.wire_code();
      r.error_message = e.message;
    };

    if (occurrences[t.name] > 1) {
      fail(api_error(ErrorCode::invalid_request, "Duplicate topic name."));
      continue;
    }
    if (auto why = invalid_topic_name_reason(t.name)) {
      fail(api_error(ErrorCode::invalid_topic_exception, *why));
      continue;
    }
    if (auto why = reserved_name_reason(t.name)) {
      fail(api_error(ErrorCode::invalid_request, *why));
      continue;
    }
    if (broker.topics->find(t.name)) {
      fail(api_error(ErrorCode::topic_already_exists, "Topic '" + t.name + "' already exists."));
      continue;
    }
    if (std::string other = colliding_topic(*broker.topics, t.name); !other.empty()) {
      fail(api_error(ErrorCode::invalid_topic_exception,
                     "Topic '" + t.name + "' collides with existing topic: " + other));
      continue;
    }
    auto configs = plan_configs(config, t);
    if (auto* e = std::get_if<ApiError>(&configs)) {
      fail(*e);
      continue;
    }
    auto layout = plan_layout(config, t);
    if (auto* e = std::get_if<ApiError>(&layout)) {
      fail(*e);
      continue;
    }
    Plan plan = std::get<Plan>(std::move(layout));
    plan.configs = std::get<0>(std::move(configs));

    std::optional<meta::Topic> created;
    if (!req.validate_only) {
      const int32_t partitions = plan.partitions;
      const auto& topic_configs = plan.configs;
      ApiError e = co_await call_meta(broker, "create topic " + t.name, [&] {
        created = broker.meta->create_topic(t.name, partitions, topic_configs);
      });
      if (e.code == ErrorCode::topic_already_exists) e.message = "Topic '" + t.name + "' already exists.";
      if (!e.ok()) {
        fail(e);
        continue;
      }
      created_any = true;
      FLOE_LOG(info, "admin") << "created topic " << t.name << " (" << created->id.to_string() << ") with "
                              << plan.partitions << " partition(s)";
      for (const auto& key : ignored_topic_configs(plan.configs)) {
        FLOE_LOG(warn, "admin") << "topic " << t.name << ": " << key << "=" << plan.configs.at(key)
                                << " accepted and ignored: floe keeps all data in object storage";
      }
      r.topic_id = created->id;
    }
    // v5+: what the topic looks like, as Kafka answers when the caller may
    // describe its configs (floe has no authorizer: always).
    r.num_partitions = plan.partitions;
    r.replication_factor = plan.replication_factor;
    for (const auto& c : resolve_topic_configs(config, plan.configs)) {
      auto& out = r.configs->emplace_back();
      out.name = std::string(c.key->name);
      out.value = c.value;
      out.read_only = false;
      out.config_source = static_cast<int8_t>(c.source);
      out.is_sensitive = false;
    }
  }
  if (created_any) co_await refresh_topics(broker, true);
  co_return resp;
}

}  // namespace floe::broker
