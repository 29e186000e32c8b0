// Kafka's topic configuration keys: names, types, defaults, validation, the
// broker settings they fall back to, and the effective values the write path,
// the read path and the maintenance jobs act on.
//
// A topic stores only the keys set on it (meta::Topic::configs), in canonical
// text (validate_topic_config() output). Everything else resolves, as in
// Kafka, topic override > broker setting > Kafka's default. floe's Config has
// only a few of Kafka's broker-level synonyms (message.max.bytes,
// log.retention.ms, log.retention.bytes, and the ignored log.local.retention.*);
// for the others the broker level is Kafka's default.
//
// Kafka tiered-storage keys (remote.storage.enable, local.retention.ms,
// local.retention.bytes) are validated, stored and described like any other
// key, and otherwise ignored: all floe data is already in object storage.
//
// Everything here is pure and thread-safe: the table is constant.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "broker/config.h"
#include "meta/meta_store.h"
#include "protocol/compression.h"

namespace floe::broker {

// A topic config key's type, numbered as DescribeConfigs' ConfigType.
enum class TopicConfigType : int8_t { boolean = 1, string = 2, int32 = 3, int64 = 5, float64 = 6, list = 7 };

std::string_view to_string(TopicConfigType type);  // "BOOLEAN", "STRING", "INT", "LONG", "DOUBLE", "LIST"

// DescribeConfigs' ConfigSource codes that topic configs use.
enum class TopicConfigSource : int8_t { topic = 1, static_broker = 4, default_value = 5 };

// A bad key or value. The message is meant for the client (INVALID_CONFIG)
// and follows Kafka's wording ("Unknown topic config name: x", "Invalid value
// abc for configuration retention.ms: Not a number of type LONG").
class TopicConfigError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

struct TopicConfigKey {
  std::string_view name{};
  TopicConfigType type = TopicConfigType::string;
  std::string_view default_value{};  // Kafka's default, in canonical text
  // The broker setting a topic without an override falls back to ("" when
  // Kafka has none), e.g. log.retention.ms for retention.ms.
  std::string_view broker_synonym{};
  // Inclusive range of int32 / int64 keys, and of float64 keys.
  int64_t min = INT64_MIN;
  int64_t max = INT64_MAX;
  double float_min = -1e300;
  double float_max = 1e300;
  // The allowed values of a string key, or of each item of a list key; empty
  // for any value.
  std::span<const std::string_view> allowed{};
  bool ignored = false;  // accepted for Kafka compatibility, no effect in floe
  std::string_view doc{};  // floe's own one-line description
  // An extra check of a list value (already split and trimmed): why it is
  // bad, or nullopt.
  std::optional<std::string> (*check)(const std::vector<std::string>& items) = nullptr;
};

// Every topic config key, sorted by name.
std::span<const TopicConfigKey> topic_config_keys();

// The key called `name`, or nullptr.
const TopicConfigKey* find_topic_config_key(std::string_view name);

// Checks one value and returns it in canonical text: trimmed, booleans in
// lower case, list items trimmed and joined with ",", numbers without
// leading '+' or zeros. Throws TopicConfigError for an unknown key or a bad
// value.
std::string validate_topic_config(std::string_view name, std::string_view value);

// Checks a full set of topic overrides (every key and value, and the
// relations between keys, such as min.compaction.lag.ms <= max.compaction.lag.ms)
// and returns them in canonical text. Throws TopicConfigError.
std::map<std::string, std::string> validate_topic_configs(const Config& config,
                                                          const std::map<std::string, std::string>& overrides);

// The keys in `overrides` that floe accepts but ignores (tiered storage).
std::vector<std::string> ignored_topic_configs(const std::map<std::string, std::string>& overrides);

// One value as DescribeConfigs reports it.
struct TopicConfigSynonym {
  std::string name;
  std::string value;
  TopicConfigSource source = TopicConfigSource::default_value;
  bool operator==(const TopicConfigSynonym&) const = default;
};

struct ResolvedTopicConfig {
  const TopicConfigKey* key = nullptr;
  std::string value;  // effective, canonical
  TopicConfigSource source = TopicConfigSource::default_value;
  // Kafka's order: the topic override (if set), the broker setting (if set
  // at start-up), then the default under the broker synonym's name. Keys
  // without a broker synonym list only their override.
  std::vector<TopicConfigSynonym> synonyms;
};

// The effective value of one key for a topic with `overrides`.
ResolvedTopicConfig resolve_topic_config(const Config& config, const TopicConfigKey& key,
                                         const std::map<std::string, std::string>& overrides);

// Every key, sorted by name.
std::vector<ResolvedTopicConfig> resolve_topic_configs(const Config& config,
                                                       const std::map<std::string, std::string>& overrides);

// The value a topic gets for `key` when it has no override: the broker
// setting or Kafka's default.
std::string broker_level_value(const Config& config, const TopicConfigKey& key);

// What the data path needs, typed.
struct TopicSettings {
  int32_t max_message_bytes = 1048588;
  bool log_append_time = false;  // message.timestamp.type=LogAppendTime
  std::optional<protocol::Compression> compression;  // nullopt: keep the producer's
  // Records may be at most this far before / after the broker's clock.
  int64_t timestamp_before_max_ms = INT64_MAX;
  int64_t timestamp_after_max_ms = INT64_MAX;
  int64_t retention_ms = 604800000;  // -1: forever
  int64_t retention_bytes = -1;      // < 0: no limit
  bool compact = false;              // cleanup.policy has compact
  bool delete_policy = true;         // cleanup.policy has delete: retention applies
};

// Resolves the settings of `topic`. Never throws: an override that does not
// parse (written by another floe version) falls back to the broker level.
TopicSettings effective_settings(const Config& config, const meta::Topic& topic);

}  // namespace floe::broker
