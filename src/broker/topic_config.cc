#include "broker/topic_config.h"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cmath>
#include <limits>

namespace floe::broker {

namespace {

constexpr std::string_view kLongMax = "9223372036854775807";

constexpr std::string_view kCleanupPolicies[] = {"compact", "delete"};
constexpr std::string_view kCompressionTypes[] = {"uncompressed", "zstd", "lz4", "snappy", "gzip", "producer"};
constexpr std::string_view kTimestampTypes[] = {"CreateTime", "LogAppendTime"};

constexpr std::string_view kTieredDoc =
    "Kafka tiered storage. Accepted and stored; no effect in floe, whose data is all in object storage.";

// Kafka's ThrottledReplicaListValidator: "*" or partition:broker pairs.
std::optional<std::string> check_throttled_replicas(const std::vector<std::string>& items) {
  if (items.size() == 1 && items[0] == "*") return std::nullopt;
  for (const std::string& item : items) {
    size_t colon = item.find(':');
    auto digits = [](std::string_view s) {
      return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
    };
    bool ok = item.empty() || (colon != std::string::npos && digits(std::string_view(item).substr(0, colon)) &&
                               digits(std::string_view(item).substr(colon + 1)));
    if (!ok) {
      return "must be the literal '*' or a list of replicas in the following format: "
             "[partitionId]:[brokerId],[partitionId]:[brokerId],...";
    }
  }
  return std::nullopt;
}

std::optional<std::string> check_cleanup_policy(const std::vector<std::string>& items) {
  // Kafka 3.x lets an empty list through, which leaves a topic that is neither
  // deleted nor compacted; floe refuses it rather than keep data forever by
  // accident (retention.ms=-1 says that explicitly).
  if (items.empty()) return "must be delete, compact or compact,delete";
  return std::nullopt;
}

using T = TopicConfigType;

// Sorted by name; topic_config_test.cc checks the order.
const TopicConfigKey kKeys[] = {
    {.name = "cleanup.policy", .type = T::list, .default_value = "delete", .broker_synonym = "log.cleanup.policy",
     .allowed = kCleanupPolicies,
     .doc = "delete: old data is removed by retention.ms/retention.bytes; compact: only the latest record "
            "of each key is kept; both: compaction and retention.",
     .check = check_cleanup_policy},
    {.name = "compression.type", .type = T::string, .default_value = "producer",
     .broker_synonym = "compression.type", .allowed = kCompressionTypes,
     .doc = "The codec batches are stored with; producer keeps whatever the producer used."},
    {.name = "delete.retention.ms", .type = T::int64, .default_value = "86400000",
     .broker_synonym = "log.cleaner.delete.retention.ms", .min = 0,
     .doc = "How long compaction keeps tombstones (records with a null value)."},
    {.name = "file.delete.delay.ms", .type = T::int64, .default_value = "60000",
     .broker_synonym = "log.segment.delete.delay.ms", .min = 0,
     .doc = "Kafka's delay before deleting a segment file. Accepted; floe's garbage collection has its own delay."},
    {.name = "flush.messages", .type = T::int64, .default_value = kLongMax,
     .broker_synonym = "log.flush.interval.messages", .min = 1,
     .doc = "Kafka's fsync interval in messages. Accepted; floe acknowledges only what object storage holds."},
    {.name = "flush.ms", .type = T::int64, .default_value = kLongMax, .broker_synonym = "log.flush.interval.ms",
     .min = 0,
     .doc = "Kafka's fsync interval in milliseconds. Accepted; floe acknowledges only what object storage holds."},
    {.name = "follower.replication.throttled.replicas", .type = T::list, .default_value = "",
     .doc = "Kafka replication throttling. Accepted; floe does not replicate between brokers.",
     .check = check_throttled_replicas},
    {.name = "index.interval.bytes", .type = T::int32, .default_value = "4096",
     .broker_synonym = "log.index.interval.bytes", .min = 0,
     .doc = "Kafka's offset index density. Accepted; floe indexes every batch in its metadata store."},
    {.name = "leader.replication.throttled.replicas", .type = T::list, .default_value = "",
     .doc = "Kafka replication throttling. Accepted; floe does not replicate between brokers.",
     .check = check_throttled_replicas},
    {.name = "local.retention.bytes", .type = T::int64, .default_value = "-2",
     .broker_synonym = "log.local.retention.bytes", .min = -2, .ignored = true, .doc = kTieredDoc},
    {.name = "local.retention.ms", .type = T::int64, .default_value = "-2",
     .broker_synonym = "log.local.retention.ms", .min = -2, .ignored = true, .doc = kTieredDoc},
    {.name = "max.compaction.lag.ms", .type = T::int64, .default_value = kLongMax,
     .broker_synonym = "log.cleaner.max.compaction.lag.ms", .min = 1,
     .doc = "The longest a record may stay uncompacted in a compacted topic."},
    {.name = "max.message.bytes", .type = T::int32, .default_value = "1048588",
     .broker_synonym = "message.max.bytes", .min = 0,
     .doc = "The largest record batch, in bytes, the topic accepts."},
    {.name = "message.downconversion.enable", .type = T::boolean, .default_value = "true",
     .broker_synonym = "log.message.downconversion.enable",
     .doc = "Kafka's down-conversion for old consumers. Accepted; floe serves record batch v2 only."},
    {.name = "message.timestamp.after.max.ms", .type = T::int64, .default_value = kLongMax,
     .broker_synonym = "log.message.timestamp.after.max.ms", .min = 0,
     .doc = "How far after the broker's clock a CreateTime timestamp may be."},
    {.name = "message.timestamp.before.max.ms", .type = T::int64, .default_value = kLongMax,
     .broker_synonym = "log.message.timestamp.before.max.ms", .min = 0,
     .doc = "How far before the broker's clock a CreateTime timestamp may be."},
    {.name = "message.timestamp.difference.max.ms", .type = T::int64, .default_value = kLongMax,
     .broker_synonym = "log.message.timestamp.difference.max.ms", .min = 0,
     .doc = "Both limits at once, for whichever of the before/after keys is left at its default (deprecated "
            "in Kafka)."},
    {.name = "message.timestamp.type", .type = T::string, .default_value = "CreateTime",
     .broker_synonym = "log.message.timestamp.type", .allowed = kTimestampTypes,
     .doc = "CreateTime keeps the producer's timestamps; LogAppendTime replaces them with the broker's clock."},
    {.name = "min.cleanable.dirty.ratio", .type = T::float64, .default_value = "0.5",
     .broker_synonym = "log.cleaner.min.cleanable.ratio", .float_min = 0, .float_max = 1,
     .doc = "The share of uncompacted data that makes a compacted partition due for compaction."},
    {.name = "min.compaction.lag.ms", .type = T::int64, .default_value = "0",
     .broker_synonym = "log.cleaner.min.compaction.lag.ms", .min = 0,
     .doc = "The shortest time a record stays uncompacted in a compacted topic."},
    {.name = "min.insync.replicas", .type = T::int32, .default_value = "1", .broker_synonym = "min.insync.replicas",
     .min = 1,
     .doc = "Kafka's acks=all replica count. Accepted; floe acknowledges only what object storage holds."},
    {.name = "preallocate", .type = T::boolean, .default_value = "false", .broker_synonym = "log.preallocate",
     .doc = "Kafka's segment file preallocation. Accepted; floe has no segment files."},
    {.name = "remote.storage.enable", .type = T::boolean, .default_value = "false", .ignored = true,
     .doc = kTieredDoc},
    {.name = "retention.bytes", .type = T::int64, .default_value = "-1", .broker_synonym = "log.retention.bytes",
     .doc = "The most bytes a partition keeps before its oldest data is deleted; negative: no limit."},
    {.name = "retention.ms", .type = T::int64, .default_value = "604800000", .broker_synonym = "log.retention.ms",
     .min = -1, .doc = "How long data is kept before it is deleted; -1: forever."},
    {.name = "segment.bytes", .type = T::int32, .default_value = "1073741824", .broker_synonym = "log.segment.bytes",
     .min = 14, .doc = "Kafka's segment file size. Accepted; floe sizes its objects by wal.object.max.bytes."},
    {.name = "segment.index.bytes", .type = T::int32, .default_value = "10485760",
     .broker_synonym = "log.index.size.max.bytes", .min = 4,
     .doc = "Kafka's offset index size. Accepted; floe indexes batches in its metadata store."},
    {.name = "segment.jitter.ms", .type = T::int64, .default_value = "0", .broker_synonym = "log.roll.jitter.ms",
     .min = 0, .doc = "Kafka's segment roll jitter. Accepted; floe has no segment files."},
    {.name = "segment.ms", .type = T::int64, .default_value = "604800000", .broker_synonym = "log.roll.ms", .min = 1,
     .doc = "Kafka's segment roll time. Accepted; floe seals objects by wal.linger.ms."},
    {.name = "unclean.leader.election.enable", .type = T::boolean, .default_value = "false",
     .broker_synonym = "unclean.leader.election.enable",
     .doc = "Kafka's unclean leader election. Accepted; floe has no replicas to elect from."},
};

// Java's String.trim(): every char <= ' ' at either end.
std::string_view trim(std::string_view s) {
  size_t b = 0, e = s.size();
  while (b < e && static_cast<unsigned char>(s[b]) <= ' ') ++b;
  while (e > b && static_cast<unsigned char>(s[e - 1]) <= ' ') --e;
  return s.substr(b, e - b);
}

// Java's Long.parseLong: an optional sign, then decimal digits only.
std::optional<int64_t> parse_int64(std::string_view s) {
  if (!s.empty() && s[0] == '+') {
    s.remove_prefix(1);
    if (!s.empty() && s[0] == '-') return std::nullopt;
  }
  int64_t v = 0;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (s.empty() || ec != std::errc() || p != s.data() + s.size()) return std::nullopt;
  return v;
}

std::optional<double> parse_double(std::string_view s) {
  if (!s.empty() && s[0] == '+') s.remove_prefix(1);
  double v = 0;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (s.empty() || ec != std::errc() || p != s.data() + s.size() || !std::isfinite(v)) return std::nullopt;
  return v;
}

std::string double_text(double v) {
  char buf[64];
  auto [p, ec] = std::to_chars(buf, buf + sizeof buf, v);
  std::string out(buf, p);
  if (out.find_first_of(".e") == std::string::npos) out += ".0";  // as Java prints 1.0
  return out;
}

std::vector<std::string> split_list(std::string_view s) {
  std::vector<std::string> items;
  s = trim(s);
  if (s.empty()) return items;
  size_t start = 0;
  while (true) {
    size_t comma = s.find(',', start);
    items.emplace_back(trim(s.substr(start, comma == std::string_view::npos ? comma : comma - start)));
    if (comma == std::string_view::npos) return items;
    start = comma + 1;
  }
}

std::string join(const std::vector<std::string>& items, std::string_view sep = ",") {
  std::string out;
  for (size_t i = 0; i < items.size(); ++i) {
    if (i) out += sep;
    out += items[i];
  }
  return out;
}

std::string join_allowed(std::span<const std::string_view> allowed) {
  std::string out;
  for (size_t i = 0; i < allowed.size(); ++i) {
    if (i) out += ", ";
    out += allowed[i];
  }
  return out;
}

bool is_allowed(std::span<const std::string_view> allowed, std::string_view v) {
  return allowed.empty() || std::find(allowed.begin(), allowed.end(), v) != allowed.end();
}

[[noreturn]] void invalid(const TopicConfigKey& key, std::string_view value, std::string_view why) {
  throw TopicConfigError("Invalid value " + std::string(value) + " for configuration " + std::string(key.name) +
                         ": " + std::string(why));
}

std::string canonical(const TopicConfigKey& key, std::string_view raw) {
  std::string_view v = trim(raw);
  switch (key.type) {
    case T::boolean: {
      std::string lower(v);
      for (char& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      if (lower != "true" && lower != "false") invalid(key, v, "Expected value to be either true or false");
      return lower;
    }
    case T::string:
      if (!is_allowed(key.allowed, v)) invalid(key, v, "String must be one of: " + join_allowed(key.allowed));
      return std::string(v);
    case T::int32:
    case T::int64: {
      std::optional<int64_t> n = parse_int64(v);
      if (!n || (key.type == T::int32 && (*n < INT32_MIN || *n > INT32_MAX))) {
        invalid(key, v, key.type == T::int32 ? "Not a number of type INT" : "Not a number of type LONG");
      }
      if (*n < key.min) invalid(key, v, "Value must be at least " + std::to_string(key.min));
      if (*n > key.max) invalid(key, v, "Value must be no more than " + std::to_string(key.max));
      return std::to_string(*n);
    }
    case T::float64: {
      std::optional<double> d = parse_double(v);
      if (!d) invalid(key, v, "Not a number of type DOUBLE");
      if (*d < key.float_min) invalid(key, v, "Value must be at least " + double_text(key.float_min));
      if (*d > key.float_max) invalid(key, v, "Value must be no more than " + double_text(key.float_max));
      return double_text(*d);
    }
    case T::list: {
      std::vector<std::string> items = split_list(v);
      for (const std::string& item : items) {
        if (!is_allowed(key.allowed, item)) {
          invalid(key, join(items), "String must be one of: " + join_allowed(key.allowed));
        }
      }
      if (key.check) {
        if (auto why = key.check(items)) invalid(key, join(items), *why);
      }
      return join(items);
    }
  }
  return std::string(v);
}

// The broker's value for a key from floe's Config, when floe has that
// broker setting: its canonical text and whether it was set at start-up.
// nullopt when floe has no such setting or its value does not fit the topic
// key (it never should: the broker checked it with the same range).
struct BrokerValue {
  std::string text;
  bool set_at_startup = false;
};

std::optional<BrokerValue> broker_value(const Config& config, const TopicConfigKey& key) {
  if (key.broker_synonym.empty()) return std::nullopt;
  auto it = config.values.find(key.broker_synonym);
  if (it == config.values.end() || !it->second.value) return std::nullopt;
  try {
    return BrokerValue{canonical(key, *it->second.value), it->second.source != ConfigSource::default_value};
  } catch (const TopicConfigError&) {
    return std::nullopt;
  }
}

// The value of `name` for a topic: its override if it parses, else the
// broker level. For the data path, which must not throw.
std::string value_of(const Config& config, const std::map<std::string, std::string>& overrides,
                     std::string_view name) {
  const TopicConfigKey* key = find_topic_config_key(name);
  auto it = overrides.find(std::string(name));
  if (it != overrides.end()) {
    try {
      return canonical(*key, it->second);
    } catch (const TopicConfigError&) {
    }
  }
  return broker_level_value(config, *key);
}

int64_t int_value(const Config& config, const std::map<std::string, std::string>& overrides, std::string_view name) {
  return *parse_int64(value_of(config, overrides, name));
}

}  // namespace

std::string_view to_string(TopicConfigType type) {
  switch (type) {
    case T::boolean: return "BOOLEAN";
    case T::string: return "STRING";
    case T::int32: return "INT";
    case T::int64: return "LONG";
    case T::float64: return "DOUBLE";
    case T::list: return "LIST";
  }
  return "UNKNOWN";
}

std::span<const TopicConfigKey> topic_config_keys() { return kKeys; }

const TopicConfigKey* find_topic_config_key(std::string_view name) {
  auto it = std::lower_bound(std::begin(kKeys), std::end(kKeys), name,
                             [](const TopicConfigKey& k, std::string_view n) { return k.name < n; });
  if (it == std::end(kKeys) || it->name != name) return nullptr;
  return &*it;
}

std::string validate_topic_config(std::string_view name, std::string_view value) {
  const TopicConfigKey* key = find_topic_config_key(name);
  if (!key) throw TopicConfigError("Unknown topic config name: " + std::string(name));
  return canonical(*key, value);
}

std::map<std::string, std::string> validate_topic_configs(const Config& config,
                                                          const std::map<std::string, std::string>& overrides) {
  std::map<std::string, std::string> out;
  for (const auto& [name, value] : overrides) out.emplace(name, validate_topic_config(name, value));
  int64_t min_lag = int_value(config, out, "min.compaction.lag.ms");
  int64_t max_lag = int_value(config, out, "max.compaction.lag.ms");
  if (min_lag > max_lag) {
    throw TopicConfigError("conflict topic config setting min.compaction.lag.ms (" + std::to_string(min_lag) +
                           ") > max.compaction.lag.ms (" + std::to_string(max_lag) + ")");
  }
  return out;
}

std::vector<std::string> ignored_topic_configs(const std::map<std::string, std::string>& overrides) {
  std::vector<std::string> out;
  for (const auto& [name, value] : overrides) {
    const TopicConfigKey* key = find_topic_config_key(name);
    if (key && key->ignored) out.push_back(name);
  }
  return out;
}

std::string broker_level_value(const Config& config, const TopicConfigKey& key) {
  if (auto b = broker_value(config, key)) return b->text;
  return std::string(key.default_value);
}

ResolvedTopicConfig resolve_topic_config(const Config& config, const TopicConfigKey& key,
                                         const std::map<std::string, std::string>& overrides) {
  ResolvedTopicConfig r;
  r.key = &key;
  auto it = overrides.find(std::string(key.name));
  if (it != overrides.end()) {
    std::string text;
    try {
      text = canonical(key, it->second);
    } catch (const TopicConfigError&) {
      text = it->second;  // shown as stored; the data path uses the broker level
    }
    r.synonyms.push_back({std::string(key.name), std::move(text), TopicConfigSource::topic});
  }
  if (!key.broker_synonym.empty()) {
    std::optional<BrokerValue> b = broker_value(config, key);
    if (b && b->set_at_startup) {
      r.synonyms.push_back({std::string(key.broker_synonym), b->text, TopicConfigSource::static_broker});
    }
    // The default under the broker setting's name, as Kafka lists it. floe's
    // own broker keys carry their own default (the same as Kafka's).
    std::string def(key.default_value);
    if (const ConfigKey* ck = find_config_key(key.broker_synonym); ck && ck->default_value) {
      try {
        def = canonical(key, *ck->default_value);
      } catch (const TopicConfigError&) {
      }
    }
    r.synonyms.push_back({std::string(key.broker_synonym), std::move(def), TopicConfigSource::default_value});
  }
  if (r.synonyms.empty()) {
    r.value = std::string(key.default_value);
    r.source = TopicConfigSource::default_value;
  } else {
    r.value = r.synonyms.front().value;
    r.source = r.synonyms.front().source;
  }
  return r;
}

std::vector<ResolvedTopicConfig> resolve_topic_configs(const Config& config,
                                                       const std::map<std::string, std::string>& overrides) {
  std::vector<ResolvedTopicConfig> out;
  out.reserve(std::size(kKeys));
  for (const TopicConfigKey& key : kKeys) out.push_back(resolve_topic_config(config, key, overrides));
  return out;
}

TopicSettings effective_settings(const Config& config, const meta::Topic& topic) {
  const auto& o = topic.configs;
  TopicSettings s;
  // The keys floe's Config has come from its typed fields.
  auto override_int = [&](std::string_view name, int64_t fallback) {
    auto it = o.find(std::string(name));
    if (it == o.end()) return fallback;
    try {
      return *parse_int64(canonical(*find_topic_config_key(name), it->second));
    } catch (const TopicConfigError&) {
      return fallback;
    }
  };
  s.max_message_bytes = static_cast<int32_t>(override_int("max.message.bytes", config.message_max_bytes));
  s.retention_ms = override_int("retention.ms", config.log_retention_ms);
  s.retention_bytes = override_int("retention.bytes", config.log_retention_bytes);

  s.log_append_time = value_of(config, o, "message.timestamp.type") == "LogAppendTime";
  std::string codec = value_of(config, o, "compression.type");
  if (codec == "producer") {
    s.compression = std::nullopt;
  } else if (codec == "uncompressed") {
    s.compression = protocol::Compression::none;
  } else {
    s.compression = protocol::compression_from_name(codec);
  }
  // Kafka's rule: a before/after limit left at Long.MAX_VALUE takes
  // message.timestamp.difference.max.ms.
  const int64_t difference = int_value(config, o, "message.timestamp.difference.max.ms");
  const int64_t before = int_value(config, o, "message.timestamp.before.max.ms");
  const int64_t after = int_value(config, o, "message.timestamp.after.max.ms");
  s.timestamp_before_max_ms = before != INT64_MAX ? before : difference;
  s.timestamp_after_max_ms = after != INT64_MAX ? after : difference;
  std::vector<std::string> policy = split_list(value_of(config, o, "cleanup.policy"));
  s.compact = std::find(policy.begin(), policy.end(), "compact") != policy.end();
  s.delete_policy = std::find(policy.begin(), policy.end(), "delete") != policy.end();
  return s;
}

}  // namespace floe::broker
