// What the topic and config administration handlers share: Kafka's resource
// types, an error with its message, and metadata-store calls that turn
// failures into error codes.
#pragma once

#include <asio/awaitable.hpp>
#include <map>
#include <memory>
#include <set>
#include <vector>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

#include "broker/broker.h"
#include "common/blocking.h"
#include "common/log.h"
#include "meta/meta_store.h"
#include "protocol/generated/error_codes.h"

namespace floe::broker {

// Kafka's ConfigResource.Type codes.
enum class ResourceType : int8_t {
  unknown = 0, topic = 2, broker = 4, broker_logger = 8, client_metrics = 16, group = 32,
};

// A per-topic or per-resource outcome: Kafka's ApiError.
struct ApiError {
  protocol::ErrorCode code = protocol::ErrorCode::none;
  std::optional<std::string> message;

  bool ok() const { return code == protocol::ErrorCode::none; }
  int16_t wire_code() const { return protocol::code(code); }
};

inline ApiError api_error(protocol::ErrorCode code, std::string message) { return {code, std::move(message)}; }

inline std::string topic_does_not_exist(std::string_view name) {
  return "Topic '" + std::string(name) + "' does not exist.";
}

// Runs `f` (which calls the metadata store) on the blocking pool. A MetaError
// becomes its code and message; any other failure (I/O, corruption) is
// logged and becomes UNKNOWN_SERVER_ERROR, so that the client gets an answer
// rather than a closed connection. `what` says what was attempted, for the log.
template <typename F>
asio::awaitable<ApiError> call_meta(Broker& broker, std::string what, F f) {
  try {
    co_await run_blocking(*broker.blocking, std::move(f));
    co_return ApiError{};
  } catch (const meta::MetaError& e) {
    co_return ApiError{e.code(), e.what()};
  } catch (const std::exception& e) {
    FLOE_LOG(error, "admin") << "cannot " << what << ": " << e.what();
    co_return ApiError{protocol::ErrorCode::unknown_server_error,
                       "The metadata store failed; the broker log has the details."};
  }
}

// --- AlterConfigs and IncrementalAlterConfigs ----------------------------

// Kafka's name for a resource type code ("TOPIC", "BROKER", ...), or nullopt
// for a code Kafka does not know (answered UNSUPPORTED_VERSION).
std::optional<std::string_view> resource_type_name(int8_t type);

// The topic a TOPIC config resource names, or why it cannot be altered.
struct ConfigTopic {
  std::shared_ptr<const meta::Topic> topic;
  ApiError error;
};
ConfigTopic find_config_topic(Broker& broker, const std::string& name);

// The answer to altering a resource that is not a topic: floe has no dynamic
// broker configs (a broker's settings come from its config file and command
// line) and no logger, group or client-metrics configs.
ApiError refuse_non_topic_alter(const Broker& broker, int8_t type, const std::string& name);

// "Error due to duplicate config keys" when a name appears twice.
std::optional<ApiError> duplicate_keys(const std::vector<std::string>& names);

// Makes `wanted` (raw values) the complete set of overrides of `topic`:
// validates it (INVALID_CONFIG), and unless validate_only writes the
// difference to the store, logs ignored tiered-storage keys and reloads the
// topic cache.
asio::awaitable<ApiError> replace_topic_configs(Broker& broker, const meta::Topic& topic,
                                                const std::map<std::string, std::string>& wanted,
                                                bool validate_only);

// Brings the topic cache up to date before an administrative request looks
// at it (reload: ask the store now, else at most once a second). A store
// failure is logged and the cached view is used.
asio::awaitable<void> refresh_topics(Broker& broker, bool reload);

// The resource loop AlterConfigs and IncrementalAlterConfigs share: each
// distinct resource is answered once; an unknown resource type or a resource
// named twice gets Kafka's error; `body(resource)` (an awaitable<ApiError>)
// decides the rest.
template <typename Response, typename Request, typename Body>
asio::awaitable<Response> alter_each_resource(Broker& broker, const Request& req, Body body) {
  co_await refresh_topics(broker, true);
  std::map<std::pair<int8_t, std::string>, int> occurrences;
  for (const auto& res : req.resources) ++occurrences[{res.resource_type, res.resource_name}];
  Response resp;
  std::set<std::pair<int8_t, std::string>> answered;
  for (const auto& res : req.resources) {
    if (!answered.insert({res.resource_type, res.resource_name}).second) continue;  // duplicates: one answer
    auto& r = resp.responses.emplace_back();
    r.resource_type = res.resource_type;
    r.resource_name = res.resource_name;
    ApiError e;
    if (!resource_type_name(res.resource_type)) {
      e = api_error(protocol::ErrorCode::unsupported_version,
                    "Unknown resource type " + std::to_string(res.resource_type) + ".");
    } else if (occurrences[{res.resource_type, res.resource_name}] > 1) {
      e = api_error(protocol::ErrorCode::invalid_request, "Duplicate resource.");
    } else {
      e = co_await body(res);
    }
    r.error_code = e.wire_code();
    r.error_message = e.message;
  }
  co_return resp;
}

}  // namespace floe::broker
