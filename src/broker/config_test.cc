#include "broker/config.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <set>
#include <string>
#include <vector>

namespace floe::broker {
namespace {

namespace fs = std::filesystem;

// Runs `fn`, expects a ConfigError, and returns its message ("" if none).
template <typename Fn>
std::string error_of(Fn fn) {
  try {
    fn();
  } catch (const ConfigError& e) {
    return e.what();
  }
  ADD_FAILURE() << "expected a ConfigError";
  return {};
}

std::string cli_error(const Properties& cli) {
  return error_of([&] { build_config({}, cli); });
}

Config with(const Properties& cli) { return build_config({}, cli); }

bool contains(const std::string& haystack, std::string_view needle) {
  return haystack.find(needle) != std::string::npos;
}

#define EXPECT_CONTAINS(haystack, needle) \
  EXPECT_TRUE(contains((haystack), (needle))) << "'" << (haystack) << "' lacks '" << (needle) << "'"

// A temporary folder, removed with everything in it.
class TempDir {
 public:
  TempDir() {
    std::string tmpl = (fs::temp_directory_path() / "floe_config_test_XXXXXX").string();
    path_ = mkdtemp(tmpl.data());
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path_, ec);
  }
  std::string write(const std::string& name, const std::string& content) const {
    std::string p = (path_ / name).string();
    std::ofstream(p, std::ios::binary) << content;
    return p;
  }
  const fs::path& path() const { return path_; }

