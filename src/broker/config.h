// Broker configuration: the key table, the properties-file and command-line
// parsers, and the typed Config the rest of the broker reads.
//
// Every key the broker understands is one row of one table (config_keys()):
// name, Kafka type, default, range, help text, synonym, and the Config field
// it fills. The usage text and DescribeConfigs are both generated from that
// table, so adding a key is adding a row (and a field).
//
// Values are layered: table default < config file < command line. Each
// effective value is kept as text with its source in Config::values, which is
// what DescribeConfigs reports (DEFAULT_CONFIG vs STATIC_BROKER_CONFIG).
//
// Parsing is pure: nothing here logs, reads the environment or touches the
// data directory. Notes for the operator (ignored keys) are returned in
// Config::warnings for the caller to log once logging is set up.
#pragma once

#include <cstdint>
#include <limits>
#include <map>
#include <optional>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

#include "common/log.h"

namespace floe::broker {

// A bad key, a bad value, a bad command line or an unreadable config file.
// The message names the key and the offending value, and is meant to be
// shown to the operator as is.
class ConfigError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// Where an effective value came from.
enum class ConfigSource { default_value, config_file, command_line };

std::string_view to_string(ConfigSource source);

// The ConfigSource code DescribeConfigs reports: DEFAULT_CONFIG (5) for a
// default, STATIC_BROKER_CONFIG (4) for anything set at start-up.
constexpr int8_t kafka_config_source(ConfigSource source) {
  return source == ConfigSource::default_value ? 5 : 4;
}

// A key's type, numbered as DescribeConfigs' ConfigType.
enum class ConfigType : int8_t { boolean = 1, string = 2, int32 = 3, int64 = 5 };

std::string_view to_string(ConfigType type);  // "BOOLEAN", "STRING", "INT", "LONG"

// One entry of `listeners` or `advertised.listeners`: NAME://HOST:PORT.
struct Listener {
  std::string name;  // upper-cased, e.g. "PLAINTEXT"
  std::string host;  // without IPv6 brackets; empty means all interfaces
  uint16_t port = 0;  // 0: bind any free port (tests); advertised: the bound port

  // NAME://HOST:PORT, with brackets around an IPv6 host.
  std::string to_string() const;
  bool operator==(const Listener&) const = default;
};

// An effective value as DescribeConfigs reports it.
struct ConfigValue {
  std::optional<std::string> value;  // nullopt: an optional key left unset
  ConfigSource source = ConfigSource::default_value;
  bool operator==(const ConfigValue&) const = default;
};

// The broker's settings. Get one from load_config() or build_config() (or
// default_config() in tests); a value-initialised Config is not a valid
// configuration. Defaults live in the key table in config.cc and in
// `floe --help`, not here, so that there is one place to change them.
struct Config {
  int32_t node_id{};                     // node.id (synonym broker.id)
  std::vector<Listener> listeners;       // listeners: what the broker binds
  std::vector<Listener> advertised_listeners;  // advertised.listeners: what Metadata returns
  std::optional<std::string> broker_rack;  // broker.rack
  std::optional<std::string> cluster_id;   // cluster.id override
  std::string data_dir;                    // data.dir (--data-dir)
  std::string object_store;                // object.store URL
  // s3:// settings as keys (the URL's own settings win); unset: environment, defaults.
  std::optional<std::string> object_store_s3_endpoint;
  std::optional<std::string> object_store_s3_region;
  std::string object_store_s3_path_style;  // true, false, auto
  bool object_store_s3_verify_tls = true;
  // Prices for the object store cost estimate, as text (parse_price).
  std::string object_store_price_write_requests;  // per 1,000 requests
  std::string object_store_price_read_requests;   // per 1,000 requests
  std::string object_store_price_storage_gb_month;
  std::string object_store_price_transfer_gb;
  std::string object_store_latency_profile;    // none, s3-standard, s3-express
  std::string object_store_fault_put_rate;       // a probability, as text
  std::string object_store_fault_put_lost_rate;
  std::string object_store_fault_get_rate;
  std::string object_store_fault_put_timeout_rate;
  std::string object_store_fault_get_timeout_rate;
  int64_t object_store_fault_timeout_ms{};
  std::string metastore;                   // metastore URL
  LogLevel log_level = LogLevel::info;     // log.level
  int64_t request_stats_interval_ms{};     // 0: only at shutdown

  int32_t socket_request_max_bytes{};
  int32_t num_network_threads{};
  int32_t queued_max_requests{};  // max requests in flight per connection
  int64_t connections_max_idle_ms{};  // -1: never close idle connections

  bool auto_create_topics_enable{};
  int32_t num_partitions{};
  int32_t default_replication_factor{};
  int32_t message_max_bytes{};
  int64_t log_retention_ms{};     // -1: keep forever
  int64_t log_retention_bytes{};  // -1: no size limit

