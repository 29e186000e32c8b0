#include "broker/config.h"

#include "objstore/fault_injection.h"
#include "objstore/s3_options.h"


#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

namespace floe::broker {

namespace {

constexpr int64_t kInt32Min = std::numeric_limits<int32_t>::min();
constexpr int64_t kInt32Max = std::numeric_limits<int32_t>::max();

constexpr std::string_view kDefaultProtocolMap =
    "PLAINTEXT:PLAINTEXT,SSL:SSL,SASL_PLAINTEXT:SASL_PLAINTEXT,SASL_SSL:SASL_SSL";

std::string_view trim(std::string_view s) {
  constexpr std::string_view ws = " \t\r\n\f\v";
  size_t b = s.find_first_not_of(ws);
  if (b == std::string_view::npos) return {};
  size_t e = s.find_last_not_of(ws);
  return s.substr(b, e - b + 1);
}

std::string to_upper(std::string_view s) {
  std::string out(s);
  for (char& c : out) {
    if (c >= 'a' && c <= 'z') c = static_cast<char>(c - 'a' + 'A');
  }
  return out;
}

std::vector<std::string_view> split(std::string_view s, char sep) {
  std::vector<std::string_view> parts;
  size_t start = 0;
  while (true) {
    size_t pos = s.find(sep, start);
    parts.push_back(s.substr(start, pos == std::string_view::npos ? pos : pos - start));
    if (pos == std::string_view::npos) return parts;
    start = pos + 1;
  }
}

bool is_alnum(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

// --- value checks used by the table -------------------------------------

std::optional<std::string> check_not_empty(std::string_view v) {
  if (v.empty()) return "must not be empty";
  return std::nullopt;
}

std::optional<std::string> check_log_level(std::string_view v) {
  if (parse_log_level(v)) return std::nullopt;
  return "expected one of TRACE, DEBUG, INFO, WARN, ERROR";
}

// Splits "scheme://rest"; nullopt when there is no "://".
std::optional<std::pair<std::string_view, std::string_view>> split_url(std::string_view v) {
  size_t pos = v.find("://");
  if (pos == std::string_view::npos || pos == 0) return std::nullopt;
  return std::pair{v.substr(0, pos), v.substr(pos + 3)};
}

std::optional<std::string> check_object_store(std::string_view v) {
  auto url = split_url(v);
  if (!url) return "not a URL (expected file:///path, memory:// or s3://bucket/prefix)";
  auto [scheme, rest] = *url;
  if (scheme == "file") {
    if (rest.empty()) return "file:// needs a path, e.g. file:///var/lib/floe/objects";
    return std::nullopt;
  }
  if (scheme == "memory") return std::nullopt;
  if (scheme == "s3") {
    if (rest.empty() || rest[0] == '/' || rest[0] == '?') {
      return "s3:// needs a bucket name, e.g. s3://bucket/prefix";
    }
    return std::nullopt;
  }
  return "unsupported scheme '" + std::string(scheme) + "' (expected file://, memory:// or s3://)";
}

std::optional<std::string> check_s3_setting(std::string_view name, std::string_view v) {
  std::string problem = objstore::s3_setting_problem(name, v);
  if (problem.empty()) return std::nullopt;
  return problem;
}
std::optional<std::string> check_s3_endpoint(std::string_view v) { return check_s3_setting("endpoint", v); }
std::optional<std::string> check_s3_region(std::string_view v) { return check_s3_setting("region", v); }
std::optional<std::string> check_s3_path_style(std::string_view v) { return check_s3_setting("path.style", v); }

std::optional<std::string> check_price(std::string_view v) {
  if (parse_price(v)) return std::nullopt;
  return "expected a price in US dollars, 0 or more";
}

std::optional<std::string> check_latency_profile(std::string_view v) {
  if (objstore::latency_profile(v)) return std::nullopt;
  return "expected none, s3-standard or s3-express";
}

}  // namespace

namespace {

// A whole decimal number; nullopt for anything else. NaN never passes the
// callers' range checks.
std::optional<double> parse_double(std::string_view v) {
  std::string text(v);
  size_t used = 0;
  double d = 0;
  try {
    d = std::stod(text, &used);
  } catch (const std::exception&) {
    return std::nullopt;
  }
  if (used != text.size()) return std::nullopt;
  return d;
}

}  // namespace

std::optional<double> parse_price(std::string_view v) {
  auto p = parse_double(v);
  if (!p || !(*p >= 0 && *p < 1e9)) return std::nullopt;
  return p;
}

std::optional<double> parse_probability(std::string_view v) {
  auto p = parse_double(v);
  if (!p || !(*p >= 0 && *p <= 1)) return std::nullopt;
  return p;
}

namespace {

std::optional<std::string> check_probability(std::string_view v) {
  if (parse_probability(v)) return std::nullopt;
  return "expected a number from 0 to 1";
}

std::optional<std::string> check_metastore(std::string_view v) {
  auto url = split_url(v);
  if (!url) return "not a URL (expected sqlite:///path/meta.db or postgresql://host/db)";
  auto [scheme, rest] = *url;
  if (scheme == "sqlite") {
    if (rest.empty()) return "sqlite:// needs a file path, e.g. sqlite:///var/lib/floe/meta.db";
    return std::nullopt;
  }
  if (scheme == "postgresql") return std::nullopt;
  return "unsupported scheme '" + std::string(scheme) + "' (expected sqlite:// or postgresql://)";
}

// --- the key table ------------------------------------------------------

constexpr std::string_view kTieredHelp =
    "Kafka tiered storage. Accepted and ignored: all floe data is already in object storage.";

const ConfigKey kKeys[] = {
    // Identity and network.
    {.name = "node.id", .type = ConfigType::int32, .default_value = "1", .min = 0,
     .max = kInt32Max,
     .help = "The id of this broker, unique in the cluster. Metadata responses and coordinator "
             "lookups name brokers by this id.",
     .synonym = "broker.id", .field = &Config::node_id},
    {.name = "broker.rack", .type = ConfigType::string,
     .help = "The rack or availability zone of this broker. Clients are routed to brokers in "
             "their own zone when they name one (client.id floe_az=..., or a KIP-1163 rack).",
     .field = &Config::broker_rack},
    {.name = "cluster.id", .type = ConfigType::string,
     .help = "A cluster id to use instead of the one the broker generates and stores in the "
             "metastore on first start.",
     .field = &Config::cluster_id},
    {.name = "listeners", .type = ConfigType::string,
     .default_value = "PLAINTEXT://localhost:9092",
     .help = "Comma-separated NAME://HOST:PORT addresses to listen on. An empty HOST, 0.0.0.0 "
             "or [::] listens on all interfaces; an IPv6 HOST goes in brackets "
             "(PLAINTEXT://[::1]:9092); port 0 picks a free port."},
    {.name = "advertised.listeners", .type = ConfigType::string,
     .default_doc = "listeners, with an empty or wildcard host replaced by localhost",
     .help = "Comma-separated NAME://HOST:PORT addresses given to clients in Metadata "
             "responses. Each NAME must be one of the listeners; an empty HOST means "
             "localhost; port 0 means the port the listener actually bound."},
    {.name = "listener.security.protocol.map", .type = ConfigType::string,
     .default_value = kDefaultProtocolMap,
     .help = "Comma-separated LISTENER_NAME:PROTOCOL pairs. Every listener name must be "
             "mapped; only the PLAINTEXT protocol is supported yet."},
    {.name = "socket.request.max.bytes", .type = ConfigType::int32, .default_value = "104857600",
     .min = 1, .max = kInt32Max,
     .help = "The largest request, in bytes, the broker reads; a larger request closes the "
             "connection.",
     .field = &Config::socket_request_max_bytes},
    {.name = "num.network.threads", .type = ConfigType::int32,
     .default_doc = "the number of CPU cores", .min = 1, .max = 4096,
     .help = "Threads that serve client connections.", .field = &Config::num_network_threads},
    {.name = "queued.max.requests", .type = ConfigType::int32, .default_value = "10000", .min = 1,
     .max = kInt32Max,
     .help = "The most requests one connection may have in flight; the broker stops reading "
             "from a connection at this limit until responses go out. Unlike Kafka, which "
             "answers one request per connection at a time, floe works on pipelined requests "
             "together, and produce requests wait for the shared WAL (wal.linger.ms): a client "
             "that sends one request per partition batch (librdkafka) needs thousands in flight.",
     .field = &Config::queued_max_requests},
    {.name = "connections.max.idle.ms", .type = ConfigType::int64, .default_value = "600000",
     .min = -1,
     .help = "Close a connection idle for this long; -1 never closes idle connections.",
     .field = &Config::connections_max_idle_ms},

    // Storage.
    {.name = "data.dir", .type = ConfigType::string, .default_value = "./data",
     .help = "Folder for the embedded stores (also --data-dir). Only the defaults of "
             "object.store and metastore use it.",
     .field = &Config::data_dir, .check = check_not_empty},
    {.name = "object.store", .type = ConfigType::string,
     .default_doc = "file://<data.dir>/objects",
     .help = "Where record data lives: file:///path (a local folder), memory:// (lost on "
             "exit; for tests) or s3://bucket/prefix?endpoint=...&region=... . Credentials "
             "come from the environment, never from this URL.",
     .field = &Config::object_store, .check = check_object_store},
    {.name = "object.store.s3.endpoint", .type = ConfigType::string,
     .default_doc = "AWS_ENDPOINT_URL_S3, AWS_ENDPOINT_URL, else AWS's endpoint for the region",
     .help = "scheme://host[:port] of an S3-compatible API (MinIO, R2, Ceph RGW). The URL's "
             "endpoint= wins over this key.",
     .field = &Config::object_store_s3_endpoint, .check = check_s3_endpoint},
    {.name = "object.store.s3.region", .type = ConfigType::string,
     .default_doc = "AWS_REGION, AWS_DEFAULT_REGION, else us-east-1",
     .help = "The bucket's region, used in request signatures.",
     .field = &Config::object_store_s3_region, .check = check_s3_region},
    {.name = "object.store.s3.path.style", .type = ConfigType::string, .default_value = "auto",
     .help = "true: https://host/bucket/key; false: https://bucket.host/key; auto: path-style "
             "for an IP address or localhost endpoint, virtual-hosted otherwise.",
     .field = &Config::object_store_s3_path_style, .check = check_s3_path_style},
    {.name = "object.store.s3.verify.tls", .type = ConfigType::boolean, .default_value = "true",
     .help = "Check the store's TLS certificate. false only for test stores with self-signed "
             "certificates.",
     .field = &Config::object_store_s3_verify_tls},
    {.name = "object.store.price.write.requests", .type = ConfigType::string, .default_value = "0.005",
     .help = "US dollars per 1,000 PUT, POST and LIST requests, for the cost estimate the broker "
             "logs (AWS S3 Standard's list price).",
     .field = &Config::object_store_price_write_requests, .check = check_price},
    {.name = "object.store.price.read.requests", .type = ConfigType::string, .default_value = "0.0004",
     .help = "US dollars per 1,000 GET and HEAD requests, for the cost estimate.",
     .field = &Config::object_store_price_read_requests, .check = check_price},
    {.name = "object.store.price.storage.gb.month", .type = ConfigType::string, .default_value = "0.023",
     .help = "US dollars per GB-month stored, for the cost estimate.",
     .field = &Config::object_store_price_storage_gb_month, .check = check_price},
    {.name = "object.store.price.transfer.gb", .type = ConfigType::string, .default_value = "0",
     .help = "US dollars per GB read from the store (0 inside one AWS region), for the cost estimate.",
     .field = &Config::object_store_price_transfer_gb, .check = check_price},
    {.name = "object.store.latency.profile", .type = ConfigType::string, .default_value = "none",
     .help = "Adds the latency of a real object store to every put and get: none, s3-standard "
             "(PUT p50 100 ms, p99 400 ms; GET first byte p50 30 ms, p99 150 ms) or s3-express "
             "(a tenth). For benchmarks and tests on file:// or memory://.",
     .field = &Config::object_store_latency_profile, .check = check_latency_profile},
    {.name = "object.store.fault.put.rate", .type = ConfigType::string, .default_value = "0",
     .help = "Share of object puts failed on purpose before they store anything (tests).",
     .field = &Config::object_store_fault_put_rate, .check = check_probability},
    {.name = "object.store.fault.put.lost.rate", .type = ConfigType::string, .default_value = "0",
     .help = "Share of object puts that store the object, then fail as if the response was lost "
             "(tests).",
     .field = &Config::object_store_fault_put_lost_rate, .check = check_probability},
    {.name = "object.store.fault.get.rate", .type = ConfigType::string, .default_value = "0",
     .help = "Share of object gets failed on purpose (tests).",
     .field = &Config::object_store_fault_get_rate, .check = check_probability},
    {.name = "object.store.fault.put.timeout.rate", .type = ConfigType::string, .default_value = "0",
     .help = "Share of object puts that hang for object.store.fault.timeout.ms, then fail without "
             "storing anything, as a request that timed out (tests).",
     .field = &Config::object_store_fault_put_timeout_rate, .check = check_probability},
    {.name = "object.store.fault.get.timeout.rate", .type = ConfigType::string, .default_value = "0",
     .help = "Share of object gets that hang for object.store.fault.timeout.ms, then fail (tests).",
     .field = &Config::object_store_fault_get_timeout_rate, .check = check_probability},
    {.name = "object.store.fault.timeout.ms", .type = ConfigType::int64, .default_value = "2000", .min = 0,
     .max = 600000,
     .help = "How long an injected timeout hangs before it fails (tests).",
     .field = &Config::object_store_fault_timeout_ms},
    {.name = "metastore", .type = ConfigType::string, .default_doc = "sqlite://<data.dir>/meta.db",
     .help = "Where metadata lives: sqlite:///path/meta.db (embedded; brokers on one machine) "
             "or postgresql://user:password@host/db (a cluster). Treated as a secret: never "
             "logged or described.",
     .sensitive = true, .field = &Config::metastore, .check = check_metastore},
    {.name = "wal.linger.ms", .type = ConfigType::int64, .default_value = "250", .min = 0,
     .help = "Seal the shared WAL buffer into an object once its oldest batch is this old. "
             "Longer means fewer object-store PUTs and slower produce acknowledgements.",
     .field = &Config::wal_linger_ms},
    {.name = "wal.upload.hedge.ms", .type = ConfigType::int64, .default_value = "200", .min = -1,
     .help = "An object upload still running after this long, and after the 95th percentile of "
             "recent uploads, gets a second identical PUT beside it; the first to succeed counts "
             "(cuts the tail of S3's latency for about 5% more PUTs). -1 never hedges.",
     .field = &Config::wal_upload_hedge_ms},
    {.name = "wal.object.max.bytes", .type = ConfigType::int64, .default_value = "8388608",
     .min = 1,
     .help = "Seal the shared WAL buffer into an object once it holds this many bytes.",
     .field = &Config::wal_object_max_bytes},
    {.name = "wal.buffer.max.bytes", .type = ConfigType::int64, .default_value = "268435456",
     .min = 1,
     .help = "The most produced bytes held in memory awaiting upload and commit; produce "
             "requests wait while it is full. At least wal.object.max.bytes.",
     .field = &Config::wal_buffer_max_bytes},
    {.name = "cache.max.bytes", .type = ConfigType::int64, .default_value = "1073741824",
     .min = 0,
     .help = "Memory for the read cache of recently written and recently read objects.",
     .field = &Config::cache_max_bytes},

    // Topics and records.
    {.name = "auto.create.topics.enable", .type = ConfigType::boolean, .default_value = "true",
     .help = "Create a topic that does not exist when a client asks for its metadata or "
             "produces to it.",
     .field = &Config::auto_create_topics_enable},
    {.name = "num.partitions", .type = ConfigType::int32, .default_value = "1", .min = 1,
     .max = kInt32Max,
     .help = "Partitions of a topic created without a partition count (auto-created, or "
             "CreateTopics with -1).",
     .field = &Config::num_partitions},
    {.name = "default.replication.factor", .type = ConfigType::int32, .default_value = "1",
     .min = 1, .max = 32767,
     .help = "Replication factor recorded for topics created without one. floe does not "
             "replicate (object storage is durable); the value is only reported to clients.",
     .field = &Config::default_replication_factor},
    {.name = "message.max.bytes", .type = ConfigType::int32, .default_value = "1048588", .min = 0,
     .max = kInt32Max,
     .help = "The largest record batch, in bytes, a topic accepts unless its max.message.bytes "
             "says otherwise.",
     .field = &Config::message_max_bytes},
    {.name = "log.retention.ms", .type = ConfigType::int64, .default_value = "604800000",
     .min = -1,
     .help = "Default retention.ms of topics: data older than this is deleted; -1 keeps it "
             "forever.",
     .field = &Config::log_retention_ms},
    {.name = "log.retention.bytes", .type = ConfigType::int64, .default_value = "-1", .min = -1,
     .help = "Default retention.bytes of topics: the oldest data of a partition beyond this "
             "size is deleted; -1 means no limit.",
     .field = &Config::log_retention_bytes},

    // Coordinators.
    {.name = "transaction.max.timeout.ms", .type = ConfigType::int32, .default_value = "900000",
     .min = 1, .max = kInt32Max,
     .help = "The longest transaction timeout a producer may ask for.",
     .field = &Config::transaction_max_timeout_ms},
    {.name = "group.min.session.timeout.ms", .type = ConfigType::int32, .default_value = "6000",
     .min = 0, .max = kInt32Max,
     .help = "The shortest session timeout a consumer group member may ask for.",
     .field = &Config::group_min_session_timeout_ms},
    {.name = "group.max.session.timeout.ms", .type = ConfigType::int32,
     .default_value = "1800000", .min = 0, .max = kInt32Max,
     .help = "The longest session timeout a consumer group member may ask for.",
     .field = &Config::group_max_session_timeout_ms},
    {.name = "group.initial.rebalance.delay.ms", .type = ConfigType::int32,
     .default_value = "3000", .min = 0, .max = kInt32Max,
     .help = "How long the first rebalance of an empty group waits for more members to join.",
     .field = &Config::group_initial_rebalance_delay_ms},
    {.name = "group.max.size", .type = ConfigType::int32, .default_value = "2147483647", .min = 1,
     .max = kInt32Max,
     .help = "The most members a consumer group may have; more get GROUP_MAX_SIZE_REACHED.",
     .field = &Config::group_max_size},
    {.name = "offsets.retention.minutes", .type = ConfigType::int32, .default_value = "10080",
     .min = 1, .max = kInt32Max,
     .help = "Committed offsets of a group that has been empty for this long are deleted (those "
             "of a group without members: this long after their commit).",
     .field = &Config::offsets_retention_minutes},
    {.name = "offsets.retention.check.interval.ms", .type = ConfigType::int64,
     .default_value = "600000", .min = 1,
     .help = "How often committed offsets are checked for expiry.",
     .field = &Config::offsets_retention_check_interval_ms},
    {.name = "offset.metadata.max.bytes", .type = ConfigType::int32, .default_value = "4096",
     .min = 0, .max = kInt32Max,
     .help = "The longest metadata string a committed offset may carry.",
     .field = &Config::offset_metadata_max_bytes},

    // Operations.
    {.name = "log.level", .type = ConfigType::string, .default_value = "INFO",
     .help = "Log verbosity: TRACE, DEBUG, INFO, WARN or ERROR (any case).",
     .check = check_log_level},
    {.name = "request.stats.interval.ms", .type = ConfigType::int64, .default_value = "60000",
     .min = 0,
     .help = "Every this often, log how long the broker took to answer requests since the last "
             "such line, per API (count, p50, p99, p99.9 and max, from a request's last byte "
             "read to its response written); 0 logs only at shutdown.",
     .field = &Config::request_stats_interval_ms},

    // Kafka tiered storage: accepted so that Kafka configurations work unchanged.
    {.name = "remote.log.storage.system.enable", .type = ConfigType::boolean,
     .default_value = "false", .help = kTieredHelp, .ignored = true},
    {.name = "remote.storage.enable", .type = ConfigType::boolean, .default_value = "false",
     .help = kTieredHelp, .ignored = true},
    {.name = "local.retention.ms", .type = ConfigType::int64, .default_value = "-2",
     .help = kTieredHelp, .ignored = true},
    {.name = "local.retention.bytes", .type = ConfigType::int64, .default_value = "-2",
     .help = kTieredHelp, .ignored = true},
    {.name = "log.local.retention.ms", .type = ConfigType::int64, .default_value = "-2",
     .help = kTieredHelp, .ignored = true},
    {.name = "log.local.retention.bytes", .type = ConfigType::int64, .default_value = "-2",
     .help = kTieredHelp, .ignored = true},
};

size_t key_index(const ConfigKey* key) { return static_cast<size_t>(key - std::begin(kKeys)); }

// --- parsing helpers ----------------------------------------------------

// One value as given: its text, where it came from, and the name it was
// given under (which may be a synonym), for error messages.
struct Setting {
  std::string text;
  ConfigSource source = ConfigSource::default_value;
  std::string given_name;
};

std::string where(ConfigSource source, std::string_view file_name) {
  switch (source) {
    case ConfigSource::default_value: return " (default)";
    case ConfigSource::config_file: return " in " + std::string(file_name);
    case ConfigSource::command_line: return " on the command line";
  }
  return {};
}

[[noreturn]] void bad_value(const ConfigKey& key, std::string_view given_name,
                            std::string_view text, std::string_view location,
                            std::string_view reason) {
  std::string msg = "invalid value ";
  if (key.sensitive) {
    msg += "(hidden)";
  } else {
    msg += "'" + std::string(text) + "'";
  }
  msg += " for " + std::string(given_name.empty() ? key.name : given_name);
  msg += location;
  msg += ": ";
  msg += reason;
  throw ConfigError(msg);
}

std::optional<bool> parse_bool(std::string_view v) {
  std::string u = to_upper(v);
  if (u == "TRUE") return true;
  if (u == "FALSE") return false;
  return std::nullopt;
}

std::string range_text(const ConfigKey& key) {
  int64_t type_min = key.type == ConfigType::int32 ? kInt32Min : std::numeric_limits<int64_t>::min();
  int64_t type_max = key.type == ConfigType::int32 ? kInt32Max : std::numeric_limits<int64_t>::max();
  int64_t lo = std::max(key.min, type_min);
  int64_t hi = std::min(key.max, type_max);
  if (lo == type_min && hi == type_max) return {};
  if (hi == type_max) return "at least " + std::to_string(lo);
  if (lo == type_min) return "at most " + std::to_string(hi);
  return std::to_string(lo) + ".." + std::to_string(hi);
}

// Parses an integer of the key's type and range; `fail` reports why not.
template <typename Fail>
int64_t parse_int(const ConfigKey& key, std::string_view text, Fail fail) {
  int64_t value = 0;
  const char* first = text.data();
  const char* last = text.data() + text.size();
  auto [ptr, ec] = std::from_chars(first, last, value);
  bool overflow = ec == std::errc::result_out_of_range;
  if ((ec != std::errc() && !overflow) || ptr != last || text.empty()) {
    fail(key.type == ConfigType::int32 ? "not an integer" : "not an integer (64-bit)");
  }
  int64_t type_min = key.type == ConfigType::int32 ? kInt32Min : std::numeric_limits<int64_t>::min();
  int64_t type_max = key.type == ConfigType::int32 ? kInt32Max : std::numeric_limits<int64_t>::max();
  int64_t lo = std::max(key.min, type_min);
  int64_t hi = std::min(key.max, type_max);
  if (overflow || value < lo || value > hi) {
    std::string range = range_text(key);
    fail("out of range (must be " + (range.empty() ? "a 64-bit integer" : range) + ")");
  }
  return value;
}

// Reads `count` hex digits at s[i..]; -1 if any is not a hex digit.
int parse_hex(std::string_view s, size_t i, size_t count) {
  if (i + count > s.size()) return -1;
  int v = 0;
  for (size_t k = 0; k < count; ++k) {
    char c = s[i + k];
    int d = (c >= '0' && c <= '9')   ? c - '0'
            : (c >= 'a' && c <= 'f') ? c - 'a' + 10
            : (c >= 'A' && c <= 'F') ? c - 'A' + 10
                                     : -1;
    if (d < 0) return -1;
    v = v * 16 + d;
  }
  return v;
}

void append_utf8(std::string& out, uint32_t cp) {
  if (cp < 0x80) {
    out.push_back(static_cast<char>(cp));
  } else if (cp < 0x800) {
    out.push_back(static_cast<char>(0xC0 | (cp >> 6)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else if (cp < 0x10000) {
    out.push_back(static_cast<char>(0xE0 | (cp >> 12)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else {
    out.push_back(static_cast<char>(0xF0 | (cp >> 18)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  }
}

bool is_space(char c) { return c == ' ' || c == '\t' || c == '\f'; }

// Unescapes s[i..end) into `out`, stopping before the first unescaped char
// for which stop(c) is true; returns where it stopped. `last_kept` is set to
// out.size() after the last character that is not unescaped whitespace, so
// the caller can trim trailing whitespace without losing "\ ".
template <typename Stop>
size_t unescape(std::string_view s, size_t i, Stop stop, std::string& out, size_t& last_kept,
                const std::string& where_text) {
  while (i < s.size()) {
    char c = s[i];
    if (c != '\\') {
      if (stop(c)) break;
      out.push_back(c);
      if (!is_space(c)) last_kept = out.size();
      ++i;
      continue;
    }
    if (i + 1 >= s.size()) {  // A lone backslash at the end of the file.
      ++i;
      break;
    }
    char e = s[i + 1];
    i += 2;
    switch (e) {
      case 't': out.push_back('\t'); break;
      case 'n': out.push_back('\n'); break;
      case 'r': out.push_back('\r'); break;
      case 'f': out.push_back('\f'); break;
      case 'u': {
        int cp = parse_hex(s, i, 4);
        if (cp < 0) throw ConfigError(where_text + ": malformed \\uXXXX escape");
        i += 4;
        uint32_t code = static_cast<uint32_t>(cp);
        // A UTF-16 surrogate pair, as Java writes characters beyond U+FFFF.
        if (code >= 0xD800 && code <= 0xDBFF && i + 6 <= s.size() && s[i] == '\\' &&
            s[i + 1] == 'u') {
          int lo = parse_hex(s, i + 2, 4);
          if (lo >= 0xDC00 && lo <= 0xDFFF) {
            code = 0x10000 + ((code - 0xD800) << 10) + (static_cast<uint32_t>(lo) - 0xDC00);
            i += 6;
          }
        }
        append_utf8(out, code);
        break;
      }
      default: out.push_back(e); break;
    }
    last_kept = out.size();
  }
  return i;
}

// Whether a natural line ends in an odd number of backslashes (continues).
bool continues(std::string_view line) {
  size_t n = 0;
  while (n < line.size() && line[line.size() - 1 - n] == '\\') ++n;
  return n % 2 == 1;
}

bool is_wildcard(std::string_view host) { return host == "0.0.0.0" || host == "::"; }

bool valid_listener_name(std::string_view name) {
  if (name.empty()) return false;
  return std::all_of(name.begin(), name.end(),
                     [](char c) { return is_alnum(c) || c == '_' || c == '-'; });
}

bool valid_host_char(char c, bool bracketed) {
  if (is_alnum(c) || c == '.' || c == '-' || c == '_') return true;
  return bracketed && (c == ':' || c == '%');
}

// Parses NAME://HOST:PORT into `l`; returns why it is not one, or nullopt.
std::optional<std::string> parse_listener_into(std::string_view text, Listener& l) {
  text = trim(text);
  size_t sep = text.find("://");
  if (sep == std::string_view::npos) return "expected NAME://HOST:PORT";
  l.name = to_upper(text.substr(0, sep));
  if (!valid_listener_name(l.name)) {
    return "bad listener name '" + std::string(text.substr(0, sep)) +
           "' (letters, digits, '_' and '-' only)";
  }
  std::string_view rest = text.substr(sep + 3);
  std::string_view port_text;
  if (!rest.empty() && rest[0] == '[') {
    size_t close = rest.find(']');
    if (close == std::string_view::npos) return "missing ']' after IPv6 address";
    std::string_view host = rest.substr(1, close - 1);
    if (host.empty() || host.find(':') == std::string_view::npos) {
      return "'[" + std::string(host) + "]' is not an IPv6 address";
    }
    for (char c : host) {
      if (!valid_host_char(c, true)) return "bad character in host '" + std::string(host) + "'";
    }
    l.host = std::string(host);
    std::string_view after = rest.substr(close + 1);
    if (after.empty() || after[0] != ':') return "missing :PORT";
    port_text = after.substr(1);
  } else {
    size_t colon = rest.rfind(':');
    if (colon == std::string_view::npos) return "missing :PORT";
    std::string_view host = rest.substr(0, colon);
    if (host.find(':') != std::string_view::npos) {
      return "an IPv6 address must be in brackets, e.g. PLAINTEXT://[::1]:9092";
    }
    for (char c : host) {
      if (!valid_host_char(c, false)) return "bad character in host '" + std::string(host) + "'";
    }
    l.host = std::string(host);
    port_text = rest.substr(colon + 1);
  }
  int port = -1;
  auto [ptr, ec] = std::from_chars(port_text.data(), port_text.data() + port_text.size(), port);
  if (port_text.empty() || ec != std::errc() || ptr != port_text.data() + port_text.size() ||
      port < 0 || port > 65535) {
    return "port '" + std::string(port_text) + "' is not a number in 0..65535";
  }
  l.port = static_cast<uint16_t>(port);
  return std::nullopt;
}

// Parses a comma-separated listener list; empty entries are skipped, as
// Kafka does. `fail` is called with the reason for a bad entry.
template <typename Fail>
std::vector<Listener> parse_listener_list(std::string_view text, Fail fail) {
  std::vector<Listener> out;
  std::vector<std::string_view> parts = split(text, ',');
  for (std::string_view part : parts) {
    part = trim(part);
    if (part.empty()) continue;
    Listener l;
    if (auto why = parse_listener_into(part, l)) {
      fail(parts.size() > 1 ? "'" + std::string(part) + "': " + *why : *why);
    }
    out.push_back(std::move(l));
  }
  return out;
}

std::string join_listeners(const std::vector<Listener>& ls) {
  std::string out;
  for (const Listener& l : ls) {
    if (!out.empty()) out += ',';
    out += l.to_string();
  }
  return out;
}

std::string join_path(std::string_view dir, std::string_view name) {
  std::string out(dir);
  if (!out.empty() && out.back() != '/') out += '/';
  out += name;
  return out;
}

// Parses listener.security.protocol.map into upper-cased name -> protocol.
std::map<std::string, std::string> parse_protocol_map(const ConfigKey& key, const Setting& s,
                                                      std::string_view file_name) {
  auto fail = [&](const std::string& why) {
    bad_value(key, s.given_name, s.text, where(s.source, file_name), why);
  };
  std::map<std::string, std::string> map;
  for (std::string_view part : split(s.text, ',')) {
    part = trim(part);
    if (part.empty()) continue;
    size_t colon = part.find(':');
    if (colon == std::string_view::npos) {
      fail("'" + std::string(part) + "' is not LISTENER_NAME:PROTOCOL");
    }
    std::string name = to_upper(trim(part.substr(0, colon)));
    std::string protocol = to_upper(trim(part.substr(colon + 1)));
    if (!valid_listener_name(name)) fail("bad listener name in '" + std::string(part) + "'");
    if (protocol != "PLAINTEXT" && protocol != "SSL" && protocol != "SASL_PLAINTEXT" &&
        protocol != "SASL_SSL") {
      fail("unknown security protocol '" + protocol +
           "' (expected PLAINTEXT, SSL, SASL_PLAINTEXT or SASL_SSL)");
    }
    if (!map.emplace(name, protocol).second) fail("listener " + name + " is mapped twice");
  }
  return map;
}

// --- usage text ---------------------------------------------------------

// Appends `text` word-wrapped to `width` columns, each line indented.
void append_wrapped(std::string& out, std::string_view text, size_t indent, size_t width) {
  size_t col = 0;
  for (std::string_view word : split(text, ' ')) {
    if (word.empty()) continue;
    if (col == 0) {
      out.append(indent, ' ');
      col = indent;
    } else if (col + 1 + word.size() > width) {
      out += '\n';
      out.append(indent, ' ');
      col = indent;
    } else {
      out += ' ';
      ++col;
    }
    out += word;
    col += word.size();
  }
  out += '\n';
}

}  // namespace

std::string_view to_string(ConfigSource source) {
  switch (source) {
    case ConfigSource::default_value: return "default";
    case ConfigSource::config_file: return "config file";
    case ConfigSource::command_line: return "command line";
  }
  return "?";
}

std::string_view to_string(ConfigType type) {
  switch (type) {
    case ConfigType::boolean: return "BOOLEAN";
    case ConfigType::string: return "STRING";
    case ConfigType::int32: return "INT";
    case ConfigType::int64: return "LONG";
  }
  return "?";
}

std::string Listener::to_string() const {
  std::string out = name + "://";
  if (host.find(':') != std::string::npos) {
    out += "[" + host + "]";
  } else {
    out += host;
  }
  out += ":" + std::to_string(port);
  return out;
}

const ConfigValue* Config::find_value(std::string_view key) const {
  const ConfigKey* row = find_config_key(key);
  if (!row) return nullptr;
  auto it = values.find(row->name);
  return it == values.end() ? nullptr : &it->second;
}

std::span<const ConfigKey> config_keys() { return kKeys; }

const ConfigKey* find_config_key(std::string_view name) {
  for (const ConfigKey& key : kKeys) {
    if (key.name == name || (!key.synonym.empty() && key.synonym == name)) return &key;
  }
  return nullptr;
}

Listener parse_listener(std::string_view text, std::string_view key) {
  Listener l;
  if (auto why = parse_listener_into(text, l)) {
    throw ConfigError("invalid value '" + std::string(text) + "' for " + std::string(key) + ": " +
                      *why);
  }
  return l;
}

Properties parse_properties(std::string_view text, std::string_view origin) {
  if (text.starts_with("\xEF\xBB\xBF")) text.remove_prefix(3);  // UTF-8 byte order mark
  Properties out;
  size_t pos = 0;
  size_t line_no = 0;
  while (pos < text.size()) {
    // Assemble one logical line from natural lines joined by a trailing
    // backslash; leading whitespace of each continuation is dropped.
    std::string logical;
    size_t first_line = line_no + 1;
    bool first = true;
    while (pos < text.size()) {
      size_t eol = text.find_first_of("\r\n", pos);
      std::string_view natural = text.substr(pos, eol == std::string_view::npos ? eol : eol - pos);
      pos = eol == std::string_view::npos ? text.size() : eol + 1;
      if (eol != std::string_view::npos && text[eol] == '\r' && pos < text.size() &&
          text[pos] == '\n') {
        ++pos;
      }
      ++line_no;
      size_t start = 0;
      while (start < natural.size() && is_space(natural[start])) ++start;
      natural.remove_prefix(start);
      // Comment and blank lines end here, even with a trailing backslash
      // (as in Java), unless they are the continuation of a previous line.
      if (first && (natural.empty() || natural[0] == '#' || natural[0] == '!')) break;
      first = false;
      if (continues(natural)) {
        logical.append(natural.substr(0, natural.size() - 1));
        continue;
      }
      logical.append(natural);
      break;
    }
    if (first) continue;  // blank or comment

    const std::string where_text = std::string(origin) + ":" + std::to_string(first_line);
    std::string key;
    size_t key_kept = 0;
    size_t i = unescape(
        logical, 0, [](char c) { return c == '=' || c == ':' || is_space(c); }, key, key_kept,
        where_text);
    while (i < logical.size() && is_space(logical[i])) ++i;
    if (i < logical.size() && (logical[i] == '=' || logical[i] == ':')) ++i;
    while (i < logical.size() && is_space(logical[i])) ++i;
    std::string value;
    size_t value_kept = 0;
    unescape(logical, i, [](char) { return false; }, value, value_kept, where_text);
    value.resize(value_kept);
    if (key.empty()) throw ConfigError(where_text + ": missing key before '='");
    out.emplace_back(std::move(key), std::move(value));
  }
  return out;
}

Properties read_properties_file(const std::string& path) {
  std::error_code ec;
  if (std::filesystem::is_directory(path, ec)) {
    throw ConfigError("cannot read config file '" + path + "': it is a directory");
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    throw ConfigError("cannot read config file '" + path + "': " + std::strerror(errno));
  }
  std::ostringstream buf;
  buf << in.rdbuf();
  if (in.bad()) {
    throw ConfigError("cannot read config file '" + path + "': read error");
  }
  return parse_properties(buf.str(), path);
}

ServeArgs parse_serve_args(std::span<const std::string_view> args) {
  ServeArgs out;
  for (size_t i = 0; i < args.size(); ++i) {
    std::string_view arg = args[i];
    if (arg == "--help" || arg == "-h") {
      out.help = true;
      continue;
    }
    // --config FILE, --config=FILE, --data-dir DIR, --data-dir=DIR.
    auto option_value = [&](std::string_view option) -> std::optional<std::string> {
      if (arg == option) {
        if (i + 1 >= args.size()) throw ConfigError(std::string(option) + " needs a value");
        return std::string(args[++i]);
      }
      if (arg.starts_with(option) && arg.size() > option.size() && arg[option.size()] == '=') {
        return std::string(arg.substr(option.size() + 1));
      }
      return std::nullopt;
    };
    if (auto file = option_value("--config")) {
      if (file->empty()) throw ConfigError("--config needs a file name");
      if (out.config_file) throw ConfigError("--config given more than once");
      out.config_file = std::move(*file);
      continue;
    }
    if (auto dir = option_value("--data-dir")) {
      out.overrides.emplace_back("data.dir", std::move(*dir));
      continue;
    }
    if (!arg.starts_with("--") || arg.size() == 2) {
      throw ConfigError("unexpected argument '" + std::string(arg) + "'");
    }
    std::string_view body = arg.substr(2);
    size_t eq = body.find('=');
    if (eq == std::string_view::npos) {
      if (find_config_key(body)) {
        throw ConfigError("option --" + std::string(body) + " needs a value: use --" +
                          std::string(body) + "=VALUE");
      }
      throw ConfigError("unknown option '" + std::string(arg) + "'");
    }
    if (eq == 0) throw ConfigError("missing key in '" + std::string(arg) + "'");
    out.overrides.emplace_back(std::string(body.substr(0, eq)), std::string(body.substr(eq + 1)));
  }
  return out;
}

Config build_config(const Properties& file, const Properties& command_line,
                    std::string_view file_name) {
  constexpr size_t n = std::size(kKeys);
  std::vector<std::optional<Setting>> settings(n);

  // Layer the sources. Within one source a key given twice takes the last
  // value, but a key and its synonym with different values is a mistake we
  // refuse to guess about.
  auto apply = [&](const Properties& props, ConfigSource source) {
    std::vector<std::optional<std::pair<std::string, std::string>>> canonical(n), synonym(n);
    for (const auto& [name, value] : props) {
      const ConfigKey* key = find_config_key(name);
      if (!key) {
        throw ConfigError("unknown configuration key '" + name + "'" + where(source, file_name));
      }
      auto& slot = key->name == name ? canonical[key_index(key)] : synonym[key_index(key)];
      slot.emplace(name, value);
    }
    for (size_t k = 0; k < n; ++k) {
      if (canonical[k] && synonym[k] && canonical[k]->second != synonym[k]->second) {
        throw ConfigError(std::string(kKeys[k].name) + " and its synonym " +
                          std::string(kKeys[k].synonym) + " have different values ('" +
                          canonical[k]->second + "' and '" + synonym[k]->second + "')" +
                          where(source, file_name));
      }
      auto& given = canonical[k] ? canonical[k] : synonym[k];
      if (given) settings[k] = Setting{given->second, source, given->first};
    }
  };
  apply(file, ConfigSource::config_file);
  apply(command_line, ConfigSource::command_line);

  Config config;
  // Effective text of each key; derived defaults are filled in below.
  std::vector<std::optional<std::string>> effective(n);

  for (size_t k = 0; k < n; ++k) {
    const ConfigKey& key = kKeys[k];
    const std::optional<Setting>& s = settings[k];
    if (key.ignored) {
      if (s) {
        config.warnings.push_back("ignoring " + s->given_name + "=" + s->text +
                                  ": floe keeps all data in object storage, so Kafka "
                                  "tiered-storage settings have no effect");
        effective[k] = s->text;
      } else {
        effective[k] = std::string(*key.default_value);
      }
      continue;
    }
    std::optional<std::string> text;
    if (s) {
      text = s->text;
    } else if (key.default_value) {
      text = std::string(*key.default_value);
    }
    // An empty value for a key without a default leaves it unset.
    if (!text || (text->empty() && !key.default_value)) continue;

    std::string given_name = s ? s->given_name : std::string(key.name);
    std::string location = where(s ? s->source : ConfigSource::default_value, file_name);
    auto fail = [&](const std::string& why) { bad_value(key, given_name, *text, location, why); };

    switch (key.type) {
      case ConfigType::boolean: {
        std::optional<bool> b = parse_bool(*text);
        if (!b) fail("not a boolean (expected true or false)");
        if (auto* f = std::get_if<bool Config::*>(&key.field)) config.*(*f) = *b;
        text = *b ? "true" : "false";
        break;
      }
      case ConfigType::int32:
      case ConfigType::int64: {
        int64_t v = parse_int(key, *text, fail);
        if (auto* f = std::get_if<int32_t Config::*>(&key.field)) {
          config.*(*f) = static_cast<int32_t>(v);
        } else if (auto* f64 = std::get_if<int64_t Config::*>(&key.field)) {
          config.*(*f64) = v;
        }
        text = std::to_string(v);
        break;
      }
      case ConfigType::string: {
        if (key.check) {
          if (auto why = key.check(*text)) fail(*why);
        }
        if (auto* f = std::get_if<std::string Config::*>(&key.field)) {
          config.*(*f) = *text;
        } else if (auto* fo = std::get_if<std::optional<std::string> Config::*>(&key.field)) {
          config.*(*fo) = *text;
        }
        break;
      }
    }
    effective[k] = std::move(text);
  }

  auto index = [](std::string_view name) { return key_index(find_config_key(name)); };
  auto setting_or_default = [&](std::string_view name) {
    size_t k = index(name);
    if (settings[k]) return *settings[k];
    return Setting{std::string(kKeys[k].default_value.value_or("")), ConfigSource::default_value,
                   std::string(name)};
  };

  // Defaults derived from other keys.
  if (!effective[index("object.store")]) {
    config.object_store = "file://" + join_path(config.data_dir, "objects");
    effective[index("object.store")] = config.object_store;
  }
  if (!effective[index("metastore")]) {
    config.metastore = "sqlite://" + join_path(config.data_dir, "meta.db");
    effective[index("metastore")] = config.metastore;
  }
  if (!effective[index("num.network.threads")]) {
    config.num_network_threads = static_cast<int32_t>(
        std::clamp(std::thread::hardware_concurrency(), 1u, 4096u));
    effective[index("num.network.threads")] = std::to_string(config.num_network_threads);
  }
  config.log_level = *parse_log_level(*effective[index("log.level")]);
  effective[index("log.level")] = std::string(to_string(config.log_level));

  // Listeners, their security protocols, and what is advertised.
  const ConfigKey& map_key = kKeys[index("listener.security.protocol.map")];
  std::map<std::string, std::string> protocols =
      parse_protocol_map(map_key, setting_or_default(map_key.name), file_name);

  const ConfigKey& listeners_key = kKeys[index("listeners")];
  Setting ls = setting_or_default(listeners_key.name);
  auto listeners_fail = [&](const std::string& why) {
    bad_value(listeners_key, ls.given_name, ls.text, where(ls.source, file_name), why);
  };
  config.listeners = parse_listener_list(ls.text, listeners_fail);
  if (config.listeners.empty()) listeners_fail("must name at least one listener");
  for (size_t a = 0; a < config.listeners.size(); ++a) {
    const Listener& l = config.listeners[a];
    auto proto = protocols.find(l.name);
    if (proto == protocols.end()) {
      listeners_fail("listener " + l.name + " has no security protocol in " +
                     std::string(map_key.name));
    }
    if (proto->second != "PLAINTEXT") {
      listeners_fail("listener " + l.name + " uses security protocol " + proto->second +
                     ", which is not supported yet (only PLAINTEXT is)");
    }
    for (size_t b = 0; b < a; ++b) {
      const Listener& other = config.listeners[b];
      if (other.name == l.name) listeners_fail("listener name " + l.name + " is used twice");
      if (l.port != 0 && other.port == l.port && other.host == l.host) {
        listeners_fail(l.to_string() + " and " + other.to_string() + " bind the same address");
      }
    }
  }

  const ConfigKey& adv_key = kKeys[index("advertised.listeners")];
  const std::optional<Setting>& adv = settings[index(adv_key.name)];
  if (adv && !trim(adv->text).empty()) {
    auto adv_fail = [&](const std::string& why) {
      bad_value(adv_key, adv->given_name, adv->text, where(adv->source, file_name), why);
    };
    config.advertised_listeners = parse_listener_list(adv->text, adv_fail);
    for (size_t a = 0; a < config.advertised_listeners.size(); ++a) {
      Listener& l = config.advertised_listeners[a];
      bool known = std::any_of(config.listeners.begin(), config.listeners.end(),
                               [&](const Listener& x) { return x.name == l.name; });
      if (!known) {
        adv_fail("listener " + l.name + " is not one of the listeners (" +
                 join_listeners(config.listeners) + ")");
      }
      for (size_t b = 0; b < a; ++b) {
        if (config.advertised_listeners[b].name == l.name) {
          adv_fail("listener " + l.name + " is advertised twice");
        }
      }
      if (is_wildcard(l.host)) {
        adv_fail("cannot advertise the wildcard address " + l.host +
                 "; name a host clients can reach");
      }
      if (l.host.empty()) l.host = "localhost";
    }
    if (config.advertised_listeners.empty()) adv_fail("must name at least one listener");
  } else {
    // Kafka advertises the machine's canonical host name for an empty host;
    // floe says localhost, which is right for the embedded single-machine
    // default and never silently exposes an address the operator did not name.
    config.advertised_listeners = config.listeners;
    for (Listener& l : config.advertised_listeners) {
      if (l.host.empty() || is_wildcard(l.host)) l.host = "localhost";
    }
    effective[index(adv_key.name)] = join_listeners(config.advertised_listeners);
  }

  // Relations between keys.
  if (*parse_probability(config.object_store_fault_put_rate) +
          *parse_probability(config.object_store_fault_put_lost_rate) +
          *parse_probability(config.object_store_fault_put_timeout_rate) > 1) {
    throw ConfigError("object.store.fault.put.rate, object.store.fault.put.lost.rate and "
                      "object.store.fault.put.timeout.rate must not add up to more than 1");
  }
  if (*parse_probability(config.object_store_fault_get_rate) +
          *parse_probability(config.object_store_fault_get_timeout_rate) > 1) {
    throw ConfigError("object.store.fault.get.rate and object.store.fault.get.timeout.rate must not add up to more "
                      "than 1");
  }
  if (config.group_min_session_timeout_ms > config.group_max_session_timeout_ms) {
    throw ConfigError("group.min.session.timeout.ms (" +
                      std::to_string(config.group_min_session_timeout_ms) +
                      ") must not exceed group.max.session.timeout.ms (" +
                      std::to_string(config.group_max_session_timeout_ms) + ")");
  }
  if (config.wal_buffer_max_bytes < config.wal_object_max_bytes) {
    throw ConfigError("wal.buffer.max.bytes (" + std::to_string(config.wal_buffer_max_bytes) +
                      ") must be at least wal.object.max.bytes (" +
                      std::to_string(config.wal_object_max_bytes) + ")");
  }

  for (size_t k = 0; k < n; ++k) {
    ConfigValue v;
    v.value = effective[k];
    v.source = settings[k] ? settings[k]->source : ConfigSource::default_value;
    config.values.emplace(std::string(kKeys[k].name), std::move(v));
  }
  return config;
}

Config load_config(const ServeArgs& args) {
  Properties file;
  if (args.config_file) file = read_properties_file(*args.config_file);
  return build_config(file, args.overrides, args.config_file.value_or("config file"));
}

Config default_config() { return build_config({}, {}); }

std::string serve_usage() {
  constexpr size_t width = 79;
  std::string out;
  out +=
      "Usage: floe serve [--config FILE] [--data-dir DIR] [--KEY=VALUE ...]\n"
      "\n"
      "Options:\n"
      "  --config FILE   Read settings from a Java-style properties file (KEY=VALUE lines).\n"
      "  --data-dir DIR  Same as --data.dir=DIR: objects go to DIR/objects and metadata to\n"
      "                  DIR/meta.db unless object.store or metastore say otherwise.\n"
      "  --KEY=VALUE     Set a configuration key; the command line overrides the file.\n"
      "  -h, --help      Show this help.\n"
      "\n"
      "Configuration keys:\n";
  std::string ignored;
  for (const ConfigKey& key : kKeys) {
    if (key.ignored) {
      if (!ignored.empty()) ignored += ", ";
      ignored += key.name;
      continue;
    }
    std::string line = "  " + std::string(key.name) + "  [" + std::string(to_string(key.type));
    if (key.type == ConfigType::int32 || key.type == ConfigType::int64) {
      std::string range = range_text(key);
      if (!range.empty()) line += ", " + range;
    }
    line += "; default: ";
    if (key.default_value) {
      line += std::string(*key.default_value);
    } else if (!key.default_doc.empty()) {
      line += std::string(key.default_doc);
    } else {
      line += "none";
    }
    if (!key.synonym.empty()) line += "; synonym: " + std::string(key.synonym);
    line += "]\n";
    out += line;
    append_wrapped(out, key.help, 6, width);
  }
  out += "\nAccepted for compatibility with Kafka tiered storage and ignored (all floe data is\n"
         "already in object storage):\n";
  append_wrapped(out, ignored, 2, width);
  return out;
}

}  // namespace floe::broker
