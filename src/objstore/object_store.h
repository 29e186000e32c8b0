// Object storage behind one small interface: put, conditional create, get
// (whole or a byte range), head, delete, list. Backends: file:// (a local
// folder), memory:// (tests) and s3:// (AWS S3 and S3-compatible stores).
//
// Calls block (a file put fsyncs; an S3 put waits for the network), so the
// broker never calls them on a network thread: it runs them on its blocking
// pool (run_blocking in common/blocking.h).
//
// Every backend is safe to call from several threads at once.
//
// Keys are relative paths with '/' between segments, as in
// "wal/3fa2/1732600000000-1-9c1e". Every backend accepts the same keys, so
// code tested against memory:// behaves the same on file:// and S3: a key is
// at most 1024 bytes of well-formed UTF-8 without control characters (S3
// lists keys in XML); each segment is 1 to 255 bytes, not "." or "..", and
// does not start with ".tmp-" (the file backend's temporaries). Any other key
// fails with ErrorKind::other, whatever the operation.
#pragma once

#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <stdexcept>
#include <string>
#include <vector>

namespace floe::objstore {

using Bytes = std::vector<uint8_t>;

// How callers should react to a failure.
enum class ErrorKind {
  not_found,  // the object does not exist
  retriable,  // transient (I/O hiccup, throttling, timeout): try again
  denied,     // permissions or credentials
  other,      // anything else: a bug or a misconfiguration
};

class ObjectStoreError : public std::runtime_error {
 public:
  ObjectStoreError(ErrorKind kind, const std::string& what) : std::runtime_error(what), kind_(kind) {}
  ErrorKind kind() const { return kind_; }

 private:
  ErrorKind kind_;
};

struct ByteRange {
  uint64_t offset = 0;
  uint64_t length = 0;
};

struct ObjectInfo {
  std::string key;
  uint64_t size = 0;
  int64_t modified_ms = 0;  // last modification, Unix milliseconds
};

// Request counts and bytes per operation, for cost accounting and tests.
// `requests` counts calls (the S3 backend will count HTTP requests), `bytes`
// the payload (put: bytes stored, get: bytes returned; 0 for remove and
// list), `errors` the calls that threw, not_found included.
struct OperationCounter {
  std::atomic<uint64_t> requests{0};
  std::atomic<uint64_t> bytes{0};
  std::atomic<uint64_t> errors{0};
};

struct Counters {
  OperationCounter put, get, head, remove, list;
  // Attempts that failed and were sent again (S3: 5xx, throttling, resets).
  std::atomic<uint64_t> retries{0};
};

// What a store's requests would cost, at per-request and per-GB prices. The
// defaults are AWS S3 Standard's list prices (us-east-1, 2026): PUT, COPY,
// POST and LIST requests $0.005 per 1,000; GET, HEAD and other reads $0.0004
// per 1,000; DELETE free; storage $0.023 per GB-month; transfer to a broker
// in the same region free.
struct Prices {
  double write_request = 0.005 / 1000;  // put (each HTTP request of it), create, list
  double read_request = 0.0004 / 1000;  // get, head
  double storage_gb_month = 0.023;
  double transfer_gb = 0;  // per GB read; 0 inside one region
};

struct CostEstimate {
  double requests = 0;          // dollars spent on requests so far
  double transfer = 0;          // dollars for bytes read so far
  double storage_per_month = 0; // dollars per month to keep every byte put so far
};

CostEstimate estimate_cost(const Counters& counters, const Prices& prices);

// One line for logs: counts, bytes, retries and the cost estimate.
std::string describe_usage(const Counters& counters, const Prices& prices);

// An object written while its bytes are still arriving, where a store can
// take them early (file://): write() stores some of the bytes so far,
// finish() the rest, and only when finish() returns does the object exist,
// whole and durable, as after put() (replacing any object under the key).
// Destroyed unfinished, it leaves nothing behind. Used by one thread at a
// time; the caller keeps each call's bytes unchanged until the next call.
class ObjectWriter {
 public:
  virtual ~ObjectWriter() = default;

  // `object` is the object's bytes so far: the same bytes as the last call's,
  // and perhaps more. Writes some or all of what is not written yet; throws
  // ObjectStoreError (the writer is then of no further use).
  virtual void write(std::span<const uint8_t> object) = 0;

  // `object` is the whole object. Counted as a put; throws as put() does.
  virtual void finish(std::span<const uint8_t> object) = 0;
};

class ObjectStore {
 public:
  virtual ~ObjectStore() = default;

  // Stores `data` under `key`, replacing any object there. Durable when it
  // returns; readers see either the whole object or nothing.
  virtual void put(const std::string& key, std::span<const uint8_t> data) = 0;

  // Stores `data` under `key` only if no object is there, atomically: of two
  // creates of one key, one returns true and the other false, and an
  // existing object is never replaced. Durable when it returns true. Counted
  // as a put.
  virtual bool create(const std::string& key, std::span<const uint8_t> data) = 0;

  // A writer for an object under `key` whose bytes arrive over time, or
  // nullptr when the store gains nothing from early bytes (then use put()).
  virtual std::unique_ptr<ObjectWriter> start_put(const std::string& /*key*/) { return nullptr; }

  // The object, or the bytes of `range` in it. A range that reaches past the
  // end returns what exists (like an HTTP Range); a range that starts at or
  // past the end (offset >= size), or has length 0, is an error of kind
  // `other` (HTTP 416: a Range header cannot ask for nothing). Missing
  // object: ErrorKind::not_found.
  virtual Bytes get(const std::string& key, std::optional<ByteRange> range = std::nullopt) = 0;

  // The object's size and modification time, or nullopt when it does not exist.
  virtual std::optional<ObjectInfo> head(const std::string& key) = 0;

  // Deletes the objects; keys that do not exist are not an error.
  virtual void remove(std::span<const std::string> keys) = 0;

  // Every object whose key starts with `prefix` (any string, "" for all),
  // in byte-wise key order.
  virtual std::vector<ObjectInfo> list(const std::string& prefix) = 0;

  // A short description for logs, never containing credentials.
  virtual std::string describe() const = 0;

  Counters& counters() { return counters_; }

 protected:
  Counters counters_;
};

// Opens the store named by `url`: file:///abs/path, file://relative/path
// (everything after "file://" is the path; the folder is created if needed),
// memory:// (a new, empty store each call; anything after is ignored),
// s3://BUCKET[/PREFIX][?SETTINGS] (s3_options.h: the settings, and how
// `s3_settings` and the AWS_* environment variables fill them in).
// Throws ObjectStoreError(other) for an unknown scheme or a bad setting, or if
// the folder cannot be created.
std::unique_ptr<ObjectStore> open_object_store(const std::string& url,
                                               const std::map<std::string, std::string>& s3_settings = {});

}  // namespace floe::objstore