  int64_t wal_linger_ms{};
  int64_t wal_upload_hedge_ms{};
  int64_t wal_object_max_bytes{};
  int64_t wal_buffer_max_bytes{};
  int64_t cache_max_bytes{};

  int32_t transaction_max_timeout_ms{};
  int32_t group_min_session_timeout_ms{};
  int32_t group_max_session_timeout_ms{};
  int32_t group_initial_rebalance_delay_ms{};
  int32_t group_max_size{};
  int32_t offsets_retention_minutes{};
  int64_t offsets_retention_check_interval_ms{};
  int32_t offset_metadata_max_bytes{};

  // Every key of the table, by canonical name (never a synonym), with its
  // effective value as text and its source. Derived defaults (object.store,
  // advertised.listeners, num.network.threads, …) hold the derived value.
  std::map<std::string, ConfigValue, std::less<>> values;

  // Notes for the operator, e.g. Kafka tiered-storage keys that were accepted
  // and ignored. The caller logs them at WARN after setting the log level.
  std::vector<std::string> warnings;

  // The value of `key` (a canonical name or a synonym), or nullptr for a key
  // that is not in the table.
  const ConfigValue* find_value(std::string_view key) const;
};

// One row of the key table.
struct ConfigKey {
  // Where a parsed value is stored. Keys whose value needs more than one
  // field's worth of parsing (listeners, log.level, derived defaults) or
  // that are ignored have no field; build_config() resolves them by hand.
  using Field = std::variant<std::monostate, bool Config::*, int32_t Config::*,
                             int64_t Config::*, std::string Config::*,
                             std::optional<std::string> Config::*>;
  // Extra checks on a value that has the right type: returns why the value
  // is bad, or nullopt.
  using Check = std::optional<std::string> (*)(std::string_view value);

  std::string_view name{};
  ConfigType type = ConfigType::string;
  std::optional<std::string_view> default_value{};  // nullopt: none, or derived (see default_doc)
  std::string_view default_doc{};  // how a derived default is computed, for --help
  int64_t min = std::numeric_limits<int64_t>::min();  // inclusive range of int keys
  int64_t max = std::numeric_limits<int64_t>::max();
  std::string_view help{};
  std::string_view synonym{};    // another accepted name ("" for none)
  bool sensitive = false;        // value may hold a secret: never printed or described
  bool ignored = false;          // accepted for Kafka compatibility, has no effect
  Field field{};
  Check check = nullptr;
};

// The key table, in the order --help lists it.
std::span<const ConfigKey> config_keys();

// The row for `name` (a canonical name or a synonym), or nullptr.
const ConfigKey* find_config_key(std::string_view name);

// key=value pairs in the order they were given. Later entries win.
using Properties = std::vector<std::pair<std::string, std::string>>;

// Parses Java .properties text: `#` and `!` comment lines, `key=value`,
// `key: value` or `key value`, surrounding whitespace trimmed (unlike Java,
// trailing whitespace of a value too, unless escaped), a trailing backslash
// continues the line, and the escapes \t \n \r \f \uXXXX and \<char>.
// `origin` names the text in error messages ("floe.properties:12: …").
Properties parse_properties(std::string_view text, std::string_view origin);

// Reads and parses a properties file. ConfigError if it cannot be read.
Properties read_properties_file(const std::string& path);

// The arguments of `floe serve`.
struct ServeArgs {
  std::optional<std::string> config_file;  // --config FILE
  Properties overrides;                    // --key=value; --data-dir DIR as data.dir
  bool help = false;                       // --help / -h
};

// Parses the arguments after `serve`: `--config FILE` / `--config=FILE`,
// `--data-dir DIR` / `--data-dir=DIR`, `--KEY=VALUE`, `--help` / `-h`. Keys are
// not checked here (build_config() does that); `--KEY VALUE` is rejected,
// because a value that looks like an option would be silently swallowed.
ServeArgs parse_serve_args(std::span<const std::string_view> args);

// Layers defaults < `file` < `command_line`, validates every value and the
// relations between them, and resolves derived defaults. `file_name` is used
// in error messages. Throws ConfigError.
Config build_config(const Properties& file, const Properties& command_line,
                    std::string_view file_name = "config file");

// Reads args.config_file (if any) and calls build_config(). Throws ConfigError.
Config load_config(const ServeArgs& args);

// All defaults; the same as build_config({}, {}).
Config default_config();

// Parses one NAME://HOST:PORT (IPv6 as [addr]:port). Throws ConfigError
// naming `key`. Does not check the security protocol.
Listener parse_listener(std::string_view text, std::string_view key = "listeners");

// A probability key's value ("0", "0.1", "1e-3"); nullopt unless a number
// from 0 to 1. The one parser of the object.store.fault.* keys.
std::optional<double> parse_probability(std::string_view v);

// A price in US dollars: a decimal number from 0 (below a billion).
std::optional<double> parse_price(std::string_view v);

// The options of `floe serve` and every key with its default and help text,
// generated from the key table.
std::string serve_usage();

}  // namespace floe::broker