 private:
  fs::path path_;
};

// --- the key table -----------------------------------------------------------

TEST(ConfigKeysTest, NamesAndSynonymsAreUnique) {
  std::set<std::string_view> names;
  for (const ConfigKey& key : config_keys()) {
    EXPECT_TRUE(names.insert(key.name).second) << key.name;
    if (!key.synonym.empty()) {
      EXPECT_TRUE(names.insert(key.synonym).second) << key.synonym;
    }
    EXPECT_FALSE(key.help.empty()) << key.name;
  }
}

TEST(ConfigKeysTest, FieldTypesMatchKeyTypes) {
  // Keys without a field are resolved by hand in build_config().
  const std::set<std::string_view> resolved_by_hand = {
      "listeners", "advertised.listeners", "listener.security.protocol.map", "log.level"};
  for (const ConfigKey& key : config_keys()) {
    if (key.ignored || resolved_by_hand.contains(key.name)) {
      EXPECT_TRUE(std::holds_alternative<std::monostate>(key.field)) << key.name;
      continue;
    }
    switch (key.type) {
      case ConfigType::boolean:
        EXPECT_TRUE(std::holds_alternative<bool Config::*>(key.field)) << key.name;
        break;
      case ConfigType::int32:
        EXPECT_TRUE(std::holds_alternative<int32_t Config::*>(key.field)) << key.name;
        break;
      case ConfigType::int64:
        EXPECT_TRUE(std::holds_alternative<int64_t Config::*>(key.field)) << key.name;
        break;
      case ConfigType::string:
        EXPECT_TRUE(std::holds_alternative<std::string Config::*>(key.field) ||
                    std::holds_alternative<std::optional<std::string> Config::*>(key.field))
            << key.name;
        break;
    }
  }
}

TEST(ConfigKeysTest, FindsKeysBySynonym) {
  ASSERT_NE(find_config_key("broker.id"), nullptr);
  EXPECT_EQ(find_config_key("broker.id")->name, "node.id");
  EXPECT_EQ(find_config_key("node.id")->name, "node.id");
  EXPECT_EQ(find_config_key("no.such.key"), nullptr);
}

TEST(ConfigKeysTest, KafkaSourceCodes) {
  EXPECT_EQ(kafka_config_source(ConfigSource::default_value), 5);  // DEFAULT_CONFIG
  EXPECT_EQ(kafka_config_source(ConfigSource::config_file), 4);    // STATIC_BROKER_CONFIG
  EXPECT_EQ(kafka_config_source(ConfigSource::command_line), 4);
}

// --- defaults ----------------------------------------------------------------

TEST(ConfigDefaultsTest, TypedFields) {
  Config c = default_config();
  EXPECT_EQ(c.node_id, 1);
  ASSERT_EQ(c.listeners.size(), 1u);
  EXPECT_EQ(c.listeners[0], (Listener{"PLAINTEXT", "localhost", 9092}));
  EXPECT_EQ(c.advertised_listeners, c.listeners);
  EXPECT_EQ(c.broker_rack, std::nullopt);
  EXPECT_EQ(c.cluster_id, std::nullopt);
  EXPECT_EQ(c.data_dir, "./data");
  EXPECT_EQ(c.object_store, "file://./data/objects");
  EXPECT_EQ(c.metastore, "sqlite://./data/meta.db");
  EXPECT_EQ(c.log_level, LogLevel::info);
  EXPECT_EQ(c.socket_request_max_bytes, 104857600);
  EXPECT_GE(c.num_network_threads, 1);
  EXPECT_EQ(c.queued_max_requests, 10000);
  EXPECT_EQ(c.connections_max_idle_ms, 600000);
  EXPECT_TRUE(c.auto_create_topics_enable);
  EXPECT_EQ(c.num_partitions, 1);
  EXPECT_EQ(c.default_replication_factor, 1);
  EXPECT_EQ(c.message_max_bytes, 1048588);
  EXPECT_EQ(c.log_retention_ms, 604800000);
  EXPECT_EQ(c.log_retention_bytes, -1);
  EXPECT_EQ(c.wal_linger_ms, 250);
  EXPECT_EQ(c.wal_object_max_bytes, 8388608);
  EXPECT_EQ(c.wal_buffer_max_bytes, 268435456);
  EXPECT_EQ(c.cache_max_bytes, 1073741824);
  EXPECT_EQ(c.transaction_max_timeout_ms, 900000);
  EXPECT_EQ(c.group_min_session_timeout_ms, 6000);
  EXPECT_EQ(c.group_max_session_timeout_ms, 1800000);
  EXPECT_EQ(c.group_initial_rebalance_delay_ms, 3000);
  EXPECT_EQ(c.offsets_retention_minutes, 10080);
  EXPECT_EQ(c.group_max_size, 2147483647);
  EXPECT_EQ(c.offsets_retention_check_interval_ms, 600000);
  EXPECT_EQ(c.offset_metadata_max_bytes, 4096);
  EXPECT_TRUE(c.warnings.empty());
}

TEST(ConfigDefaultsTest, EveryKeyHasAValueWithDefaultSource) {
  Config c = default_config();
  EXPECT_EQ(c.values.size(), config_keys().size());
  for (const ConfigKey& key : config_keys()) {
    const ConfigValue* v = c.find_value(key.name);
    ASSERT_NE(v, nullptr) << key.name;
    EXPECT_EQ(v->source, ConfigSource::default_value) << key.name;
    if (key.default_value) {
      EXPECT_EQ(v->value, std::string(*key.default_value)) << key.name;
    }
  }
  EXPECT_EQ(c.find_value("broker.rack")->value, std::nullopt);
  EXPECT_EQ(c.find_value("advertised.listeners")->value, "PLAINTEXT://localhost:9092");
  EXPECT_EQ(c.find_value("object.store")->value, "file://./data/objects");
  EXPECT_EQ(c.find_value("num.network.threads")->value, std::to_string(c.num_network_threads));
}

TEST(ConfigDefaultsTest, DataDirDrivesEmbeddedStores) {
  Config c = with({{"data.dir", "/var/lib/floe"}});
  EXPECT_EQ(c.object_store, "file:///var/lib/floe/objects");
  EXPECT_EQ(c.metastore, "sqlite:///var/lib/floe/meta.db");
  Config trailing = with({{"data.dir", "/srv/floe/"}});
  EXPECT_EQ(trailing.object_store, "file:///srv/floe/objects");
  // Explicit URLs win over the data.dir defaults.
  Config explicit_urls = with({{"data.dir", "/srv/floe"},
                               {"object.store", "memory://"},
                               {"metastore", "postgresql://db.internal/floe"}});
  EXPECT_EQ(explicit_urls.object_store, "memory://");
  EXPECT_EQ(explicit_urls.metastore, "postgresql://db.internal/floe");
  EXPECT_EQ(with({{"object.store", "s3://bucket/prefix?region=eu-west-1"}}).object_store,
            "s3://bucket/prefix?region=eu-west-1");
}

// --- layering and sources --------------------------------------------------

TEST(ConfigLayersTest, CommandLineOverridesFileOverridesDefault) {
  Properties file = {{"node.id", "2"}, {"num.partitions", "6"}};
  Properties cli = {{"node.id", "3"}};
  Config c = build_config(file, cli, "floe.properties");
  EXPECT_EQ(c.node_id, 3);
  EXPECT_EQ(c.num_partitions, 6);
  EXPECT_EQ(c.message_max_bytes, 1048588);
  EXPECT_EQ(c.find_value("node.id")->source, ConfigSource::command_line);
  EXPECT_EQ(c.find_value("node.id")->value, "3");
  EXPECT_EQ(c.find_value("num.partitions")->source, ConfigSource::config_file);
  EXPECT_EQ(c.find_value("message.max.bytes")->source, ConfigSource::default_value);
}

TEST(ConfigLayersTest, LastValueInOneSourceWins) {
  Config c = build_config({{"num.partitions", "2"}, {"num.partitions", "4"}}, {});
  EXPECT_EQ(c.num_partitions, 4);
}

TEST(ConfigLayersTest, SynonymsAcrossSources) {
  Config c = build_config({{"broker.id", "7"}}, {});
  EXPECT_EQ(c.node_id, 7);
  EXPECT_EQ(c.find_value("broker.id")->value, "7");
  EXPECT_EQ(c.values.count("broker.id"), 0u) << "values are keyed by canonical name";
  EXPECT_EQ(build_config({{"broker.id", "7"}}, {{"node.id", "8"}}).node_id, 8);
  EXPECT_EQ(build_config({{"node.id", "7"}}, {{"broker.id", "9"}}).node_id, 9);
}

TEST(ConfigLayersTest, SynonymsWithTheSameValueAgree) {
  EXPECT_EQ(build_config({{"node.id", "5"}, {"broker.id", "5"}}, {}).node_id, 5);
}

TEST(ConfigLayersTest, SynonymsWithDifferentValuesInOneSourceAreAnError) {
  std::string msg = error_of([] { build_config({{"node.id", "5"}, {"broker.id", "6"}}, {}, "f"); });
  EXPECT_CONTAINS(msg, "node.id");
  EXPECT_CONTAINS(msg, "broker.id");
  EXPECT_CONTAINS(msg, "'5'");
  EXPECT_CONTAINS(msg, "'6'");
}

TEST(ConfigLayersTest, DataDirFlagIsCommandLineSource) {
  std::vector<std::string_view> args = {"--data-dir", "/tmp/x"};
  Config c = load_config(parse_serve_args(args));
  EXPECT_EQ(c.data_dir, "/tmp/x");
  EXPECT_EQ(c.find_value("data.dir")->source, ConfigSource::command_line);
  EXPECT_EQ(c.find_value("object.store")->source, ConfigSource::default_value);
  EXPECT_EQ(c.find_value("object.store")->value, "file:///tmp/x/objects");
}

TEST(ConfigLayersTest, LoadConfigReadsFileThenOverrides) {
  TempDir dir;
  std::string path = dir.write("floe.properties",
                               "# a broker\n"
                               "node.id=4\n"
                               "broker.rack: us-east-1a\n"
                               "auto.create.topics.enable = false\n"
                               "log.level=debug\n");
  std::vector<std::string_view> args = {"--config", path, "--node.id=5", "--log.level=WARN"};
  Config c = load_config(parse_serve_args(args));
  EXPECT_EQ(c.node_id, 5);
  EXPECT_EQ(c.broker_rack, "us-east-1a");
  EXPECT_FALSE(c.auto_create_topics_enable);
  EXPECT_EQ(c.log_level, LogLevel::warn);
  EXPECT_EQ(c.find_value("log.level")->value, "WARN");
  EXPECT_EQ(c.find_value("broker.rack")->source, ConfigSource::config_file);
  EXPECT_EQ(c.find_value("node.id")->source, ConfigSource::command_line);
}

TEST(ConfigLayersTest, EmptyValueUnsetsAnOptionalKey) {
  Config c = with({{"broker.rack", ""}});
  EXPECT_EQ(c.broker_rack, std::nullopt);
  EXPECT_EQ(c.find_value("broker.rack")->value, std::nullopt);
}

// --- properties syntax -----------------------------------------------------

TEST(PropertiesTest, CommentsSeparatorsAndWhitespace) {
  Properties p = parse_properties(
      "# comment\n"
      "! also a comment\n"
      "\n"
      "   \t\n"
      "a=1\n"
      "  b = 2  \n"
      "c:3\n"
      "d : 4\n"
      "e 5\n"
      "f=\n"
      "g = x = y\n"
      "h=value # not a comment\n",
      "test");
  Properties want = {{"a", "1"}, {"b", "2"}, {"c", "3"}, {"d", "4"}, {"e", "5"},
                     {"f", ""},  {"g", "x = y"}, {"h", "value # not a comment"}};
  EXPECT_EQ(p, want);
}

TEST(PropertiesTest, LineEndingsAndByteOrderMark) {
  Properties p = parse_properties("\xEF\xBB\xBF" "a=1\r\nb=2\rc=3", "test");
  Properties want = {{"a", "1"}, {"b", "2"}, {"c", "3"}};
  EXPECT_EQ(p, want);
}

TEST(PropertiesTest, LineContinuation) {
  Properties p = parse_properties(
      "listeners=PLAINTEXT://:9092,\\\n"
      "          INTERNAL://:9093\n"
      "path=c:\\\\dir\\\\\n"  // an even number of backslashes does not continue
      "next=1\n",
      "test");
  Properties want = {{"listeners", "PLAINTEXT://:9092,INTERNAL://:9093"},
                     {"path", "c:\\dir\\"},
                     {"next", "1"}};
  EXPECT_EQ(p, want);
}

TEST(PropertiesTest, CommentLinesDoNotContinue) {
  Properties p = parse_properties("# comment \\\na=1\n", "test");
  Properties want = {{"a", "1"}};
  EXPECT_EQ(p, want);
}

TEST(PropertiesTest, Escapes) {
  Properties p = parse_properties(
      "key\\=with\\:seps = v\n"
      "tab=a\\tb\n"
      "unicode=caf\\u00e9\n"
      "astral=\\uD83D\\uDE00\n"
      "kept.space=a\\ \n",
      "test");
  Properties want = {{"key=with:seps", "v"},
                     {"tab", "a\tb"},
                     {"unicode", "caf\xC3\xA9"},
                     {"astral", "\xF0\x9F\x98\x80"},
                     {"kept.space", "a "}};
  EXPECT_EQ(p, want);
}

TEST(PropertiesTest, SyntaxErrorsNameTheLine) {
  EXPECT_CONTAINS(error_of([] { parse_properties("a=1\n\n=2\n", "floe.properties"); }),
                  "floe.properties:3");
  EXPECT_CONTAINS(error_of([] { parse_properties("a=\\u12g4\n", "f"); }), "\\uXXXX");
}

TEST(PropertiesTest, MissingFile) {
  TempDir dir;
  std::string missing = (dir.path() / "nope.properties").string();
  std::string msg = error_of([&] { read_properties_file(missing); });
  EXPECT_CONTAINS(msg, missing);
  EXPECT_CONTAINS(msg, "No such file");
  EXPECT_CONTAINS(error_of([&] { read_properties_file(dir.path().string()); }), "directory");

  ServeArgs args;
  args.config_file = missing;
  EXPECT_CONTAINS(error_of([&] { load_config(args); }), missing);
}

TEST(PropertiesTest, ValueErrorsNameTheFile) {
  TempDir dir;
  std::string path = dir.write("broker.properties", "num.partitions=zero\n");
  ServeArgs args;
  args.config_file = path;
  std::string msg = error_of([&] { load_config(args); });
  EXPECT_CONTAINS(msg, "num.partitions");
  EXPECT_CONTAINS(msg, "'zero'");
  EXPECT_CONTAINS(msg, path);
}

// --- value errors --------------------------------------------------------------

TEST(ConfigErrorsTest, ObjectStoreFaultsAndLatency) {
  EXPECT_NE(cli_error({{"object.store.fault.put.rate", "1.5"}}).find("object.store.fault.put.rate"), std::string::npos);
  EXPECT_NE(cli_error({{"object.store.fault.get.rate", "1e-400"}}), "");
  EXPECT_NE(cli_error({{"object.store.fault.put.rate", "abc"}}), "");
  EXPECT_NE(cli_error({{"object.store.fault.put.rate", "0.6"}, {"object.store.fault.put.lost.rate", "0.5"}})
                .find("must not add up to more than 1"),
            std::string::npos);
  EXPECT_NE(cli_error({{"object.store.latency.profile", "gcs"}}).find("s3-standard"), std::string::npos);
  Config c = build_config({}, {{"object.store.fault.put.rate", "0.1"},
                               {"object.store.latency.profile", "s3-express"}});
  EXPECT_EQ(parse_probability(c.object_store_fault_put_rate), 0.1);
  EXPECT_EQ(c.object_store_latency_profile, "s3-express");
  EXPECT_EQ(parse_probability("1e-3"), 0.001);
  EXPECT_EQ(parse_probability("-0.1"), std::nullopt);
  EXPECT_EQ(parse_probability(""), std::nullopt);
}

TEST(ConfigErrorsTest, ObjectStoreTimeoutFaults) {
  Config c = build_config({}, {{"object.store.fault.put.timeout.rate", "0.2"},
                               {"object.store.fault.get.timeout.rate", "0.3"},
                               {"object.store.fault.timeout.ms", "150"}});
  EXPECT_EQ(parse_probability(c.object_store_fault_put_timeout_rate), 0.2);
  EXPECT_EQ(parse_probability(c.object_store_fault_get_timeout_rate), 0.3);
  EXPECT_EQ(c.object_store_fault_timeout_ms, 150);
  EXPECT_CONTAINS(cli_error({{"object.store.fault.put.rate", "0.5"}, {"object.store.fault.put.timeout.rate", "0.6"}}),
                  "must not add up to more than 1");
  EXPECT_CONTAINS(cli_error({{"object.store.fault.get.rate", "0.5"}, {"object.store.fault.get.timeout.rate", "0.6"}}),
                  "must not add up to more than 1");
  EXPECT_NE(cli_error({{"object.store.fault.timeout.ms", "-1"}}), "");
}

TEST(ConfigErrorsTest, ObjectStoreS3KeysAndPrices) {
  Config c = build_config({}, {{"object.store.s3.endpoint", "http://127.0.0.1:9000"},
                               {"object.store.s3.region", "eu-west-1"},
                               {"object.store.s3.path.style", "true"},
                               {"object.store.s3.verify.tls", "false"},
                               {"object.store.price.write.requests", "0.0045"}});
  EXPECT_EQ(c.object_store_s3_endpoint, "http://127.0.0.1:9000");
  EXPECT_EQ(c.object_store_s3_region, "eu-west-1");
  EXPECT_EQ(c.object_store_s3_path_style, "true");
  EXPECT_FALSE(c.object_store_s3_verify_tls);
  EXPECT_EQ(parse_price(c.object_store_price_write_requests), 0.0045);
  Config d = build_config({}, {});
  EXPECT_FALSE(d.object_store_s3_endpoint);
  EXPECT_EQ(d.object_store_s3_path_style, "auto");
  EXPECT_TRUE(d.object_store_s3_verify_tls);
  EXPECT_EQ(parse_price(d.object_store_price_read_requests), 0.0004);
  EXPECT_EQ(parse_price(d.object_store_price_storage_gb_month), 0.023);
  EXPECT_EQ(parse_price(d.object_store_price_transfer_gb), 0.0);
  EXPECT_CONTAINS(cli_error({{"object.store.s3.endpoint", "ftp://x"}}), "object.store.s3.endpoint");
  EXPECT_CONTAINS(cli_error({{"object.store.s3.region", "eu west"}}), "object.store.s3.region");
  EXPECT_CONTAINS(cli_error({{"object.store.s3.path.style", "maybe"}}), "object.store.s3.path.style");
  EXPECT_CONTAINS(cli_error({{"object.store.price.read.requests", "-1"}}), "object.store.price.read.requests");
  EXPECT_NE(cli_error({{"object.store.price.transfer.gb", "nan"}}), "");
  EXPECT_NE(cli_error({{"object.store.price.storage.gb.month", "1e10"}}), "");
}

TEST(ConfigErrorsTest, UnknownKey) {
  std::string msg = cli_error({{"no.such.key", "1"}});
  EXPECT_CONTAINS(msg, "unknown configuration key 'no.such.key'");
  EXPECT_CONTAINS(msg, "command line");
  EXPECT_CONTAINS(error_of([] { build_config({{"log.dirs", "/x"}}, {}, "my.properties"); }),
                  "'log.dirs' in my.properties");
}

TEST(ConfigErrorsTest, BadInteger) {
  for (const char* bad : {"abc", "1.5", "", "12abc", " 1", "0x10", "+1"}) {
    std::string msg = cli_error({{"node.id", bad}});
    EXPECT_CONTAINS(msg, "node.id");
    EXPECT_CONTAINS(msg, "'" + std::string(bad) + "'");
    EXPECT_CONTAINS(msg, "not an integer");
  }
  EXPECT_CONTAINS(cli_error({{"wal.linger.ms", "soon"}}), "not an integer");
}

TEST(ConfigErrorsTest, OutOfRange) {
  std::string msg = cli_error({{"node.id", "-1"}});
  EXPECT_CONTAINS(msg, "'-1' for node.id");
  EXPECT_CONTAINS(msg, "out of range");
  EXPECT_CONTAINS(msg, "at least 0");
  EXPECT_CONTAINS(cli_error({{"num.partitions", "0"}}), "at least 1");
  EXPECT_CONTAINS(cli_error({{"message.max.bytes", "2147483648"}}), "out of range");
  EXPECT_CONTAINS(cli_error({{"default.replication.factor", "40000"}}), "1..32767");
  EXPECT_CONTAINS(cli_error({{"log.retention.ms", "99999999999999999999"}}), "out of range");
  EXPECT_CONTAINS(cli_error({{"log.retention.bytes", "-2"}}), "at least -1");
  EXPECT_CONTAINS(cli_error({{"num.network.threads", "0"}}), "1..4096");
  // The edges of a range are accepted.
  EXPECT_EQ(with({{"node.id", "2147483647"}}).node_id, 2147483647);
  EXPECT_EQ(with({{"log.retention.ms", "-1"}}).log_retention_ms, -1);
  EXPECT_EQ(with({{"log.retention.bytes", "9223372036854775807"}}).log_retention_bytes,
            INT64_MAX);
}

TEST(ConfigErrorsTest, BadBoolean) {
  std::string msg = cli_error({{"auto.create.topics.enable", "yes"}});
  EXPECT_CONTAINS(msg, "'yes' for auto.create.topics.enable");
  EXPECT_CONTAINS(msg, "not a boolean");
  EXPECT_FALSE(with({{"auto.create.topics.enable", "FALSE"}}).auto_create_topics_enable);
  EXPECT_TRUE(with({{"auto.create.topics.enable", "True"}}).auto_create_topics_enable);
}

TEST(ConfigErrorsTest, BadLogLevel) {
  std::string msg = cli_error({{"log.level", "verbose"}});
  EXPECT_CONTAINS(msg, "'verbose' for log.level");
  EXPECT_CONTAINS(msg, "TRACE, DEBUG, INFO, WARN, ERROR");
  EXPECT_EQ(with({{"log.level", "trace"}}).log_level, LogLevel::trace);
  EXPECT_EQ(with({{"log.level", "Error"}}).log_level, LogLevel::error);
}

TEST(ConfigErrorsTest, EmptyDataDir) {
  EXPECT_CONTAINS(cli_error({{"data.dir", ""}}), "must not be empty");
}

TEST(ConfigErrorsTest, BadObjectStoreUrl) {
  EXPECT_CONTAINS(cli_error({{"object.store", "/var/lib/objects"}}), "not a URL");
  std::string msg = cli_error({{"object.store", "ftp://host/x"}});
  EXPECT_CONTAINS(msg, "'ftp://host/x' for object.store");
  EXPECT_CONTAINS(msg, "unsupported scheme 'ftp'");
  EXPECT_CONTAINS(cli_error({{"object.store", "file://"}}), "needs a path");
  EXPECT_CONTAINS(cli_error({{"object.store", "s3:///prefix"}}), "bucket");
}

TEST(ConfigErrorsTest, BadMetastoreUrlHidesTheValue) {
  std::string msg = cli_error({{"metastore", "mysql://user:secret@host/db"}});
  EXPECT_CONTAINS(msg, "metastore");
  EXPECT_CONTAINS(msg, "unsupported scheme 'mysql'");
  EXPECT_FALSE(contains(msg, "secret")) << msg;
  EXPECT_CONTAINS(cli_error({{"metastore", "sqlite://"}}), "needs a file path");
  EXPECT_EQ(with({{"metastore", "sqlite:///tmp/m.db"}}).metastore, "sqlite:///tmp/m.db");
}

TEST(ConfigErrorsTest, RelationsBetweenKeys) {
  EXPECT_CONTAINS(cli_error({{"group.min.session.timeout.ms", "60000"},
                             {"group.max.session.timeout.ms", "30000"}}),
                  "group.min.session.timeout.ms (60000) must not exceed");
  EXPECT_CONTAINS(cli_error({{"wal.buffer.max.bytes", "1000"}}),
                  "wal.buffer.max.bytes (1000) must be at least wal.object.max.bytes");
}

// --- listeners -------------------------------------------------------------------

TEST(ListenerTest, ParsesHostAndPort) {
  EXPECT_EQ(parse_listener("PLAINTEXT://localhost:9092"),
            (Listener{"PLAINTEXT", "localhost", 9092}));
  EXPECT_EQ(parse_listener("PLAINTEXT://:9092"), (Listener{"PLAINTEXT", "", 9092}));
  EXPECT_EQ(parse_listener("PLAINTEXT://0.0.0.0:0"), (Listener{"PLAINTEXT", "0.0.0.0", 0}));
  EXPECT_EQ(parse_listener("plaintext://broker-1.example.com:65535"),
            (Listener{"PLAINTEXT", "broker-1.example.com", 65535}));
  EXPECT_EQ(parse_listener("  PLAINTEXT://10.0.0.1:19092 "),
            (Listener{"PLAINTEXT", "10.0.0.1", 19092}));
}

TEST(ListenerTest, ParsesIpv6InBrackets) {
  EXPECT_EQ(parse_listener("PLAINTEXT://[::1]:9092"), (Listener{"PLAINTEXT", "::1", 9092}));
  EXPECT_EQ(parse_listener("PLAINTEXT://[::]:0"), (Listener{"PLAINTEXT", "::", 0}));
  EXPECT_EQ(parse_listener("PLAINTEXT://[fe80::1%eth0]:9092"),
            (Listener{"PLAINTEXT", "fe80::1%eth0", 9092}));
  EXPECT_EQ(parse_listener("PLAINTEXT://[2001:db8::7]:9092").to_string(),
            "PLAINTEXT://[2001:db8::7]:9092");
  EXPECT_EQ(parse_listener("PLAINTEXT://:9092").to_string(), "PLAINTEXT://:9092");
}

TEST(ListenerTest, RejectsMalformedListeners) {
  struct Case {
    const char* text;
    const char* reason;
  };
  for (const Case& c : {Case{"localhost:9092", "NAME://HOST:PORT"},
                        Case{"PLAINTEXT://localhost", "missing :PORT"},
                        Case{"PLAINTEXT://localhost:", "is not a number"},
                        Case{"PLAINTEXT://localhost:65536", "0..65535"},
                        Case{"PLAINTEXT://localhost:-1", "0..65535"},
                        Case{"PLAINTEXT://localhost:90x", "0..65535"},
                        Case{"PLAINTEXT://::1:9092", "must be in brackets"},
                        Case{"PLAINTEXT://[::1:9092", "missing ']'"},
                        Case{"PLAINTEXT://[::1]9092", "missing :PORT"},
                        Case{"PLAINTEXT://[localhost]:9092", "not an IPv6 address"},
                        Case{"PLAIN TEXT://localhost:9092", "bad listener name"},
                        Case{"://localhost:9092", "bad listener name"},
                        Case{"PLAINTEXT://local/host:9092", "bad character"}}) {
    std::string msg = error_of([&] { parse_listener(c.text); });
    EXPECT_CONTAINS(msg, "'" + std::string(c.text) + "' for listeners");
    EXPECT_CONTAINS(msg, c.reason);
  }
}

TEST(ListenerTest, SeveralListenersWithCustomNames) {
  Config c = with({{"listeners", "PLAINTEXT://:9092 , INTERNAL://127.0.0.1:9093,"},
                   {"listener.security.protocol.map", "PLAINTEXT:PLAINTEXT,INTERNAL:PLAINTEXT"}});
  ASSERT_EQ(c.listeners.size(), 2u);
  EXPECT_EQ(c.listeners[0], (Listener{"PLAINTEXT", "", 9092}));
  EXPECT_EQ(c.listeners[1], (Listener{"INTERNAL", "127.0.0.1", 9093}));
  // An empty host is advertised as localhost.
  ASSERT_EQ(c.advertised_listeners.size(), 2u);
  EXPECT_EQ(c.advertised_listeners[0], (Listener{"PLAINTEXT", "localhost", 9092}));
  EXPECT_EQ(c.advertised_listeners[1], (Listener{"INTERNAL", "127.0.0.1", 9093}));
  EXPECT_EQ(c.find_value("advertised.listeners")->value,
            "PLAINTEXT://localhost:9092,INTERNAL://127.0.0.1:9093");
}

TEST(ListenerTest, WildcardsAreAdvertisedAsLocalhostAndPortZeroIsKept) {
  Config c = with({{"listeners", "PLAINTEXT://0.0.0.0:0"}});
  EXPECT_EQ(c.listeners[0], (Listener{"PLAINTEXT", "0.0.0.0", 0}));
  EXPECT_EQ(c.advertised_listeners[0], (Listener{"PLAINTEXT", "localhost", 0}));
  Config v6 = with({{"listeners", "PLAINTEXT://[::]:9092"}});
  EXPECT_EQ(v6.advertised_listeners[0], (Listener{"PLAINTEXT", "localhost", 9092}));
}

TEST(ListenerTest, ExplicitAdvertisedListeners) {
  Config c = with({{"listeners", "PLAINTEXT://0.0.0.0:9092,INTERNAL://:9093"},
                   {"listener.security.protocol.map", "PLAINTEXT:PLAINTEXT,INTERNAL:PLAINTEXT"},
                   {"advertised.listeners", "PLAINTEXT://broker1.example.com:19092"}});
  ASSERT_EQ(c.advertised_listeners.size(), 1u);
  EXPECT_EQ(c.advertised_listeners[0], (Listener{"PLAINTEXT", "broker1.example.com", 19092}));
  EXPECT_EQ(c.find_value("advertised.listeners")->source, ConfigSource::command_line);
  EXPECT_EQ(with({{"advertised.listeners", "PLAINTEXT://:9092"}}).advertised_listeners[0].host,
            "localhost");
  EXPECT_EQ(with({{"advertised.listeners", "PLAINTEXT://[::1]:9092"}}).advertised_listeners[0],
            (Listener{"PLAINTEXT", "::1", 9092}));
}

TEST(ListenerTest, AdvertisedListenerMustNameAListener) {
  std::string msg = cli_error({{"advertised.listeners", "EXTERNAL://example.com:9092"}});
  EXPECT_CONTAINS(msg, "'EXTERNAL://example.com:9092' for advertised.listeners");
  EXPECT_CONTAINS(msg, "EXTERNAL is not one of the listeners");
  EXPECT_CONTAINS(cli_error({{"advertised.listeners", "PLAINTEXT://0.0.0.0:9092"}}),
                  "wildcard");
  EXPECT_CONTAINS(cli_error({{"advertised.listeners", "PLAINTEXT://a:1,PLAINTEXT://b:2"}}),
                  "advertised twice");
  EXPECT_CONTAINS(cli_error({{"advertised.listeners", "PLAINTEXT://a"}}), "missing :PORT");
}

TEST(ListenerTest, UnsupportedSecurityProtocols) {
  for (const char* l : {"SSL://:9093", "SASL_PLAINTEXT://:9094", "SASL_SSL://:9095"}) {
    std::string msg = cli_error({{"listeners", l}});
    EXPECT_CONTAINS(msg, "for listeners");
    EXPECT_CONTAINS(msg, "not supported yet");
  }
  // A custom name mapped to SSL is refused the same way.
  std::string msg = cli_error({{"listeners", "EXTERNAL://:9093"},
                               {"listener.security.protocol.map", "EXTERNAL:SSL"}});
  EXPECT_CONTAINS(msg, "listener EXTERNAL uses security protocol SSL");
  EXPECT_CONTAINS(msg, "not supported yet");
}

TEST(ListenerTest, ListenerNamesNeedAProtocol) {
  EXPECT_CONTAINS(cli_error({{"listeners", "INTERNAL://:9093"}}),
                  "listener INTERNAL has no security protocol in listener.security.protocol.map");
  // Names are case-insensitive, as Kafka normalises them.
  Config c = with({{"listeners", "internal://:9093"},
                   {"listener.security.protocol.map", "Internal:plaintext"}});
  EXPECT_EQ(c.listeners[0].name, "INTERNAL");
}

TEST(ListenerTest, BadProtocolMap) {
  EXPECT_CONTAINS(cli_error({{"listener.security.protocol.map", "PLAINTEXT:TLS"}}),
                  "unknown security protocol 'TLS'");
  EXPECT_CONTAINS(cli_error({{"listener.security.protocol.map", "PLAINTEXT"}}),
                  "not LISTENER_NAME:PROTOCOL");
  EXPECT_CONTAINS(
      cli_error({{"listener.security.protocol.map", "PLAINTEXT:PLAINTEXT,plaintext:SSL"}}),
      "mapped twice");
}

TEST(ListenerTest, ListenersMustBeDistinct) {
  EXPECT_CONTAINS(cli_error({{"listeners", ""}}), "at least one listener");
  EXPECT_CONTAINS(cli_error({{"listeners", "PLAINTEXT://:9092,PLAINTEXT://:9093"}}),
                  "used twice");
  EXPECT_CONTAINS(cli_error({{"listeners", "PLAINTEXT://:9092,B://:9092"},
                             {"listener.security.protocol.map", "PLAINTEXT:PLAINTEXT,B:PLAINTEXT"}}),
                  "bind the same address");
  // Port 0 binds a different free port each time, so it may repeat.
  EXPECT_EQ(with({{"listeners", "PLAINTEXT://:0,B://:0"},
                  {"listener.security.protocol.map", "PLAINTEXT:PLAINTEXT,B:PLAINTEXT"}})
                .listeners.size(),
            2u);
}

TEST(ListenerTest, BadListenerInFileNamesFileAndEntry) {
  std::string msg = error_of([] {
    build_config({{"listeners", "PLAINTEXT://:9092,BROKEN"}}, {}, "floe.properties");
  });
  EXPECT_CONTAINS(msg, "for listeners in floe.properties");
  EXPECT_CONTAINS(msg, "'BROKEN': expected NAME://HOST:PORT");
}

// --- Kafka tiered-storage keys -----------------------------------------------

TEST(TieredStorageKeysTest, AcceptedIgnoredAndReported) {
  Properties file = {{"remote.log.storage.system.enable", "true"},
                     {"log.local.retention.ms", "3600000"},
                     {"log.local.retention.bytes", "1073741824"}};
  Properties cli = {{"remote.storage.enable", "true"},
                    {"local.retention.ms", "1000"},
                    {"local.retention.bytes", "whatever"}};
  Config c = build_config(file, cli);
  EXPECT_EQ(c.warnings.size(), 6u);
  for (const auto& [key, value] : file) {
    EXPECT_EQ(c.find_value(key)->value, value);
    EXPECT_EQ(c.find_value(key)->source, ConfigSource::config_file);
  }
  for (const auto& [key, value] : cli) EXPECT_EQ(c.find_value(key)->source, ConfigSource::command_line);
  EXPECT_CONTAINS(c.warnings[0], "ignoring remote.log.storage.system.enable=true");
  EXPECT_CONTAINS(c.warnings[0], "object storage");
}

TEST(TieredStorageKeysTest, UnsetKeysAreNotReported) {
  Config c = default_config();
  EXPECT_TRUE(c.warnings.empty());
  EXPECT_EQ(c.find_value("remote.storage.enable")->value, "false");
}

// --- command line ------------------------------------------------------------

ServeArgs args_of(std::vector<std::string_view> args) { return parse_serve_args(args); }

TEST(ServeArgsTest, ConfigAndDataDirInBothForms) {
  ServeArgs a = args_of({"--config", "a.properties", "--data-dir", "/d"});
  EXPECT_EQ(a.config_file, "a.properties");
  EXPECT_EQ(a.overrides, (Properties{{"data.dir", "/d"}}));
  ServeArgs b = args_of({"--config=b.properties", "--data-dir=/e"});
  EXPECT_EQ(b.config_file, "b.properties");
  EXPECT_EQ(b.overrides, (Properties{{"data.dir", "/e"}}));
  EXPECT_FALSE(b.help);
}

TEST(ServeArgsTest, KeyValueOverridesInOrder) {
  ServeArgs a = args_of({"--node.id=3", "--listeners=PLAINTEXT://:0", "--broker.rack=", "--a.b=c=d"});
  Properties want = {
      {"node.id", "3"}, {"listeners", "PLAINTEXT://:0"}, {"broker.rack", ""}, {"a.b", "c=d"}};
  EXPECT_EQ(a.overrides, want);
  EXPECT_FALSE(a.config_file);
}

TEST(ServeArgsTest, Help) {
  EXPECT_TRUE(args_of({"--help"}).help);
  EXPECT_TRUE(args_of({"--node.id=1", "-h"}).help);
}

TEST(ServeArgsTest, Errors) {
  auto err = [](std::vector<std::string_view> args) {
    return error_of([&] { parse_serve_args(args); });
  };
  EXPECT_CONTAINS(err({"--config"}), "--config needs a value");
  EXPECT_CONTAINS(err({"--config="}), "--config needs a file name");
  EXPECT_CONTAINS(err({"--config", "a", "--config", "b"}), "more than once");
  EXPECT_CONTAINS(err({"--data-dir"}), "--data-dir needs a value");
  EXPECT_CONTAINS(err({"--node.id", "3"}), "use --node.id=VALUE");
  EXPECT_CONTAINS(err({"--verbose"}), "unknown option '--verbose'");
  EXPECT_CONTAINS(err({"floe.properties"}), "unexpected argument 'floe.properties'");
  EXPECT_CONTAINS(err({"--"}), "unexpected argument '--'");
  EXPECT_CONTAINS(err({"--=3"}), "missing key");
  // Unknown keys pass the argument parser and are refused by build_config.
  EXPECT_CONTAINS(error_of([] { load_config(args_of({"--bogus.key=1"})); }),
                  "unknown configuration key 'bogus.key' on the command line");
}

// --- usage -------------------------------------------------------------------

TEST(UsageTest, ListsEveryKeyWithItsDefault) {
  std::string usage = serve_usage();
  EXPECT_CONTAINS(usage, "--config FILE");
  EXPECT_CONTAINS(usage, "--data-dir DIR");
  for (const ConfigKey& key : config_keys()) {
    EXPECT_CONTAINS(usage, key.name);
    if (!key.ignored) {
      if (key.default_value) {
        EXPECT_CONTAINS(usage, "default: " + std::string(*key.default_value));
      }
      EXPECT_CONTAINS(usage, key.help.substr(0, 20));
    }
  }
  EXPECT_CONTAINS(usage, "synonym: broker.id");
  EXPECT_CONTAINS(usage, "default: the number of CPU cores");
}

}  // namespace
}  // namespace floe::broker
