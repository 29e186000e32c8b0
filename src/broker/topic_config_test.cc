#include "broker/topic_config.h"

#include <gtest/gtest.h>

#include <set>

namespace floe::broker {
namespace {

std::string error_of(std::string_view key, std::string_view value) {
  try {
    validate_topic_config(key, value);
  } catch (const TopicConfigError& e) {
    return e.what();
  }
  ADD_FAILURE() << "expected " << key << "=" << value << " to be refused";
  return {};
}

meta::Topic topic_with(std::map<std::string, std::string> configs) {
  meta::Topic t;
  t.name = "t";
  t.partitions = 1;
  t.configs = std::move(configs);
  return t;
}

TEST(TopicConfig, TableIsSortedUniqueAndDefaultsAreValid) {
  auto keys = topic_config_keys();
  for (size_t i = 1; i < keys.size(); ++i) EXPECT_LT(keys[i - 1].name, keys[i].name);
  for (const auto& k : keys) {
    EXPECT_EQ(find_topic_config_key(k.name), &k);
    EXPECT_EQ(validate_topic_config(k.name, k.default_value), k.default_value) << k.name;
    EXPECT_FALSE(k.doc.empty()) << k.name;
  }
  EXPECT_EQ(find_topic_config_key("retention.hours"), nullptr);
}

TEST(TopicConfig, HasEveryKafkaKeyTheBriefNames) {
  const std::set<std::string> expected = {
      "cleanup.policy", "compression.type", "retention.ms", "retention.bytes", "segment.bytes", "segment.ms",
      "max.message.bytes", "message.timestamp.type", "message.timestamp.difference.max.ms",
      "message.timestamp.before.max.ms", "message.timestamp.after.max.ms", "min.insync.replicas",
      "unclean.leader.election.enable", "delete.retention.ms", "min.compaction.lag.ms", "max.compaction.lag.ms",
      "min.cleanable.dirty.ratio", "file.delete.delay.ms", "flush.messages", "flush.ms", "index.interval.bytes",
      "segment.index.bytes", "segment.jitter.ms", "preallocate", "message.downconversion.enable",
      "follower.replication.throttled.replicas", "leader.replication.throttled.replicas",
      "remote.storage.enable", "local.retention.ms", "local.retention.bytes"};
  std::set<std::string> actual;
  for (const auto& k : topic_config_keys()) actual.emplace(k.name);
  EXPECT_EQ(actual, expected);
}

TEST(TopicConfig, KafkaDefaults) {
  auto def = [](std::string_view k) { return std::string(find_topic_config_key(k)->default_value); };
  EXPECT_EQ(def("cleanup.policy"), "delete");
  EXPECT_EQ(def("compression.type"), "producer");
  EXPECT_EQ(def("max.message.bytes"), "1048588");
  EXPECT_EQ(def("retention.ms"), "604800000");
  EXPECT_EQ(def("retention.bytes"), "-1");
  EXPECT_EQ(def("segment.bytes"), "1073741824");
  EXPECT_EQ(def("message.timestamp.type"), "CreateTime");
  EXPECT_EQ(def("message.timestamp.difference.max.ms"), "9223372036854775807");
  EXPECT_EQ(def("min.cleanable.dirty.ratio"), "0.5");
  EXPECT_EQ(def("delete.retention.ms"), "86400000");
  EXPECT_EQ(def("local.retention.ms"), "-2");
  EXPECT_EQ(def("remote.storage.enable"), "false");
  EXPECT_EQ(find_topic_config_key("cleanup.policy")->type, TopicConfigType::list);
  EXPECT_EQ(find_topic_config_key("max.message.bytes")->type, TopicConfigType::int32);
  EXPECT_EQ(find_topic_config_key("min.cleanable.dirty.ratio")->type, TopicConfigType::float64);
}

TEST(TopicConfig, BrokerSynonyms) {
  auto syn = [](std::string_view k) { return std::string(find_topic_config_key(k)->broker_synonym); };
  EXPECT_EQ(syn("retention.ms"), "log.retention.ms");
  EXPECT_EQ(syn("retention.bytes"), "log.retention.bytes");
  EXPECT_EQ(syn("max.message.bytes"), "message.max.bytes");
  EXPECT_EQ(syn("cleanup.policy"), "log.cleanup.policy");
  EXPECT_EQ(syn("message.timestamp.type"), "log.message.timestamp.type");
  EXPECT_EQ(syn("compression.type"), "compression.type");
  EXPECT_EQ(syn("segment.ms"), "log.roll.ms");
  EXPECT_EQ(syn("min.cleanable.dirty.ratio"), "log.cleaner.min.cleanable.ratio");
  EXPECT_EQ(syn("local.retention.ms"), "log.local.retention.ms");
  EXPECT_EQ(syn("remote.storage.enable"), "");
  EXPECT_EQ(syn("leader.replication.throttled.replicas"), "");
}

TEST(TopicConfig, CanonicalValues) {
  EXPECT_EQ(validate_topic_config("retention.ms", " 1000 "), "1000");
  EXPECT_EQ(validate_topic_config("retention.ms", "+1000"), "1000");
  EXPECT_EQ(validate_topic_config("retention.ms", "-1"), "-1");
  EXPECT_EQ(validate_topic_config("retention.bytes", "-7"), "-7");  // Kafka has no lower bound here
  EXPECT_EQ(validate_topic_config("preallocate", "TRUE"), "true");
  EXPECT_EQ(validate_topic_config("cleanup.policy", " compact , delete "), "compact,delete");
  EXPECT_EQ(validate_topic_config("cleanup.policy", "delete,compact"), "delete,compact");
  EXPECT_EQ(validate_topic_config("min.cleanable.dirty.ratio", "1"), "1.0");
  EXPECT_EQ(validate_topic_config("min.cleanable.dirty.ratio", "0.25"), "0.25");
  EXPECT_EQ(validate_topic_config("compression.type", "zstd"), "zstd");
  EXPECT_EQ(validate_topic_config("leader.replication.throttled.replicas", "*"), "*");
  EXPECT_EQ(validate_topic_config("leader.replication.throttled.replicas", "0:1, 1:2"), "0:1,1:2");
  EXPECT_EQ(validate_topic_config("leader.replication.throttled.replicas", ""), "");
  EXPECT_EQ(validate_topic_config("remote.storage.enable", "true"), "true");
}

TEST(TopicConfig, Validation) {
  EXPECT_EQ(error_of("retention.hours", "1"), "Unknown topic config name: retention.hours");
  EXPECT_EQ(error_of("retention.ms", "abc"), "Invalid value abc for configuration retention.ms: Not a number of type LONG");
  EXPECT_EQ(error_of("retention.ms", "-2"), "Invalid value -2 for configuration retention.ms: Value must be at least -1");
  EXPECT_EQ(error_of("max.message.bytes", "3000000000"),
            "Invalid value 3000000000 for configuration max.message.bytes: Not a number of type INT");
  EXPECT_EQ(error_of("max.message.bytes", "1.5"),
            "Invalid value 1.5 for configuration max.message.bytes: Not a number of type INT");
  EXPECT_EQ(error_of("compression.type", "brotli"),
            "Invalid value brotli for configuration compression.type: String must be one of: uncompressed, zstd, "
            "lz4, snappy, gzip, producer");
  EXPECT_EQ(error_of("compression.type", "none"),
            "Invalid value none for configuration compression.type: String must be one of: uncompressed, zstd, "
            "lz4, snappy, gzip, producer");
  EXPECT_EQ(error_of("cleanup.policy", "compact,forever"),
            "Invalid value compact,forever for configuration cleanup.policy: String must be one of: compact, delete");
  error_of("cleanup.policy", "");
  EXPECT_EQ(error_of("message.timestamp.type", "logappendtime"),
            "Invalid value logappendtime for configuration message.timestamp.type: String must be one of: "
            "CreateTime, LogAppendTime");
  EXPECT_EQ(error_of("preallocate", "yes"),
            "Invalid value yes for configuration preallocate: Expected value to be either true or false");
  EXPECT_EQ(error_of("min.cleanable.dirty.ratio", "1.5"),
            "Invalid value 1.5 for configuration min.cleanable.dirty.ratio: Value must be no more than 1.0");
  error_of("min.cleanable.dirty.ratio", "NaN");
  error_of("segment.bytes", "13");
  error_of("min.insync.replicas", "0");
  error_of("local.retention.ms", "-3");
  error_of("leader.replication.throttled.replicas", "0-1");
  error_of("retention.ms", "");
  error_of("retention.ms", "+-1");
}

TEST(TopicConfig, RelationsBetweenKeys) {
  Config c = default_config();
  EXPECT_NO_THROW(validate_topic_configs(c, {{"min.compaction.lag.ms", "10"}, {"max.compaction.lag.ms", "10"}}));
  try {
    validate_topic_configs(c, {{"min.compaction.lag.ms", "10"}, {"max.compaction.lag.ms", "5"}});
    ADD_FAILURE();
  } catch (const TopicConfigError& e) {
    EXPECT_STREQ(e.what(), "conflict topic config setting min.compaction.lag.ms (10) > max.compaction.lag.ms (5)");
  }
  auto out = validate_topic_configs(c, {{"cleanup.policy", "compact, delete"}, {"retention.ms", " 5"}});
  EXPECT_EQ(out, (std::map<std::string, std::string>{{"cleanup.policy", "compact,delete"}, {"retention.ms", "5"}}));
}

TEST(TopicConfig, IgnoredKeys) {
  EXPECT_EQ(ignored_topic_configs({{"remote.storage.enable", "true"}, {"retention.ms", "1"}, {"local.retention.ms", "5"}}),
            (std::vector<std::string>{"local.retention.ms", "remote.storage.enable"}));
}

TEST(TopicConfig, ResolutionDefaultsOnly) {
  Config c = default_config();
  ResolvedTopicConfig r = resolve_topic_config(c, *find_topic_config_key("retention.ms"), {});
  EXPECT_EQ(r.value, "604800000");
  EXPECT_EQ(r.source, TopicConfigSource::default_value);
  ASSERT_EQ(r.synonyms.size(), 1u);
  EXPECT_EQ(r.synonyms[0], (TopicConfigSynonym{"log.retention.ms", "604800000", TopicConfigSource::default_value}));

  r = resolve_topic_config(c, *find_topic_config_key("cleanup.policy"), {});
  EXPECT_EQ(r.value, "delete");
  EXPECT_EQ(r.synonyms, (std::vector<TopicConfigSynonym>{{"log.cleanup.policy", "delete", TopicConfigSource::default_value}}));

  r = resolve_topic_config(c, *find_topic_config_key("remote.storage.enable"), {});
  EXPECT_EQ(r.value, "false");
  EXPECT_EQ(r.source, TopicConfigSource::default_value);
  EXPECT_TRUE(r.synonyms.empty());
}

TEST(TopicConfig, ResolutionOrderTopicThenBrokerThenDefault) {
  Config c = build_config({}, {{"log.retention.ms", "1000"}, {"message.max.bytes", "2000"}});
  ResolvedTopicConfig r = resolve_topic_config(c, *find_topic_config_key("retention.ms"), {});
  EXPECT_EQ(r.value, "1000");
  EXPECT_EQ(r.source, TopicConfigSource::static_broker);
  EXPECT_EQ(r.synonyms, (std::vector<TopicConfigSynonym>{
                            {"log.retention.ms", "1000", TopicConfigSource::static_broker},
                            {"log.retention.ms", "604800000", TopicConfigSource::default_value}}));

  r = resolve_topic_config(c, *find_topic_config_key("retention.ms"), {{"retention.ms", "5"}});
  EXPECT_EQ(r.value, "5");
  EXPECT_EQ(r.source, TopicConfigSource::topic);
  EXPECT_EQ(r.synonyms, (std::vector<TopicConfigSynonym>{
                            {"retention.ms", "5", TopicConfigSource::topic},
                            {"log.retention.ms", "1000", TopicConfigSource::static_broker},
                            {"log.retention.ms", "604800000", TopicConfigSource::default_value}}));

  r = resolve_topic_config(c, *find_topic_config_key("remote.storage.enable"), {{"remote.storage.enable", "true"}});
  EXPECT_EQ(r.value, "true");
  EXPECT_EQ(r.source, TopicConfigSource::topic);
  EXPECT_EQ(r.synonyms.size(), 1u);

  auto all = resolve_topic_configs(c, {});
  EXPECT_EQ(all.size(), topic_config_keys().size());
  EXPECT_EQ(broker_level_value(c, *find_topic_config_key("max.message.bytes")), "2000");
  EXPECT_EQ(broker_level_value(c, *find_topic_config_key("cleanup.policy")), "delete");
}

TEST(TopicConfig, BrokerTieredStorageSettingIsTheBrokerLevel) {
  Config c = build_config({}, {{"log.local.retention.ms", "100"}});
  ResolvedTopicConfig r = resolve_topic_config(c, *find_topic_config_key("local.retention.ms"), {});
  EXPECT_EQ(r.value, "100");
  EXPECT_EQ(r.source, TopicConfigSource::static_broker);
}

TEST(TopicConfig, EffectiveSettingsDefaults) {
  Config c = default_config();
  TopicSettings s = effective_settings(c, topic_with({}));
  EXPECT_EQ(s.max_message_bytes, 1048588);
  EXPECT_FALSE(s.log_append_time);
  EXPECT_EQ(s.compression, std::nullopt);
  EXPECT_EQ(s.timestamp_before_max_ms, INT64_MAX);
  EXPECT_EQ(s.timestamp_after_max_ms, INT64_MAX);
  EXPECT_EQ(s.retention_ms, 604800000);
  EXPECT_EQ(s.retention_bytes, -1);
  EXPECT_FALSE(s.compact);
  EXPECT_TRUE(s.delete_policy);
}

TEST(TopicConfig, EffectiveSettingsBrokerAndOverrides) {
  Config c = build_config({}, {{"message.max.bytes", "5000"}, {"log.retention.ms", "-1"}, {"log.retention.bytes", "99"}});
  TopicSettings s = effective_settings(c, topic_with({}));
  EXPECT_EQ(s.max_message_bytes, 5000);
  EXPECT_EQ(s.retention_ms, -1);
  EXPECT_EQ(s.retention_bytes, 99);

  s = effective_settings(c, topic_with({{"max.message.bytes", "7"},
                                        {"retention.ms", "10"},
                                        {"message.timestamp.type", "LogAppendTime"},
                                        {"compression.type", "uncompressed"},
                                        {"cleanup.policy", "compact"}}));
  EXPECT_EQ(s.max_message_bytes, 7);
  EXPECT_EQ(s.retention_ms, 10);
  EXPECT_EQ(s.retention_bytes, 99);
  EXPECT_TRUE(s.log_append_time);
  EXPECT_EQ(s.compression, protocol::Compression::none);
  EXPECT_TRUE(s.compact);
  EXPECT_FALSE(s.delete_policy);

  s = effective_settings(c, topic_with({{"compression.type", "zstd"}, {"cleanup.policy", "compact,delete"}}));
  EXPECT_EQ(s.compression, protocol::Compression::zstd);
  EXPECT_TRUE(s.compact);
  EXPECT_TRUE(s.delete_policy);
}

TEST(TopicConfig, TimestampDifferenceAppliesWhereBeforeOrAfterIsUnset) {
  Config c = default_config();
  TopicSettings s = effective_settings(c, topic_with({{"message.timestamp.difference.max.ms", "1000"}}));
  EXPECT_EQ(s.timestamp_before_max_ms, 1000);
  EXPECT_EQ(s.timestamp_after_max_ms, 1000);
  s = effective_settings(c, topic_with({{"message.timestamp.difference.max.ms", "1000"},
                                        {"message.timestamp.after.max.ms", "50"}}));
  EXPECT_EQ(s.timestamp_before_max_ms, 1000);
  EXPECT_EQ(s.timestamp_after_max_ms, 50);
  s = effective_settings(c, topic_with({{"message.timestamp.before.max.ms", "20"}}));
  EXPECT_EQ(s.timestamp_before_max_ms, 20);
  EXPECT_EQ(s.timestamp_after_max_ms, INT64_MAX);
}

TEST(TopicConfig, EffectiveSettingsIgnoreBadStoredValues) {
  Config c = default_config();
  TopicSettings s = effective_settings(c, topic_with({{"max.message.bytes", "lots"}, {"compression.type", "brotli"}}));
  EXPECT_EQ(s.max_message_bytes, 1048588);
  EXPECT_EQ(s.compression, std::nullopt);
}

}  // namespace
}  // namespace floe::broker
