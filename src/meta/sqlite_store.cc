#include "meta/sqlite_store.h"

#include "common/clock.h"

#include <sqlite3.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <cstring>
#include <limits>
#include <random>
#include <string_view>
#include <unordered_map>
#include <utility>

#include "common/log.h"

namespace floe::meta {

namespace {

// Written into the SQLite header ("floe"), so that a store never mistakes
// another application's database for its own, nor the other way round.
constexpr int64_t kApplicationId = 0x666c6f65;

// Kafka keeps the last 5 batches per producer and partition for duplicate
// detection (ProducerStateEntry.NUM_BATCHES_TO_RETAIN); so does floe, because
// a producer has at most 5 requests in flight per connection.
constexpr size_t kProducerHistory = 5;

struct Migration {
  int version;
  const char* description;
  const char* sql;
  // Run after `sql`, in the same transaction: what SQL alone cannot do.
  void (*then)(SqliteConnection&) = nullptr;
};

void move_partition_states(SqliteConnection& c);

// The schema, as an ordered list of steps. A step is never edited once it has
// shipped: a change is a new step at the end. Each step runs in its own
// transaction together with its schema_version row.
constexpr Migration kMigrations[] = {
    {1, "cluster, topics, partitions, objects, batches, producer state", R"sql(
-- Cluster-wide values. BLOB affinity keeps each value as written: the cluster
-- id is text, the counters are integers.
CREATE TABLE cluster (
  key   TEXT PRIMARY KEY,
  value BLOB NOT NULL
) WITHOUT ROWID;
INSERT INTO cluster (key, value) VALUES ('next_producer_id', 1000), ('topics_version', 0);

CREATE TABLE topics (
  id         BLOB PRIMARY KEY CHECK (typeof(id) = 'blob' AND length(id) = 16),
  name       TEXT NOT NULL UNIQUE,
  partitions INTEGER NOT NULL CHECK (partitions >= 1),
  created_ms INTEGER NOT NULL
) WITHOUT ROWID;

-- Only the keys set on the topic; defaults are the broker's business.
CREATE TABLE topic_configs (
  topic_id BLOB NOT NULL REFERENCES topics (id),
  key      TEXT NOT NULL,
  value    TEXT NOT NULL,
  PRIMARY KEY (topic_id, key)
) WITHOUT ROWID;

-- id is a surrogate key so that batch and producer rows carry 8 bytes, not a
-- 16-byte topic id plus an index.
CREATE TABLE partitions (
  id                   INTEGER PRIMARY KEY,
  topic_id             BLOB NOT NULL REFERENCES topics (id),
  partition_index      INTEGER NOT NULL CHECK (partition_index >= 0),
  log_start_offset     INTEGER NOT NULL DEFAULT 0,
  high_watermark       INTEGER NOT NULL DEFAULT 0,
  max_timestamp        INTEGER NOT NULL DEFAULT -1,
  max_timestamp_offset INTEGER NOT NULL DEFAULT -1,
  UNIQUE (topic_id, partition_index),
  CHECK (0 <= log_start_offset AND log_start_offset <= high_watermark)
);

-- live_batches counts the batch rows that point at the object (kept by the
-- triggers below), so garbage collection finds unreferenced objects through
-- a small partial index instead of probing every object.
CREATE TABLE objects (
  id           INTEGER PRIMARY KEY,
  key          TEXT NOT NULL UNIQUE,
  size         INTEGER NOT NULL CHECK (size >= 0),
  created_ms   INTEGER NOT NULL,
  live_batches INTEGER NOT NULL DEFAULT 0 CHECK (live_batches >= 0)
);
CREATE INDEX objects_unreferenced ON objects (id) WHERE live_batches = 0;

-- The batch index. Clustered on (partition, last_offset): the fetch lookup
-- "last_offset >= from ORDER BY last_offset" walks the table itself in order
-- and stops when its byte budget is spent.
--
-- running_max_timestamp is the largest max_timestamp of this batch and every
-- batch row before it in the partition. It never decreases in offset order,
-- so in batches_by_running_max_timestamp the first entry >= T is the first
-- batch holding a record with timestamp >= T (ListOffsets by time), found
-- with one index probe.
CREATE TABLE batches (
  partition_id          INTEGER NOT NULL REFERENCES partitions (id),
  last_offset           INTEGER NOT NULL,
  base_offset           INTEGER NOT NULL,
  object_id             INTEGER NOT NULL REFERENCES objects (id),
  byte_offset           INTEGER NOT NULL CHECK (byte_offset >= 0),
  byte_length           INTEGER NOT NULL CHECK (byte_length > 0),
  max_timestamp         INTEGER NOT NULL,
  running_max_timestamp INTEGER NOT NULL CHECK (running_max_timestamp >= max_timestamp),
  producer_id           INTEGER NOT NULL,
  producer_epoch        INTEGER NOT NULL,
  base_sequence         INTEGER NOT NULL,
  record_count          INTEGER NOT NULL,
  PRIMARY KEY (partition_id, last_offset),
  CHECK (base_offset <= last_offset)
) WITHOUT ROWID;
CREATE INDEX batches_by_running_max_timestamp ON batches (partition_id, running_max_timestamp, last_offset);
-- For the foreign key from batches to objects (forgetting an object checks
-- that no batch points at it) and for repointing batches when objects merge.
CREATE INDEX batches_by_object ON batches (object_id);

CREATE TRIGGER batches_reference_object AFTER INSERT ON batches BEGIN
  UPDATE objects SET live_batches = live_batches + 1 WHERE id = NEW.object_id;
END;
CREATE TRIGGER batches_release_object AFTER DELETE ON batches BEGIN
  UPDATE objects SET live_batches = live_batches - 1 WHERE id = OLD.object_id;
END;
CREATE TRIGGER batches_move_object AFTER UPDATE OF object_id ON batches
WHEN NEW.object_id IS NOT OLD.object_id BEGIN
  UPDATE objects SET live_batches = live_batches - 1 WHERE id = OLD.object_id;
  UPDATE objects SET live_batches = live_batches + 1 WHERE id = NEW.object_id;
END;

-- Idempotent producers, per (partition, producer id): the epoch and the last
-- 5 batches, oldest first, as consecutive 24-byte big-endian entries
-- (first sequence int32, last sequence int32, base offset int64, last offset
-- int64). One row per producer and partition keeps a commit to one upsert per
-- producer it touches. last_append_ms is there for producer id expiration.
CREATE TABLE producer_state (
  partition_id   INTEGER NOT NULL REFERENCES partitions (id),
  producer_id    INTEGER NOT NULL,
  producer_epoch INTEGER NOT NULL,
  recent_batches BLOB NOT NULL CHECK (length(recent_batches) BETWEEN 24 AND 120),
  last_append_ms INTEGER NOT NULL,
  PRIMARY KEY (partition_id, producer_id)
) WITHOUT ROWID;
)sql"},
    // A commit inserts thousands of batch rows into one object; a trigger that
    // updated the object's row for each of them was a quarter of the commit's
    // cost. commit_object now adds the count once.
    {2, "count an object's batches once per commit", R"sql(
DROP TRIGGER batches_reference_object;
)sql"},
    {3, "consumer groups: records and committed offsets", R"sql(
-- What a coordinator keeps durable about a group besides its offsets.
-- protocol is NULL while the group is empty.
CREATE TABLE groups (
  group_id      TEXT PRIMARY KEY,
  protocol_type TEXT NOT NULL,
  generation    INTEGER NOT NULL,
  protocol      TEXT,
  empty         INTEGER NOT NULL CHECK (empty IN (0, 1)),
  state_ms      INTEGER NOT NULL
) WITHOUT ROWID;

-- Committed offsets point at the partition's surrogate id, as batches and
-- producer state do: delete_topic deletes them with the partition, and a
-- topic re-created under the same name has new partition rows and so no
-- offsets. Every offset row has a group row (commit_offsets creates one).
-- WITHOUT ROWID fits the usual row (a few integers and an empty metadata
-- string); a row with kilobytes of metadata spills to overflow pages, which
-- is slower but correct.
CREATE TABLE group_offsets (
  group_id         TEXT NOT NULL REFERENCES groups (group_id),
  partition_id     INTEGER NOT NULL REFERENCES partitions (id),
  committed_offset INTEGER NOT NULL,
  leader_epoch     INTEGER NOT NULL,
  metadata         TEXT NOT NULL,
  commit_ms        INTEGER NOT NULL,
  expire_ms        INTEGER,
  PRIMARY KEY (group_id, partition_id)
) WITHOUT ROWID;
-- For delete_topic, and for the foreign key check when partitions go.
CREATE INDEX group_offsets_by_partition ON group_offsets (partition_id);
)sql"},
    // A coordinator that takes a group over (or restarts) cannot see the
    // members of the recorded generation; their longest session timeout
    // says how long they may still come back.
    {4, "the session timeout of a group's generation", R"sql(
ALTER TABLE groups ADD COLUMN session_timeout_ms INTEGER NOT NULL DEFAULT 0;
)sql"},
    // A batches row now covers a run of consecutive batches of a partition,
    // back to back in one object (BatchLocation in meta_store.h): one row
    // per batch was most of a commit's cost. Rows written before are runs
    // of one batch. The producer columns described one batch and nothing
    // read them (producer_state holds what idempotence needs).
    {5, "batch rows cover runs of batches", R"sql(
ALTER TABLE batches DROP COLUMN producer_id;
ALTER TABLE batches DROP COLUMN producer_epoch;
ALTER TABLE batches DROP COLUMN base_sequence;
)sql"},
    // A commit at thousands of partitions writes a row for nearly every one
    // of them. Clustered on (partition_id, last_offset), with a second index
    // on the running max timestamp, each row landed in two places far from
    // the previous one: every commit rewrote a page per partition in both
    // b-trees (~2,000 pages a commit at 10,000 partitions, and growing with
    // the table). Rows now go in arrival order, where they fill pages one
    // after another, and only one narrow index is touched out of order.
    // ListOffsets by time and the max timestamp binary-search the offsets
    // (running_max_timestamp never decreases in offset order) instead of
    // keeping an index of their own.
    {6, "batch rows in arrival order; no running max timestamp index", R"sql(
CREATE TABLE batches_in_arrival_order (
  partition_id          INTEGER NOT NULL REFERENCES partitions (id),
  last_offset           INTEGER NOT NULL,
  base_offset           INTEGER NOT NULL,
  object_id             INTEGER NOT NULL REFERENCES objects (id),
  byte_offset           INTEGER NOT NULL CHECK (byte_offset >= 0),
  byte_length           INTEGER NOT NULL CHECK (byte_length > 0),
  max_timestamp         INTEGER NOT NULL,
  running_max_timestamp INTEGER NOT NULL CHECK (running_max_timestamp >= max_timestamp),
  record_count          INTEGER NOT NULL,
  CHECK (base_offset <= last_offset)
);
INSERT INTO batches_in_arrival_order
  SELECT partition_id, last_offset, base_offset, object_id, byte_offset, byte_length, max_timestamp,
         running_max_timestamp, record_count
  FROM batches ORDER BY object_id, byte_offset;
-- Dropped first, so that nothing counts the rows leaving the old table.
DROP TRIGGER batches_release_object;
DROP TRIGGER batches_move_object;
DROP TABLE batches;
ALTER TABLE batches_in_arrival_order RENAME TO batches;
CREATE UNIQUE INDEX batches_by_offset ON batches (partition_id, last_offset);
-- For the foreign key from batches to objects (forgetting an object checks
-- that no batch points at it) and for repointing batches when objects merge.
CREATE INDEX batches_by_object ON batches (object_id);
CREATE TRIGGER batches_release_object AFTER DELETE ON batches BEGIN
  UPDATE objects SET live_batches = live_batches - 1 WHERE id = OLD.object_id;
END;
CREATE TRIGGER batches_move_object AFTER UPDATE OF object_id ON batches
WHEN NEW.object_id IS NOT OLD.object_id BEGIN
  UPDATE objects SET live_batches = live_batches - 1 WHERE id = OLD.object_id;
  UPDATE objects SET live_batches = live_batches + 1 WHERE id = NEW.object_id;
END;
)sql"},
    // At thousands of partitions a commit still wrote one batches_by_offset
    // entry per partition it touched, each at the end of that partition's
    // range of the index: once the index outgrew the pages a commit
    // rewrites anyway, every entry dirtied a page of its own, and the
    // commit grew with the rows kept (18 ms at 200,000 rows to 113 ms at
    // 3,000,000 with 5,000 of 10,000 partitions per commit; make
    // bench-meta). Now each row links to its partition's previous row
    // (prev_id), the partition row keeps the last (last_batch_id), and only
    // every 32nd row of a partition is indexed (marked). A lookup probes the
    // small index for the first mark at or after its offset and walks back
    // at most 32 rows; a commit adds an index entry for one row in 32.
    //
    // partition_id no longer references partitions: with no index led by it,
    // SQLite would check each deleted partition row against every batch
    // row. delete_topic removes a partition's rows through its chain first.
    // Partition ids now come from a counter (cluster.next_partition_id) and
    // are never reused, so a batch row that outlived its partition could
    // never be taken for a new partition's.
    {7, "batch rows chained per partition; every 32nd row indexed", R"sql(
CREATE TABLE batches_chained (
  id                    INTEGER PRIMARY KEY,
  partition_id          INTEGER NOT NULL,
  prev_id               INTEGER,
  marked                INTEGER NOT NULL CHECK (marked IN (0, 1)),
  last_offset           INTEGER NOT NULL,
  base_offset           INTEGER NOT NULL,
  object_id             INTEGER NOT NULL REFERENCES objects (id),
  byte_offset           INTEGER NOT NULL CHECK (byte_offset >= 0),
  byte_length           INTEGER NOT NULL CHECK (byte_length > 0),
  max_timestamp         INTEGER NOT NULL,
  running_max_timestamp INTEGER NOT NULL CHECK (running_max_timestamp >= max_timestamp),
  record_count          INTEGER NOT NULL,
  CHECK (base_offset <= last_offset)
);
INSERT INTO batches_chained
  SELECT rowid, partition_id, lag(rowid) OVER w, (row_number() OVER w) % 32 = 0, last_offset, base_offset,
         object_id, byte_offset, byte_length, max_timestamp, running_max_timestamp, record_count
  FROM batches WINDOW w AS (PARTITION BY partition_id ORDER BY last_offset)
  ORDER BY rowid;
INSERT INTO cluster (key, value)
  SELECT 'next_partition_id', coalesce(max(m), 0) + 1
  FROM (SELECT max(id) AS m FROM partitions UNION ALL SELECT max(partition_id) FROM batches_chained);
ALTER TABLE partitions ADD COLUMN last_batch_id INTEGER;
ALTER TABLE partitions ADD COLUMN unmarked_batches INTEGER NOT NULL DEFAULT 0
  CHECK (unmarked_batches BETWEEN 0 AND 31);
-- The bare id comes from the row holding max(last_offset) (SQLite's rule
-- for a bare column beside max()).
UPDATE partitions SET last_batch_id = tails.id, unmarked_batches = tails.n % 32
  FROM (SELECT partition_id, id, max(last_offset), count(*) AS n FROM batches_chained GROUP BY partition_id) AS tails
  WHERE tails.partition_id = partitions.id;
-- Dropped first, so that nothing counts the rows leaving the old table.
DROP TRIGGER batches_release_object;
DROP TRIGGER batches_move_object;
DROP TABLE batches;
ALTER TABLE batches_chained RENAME TO batches;
CREATE INDEX batches_marks ON batches (partition_id, last_offset) WHERE marked = 1;
-- For the foreign key from batches to objects (forgetting an object checks
-- that no batch points at it) and for repointing batches when objects merge.
CREATE INDEX batches_by_object ON batches (object_id);
CREATE TRIGGER batches_release_object AFTER DELETE ON batches BEGIN
  UPDATE objects SET live_batches = live_batches - 1 WHERE id = OLD.object_id;
END;
CREATE TRIGGER batches_move_object AFTER UPDATE OF object_id ON batches
WHEN NEW.object_id IS NOT OLD.object_id BEGIN
  UPDATE objects SET live_batches = live_batches - 1 WHERE id = OLD.object_id;
  UPDATE objects SET live_batches = live_batches + 1 WHERE id = NEW.object_id;
END;
)sql"},
    // A commit updated each partition row it touched, one statement each: at
    // 10,000 partitions ~5,000 of them, 30% of its time. The offsets and the
    // ends of the batch chains now live in blocks of 64 partitions
    // (partition_states.states: 64 entries of 48 bytes, see PartitionState
    // below), and a commit rewrites each block it touches once.
    // move_partition_states copies them from the partition rows, then drops
    // those columns, but for log_start_offset and high_watermark: SQLite
    // cannot drop columns that a table CHECK names. They are set to 0 and
    // no longer read or written.
    {8, "partition offsets in blocks of 64 partitions", R"sql(
CREATE TABLE partition_states (
  id          INTEGER PRIMARY KEY,
  topic_id    BLOB NOT NULL REFERENCES topics (id),
  first_index INTEGER NOT NULL CHECK (first_index >= 0 AND first_index % 64 = 0),
  states      BLOB NOT NULL CHECK (length(states) = 64 * 48),
  UNIQUE (topic_id, first_index)
);
)sql",
     move_partition_states},
};

constexpr int kLatestSchemaVersion = static_cast<int>(std::size(kMigrations));

constexpr bool migrations_are_consecutive() {
  for (size_t i = 0; i < std::size(kMigrations); ++i)
    if (kMigrations[i].version != static_cast<int>(i) + 1) return false;
  return true;
}
static_assert(migrations_are_consecutive(), "migration versions must be 1, 2, 3, ... in order");

// The statements every batch lookup is made of (see migration 7): a probe of
// the marks index, and rows read by id along a partition's chain. Their plans
// are what tests inspect (query_plan). INDEXED BY turns "the planner chose
// another plan" into a prepare error.
constexpr const char* kMarkProbeSql =
    "SELECT id FROM batches INDEXED BY batches_marks "
    "WHERE partition_id = ? AND marked = 1 AND last_offset >= ? ORDER BY last_offset LIMIT 1";

// Columns: partition_id, prev_id, base_offset, last_offset, object_id,
// byte_offset, byte_length, max_timestamp, running_max_timestamp.
constexpr const char* kRowByIdSql =
    "SELECT partition_id, prev_id, base_offset, last_offset, object_id, byte_offset, byte_length, max_timestamp, "
    "running_max_timestamp FROM batches WHERE id = ?";

// Every 32nd batch row of a partition is marked (indexed): a lookup walks
// back at most this many rows from a mark. Migration 7 marks the rows it
// converts by the same number (a literal in its SQL).
constexpr int kRowsPerMark = 32;

// A version 4 UUID, as Kafka's Uuid.randomUuid(): never zero, and never one
// whose text starts with '-' (it would read as an option on command lines).
Uuid random_uuid() {
  std::random_device rd;
  for (;;) {
    Uuid u;
    for (size_t i = 0; i < u.bytes.size(); i += 4) {
      uint32_t r = rd();
      std::memcpy(&u.bytes[i], &r, 4);
    }
    u.bytes[6] = static_cast<uint8_t>((u.bytes[6] & 0x0f) | 0x40);
    u.bytes[8] = static_cast<uint8_t>((u.bytes[8] & 0x3f) | 0x80);
    if (!u.is_zero() && u.to_string().front() != '-') return u;
  }
}

// Kafka's DefaultRecordBatch.incrementSequence: sequences wrap from
// INT32_MAX to 0.
int32_t increment_sequence(int32_t sequence, int32_t increment) {
  if (sequence > std::numeric_limits<int32_t>::max() - increment)
    return increment - (std::numeric_limits<int32_t>::max() - sequence) - 1;
  return sequence + increment;
}

int64_t to_int64(uint64_t v, const char* what) {
  if (v > static_cast<uint64_t>(std::numeric_limits<int64_t>::max()))
    throw std::invalid_argument(std::string(what) + " does not fit in 63 bits");
  return static_cast<int64_t>(v);
}

}  // namespace

// --- connection, statements, transactions ----------------------------------

// One sqlite3 handle and its cache of prepared statements. Not thread-safe:
// SqliteMetaStore's mutex guards it.
class SqliteConnection {
 public:
  SqliteConnection(const std::string& path, int busy_timeout_ms) : path_(path) {
    int rc = sqlite3_open_v2(path.c_str(), &db_, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
                             nullptr);
    if (rc != SQLITE_OK) {
      std::string message = db_ ? sqlite3_errmsg(db_) : sqlite3_errstr(rc);
      sqlite3_close(db_);
      throw std::runtime_error("cannot open metadata store " + path + ": " + message);
    }
    try {
      check(sqlite3_extended_result_codes(db_, 1), "enable extended result codes");
      check(sqlite3_busy_timeout(db_, busy_timeout_ms), "set busy timeout");
      // Outside any transaction: SQLite ignores these pragmas inside one.
      exec("PRAGMA foreign_keys = ON");
      if (pragma_text("PRAGMA foreign_keys") != "1") fail("foreign keys are not supported by this SQLite");
      if (pragma_text("PRAGMA journal_mode = WAL") != "wal") fail("cannot switch the journal to WAL mode");
      exec("PRAGMA synchronous = FULL");
      if (pragma_text("PRAGMA synchronous") != "2") fail("cannot set synchronous = FULL");
      // SQLite's default page cache is 2 MiB. A commit at 10,000 partitions
      // touches more index pages than that and read ~600 of them back from
      // the file each time; 64 MiB holds the batch index of hours of it.
      exec("PRAGMA cache_size = -65536");
    } catch (...) {
      close();
      throw;
    }
  }

  ~SqliteConnection() { close(); }
  SqliteConnection(const SqliteConnection&) = delete;
  SqliteConnection& operator=(const SqliteConnection&) = delete;

  sqlite3* raw() { return db_; }
  const std::string& path() const { return path_; }

  [[noreturn]] void fail(const std::string& what) {
    throw std::runtime_error("metadata store " + path_ + ": " + what);
  }

  void check(int rc, const char* what) {
    if (rc != SQLITE_OK) fail(std::string(what) + ": " + sqlite3_errmsg(db_));
  }

  // Runs one or more statements that return no rows of interest.
  void exec(const char* sql) {
    char* error = nullptr;
    int rc = sqlite3_exec(db_, sql, nullptr, nullptr, &error);
    if (rc != SQLITE_OK) {
      std::string message = error ? error : sqlite3_errstr(rc);
      sqlite3_free(error);
      fail(message + " (in: " + std::string(sql).substr(0, 80) + ")");
    }
  }

  // A prepared statement for `sql`, prepared once and kept for the lifetime
  // of the connection. `sql` must outlive the connection (a literal).
  sqlite3_stmt* cached(const char* sql) {
    auto it = cache_.find(sql);
    if (it != cache_.end()) return it->second;
    sqlite3_stmt* stmt = nullptr;
    int rc = sqlite3_prepare_v3(db_, sql, -1, SQLITE_PREPARE_PERSISTENT, &stmt, nullptr);
    if (rc != SQLITE_OK) {
      sqlite3_finalize(stmt);
      fail(std::string("prepare: ") + sqlite3_errmsg(db_) + " (in: " + sql + ")");
    }
    if (stmt == nullptr) fail(std::string("prepare: empty statement: ") + sql);
    cache_.emplace(sql, stmt);
    return stmt;
  }

 private:
  std::string pragma_text(const char* sql) {
    sqlite3_stmt* stmt = nullptr;
    check(sqlite3_prepare_v2(db_, sql, -1, &stmt, nullptr), sql);
    int rc = sqlite3_step(stmt);
    std::string value;
    if (rc == SQLITE_ROW) {
      const unsigned char* text = sqlite3_column_text(stmt, 0);
      if (text) value = reinterpret_cast<const char*>(text);
      rc = sqlite3_step(stmt);
    }
    std::string message = sqlite3_errmsg(db_);
    sqlite3_finalize(stmt);
    if (rc != SQLITE_DONE) fail(std::string(sql) + ": " + message);
    return value;
  }

  void close() {
    for (auto& [sql, stmt] : cache_) sqlite3_finalize(stmt);  // returns the last step's error: seen already
    cache_.clear();
    if (db_ == nullptr) return;
    int rc = sqlite3_close(db_);
    if (rc != SQLITE_OK) FLOE_LOG(error, "meta") << "closing " << path_ << ": " << sqlite3_errstr(rc);
    db_ = nullptr;
  }

  sqlite3* db_ = nullptr;
  std::string path_;
  // Keyed by the SQL literal's address: every call site passes a literal.
  std::unordered_map<const char*, sqlite3_stmt*> cache_;
};

namespace {

// A cached statement in use. Resets it (and drops its bindings) when it goes
// out of scope, so that no statement keeps a read snapshot open.
class Statement {
 public:
  Statement(SqliteConnection& c, const char* sql) : c_(c), s_(c.cached(sql)), sql_(sql) {}
  ~Statement() {
    // The result of reset repeats the last step's error, already reported.
    sqlite3_reset(s_);
    if (clear_bindings_) sqlite3_clear_bindings(s_);
  }

  // Leaves the bound values in place when the statement goes back to the
  // cache: for statements that bind every parameter on each use, so no use
  // sees a value left by the one before. Clearing the 768 of each 64-row
  // INSERT of batch rows cost ~0.2 ms of a commit's ~8.4 at 10,000
  // partitions (make bench-meta).
  Statement& all_parameters_bound() {
    clear_bindings_ = false;
    return *this;
  }
  Statement(const Statement&) = delete;
  Statement& operator=(const Statement&) = delete;

  Statement& bind(int i, int64_t v) { return checked(sqlite3_bind_int64(s_, i, v)); }
  Statement& bind(int i, int32_t v) { return bind(i, static_cast<int64_t>(v)); }
  Statement& bind(int i, int16_t v) { return bind(i, static_cast<int64_t>(v)); }
  Statement& bind(int i, std::string_view v) {
    return checked(sqlite3_bind_text64(s_, i, v.data(), v.size(), SQLITE_TRANSIENT, SQLITE_UTF8));
  }
  Statement& bind(int i, const std::string& v) { return bind(i, std::string_view(v)); }
  Statement& bind(int i, const Uuid& v) { return bind_blob(i, v.bytes.data(), v.bytes.size()); }
  // nullopt binds NULL.
  Statement& bind(int i, const std::optional<std::string>& v) {
    return v ? bind(i, *v) : checked(sqlite3_bind_null(s_, i));
  }
  Statement& bind(int i, const std::optional<int64_t>& v) {
    return v ? bind(i, *v) : checked(sqlite3_bind_null(s_, i));
  }
  Statement& bind_blob(int i, const void* data, size_t size) {
    return checked(sqlite3_bind_blob64(s_, i, data, size, SQLITE_TRANSIENT));
  }

  // True with a row to read, false when done; throws on any error.
  bool step() {
    int rc = sqlite3_step(s_);
    if (rc == SQLITE_ROW) return true;
    if (rc == SQLITE_DONE) return false;
    error(sqlite3_errmsg(c_.raw()));
  }

  // Runs a statement that returns no rows.
  void run() {
    if (step()) error("returned a row");
  }

  int changes() { return sqlite3_changes(c_.raw()); }

  int64_t int64(int col) {
    if (sqlite3_column_type(s_, col) != SQLITE_INTEGER) corrupt(col, "an integer");
    return sqlite3_column_int64(s_, col);
  }
  int32_t int32(int col) {
    int64_t v = int64(col);
    if (v < std::numeric_limits<int32_t>::min() || v > std::numeric_limits<int32_t>::max()) corrupt(col, "an int32");
    return static_cast<int32_t>(v);
  }
  uint64_t uint64(int col) {
    int64_t v = int64(col);
    if (v < 0) corrupt(col, "a non-negative integer");
    return static_cast<uint64_t>(v);
  }
  uint32_t uint32(int col) {
    int64_t v = int64(col);
    if (v < 0 || v > std::numeric_limits<uint32_t>::max()) corrupt(col, "a uint32");
    return static_cast<uint32_t>(v);
  }
  std::string text(int col) {
    if (sqlite3_column_type(s_, col) != SQLITE_TEXT) corrupt(col, "text");
    const auto* p = reinterpret_cast<const char*>(sqlite3_column_text(s_, col));
    return std::string(p, static_cast<size_t>(sqlite3_column_bytes(s_, col)));
  }
  bool boolean(int col) {
    int64_t v = int64(col);
    if (v != 0 && v != 1) corrupt(col, "0 or 1");
    return v == 1;
  }
  bool is_null(int col) { return sqlite3_column_type(s_, col) == SQLITE_NULL; }
  std::optional<std::string> optional_text(int col) {
    if (is_null(col)) return std::nullopt;
    return text(col);
  }
  std::optional<int64_t> optional_int64(int col) {
    if (is_null(col)) return std::nullopt;
    return int64(col);
  }
  std::vector<uint8_t> blob(int col) {
    if (sqlite3_column_type(s_, col) != SQLITE_BLOB) corrupt(col, "a blob");
    const auto* p = static_cast<const uint8_t*>(sqlite3_column_blob(s_, col));
    return std::vector<uint8_t>(p, p + sqlite3_column_bytes(s_, col));
  }
  Uuid uuid(int col) {
    std::vector<uint8_t> b = blob(col);
    if (b.size() != 16) corrupt(col, "a 16-byte id");
    Uuid u;
    std::memcpy(u.bytes.data(), b.data(), 16);
    return u;
  }

  sqlite3_stmt* raw() { return s_; }

 private:
  Statement& checked(int rc) {
    if (rc != SQLITE_OK) error(sqlite3_errmsg(c_.raw()));
    return *this;
  }
  [[noreturn]] void error(const std::string& message) {
    c_.fail(message + " (in: " + std::string(sql_).substr(0, 100) + ")");
  }
  [[noreturn]] void corrupt(int col, const char* expected) {
    error(std::string("corrupt: column ") + sqlite3_column_name(s_, col) + " is not " + expected);
  }

  SqliteConnection& c_;
  sqlite3_stmt* s_;
  const char* sql_;
  bool clear_bindings_ = true;
};

// A transaction that rolls back unless committed. Writers use BEGIN
// IMMEDIATE: the write lock is taken up front (waiting up to the busy
// timeout), so a transaction never fails half-way on a lock upgrade and two
// writers can never deadlock. Readers use a deferred BEGIN: a consistent
// snapshot over several statements, taken without blocking writers (WAL);
// a read transaction is simply ended by the rollback in the destructor.
class Transaction {
 public:
  enum Kind { read, write };
  Transaction(SqliteConnection& c, Kind kind) : c_(c) {
    Statement(c_, kind == write ? "BEGIN IMMEDIATE" : "BEGIN DEFERRED").run();
  }
  ~Transaction() {
    // SQLite rolls some failed transactions back by itself (I/O errors, a
    // full disk); only roll back what is still open.
    if (committed_ || sqlite3_get_autocommit(c_.raw())) return;
    char* error = nullptr;
    int rc = sqlite3_exec(c_.raw(), "ROLLBACK", nullptr, nullptr, &error);
    if (rc != SQLITE_OK) {
      // The next BEGIN will fail loudly ("cannot start a transaction within
      // a transaction"); a destructor cannot throw.
      FLOE_LOG(error, "meta") << "rollback failed on " << c_.path() << ": " << (error ? error : sqlite3_errstr(rc));
    }
    sqlite3_free(error);
  }
  Transaction(const Transaction&) = delete;
  Transaction& operator=(const Transaction&) = delete;

  // Returns once the transaction is durable (synchronous = FULL).
  void commit() {
    Statement(c_, "COMMIT").run();
    committed_ = true;
  }

 private:
  SqliteConnection& c_;
  bool committed_ = false;
};

// --- schema ----------------------------------------------------------------

int current_schema_version(SqliteConnection& c) {
  Statement s(c, "SELECT coalesce(max(version), 0) FROM schema_version");
  if (!s.step()) c.fail("schema_version returned no row");
  return s.int32(0);
}

void migrate(SqliteConnection& c) {
  {
    Transaction txn(c, Transaction::write);
    int64_t application_id = 0;
    {
      Statement s(c, "PRAGMA application_id");
      if (s.step()) application_id = s.int64(0);
    }
    bool has_versions = false;
    bool has_other_tables = false;
    {
      Statement s(c, "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\'");
      while (s.step()) (s.text(0) == "schema_version" ? has_versions : has_other_tables) = true;
    }
    if ((application_id != 0 && application_id != kApplicationId) || (!has_versions && has_other_tables))
      c.fail("not a floe metadata store (a database of another application)");
    if (!has_versions) {
      c.exec(
          "CREATE TABLE schema_version ("
          "  version    INTEGER PRIMARY KEY,"
          "  description TEXT NOT NULL,"
          "  applied_ms INTEGER NOT NULL)");
      c.exec(("PRAGMA application_id = " + std::to_string(kApplicationId)).c_str());
    }
    txn.commit();
  }
  // One step per transaction, re-reading the version each time: another
  // process opening the same file may be migrating it too.
  for (;;) {
    Transaction txn(c, Transaction::write);
    int current = current_schema_version(c);
    if (current > kLatestSchemaVersion) {
      c.fail("schema version " + std::to_string(current) + " is newer than this floe knows (" +
             std::to_string(kLatestSchemaVersion) + "): upgrade floe");
    }
    if (current == kLatestSchemaVersion) return;  // read only: the rollback ends it
    const Migration& m = kMigrations[current];
    c.exec(m.sql);
    if (m.then) m.then(c);
    Statement(c, "INSERT INTO schema_version (version, description, applied_ms) VALUES (?, ?, ?)")
        .bind(1, m.version)
        .bind(2, std::string_view(m.description))
        .bind(3, unix_now_ms())
        .run();
    txn.commit();
    FLOE_LOG(info, "meta") << "metadata store " << c.path() << ": applied schema version " << m.version << " ("
                           << m.description << ")";
  }
}

// --- helpers shared by the calls --------------------------------------------

void bump_topics_version(SqliteConnection& c) {
  Statement s(c, "UPDATE cluster SET value = value + 1 WHERE key = 'topics_version'");
  s.run();
  if (s.changes() != 1) c.fail("corrupt: cluster.topics_version is missing");
}

std::map<std::string, std::string> load_configs(SqliteConnection& c, const Uuid& topic) {
  std::map<std::string, std::string> out;
  Statement s(c, "SELECT key, value FROM topic_configs WHERE topic_id = ?");
  s.bind(1, topic);
  while (s.step()) out.emplace(s.text(0), s.text(1));
  return out;
}

// Columns: id, name, partitions, created_ms.
Topic topic_from_row(Statement& s) {
  Topic t;
  t.id = s.uuid(0);
  t.name = s.text(1);
  t.partitions = s.int32(2);
  t.created_ms = s.int64(3);
  return t;
}

std::optional<int32_t> topic_partition_count(SqliteConnection& c, const Uuid& id) {
  Statement s(c, "SELECT partitions FROM topics WHERE id = ?");
  s.bind(1, id);
  if (!s.step()) return std::nullopt;
  return s.int32(0);
}

struct PartitionRow {
  int64_t id = 0;
  PartitionOffsets offsets;
  // The end of the partition's chain of batch rows (none without rows), and
  // how many rows at its end are not marked (0 to kRowsPerMark - 1).
  std::optional<int64_t> last_batch_id;
  int32_t unmarked_batches = 0;
};

// Partition state lives in blocks of kStatesPerBlock partitions (migration
// 8): a block's row holds its partitions' entries back to back, entry k for
// partition first_index + k, whether that partition exists yet or not (an
// entry no partition uses is in its initial state). An entry is 48 bytes,
// little-endian: log_start_offset, high_watermark, max_timestamp,
// max_timestamp_offset, last_batch_id (0: none; row ids start at 1), all
// int64, then unmarked_batches as int32 and 4 zero bytes.
constexpr int32_t kStatesPerBlock = 64;
constexpr size_t kStateBytes = 48;
constexpr size_t kBlockBytes = kStatesPerBlock * kStateBytes;

int32_t block_of(int32_t partition) { return partition / kStatesPerBlock * kStatesPerBlock; }

void put_le64(uint8_t* out, int64_t v) {
  for (int i = 0; i < 8; ++i) out[i] = static_cast<uint8_t>(static_cast<uint64_t>(v) >> (8 * i));
}
int64_t get_le64(const uint8_t* in) {
  uint64_t v = 0;
  for (int i = 7; i >= 0; --i) v = (v << 8) | in[i];
  return static_cast<int64_t>(v);
}

void encode_state(uint8_t* out, const PartitionRow& p) {
  put_le64(out, p.offsets.log_start_offset);
  put_le64(out + 8, p.offsets.high_watermark);
  put_le64(out + 16, p.offsets.max_timestamp);
  put_le64(out + 24, p.offsets.max_timestamp_offset);
  put_le64(out + 32, p.last_batch_id.value_or(0));
  put_le64(out + 40, p.unmarked_batches);  // the high half is the 4 zero bytes
}

// The entry's fields; `id` is left alone (it is the partition row's).
void decode_state(const uint8_t* in, PartitionRow& p) {
  p.offsets.log_start_offset = get_le64(in);
  p.offsets.high_watermark = get_le64(in + 8);
  p.offsets.max_timestamp = get_le64(in + 16);
  p.offsets.max_timestamp_offset = get_le64(in + 24);
  const int64_t last = get_le64(in + 32);
  p.last_batch_id = last == 0 ? std::nullopt : std::optional<int64_t>(last);
  p.unmarked_batches = static_cast<int32_t>(get_le64(in + 40));
}

std::vector<uint8_t> initial_block() {
  std::vector<uint8_t> block(kBlockBytes);
  const PartitionRow initial;  // offsets 0, no timestamp (-1), no batch rows
  for (int32_t k = 0; k < kStatesPerBlock; ++k) encode_state(block.data() + k * kStateBytes, initial);
  return block;
}

// A block's entries, checked for size (CHECK in the schema, but a file can
// be edited by hand).
std::vector<uint8_t> block_bytes(SqliteConnection& c, Statement& s, int col) {
  std::vector<uint8_t> block = s.blob(col);
  if (block.size() != kBlockBytes) c.fail("corrupt: a partition_states block of " + std::to_string(block.size()) + " bytes");
  return block;
}

// Writes the state of `rows` (each with its partition index, in index order,
// all of `topic`), one read and one write per block they fall in.
void store_states(SqliteConnection& c, const Uuid& topic, std::span<const std::pair<int32_t, const PartitionRow*>> rows) {
  for (size_t i = 0; i < rows.size();) {
    const int32_t first = block_of(rows[i].first);
    Statement read(c, "SELECT id, states FROM partition_states WHERE topic_id = ? AND first_index = ?");
    read.bind(1, topic).bind(2, first);
    if (!read.step()) c.fail("corrupt: no partition_states block at " + std::to_string(first) + " of topic " + topic.to_string());
    const int64_t id = read.int64(0);
    std::vector<uint8_t> block = block_bytes(c, read, 1);
    for (; i < rows.size() && block_of(rows[i].first) == first; ++i) {
      encode_state(block.data() + (rows[i].first - first) * kStateBytes, *rows[i].second);
    }
    Statement write(c, "UPDATE partition_states SET states = ? WHERE id = ?");
    write.bind_blob(1, block.data(), block.size()).bind(2, id).run();
  }
}

// Adds partitions [from, to) of a topic, with ids from the
// next_partition_id counter: an id is never used twice, even after its
// partition is deleted. Blocks of their states that do not exist yet are
// made, in their initial state (a block partly used holds initial entries
// for the partitions still to come).
void insert_partitions(SqliteConnection& c, const Uuid& topic, int32_t from, int32_t to) {
  int64_t next = 0;
  {
    Statement s(c, "SELECT value FROM cluster WHERE key = 'next_partition_id'");
    if (!s.step()) c.fail("corrupt: cluster.next_partition_id is missing");
    next = s.int64(0);
  }
  for (int32_t i = from; i < to; ++i)
    Statement(c, "INSERT INTO partitions (id, topic_id, partition_index) VALUES (?, ?, ?)")
        .bind(1, next++)
        .bind(2, topic)
        .bind(3, i)
        .run();
  Statement(c, "UPDATE cluster SET value = ? WHERE key = 'next_partition_id'").bind(1, next).run();
  static const std::vector<uint8_t> initial = initial_block();
  for (int32_t first = block_of(from); first < to; first += kStatesPerBlock) {
    Statement(c, "INSERT OR IGNORE INTO partition_states (topic_id, first_index, states) VALUES (?, ?, ?)")
        .bind(1, topic)
        .bind(2, first)
        .bind_blob(3, initial.data(), initial.size())
        .run();
  }
}

std::optional<PartitionRow> load_partition(SqliteConnection& c, const Uuid& topic, int32_t partition) {
  if (partition < 0) return std::nullopt;
  Statement s(c,
              "SELECT p.id, b.states FROM partitions AS p JOIN partition_states AS b "
              "ON b.topic_id = p.topic_id AND b.first_index = ? WHERE p.topic_id = ? AND p.partition_index = ?");
  s.bind(1, block_of(partition)).bind(2, topic).bind(3, partition);
  if (!s.step()) return std::nullopt;
  PartitionRow p;
  p.id = s.int64(0);
  std::vector<uint8_t> block = block_bytes(c, s, 1);
  decode_state(block.data() + (partition - block_of(partition)) * kStateBytes, p);
  return p;
}

// Migration 8: the partition rows' state columns into blocks, then the
// columns go (but two; see the migration).
void move_partition_states(SqliteConnection& c) {
  std::map<std::pair<Uuid, int32_t>, std::vector<uint8_t>> blocks;
  {
    Statement s(c,
                "SELECT topic_id, partition_index, log_start_offset, high_watermark, max_timestamp, "
                "max_timestamp_offset, last_batch_id, unmarked_batches FROM partitions");
    while (s.step()) {
      const int32_t partition = s.int32(1);
      auto [it, fresh] = blocks.try_emplace({s.uuid(0), block_of(partition)});
      if (fresh) it->second = initial_block();
      PartitionRow p;
      p.offsets.log_start_offset = s.int64(2);
      p.offsets.high_watermark = s.int64(3);
      p.offsets.max_timestamp = s.int64(4);
      p.offsets.max_timestamp_offset = s.int64(5);
      p.last_batch_id = s.optional_int64(6);
      p.unmarked_batches = s.int32(7);
      encode_state(it->second.data() + (partition - block_of(partition)) * kStateBytes, p);
    }
  }
  for (const auto& [key, block] : blocks) {
    Statement(c, "INSERT INTO partition_states (topic_id, first_index, states) VALUES (?, ?, ?)")
        .bind(1, key.first)
        .bind(2, key.second)
        .bind_blob(3, block.data(), block.size())
        .run();
  }
  c.exec(
      "UPDATE partitions SET log_start_offset = 0, high_watermark = 0;"
      "ALTER TABLE partitions DROP COLUMN max_timestamp;"
      "ALTER TABLE partitions DROP COLUMN max_timestamp_offset;"
      "ALTER TABLE partitions DROP COLUMN last_batch_id;"
      "ALTER TABLE partitions DROP COLUMN unmarked_batches;");
}

// (topic id, partition), as commit_object names the partitions it touches.
using PartitionName = std::pair<Uuid, int32_t>;

}  // namespace

// The partition rows as this store's own commits left them. A commit at
// 10,000 partitions read ~5,000 rows back one query each, a third of its
// time, though this store had written every one of them itself. The copy is
// used only while no other connection has written the file since (PRAGMA
// data_version: it changes when another connection commits, never for the
// connection's own commits) and is dropped by this store's other writes to
// partition rows (delete_records, delete_topic). Rows of partitions not seen
// yet (new topics) are read from the file. Entries change only after their
// commit is durable, so a rolled-back commit leaves nothing behind.
struct PartitionRowCache {
  // Past this many rows the copy starts over (a broker writing to millions
  // of partitions reads some back again rather than holding them all).
  static constexpr size_t kMaxRows = 1 << 17;

  // REQUIRES: inside a transaction. Drops the rows if another connection
  // has committed since the last call.
  void check(SqliteConnection& c) {
    Statement s(c, "PRAGMA data_version");
    if (!s.step()) c.fail("PRAGMA data_version returned no row");
    const int64_t version = s.int64(0);
    if (version != data_version) clear();
    data_version = version;
  }

  const PartitionRow* find(const Uuid& topic, int32_t partition) const {
    auto it = topics.find(topic);
    if (it == topics.end() || partition < 0 || static_cast<size_t>(partition) >= it->second.size()) return nullptr;
    const auto& row = it->second[static_cast<size_t>(partition)];
    return row ? &*row : nullptr;
  }

  // Only for partitions that exist: the vectors grow to the highest one.
  void put(const Uuid& topic, int32_t partition, const PartitionRow& row) {
    if (rows >= kMaxRows) clear();
    auto& partitions = topics[topic];
    if (static_cast<size_t>(partition) >= partitions.size()) partitions.resize(static_cast<size_t>(partition) + 1);
    auto& slot = partitions[static_cast<size_t>(partition)];
    if (!slot) ++rows;
    slot = row;
  }

  void clear() {
    topics.clear();
    rows = 0;
  }

  // Per topic, indexed by partition: a commit at 10,000 partitions looked
  // ~5,000 rows up and stored them back in one table keyed by (topic,
  // partition), mostly cache misses, ~10% of its time.
  std::unordered_map<Uuid, std::vector<std::optional<PartitionRow>>, protocol::UuidHash> topics;
  size_t rows = 0;
  int64_t data_version = -1;
};

namespace {

// One batches row, in the columns' order: id, partition_id, prev_id (0 for
// none, stored as NULL), marked, last_offset, base_offset, object_id,
// byte_offset, byte_length, max_timestamp, running_max_timestamp,
// record_count.
using BatchRowValues = std::array<int64_t, 12>;
constexpr size_t kPrevIdColumn = 2;

constexpr size_t kRowsPerInsert = 64;

// "INSERT INTO batches (...) VALUES (...), (...), ..." for `rows` rows; the
// text lives as long as the process (statements are cached by its address).
const char* insert_batch_rows_sql(size_t rows) {
  auto build = [](size_t n) {
    std::string sql =
        "INSERT INTO batches (id, partition_id, prev_id, marked, last_offset, base_offset, object_id, byte_offset, "
        "byte_length, max_timestamp, running_max_timestamp, record_count) VALUES ";
    for (size_t i = 0; i < n; ++i) sql += i == 0 ? "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)" : ", (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)";
    return sql;
  };
  static const std::string one = build(1);
  static const std::string many = build(kRowsPerInsert);
  return rows == 1 ? one.c_str() : many.c_str();
}

void bind_batch_row(Statement& s, int& param, const BatchRowValues& row) {
  for (size_t i = 0; i < row.size(); ++i) {
    if (i == kPrevIdColumn && row[i] == 0) {
      s.bind(param++, std::optional<int64_t>());
    } else {
      s.bind(param++, row[i]);
    }
  }
}

// Inserts the rows kRowsPerInsert to a statement (one step per row was a
// third of the inserting at 5,000 rows a commit), the rest one at a time.
void insert_batch_rows(SqliteConnection& c, const std::vector<BatchRowValues>& rows) {
  size_t i = 0;
  for (; i + kRowsPerInsert <= rows.size(); i += kRowsPerInsert) {
    Statement s(c, insert_batch_rows_sql(kRowsPerInsert));
    s.all_parameters_bound();
    int param = 1;
    for (size_t r = i; r < i + kRowsPerInsert; ++r) bind_batch_row(s, param, rows[r]);
    s.run();
  }
  for (; i < rows.size(); ++i) {
    Statement s(c, insert_batch_rows_sql(1));
    int param = 1;
    bind_batch_row(s, param, rows[i]);
    s.run();
  }
}

// One batches row, as a walk along its partition's chain reads it.
struct BatchRow {
  int64_t id = 0;
  std::optional<int64_t> prev_id;
  int64_t base_offset = 0;
  int64_t last_offset = 0;
  int64_t object_id = 0;
  uint64_t byte_offset = 0;
  uint32_t byte_length = 0;
  int64_t max_timestamp = -1;
  int64_t running_max = -1;
};

// A partition's batch rows (migration 7). Each row links to the partition's
// previous row, the partition row names the last, and every kRowsPerMark-th
// row is in the batches_marks index. A read costs one probe of that index
// for the first mark at or after an offset, then at most kRowsPerMark rows
// walked back from it: bounded by what it returns, never by the partition's
// length or the reader's lag.
//
// Rows are only ever deleted from a chain's start (delete_records) or whole
// (delete_topic), so a link to a row that is gone ends the chain. Its id may
// be given to a new row later (a new row's id is one above the largest
// live one), so a link is checked before it is followed: the row it names
// must be of the same partition and end before the row that links to it.
class BatchChain {
 public:
  BatchChain(SqliteConnection& c, int64_t partition_id, std::optional<int64_t> last_id,
             SqliteMetaStore::LookupCounters& counters)
      : c_(c), partition_id_(partition_id), last_id_(last_id), counters_(counters) {}

  std::optional<BatchRow> last() {
    if (!last_id_) return std::nullopt;
    std::optional<BatchRow> r = row(*last_id_);
    if (!r) {
      c_.fail("corrupt: the last batch row " + std::to_string(*last_id_) + " of partition " +
              std::to_string(partition_id_) + " is missing");
    }
    return r;
  }

  // The first marked row whose last offset is at least `offset`.
  std::optional<BatchRow> mark_at_or_after(int64_t offset) {
    ++counters_.mark_probes;
    int64_t id = 0;
    {
      Statement s(c_, kMarkProbeSql);
      s.bind(1, partition_id_).bind(2, offset);
      if (!s.step()) return std::nullopt;
      id = s.int64(0);
    }
    std::optional<BatchRow> r = row(id);
    if (!r) c_.fail("batch row " + std::to_string(id) + " vanished in a transaction");
    return r;
  }

  // The row before `r` in offset order; none at the start of the chain.
  std::optional<BatchRow> previous(const BatchRow& r) {
    if (!r.prev_id) return std::nullopt;
    std::optional<BatchRow> p = row(*r.prev_id);
    if (!p || p->last_offset >= r.base_offset) return std::nullopt;
    return p;
  }

  // The rows that end at or after `from`, oldest first, up to and including
  // the first mark at or after it (the last row when there is none): what a
  // walk forward from `from` reads next. Empty when no row ends that late.
  std::vector<BatchRow> segment_from(int64_t from) {
    std::optional<BatchRow> end = mark_at_or_after(from);
    if (!end) end = last();
    std::vector<BatchRow> out;
    if (!end || end->last_offset < from) return out;
    out.push_back(*end);
    // A row that starts at or before `from` is the first one wanted: the
    // row before it ends before `from`, and is not read.
    while (out.back().base_offset > from) {
      std::optional<BatchRow> p = previous(out.back());
      if (!p || p->last_offset < from) break;
      out.push_back(*p);
    }
    std::reverse(out.begin(), out.end());
    return out;
  }

 private:
  // The row with this id, if it is one of this partition's.
  std::optional<BatchRow> row(int64_t id) {
    ++counters_.rows_read;
    Statement s(c_, kRowByIdSql);
    s.bind(1, id);
    if (!s.step() || s.int64(0) != partition_id_) return std::nullopt;
    BatchRow r;
    r.id = id;
    r.prev_id = s.optional_int64(1);
    r.base_offset = s.int64(2);
    r.last_offset = s.int64(3);
    r.object_id = s.int64(4);
    r.byte_offset = s.uint64(5);
    r.byte_length = s.uint32(6);
    r.max_timestamp = s.int64(7);
    r.running_max = s.int64(8);
    return r;
  }

  SqliteConnection& c_;
  int64_t partition_id_;
  std::optional<int64_t> last_id_;
  SqliteMetaStore::LookupCounters& counters_;
};

// A partition's rows in offset order, from the first that ends at or after
// `from`, a segment of the chain at a time.
class BatchCursor {
 public:
  BatchCursor(BatchChain& chain, int64_t from) : chain_(chain), next_from_(from) {}

  std::optional<BatchRow> next() {
    if (at_ == segment_.size()) {
      segment_ = chain_.segment_from(next_from_);
      at_ = 0;
      if (segment_.empty()) return std::nullopt;
    }
    const BatchRow& r = segment_[at_++];
    next_from_ = r.last_offset + 1;
    return r;
  }

 private:
  BatchChain& chain_;
  int64_t next_from_;
  std::vector<BatchRow> segment_;
  size_t at_ = 0;
};

BatchLocation location_of(SqliteConnection& c, const BatchRow& r) {
  Statement s(c, "SELECT key FROM objects WHERE id = ?");
  s.bind(1, r.object_id);
  if (!s.step()) c.fail("corrupt: batch row " + std::to_string(r.id) + " points at a missing object");
  return BatchLocation{s.text(0), r.byte_offset, r.byte_length, r.base_offset, r.last_offset, r.max_timestamp};
}

void delete_batch_row(SqliteConnection& c, int64_t id) {
  Statement(c, "DELETE FROM batches WHERE id = ?").bind(1, id).run();
}

// Deletes `from` and the rows before it in its partition's chain, reading
// each link before deleting its row. Returns how many went. (One DELETE ...
// RETURNING per row, and deleting 64 ids to a statement after reading all
// the links, were both slower: 1.1 s and 3.8 s against 0.9 s for 350,000
// rows.)
int64_t delete_chain_from(SqliteConnection& c, BatchChain& chain, std::optional<BatchRow> from) {
  int64_t deleted = 0;
  while (from) {
    std::optional<BatchRow> before = chain.previous(*from);
    delete_batch_row(c, from->id);
    ++deleted;
    from = before;
  }
  return deleted;
}

struct ProducerBatch {
  int32_t first_sequence = 0;
  int32_t last_sequence = 0;
  int64_t base_offset = 0;
  int64_t last_offset = 0;
};

struct ProducerState {
  bool known = false;  // a row exists (or was created in this commit)
  bool dirty = false;
  int16_t epoch = -1;
  std::vector<ProducerBatch> batches;  // oldest first, at most kProducerHistory
};

constexpr size_t kProducerEntryBytes = 24;

void put_be(std::vector<uint8_t>& out, uint64_t v, int bytes) {
  for (int i = bytes - 1; i >= 0; --i) out.push_back(static_cast<uint8_t>(v >> (8 * i)));
}

uint64_t get_be(const uint8_t* p, int bytes) {
  uint64_t v = 0;
  for (int i = 0; i < bytes; ++i) v = (v << 8) | p[i];
  return v;
}

std::vector<uint8_t> encode_producer_batches(const std::vector<ProducerBatch>& batches) {
  std::vector<uint8_t> out;
  out.reserve(batches.size() * kProducerEntryBytes);
  for (const auto& b : batches) {
    put_be(out, static_cast<uint32_t>(b.first_sequence), 4);
    put_be(out, static_cast<uint32_t>(b.last_sequence), 4);
    put_be(out, static_cast<uint64_t>(b.base_offset), 8);
    put_be(out, static_cast<uint64_t>(b.last_offset), 8);
  }
  return out;
}

std::vector<ProducerBatch> decode_producer_batches(SqliteConnection& c, const std::vector<uint8_t>& bytes) {
  if (bytes.empty() || bytes.size() % kProducerEntryBytes != 0 ||
      bytes.size() > kProducerHistory * kProducerEntryBytes)
    c.fail("corrupt: producer_state.recent_batches has " + std::to_string(bytes.size()) + " bytes");
  std::vector<ProducerBatch> out;
  for (size_t at = 0; at < bytes.size(); at += kProducerEntryBytes) {
    const uint8_t* p = bytes.data() + at;
    ProducerBatch b;
    b.first_sequence = static_cast<int32_t>(get_be(p, 4));
    b.last_sequence = static_cast<int32_t>(get_be(p + 4, 4));
    b.base_offset = static_cast<int64_t>(get_be(p + 8, 8));
    b.last_offset = static_cast<int64_t>(get_be(p + 16, 8));
    out.push_back(b);
  }
  return out;
}

ProducerState load_producer(SqliteConnection& c, int64_t partition_id, int64_t producer_id) {
  ProducerState st;
  Statement s(c,
              "SELECT producer_epoch, recent_batches FROM producer_state "
              "WHERE partition_id = ? AND producer_id = ?");
  s.bind(1, partition_id).bind(2, producer_id);
  if (!s.step()) return st;
  st.known = true;
  int32_t epoch = s.int32(0);
  if (epoch < std::numeric_limits<int16_t>::min() || epoch > std::numeric_limits<int16_t>::max())
    c.fail("corrupt: producer epoch " + std::to_string(epoch));
  st.epoch = static_cast<int16_t>(epoch);
  st.batches = decode_producer_batches(c, s.blob(1));
  return st;
}

void store_producer(SqliteConnection& c, int64_t partition_id, int64_t producer_id, const ProducerState& st,
                    int64_t append_ms) {
  std::vector<uint8_t> blob = encode_producer_batches(st.batches);
  Statement(c,
            "INSERT INTO producer_state (partition_id, producer_id, producer_epoch, recent_batches, last_append_ms) "
            "VALUES (?, ?, ?, ?, ?) ON CONFLICT (partition_id, producer_id) DO UPDATE SET "
            "producer_epoch = excluded.producer_epoch, recent_batches = excluded.recent_batches, "
            "last_append_ms = excluded.last_append_ms")
      .bind(1, partition_id)
      .bind(2, producer_id)
      .bind(3, st.epoch)
      .bind_blob(4, blob.data(), blob.size())
      .bind(5, append_ms)
      .run();
}

// The idempotence check of one batch against its producer's state, as Kafka's
// ProducerAppendInfo does for a non-transactional idempotent producer.
struct SequenceVerdict {
  ErrorCode error = ErrorCode::none;
  const ProducerBatch* duplicate_of = nullptr;
  bool new_epoch = false;
};

SequenceVerdict check_sequence(const ProducerState& st, const PendingBatch& b, int32_t last_sequence) {
  SequenceVerdict v;
  if (!st.known) return v;  // the first batch we see of this producer: any sequence
  if (b.producer_epoch < st.epoch) {
    v.error = ErrorCode::invalid_producer_epoch;
  } else if (b.producer_epoch > st.epoch) {
    // A new epoch restarts the sequence at 0 and forgets the old batches.
    if (b.base_sequence != 0) v.error = ErrorCode::out_of_order_sequence_number;
    v.new_epoch = true;
  } else {
    for (const auto& prev : st.batches) {
      if (prev.first_sequence == b.base_sequence && prev.last_sequence == last_sequence) {
        v.duplicate_of = &prev;
        return v;
      }
    }
    if (b.base_sequence != increment_sequence(st.batches.back().last_sequence, 1))
      v.error = ErrorCode::out_of_order_sequence_number;
  }
  return v;
}

void validate(const ObjectCommit& object, std::span<const PendingBatch> batches) {
  to_int64(object.size, "object size");
  for (const auto& b : batches) {
    if (b.record_count < 1) throw std::invalid_argument("commit_object: a batch with record_count < 1");
    if (b.byte_length == 0 || b.byte_offset > object.size || b.byte_length > object.size - b.byte_offset)
      throw std::invalid_argument("commit_object: batch bytes [" + std::to_string(b.byte_offset) + ", +" +
                                  std::to_string(b.byte_length) + ") outside object " + object.key + " of " +
                                  std::to_string(object.size) + " bytes");
  }
}

// After rows at the start of a partition are dropped, the running maximum of
// the rows that remain must forget the dropped ones. Rows are rewritten in
// offset order until the recomputed value equals the stored one: from there
// on the dropped rows no longer dominate. In the usual case (timestamps that
// rise with offsets) that is the first row.
void repair_running_max(SqliteConnection& c, BatchChain& chain) {
  int64_t running = -1;
  BatchCursor cursor(chain, std::numeric_limits<int64_t>::min());
  while (std::optional<BatchRow> r = cursor.next()) {
    running = std::max(running, r->max_timestamp);
    if (running == r->running_max) return;
    Statement(c, "UPDATE batches SET running_max_timestamp = ? WHERE id = ?").bind(1, running).bind(2, r->id).run();
  }
}

// The partition's first batch row (in offset order) whose running max
// timestamp is at least `timestamp`: the first row that holds a record with
// a timestamp >= it. The running max never decreases in offset order, so
// "the first mark at or after offset x reaches it (or there is no such
// mark)" is false, then true, as x grows: a binary search over offsets finds
// the first mark that reaches it, each step one probe of the marks index
// (about log2 of the partition's offset span, ~30 at a billion offsets).
// The row sought is that mark (or the last row) or one of the fewer than
// kRowsPerMark rows before it.
std::optional<BatchRow> first_row_reaching(BatchChain& chain, int64_t timestamp) {
  std::optional<BatchRow> last = chain.last();
  if (!last || last->running_max < timestamp) return std::nullopt;
  int64_t lo = 0;  // offsets are never negative
  int64_t hi = last->last_offset + 1;
  // Invariant: the first mark at or after `hi` reaches the timestamp (or
  // there is none); every mark before `lo` does not.
  while (lo < hi) {
    const int64_t mid = lo + (hi - lo) / 2;
    std::optional<BatchRow> mark = chain.mark_at_or_after(mid);
    if (!mark || mark->running_max >= timestamp) {
      hi = mid;
    } else {
      lo = mark->last_offset + 1;
    }
  }
  std::optional<BatchRow> found = chain.mark_at_or_after(lo);
  if (!found) found = last;
  while (std::optional<BatchRow> p = chain.previous(*found)) {
    if (p->running_max < timestamp) break;
    found = p;
  }
  return found;
}

// The partition's max timestamp and the last offset of the first batch that
// has it, from the batch rows (-1, -1 without rows or timestamps).
std::pair<int64_t, int64_t> max_timestamp_of_rows(SqliteConnection& c, BatchChain& chain) {
  std::optional<BatchRow> last = chain.last();
  if (!last || last->running_max < 0) return {-1, -1};
  std::optional<BatchRow> at = first_row_reaching(chain, last->running_max);
  if (!at) c.fail("corrupt: running max timestamps of a partition");
  return {last->running_max, at->last_offset};
}

// Columns: group_id, protocol_type, generation, protocol, empty, state_ms,
// session_timeout_ms.
GroupRecord group_from_row(Statement& s) {
  GroupRecord g;
  g.group_id = s.text(0);
  g.protocol_type = s.text(1);
  g.generation = s.int32(2);
  g.protocol = s.optional_text(3);
  g.empty = s.boolean(4);
  g.state_ms = s.int64(5);
  g.session_timeout_ms = s.int32(6);
  return g;
}

// Columns: topic_id, partition_index, committed_offset, leader_epoch,
// metadata, commit_ms, expire_ms.
CommittedOffset committed_offset_from_row(Statement& s) {
  CommittedOffset o;
  o.partition.topic_id = s.uuid(0);
  o.partition.partition = s.int32(1);
  o.offset = s.int64(2);
  o.leader_epoch = s.int32(3);
  o.metadata = s.text(4);
  o.commit_ms = s.int64(5);
  o.expire_ms = s.optional_int64(6);
  return o;
}

std::optional<int64_t> partition_row_id(SqliteConnection& c, const PartitionId& p) {
  Statement s(c, "SELECT id FROM partitions WHERE topic_id = ? AND partition_index = ?");
  s.bind(1, p.topic_id).bind(2, p.partition);
  if (!s.step()) return std::nullopt;
  return s.int64(0);
}

const char* lookup_sql(SqliteMetaStore::Lookup lookup) {
  switch (lookup) {
    case SqliteMetaStore::Lookup::mark_probe:
      return kMarkProbeSql;
    case SqliteMetaStore::Lookup::row_by_id:
      return kRowByIdSql;
  }
  throw std::invalid_argument("unknown lookup");
}

}  // namespace

// --- the store ---------------------------------------------------------------

SqliteMetaStore::SqliteMetaStore(const std::string& path) : SqliteMetaStore(path, Options{}) {}

SqliteMetaStore::SqliteMetaStore(const std::string& path, Options options)
    : db_(std::make_unique<SqliteConnection>(path, options.busy_timeout_ms)),
      partition_rows_(std::make_unique<PartitionRowCache>()) {
  migrate(*db_);
}

SqliteMetaStore::~SqliteMetaStore() = default;

int SqliteMetaStore::latest_schema_version() { return kLatestSchemaVersion; }

int SqliteMetaStore::schema_version() {
  std::lock_guard lock(mu_);
  return current_schema_version(*db_);
}

// --- cluster -----------------------------------------------------------------

std::string SqliteMetaStore::cluster_id(const std::optional<std::string>& proposed) {
  if (proposed && proposed->empty()) throw std::invalid_argument("cluster_id: empty proposed id");
  std::lock_guard lock(mu_);
  SqliteConnection& c = *db_;
  Transaction txn(c, Transaction::write);
  {
    Statement s(c, "SELECT value FROM cluster WHERE key = 'cluster_id'");
    if (s.step()) {
      std::string recorded = s.text(0);
      if (proposed && *proposed != recorded) {
        throw MetaError(ErrorCode::inconsistent_cluster_id,
                        "cluster id " + *proposed + " differs from the store's " + recorded);
      }
      return recorded;
    }
  }
  std::string id = proposed ? *proposed : random_uuid().to_string();
  Statement(c, "INSERT INTO cluster (key, value) VALUES ('cluster_id', ?)").bind(1, id).run();
  txn.commit();
  return id;
}

int64_t SqliteMetaStore::allocate_producer_id() {
  std::lock_guard lock(mu_);
  SqliteConnection& c = *db_;
  // The write lock makes read-then-increment atomic across every process
  // sharing the file.
  Transaction txn(c, Transaction::write);
  int64_t id = 0;
  {
    Statement s(c, "SELECT value FROM cluster WHERE key = 'next_producer_id'");
    if (!s.step()) c.fail("corrupt: cluster.next_producer_id is missing");
    id = s.int64(0);
  }
  if (id < 0 || id == std::numeric_limits<int64_t>::max()) c.fail("producer ids are exhausted");
  Statement(c, "UPDATE cluster SET value = ? WHERE key = 'next_producer_id'").bind(1, id + 1).run();
  txn.commit();
  return id;
}

// --- topics ------------------------------------------------------------------

Topic SqliteMetaStore::create_topic(const std::string& name, int32_t partitions,
                                    const std::map<std::string, std::string>& configs) {
  if (partitions < 1) {
    throw MetaError(ErrorCode::invalid_partitions,
                    "topic " + name + ": partitions must be at least 1, not " + std::to_string(partitions));
  }
  std::lock_guard lock(mu_);
  SqliteConnection& c = *db_;
  Transaction txn(c, Transaction::write);
  {
    Statement s(c, "SELECT 1 FROM topics WHERE name = ?");
    if (s.bind(1, name).step()) throw MetaError(ErrorCode::topic_already_exists, "topic " + name + " already exists");
  }
  Topic t;
  t.name = name;
  t.partitions = partitions;
  t.configs = configs;
  t.created_ms = unix_now_ms();
  do {
    t.id = random_uuid();
  } while (topic_partition_count(c, t.id));
  Statement(c, "INSERT INTO topics (id, name, partitions, created_ms) VALUES (?, ?, ?, ?)")
      .bind(1, t.id)
      .bind(2, name)
      .bind(3, partitions)
      .bind(4, t.created_ms)
      .run();
  insert_partitions(c, t.id, 0, partitions);
  for (const auto& [key, value] : configs)
    Statement(c, "INSERT INTO topic_configs (topic_id, key, value) VALUES (?, ?, ?)")
        .bind(1, t.id)
        .bind(2, key)
        .bind(3, value)
        .run();
  bump_topics_version(c);
  txn.commit();
  return t;
}

std::optional<Topic> SqliteMetaStore::find_topic(const std::string& name) {
  std::lock_guard lock(mu_);
  SqliteConnection& c = *db_;
  Transaction txn(c, Transaction::read);
  std::optional<Topic> t;
  {
    Statement s(c, "SELECT id, name, partitions, created_ms FROM topics WHERE name = ?");
    if (!s.bind(1, name).step()) return std::nullopt;
    t = topic_from_row(s);
  }
  t->configs = load_configs(c, t->id);
  return t;
}

std::optional<Topic> SqliteMetaStore::find_topic(const Uuid& id) {
  std::lock_guard lock(mu_);
  SqliteConnection& c = *db_;
  Transaction txn(c, Transaction::read);
  std::optional<Topic> t;
  {
    Statement s(c, "SELECT id, name, partitions, created_ms FROM topics WHERE id = ?");
    if (!s.bind(1, id).step()) return std::nullopt;
    t = topic_from_row(s);
  }
  t->configs = load_configs(c, t->id);
  return t;
}

std::vector<Topic> SqliteMetaStore::list_topics() {
  std::lock_guard lock(mu_);
  SqliteConnection& c = *db_;
  Transaction txn(c, Transaction::read);
  std::vector<Topic> topics;
  std::map<Uuid, size_t> index;
  {
    Statement s(c, "SELECT id, name, partitions, created_ms FROM topics ORDER BY name");
    while (s.step()) {
      topics.push_back(topic_from_row(s));
      index.emplace(topics.back().id, topics.size() - 1);
    }
  }
  Statement s(c, "SELECT topic_id, key, value FROM topic_configs");
  while (s.step()) {
    auto it = index.find(s.uuid(0));
    if (it == index.end()) c.fail("corrupt: a config row of an unknown topic");
    topics[it->second].configs.emplace(s.text(1), s.text(2));
  }
  return topics;
}

void SqliteMetaStore::delete_topic(const Uuid& id) {
  std::lock_guard lock(mu_);
  SqliteConnection& c = *db_;
  Transaction txn(c, Transaction::write);
  if (!topic_partition_count(c, id))
    throw MetaError(ErrorCode::unknown_topic_id, "no topic with id " + id.to_string());
  partition_rows_->clear();  // its partition rows go
  // Children first; the foreign keys would refuse any other order. Batch
  // rows go along each partition's chain (no index leads with their
  // partition); deleting them releases their objects (the triggers count
  // references down).
  std::vector<std::pair<int64_t, std::optional<int64_t>>> chains;  // partition id, last batch row
  {
    static_assert(kStatesPerBlock == 64, "the SQL below has it as a literal");
    Statement s(c,
                "SELECT p.id, p.partition_index, b.states FROM partitions AS p LEFT JOIN partition_states AS b "
                "ON b.topic_id = p.topic_id AND b.first_index = p.partition_index / 64 * 64 WHERE p.topic_id = ?");
    s.bind(1, id);
    while (s.step()) {
      const int32_t partition = s.int32(1);
      PartitionRow p;
      const std::vector<uint8_t> block = block_bytes(c, s, 2);  // fails for a partition without its block
      decode_state(block.data() + (partition - block_of(partition)) * kStateBytes, p);
      chains.emplace_back(s.int64(0), p.last_batch_id);
    }
  }
  for (const auto& [partition_id, last_id] : chains) {
    BatchChain chain(c, partition_id, last_id, counters_);
    delete_chain_from(c, chain, chain.last());
  }
  Statement(c, "DELETE FROM producer_state WHERE partition_id IN (SELECT id FROM partitions WHERE topic_id = ?)")
      .bind(1, id)
      .run();
  Statement(c, "DELETE FROM group_offsets WHERE partition_id IN (SELECT id FROM partitions WHERE topic_id = ?)")
      .bind(1, id)
      .run();
  Statement(c, "DELETE FROM partition_states WHERE topic_id = ?").bind(1, id).run();
  Statement(c, "DELETE FROM partitions WHERE topic_id = ?").bind(1, id).run();
  Statement(c, "DELETE FROM topic_configs WHERE topic_id = ?").bind(1, id).run();
  Statement(c, "DELETE FROM topics WHERE id = ?").bind(1, id).run();
  bump_topics_version(c);
  txn.commit();
}

void SqliteMetaStore::create_partitions(const Uuid& id, int32_t total) {
  std::lock_guard lock(mu_);
  SqliteConnection& c = *db_;
  Transaction txn(c, Transaction::write);
  std::optional<int32_t> current = topic_partition_count(c, id);
  if (!current) throw MetaError(ErrorCode::unknown_topic_id, "no topic with id " + id.to_string());
  if (total <= *current) {
    throw MetaError(ErrorCode::invalid_partitions, "topic " + id.to_string() + " has " + std::to_string(*current) +
                                                       " partitions; cannot change to " + std::to_string(total));
  }
  insert_partitions(c, id, *current, total);
  Statement(c, "UPDATE topics SET partitions = ? WHERE id = ?").bind(1, total).bind(2, id).run();
  bump_topics_version(c);
  txn.commit();
}

void SqliteMetaStore::alter_topic_configs(const Uuid& id,
                                          const std::map<std::string, std::optional<std::string>>& changes) {
  std::lock_guard lock(mu_);
  SqliteConnection& c = *db_;
  Transaction txn(c, Transaction::write);
  if (!topic_partition_count(c, id))
    throw MetaError(ErrorCode::unknown_topic_id, "no topic with id " + id.to_string());
  int changed = 0;
  for (const auto& [key, value] : changes) {
    if (value) {
      Statement s(c,
                  "INSERT INTO topic_configs (topic_id, key, value) VALUES (?, ?, ?) "
                  "ON CONFLICT (topic_id, key) DO UPDATE SET value = excluded.value "
                  "WHERE value IS NOT excluded.value");
      s.bind(1, id).bind(2, key).bind(3, *value).run();
      changed += s.changes();
    } else {
      Statement s(c, "DELETE FROM topic_configs WHERE topic_id = ? AND key = ?");
      s.bind(1, id).bind(2, key).run();
      changed += s.changes();
    }
  }
  if (changed > 0) bump_topics_version(c);
  txn.commit();
}

int64_t SqliteMetaStore::topics_version() {
  std::lock_guard lock(mu_);
  Statement s(*db_, "SELECT value FROM cluster WHERE key = 'topics_version'");
  if (!s.step()) db_->fail("corrupt: cluster.topics_version is missing");
  return s.int64(0);
}

// --- the data path -------------------------------------------------------------

CommitOutcome SqliteMetaStore::commit_object(const ObjectCommit& object, std::span<const PendingBatch> batches,
                                             const CommitGate& gate) {
  validate(object, batches);
  std::lock_guard lock(mu_);
  SqliteConnection& c = *db_;

  // BEGIN IMMEDIATE holds SQLite's single database write lock for the whole
  // commit, so batches are simply processed in input (arrival) order and
  // two commits - of this process or another - can never deadlock. A backend
  // with row locks (PostgreSQL) must first lock the touched partitions in
  // (topic id, partition) order, then process in input order.
  Transaction txn(c, Transaction::write);
  partition_rows_->check(c);
  // A commit that fails, even at COMMIT itself, may or may not have landed:
  // the copy of the rows goes.
  struct DropRowsUnlessDone {
    PartitionRowCache& cache;
    bool done = false;
    ~DropRowsUnlessDone() {
      if (!done) cache.clear();
    }
  } drop_rows_unless_done{*partition_rows_};

  // The run being built per partition: stored batches back to back in the
  // object (BatchLocation). A run ends at a gap (a rejected or duplicate
  // batch, another partition's bytes) or at kMaxRunBytes.
  struct Run {
    int64_t base_offset = 0;
    int64_t last_offset = 0;
    uint64_t byte_offset = 0;
    uint64_t byte_length = 0;
    int64_t max_timestamp = -1;
  };
  // State read once per partition and producer, updated in memory as the
  // batches go (a later batch sees what earlier ones did), written back once.
  struct PartitionSlot {
    std::optional<PartitionRow> row;
    bool dirty = false;
    std::optional<Run> run;
    int64_t running_max = -1;  // the partition's max timestamp up to the run
  };
  std::optional<int64_t> object_id;
  // The batch rows, in the order their runs closed; inserted at the end.
  std::vector<BatchRowValues> rows;
  CommitOutcome out;
  // Ids for the new rows, above every row's: the write lock keeps them ours.
  std::optional<int64_t> next_row_id;
  auto close_run = [&](const PartitionName& partition, PartitionSlot& slot) {
    const Run& r = *slot.run;
    PartitionRow& p = *slot.row;
    slot.running_max = std::max(slot.running_max, r.max_timestamp);
    if (!next_row_id) {
      Statement s(c, "SELECT coalesce(max(id), 0) + 1 FROM batches");
      if (!s.step()) c.fail("max(id) returned no row");
      next_row_id = s.int64(0);
    }
    const int64_t id = (*next_row_id)++;
    const bool marked = p.unmarked_batches == kRowsPerMark - 1;
    rows.push_back({id, p.id, p.last_batch_id.value_or(0), marked ? 1 : 0, r.last_offset, r.base_offset, *object_id,
                    static_cast<int64_t>(r.byte_offset), static_cast<int64_t>(r.byte_length), r.max_timestamp,
                    slot.running_max, r.last_offset - r.base_offset + 1});
    p.last_batch_id = id;
    p.unmarked_batches = marked ? 0 : p.unmarked_batches + 1;
    out.runs.push_back({partition.first, partition.second,
                        BatchLocation{object.key, r.byte_offset, static_cast<uint32_t>(r.byte_length), r.base_offset,
                                      r.last_offset, r.max_timestamp}});
    slot.run.reset();
  };
  // The touched partitions' slots, found by topic (a commit names a few),
  // then by partition index: a commit at 10,000 partitions touches ~5,000,
  // and a table keyed by (topic, partition) was ~10% of its time, mostly
  // cache misses. Reserved for a slot per batch: slots never move.
  std::vector<std::pair<PartitionName, PartitionSlot>> partitions;
  partitions.reserve(batches.size());
  struct TopicSlots {
    Uuid topic;
    std::vector<int32_t> slot;  // by partition index: index in `partitions`, or -1
  };
  std::vector<TopicSlots> topics;
  auto slot_of = [&](const Uuid& topic, int32_t partition) -> std::pair<PartitionName, PartitionSlot>* {
    auto t = std::find_if(topics.rbegin(), topics.rend(), [&](const TopicSlots& x) { return x.topic == topic; });
    if (t == topics.rend()) {
      // Sized by the topic's partition count; nothing for a topic that is gone.
      topics.push_back({topic, std::vector<int32_t>(static_cast<size_t>(topic_partition_count(c, topic).value_or(0)), -1)});
      t = topics.rbegin();
    }
    if (partition < 0 || static_cast<size_t>(partition) >= t->slot.size()) return nullptr;
    int32_t& index = t->slot[static_cast<size_t>(partition)];
    if (index < 0) {
      index = static_cast<int32_t>(partitions.size());
      PartitionSlot& slot = partitions.emplace_back(PartitionName{topic, partition}, PartitionSlot{}).second;
      if (const PartitionRow* cached = partition_rows_->find(topic, partition)) {
        slot.row = *cached;
      } else {
        slot.row = load_partition(c, topic, partition);
      }
      if (slot.row) slot.running_max = slot.row->offsets.max_timestamp;
    }
    return &partitions[static_cast<size_t>(index)];
  };
  std::map<std::pair<int64_t, int64_t>, ProducerState> producers;  // (partition id, producer id)

  out.results.resize(batches.size());
  rows.reserve(batches.size());  // at most a row per batch
  out.runs.reserve(batches.size());
  for (size_t i = 0; i < batches.size(); ++i) {
    const PendingBatch& b = batches[i];
    CommitResult& r = out.results[i];

    auto* slot_it = slot_of(b.topic_id, b.partition);
    if (!slot_it || !slot_it->second.row) {
      r.error = ErrorCode::unknown_topic_or_partition;
      continue;
    }
    PartitionSlot& slot = slot_it->second;
    PartitionRow& p = *slot.row;
    r.log_start_offset = p.offsets.log_start_offset;

    ProducerState* producer = nullptr;
    const int32_t last_sequence = increment_sequence(b.base_sequence, b.record_count - 1);
    if (b.producer_id >= 0) {
      auto [it, inserted] = producers.try_emplace({p.id, b.producer_id});
      if (inserted) it->second = load_producer(c, p.id, b.producer_id);
      producer = &it->second;
      SequenceVerdict v = check_sequence(*producer, b, last_sequence);
      if (v.error != ErrorCode::none) {
        r.error = v.error;
        continue;
      }
      if (v.duplicate_of) {
        r.base_offset = v.duplicate_of->base_offset;
        r.duplicate = true;
        continue;
      }
      if (v.new_epoch) producer->batches.clear();
    }

    if (!object_id) {
      Statement(c, "INSERT INTO objects (key, size, created_ms) VALUES (?, ?, ?)")
          .bind(1, object.key)
          .bind(2, static_cast<int64_t>(object.size))
          .bind(3, object.append_time_ms)
          .run();
      object_id = sqlite3_last_insert_rowid(c.raw());
    }

    const int64_t base_offset = p.offsets.high_watermark;
    const int64_t last_offset = base_offset + b.record_count - 1;
    p.offsets.high_watermark = last_offset + 1;
    // Ties keep the earliest batch, as Kafka's offsetOfMaxTimestamp does.
    if (b.max_timestamp > p.offsets.max_timestamp) {
      p.offsets.max_timestamp = b.max_timestamp;
      p.offsets.max_timestamp_offset = last_offset;
    }
    slot.dirty = true;

    if (slot.run && (slot.run->byte_offset + slot.run->byte_length != b.byte_offset ||
                     slot.run->byte_length + b.byte_length > kMaxRunBytes)) {
      close_run(slot_it->first, slot);
    }
    if (!slot.run) {
      slot.run = Run{base_offset, last_offset, b.byte_offset, 0, b.max_timestamp};
    }
    slot.run->last_offset = last_offset;
    slot.run->byte_length += b.byte_length;
    slot.run->max_timestamp = std::max(slot.run->max_timestamp, b.max_timestamp);

    if (producer) {
      producer->known = true;
      producer->dirty = true;
      producer->epoch = b.producer_epoch;
      producer->batches.push_back({b.base_sequence, last_sequence, base_offset, last_offset});
      if (producer->batches.size() > kProducerHistory) producer->batches.erase(producer->batches.begin());
    }
    r.base_offset = base_offset;
  }

  // The touched partitions in row id order: their rows are updated, and
  // their last runs get row ids, in one pass along the table.
  std::vector<std::pair<PartitionName, PartitionSlot>*> touched;
  touched.reserve(partitions.size());
  for (auto& entry : partitions)
    if (entry.second.row) touched.push_back(&entry);
  std::sort(touched.begin(), touched.end(), [](const auto* a, const auto* b) { return a->second.row->id < b->second.row->id; });
  for (auto* entry : touched)
    if (entry->second.run) close_run(entry->first, entry->second);
  insert_batch_rows(c, rows);
  if (object_id) {
    Statement(c, "UPDATE objects SET live_batches = live_batches + ? WHERE id = ?")
        .bind(1, static_cast<int64_t>(rows.size()))
        .bind(2, *object_id)
        .run();
  }
  {
    // By topic, then partition: each block of states is rewritten once.
    std::vector<const std::pair<PartitionName, PartitionSlot>*> dirty;
    dirty.reserve(touched.size());
    for (const auto* entry : touched)
      if (entry->second.dirty) dirty.push_back(entry);
    std::sort(dirty.begin(), dirty.end(), [](const auto* a, const auto* b) { return a->first < b->first; });
    std::vector<std::pair<int32_t, const PartitionRow*>> states;
    for (size_t i = 0; i < dirty.size(); ++i) {
      states.emplace_back(dirty[i]->first.second, &*dirty[i]->second.row);
      if (i + 1 == dirty.size() || dirty[i + 1]->first.first != dirty[i]->first.first) {
        store_states(c, dirty[i]->first.first, states);
        states.clear();
      }
    }
  }
  for (const auto& [key, st] : producers)
    if (st.dirty) store_producer(c, key.first, key.second, st, object.append_time_ms);
  if (gate && !gate()) {
    // The transaction rolls back. The cached partition rows are still
    // right: they change only after COMMIT, below.
    drop_rows_unless_done.done = true;
    CommitOutcome abandoned;
    abandoned.abandoned = true;
    return abandoned;
  }
  txn.commit();
  for (const auto* entry : touched)
    if (entry->second.dirty) partition_rows_->put(entry->first.first, entry->first.second, *entry->second.row);
  drop_rows_unless_done.done = true;
  out.object_recorded = object_id.has_value();
  return out;
}

std::optional<PartitionOffsets> SqliteMetaStore::partition_offsets(const Uuid& topic, int32_t partition) {
  std::lock_guard lock(mu_);
  std::optional<PartitionRow> p = load_partition(*db_, topic, partition);
  if (!p) return std::nullopt;
  return p->offsets;
}

std::vector<std::pair<int32_t, PartitionOffsets>> SqliteMetaStore::topic_offsets(const Uuid& topic) {
  std::lock_guard lock(mu_);
  SqliteConnection& c = *db_;
  Transaction txn(c, Transaction::read);  // the partitions and their states from one snapshot
  std::vector<std::pair<int32_t, PartitionOffsets>> out;
  {
    Statement s(c, "SELECT partition_index FROM partitions WHERE topic_id = ? ORDER BY partition_index");
    s.bind(1, topic);
    while (s.step()) out.emplace_back(s.int32(0), PartitionOffsets{});
  }
  Statement s(c, "SELECT first_index, states FROM partition_states WHERE topic_id = ? ORDER BY first_index");
  s.bind(1, topic);
  size_t next = 0;
  while (s.step() && next < out.size()) {
    const int32_t first = s.int32(0);
    const std::vector<uint8_t> block = block_bytes(c, s, 1);
    for (; next < out.size() && block_of(out[next].first) == first; ++next) {
      PartitionRow p;
      decode_state(block.data() + (out[next].first - first) * kStateBytes, p);
      out[next].second = p.offsets;
    }
  }
  if (next != out.size()) c.fail("corrupt: partitions of topic " + topic.to_string() + " without a partition_states block");
  return out;
}

std::optional<FetchPlan> SqliteMetaStore::find_batches(const Uuid& topic, int32_t partition, int64_t from_offset,
                                                       uint64_t max_bytes) {
  std::lock_guard lock(mu_);
  SqliteConnection& c = *db_;
  Transaction txn(c, Transaction::read);  // offsets and batches from one snapshot
  std::optional<PartitionRow> p = load_partition(c, topic, partition);
  if (!p) return std::nullopt;
  FetchPlan plan;
  plan.offsets = p->offsets;
  // Walk forward and stop as soon as the budget is reached: the rows
  // returned, plus at most a segment's worth read to find the first (the
  // last may cross the budget; the caller cuts it at a batch boundary).
  BatchChain chain(c, p->id, p->last_batch_id, counters_);
  BatchCursor cursor(chain, from_offset);
  uint64_t total = 0;
  while (total < max_bytes || plan.batches.empty()) {
    std::optional<BatchRow> r = cursor.next();
    if (!r) break;
    plan.batches.push_back(location_of(c, *r));
    total += r->byte_length;
  }
  return plan;
}

std::optional<BatchLocation> SqliteMetaStore::find_batch_by_timestamp(const Uuid& topic, int32_t partition,
                                                                      int64_t timestamp) {
  std::lock_guard lock(mu_);
  SqliteConnection& c = *db_;
  Transaction txn(c, Transaction::read);  // every probe sees one snapshot
  std::optional<PartitionRow> p = load_partition(c, topic, partition);
  if (!p) return std::nullopt;
  BatchChain chain(c, p->id, p->last_batch_id, counters_);
  std::optional<BatchRow> r = first_row_reaching(chain, timestamp);
  if (!r) return std::nullopt;
  return location_of(c, *r);
}

std::optional<BatchLocation> SqliteMetaStore::find_batch_containing(const Uuid& topic, int32_t partition,
                                                                    int64_t offset) {
  std::lock_guard lock(mu_);
  SqliteConnection& c = *db_;
  Transaction txn(c, Transaction::read);
  std::optional<PartitionRow> p = load_partition(c, topic, partition);
  if (!p) return std::nullopt;
  BatchChain chain(c, p->id, p->last_batch_id, counters_);
  BatchCursor cursor(chain, offset);
  std::optional<BatchRow> r = cursor.next();
  if (!r || r->base_offset > offset) return std::nullopt;  // past the end, or before the first stored batch
  return location_of(c, *r);
}

int64_t SqliteMetaStore::delete_records(const Uuid& topic, int32_t partition, int64_t offset) {
  std::lock_guard lock(mu_);
  SqliteConnection& c = *db_;
  Transaction txn(c, Transaction::write);
  std::optional<PartitionRow> p = load_partition(c, topic, partition);
  if (!p) {
    throw MetaError(ErrorCode::unknown_topic_or_partition,
                    "no partition " + std::to_string(partition) + " of topic " + topic.to_string());
  }
  const int64_t target = offset == -1 ? p->offsets.high_watermark : offset;
  if (target < 0 || target > p->offsets.high_watermark) {
    throw MetaError(ErrorCode::offset_out_of_range,
                    "cannot delete records before offset " + std::to_string(offset) + ": the high watermark is " +
                        std::to_string(p->offsets.high_watermark));
  }
  if (target <= p->offsets.log_start_offset) return p->offsets.log_start_offset;

  partition_rows_->clear();  // the row changes here, outside commit_object
  p->offsets.log_start_offset = target;
  // The rows that end before the target go: the start of the chain, up to
  // the first row that ends at or after it (all of it when none does). A
  // batch straddling the new start stays; fetch skips its early records.
  BatchChain chain(c, p->id, p->last_batch_id, counters_);
  std::vector<BatchRow> kept = chain.segment_from(target);
  const bool dropped_any =
      delete_chain_from(c, chain, kept.empty() ? chain.last() : chain.previous(kept.front())) > 0;
  if (kept.empty()) {
    p->last_batch_id.reset();
    p->unmarked_batches = 0;
  }
  if (dropped_any) {
    BatchChain rest(c, p->id, p->last_batch_id, counters_);
    repair_running_max(c, rest);
    std::tie(p->offsets.max_timestamp, p->offsets.max_timestamp_offset) = max_timestamp_of_rows(c, rest);
  }
  const std::pair<int32_t, const PartitionRow*> state{partition, &*p};
  store_states(c, topic, std::span(&state, 1));
  txn.commit();
  return target;
}

// --- objects -----------------------------------------------------------------

namespace {
std::vector<StoredObject> read_objects(Statement& s) {
  std::vector<StoredObject> out;
  while (s.step()) out.push_back(StoredObject{s.text(0), s.uint64(1), s.int64(2)});
  return out;
}
}  // namespace

std::vector<StoredObject> SqliteMetaStore::objects() {
  std::lock_guard lock(mu_);
  Statement s(*db_, "SELECT key, size, created_ms FROM objects ORDER BY id");
  return read_objects(s);
}

std::vector<StoredObject> SqliteMetaStore::unreferenced_objects() {
  std::lock_guard lock(mu_);
  Statement s(*db_,
              "SELECT key, size, created_ms FROM objects INDEXED BY objects_unreferenced "
              "WHERE live_batches = 0 ORDER BY id");
  return read_objects(s);
}

void SqliteMetaStore::forget_objects(std::span<const std::string> keys) {
  std::lock_guard lock(mu_);
  SqliteConnection& c = *db_;
  Transaction txn(c, Transaction::write);
  // Only unreferenced rows go: a key some batch still points at stays (and
  // the foreign key would refuse it anyway).
  for (const auto& key : keys)
    Statement(c, "DELETE FROM objects WHERE key = ? AND live_batches = 0").bind(1, key).run();
  txn.commit();
}

// --- consumer groups -----------------------------------------------------------

void SqliteMetaStore::store_group(const GroupRecord& group) {
  std::lock_guard lock(mu_);
  SqliteConnection& c = *db_;
  // The write lock makes the generation check and the write one step for
  // every process sharing the file.
  Transaction txn(c, Transaction::write);
  {
    Statement s(c, "SELECT generation FROM groups WHERE group_id = ?");
    if (s.bind(1, group.group_id).step() && s.int32(0) > group.generation) {
      throw MetaError(ErrorCode::illegal_generation, "group " + group.group_id + " is at generation " +
                                                         std::to_string(s.int32(0)) + ", not going back to " +
                                                         std::to_string(group.generation));
    }
  }
  Statement(c,
            "INSERT INTO groups (group_id, protocol_type, generation, protocol, empty, state_ms, session_timeout_ms) "
            "VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (group_id) DO UPDATE SET "
            "protocol_type = excluded.protocol_type, generation = excluded.generation, "
            "protocol = excluded.protocol, empty = excluded.empty, state_ms = excluded.state_ms, "
            "session_timeout_ms = excluded.session_timeout_ms")
      .bind(1, group.group_id)
      .bind(2, group.protocol_type)
      .bind(3, group.generation)
      .bind(4, group.protocol)
      .bind(5, int64_t{group.empty ? 1 : 0})
      .bind(6, group.state_ms)
      .bind(7, group.session_timeout_ms)
      .run();
  txn.commit();
}

std::optional<GroupRecord> SqliteMetaStore::find_group(const std::string& group_id) {
  std::lock_guard lock(mu_);
  Statement s(*db_,
              "SELECT group_id, protocol_type, generation, protocol, empty, state_ms, session_timeout_ms FROM groups "
              "WHERE group_id = ?");
  if (!s.bind(1, group_id).step()) return std::nullopt;
  return group_from_row(s);
}

std::vector<GroupRecord> SqliteMetaStore::list_groups() {
  std::lock_guard lock(mu_);
  Statement s(*db_,
              "SELECT group_id, protocol_type, generation, protocol, empty, state_ms, session_timeout_ms FROM groups "
              "ORDER BY group_id");
  std::vector<GroupRecord> out;
  while (s.step()) out.push_back(group_from_row(s));
  return out;
}

std::vector<ErrorCode> SqliteMetaStore::commit_offsets(const std::string& group_id,
                                                       std::span<const CommittedOffset> offsets, int64_t now_ms) {
  std::lock_guard lock(mu_);
  SqliteConnection& c = *db_;
  Transaction txn(c, Transaction::write);
  // Consumers that never joined (standalone) commit too: their group gets a
  // record, empty from now, so that offset retention has a start.
  Statement(c,
            "INSERT INTO groups (group_id, protocol_type, generation, protocol, empty, state_ms) "
            "VALUES (?, '', 0, NULL, 1, ?) ON CONFLICT (group_id) DO NOTHING")
      .bind(1, group_id)
      .bind(2, now_ms)
      .run();
  std::vector<ErrorCode> out;
  out.reserve(offsets.size());
  for (const CommittedOffset& o : offsets) {
    std::optional<int64_t> partition_id = partition_row_id(c, o.partition);
    if (!partition_id) {
      out.push_back(ErrorCode::unknown_topic_or_partition);
      continue;
    }
    Statement(c,
              "INSERT INTO group_offsets (group_id, partition_id, committed_offset, leader_epoch, metadata, "
              "commit_ms, expire_ms) VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (group_id, partition_id) DO UPDATE SET "
              "committed_offset = excluded.committed_offset, leader_epoch = excluded.leader_epoch, "
              "metadata = excluded.metadata, commit_ms = excluded.commit_ms, expire_ms = excluded.expire_ms")
        .bind(1, group_id)
        .bind(2, *partition_id)
        .bind(3, o.offset)
        .bind(4, o.leader_epoch)
        .bind(5, o.metadata)
        .bind(6, o.commit_ms)
        .bind(7, o.expire_ms)
        .run();
    out.push_back(ErrorCode::none);
  }
  txn.commit();
  return out;
}

std::vector<CommittedOffset> SqliteMetaStore::fetch_offsets(const std::string& group_id,
                                                            std::optional<std::span<const PartitionId>> which) {
  std::lock_guard lock(mu_);
  SqliteConnection& c = *db_;
  std::vector<CommittedOffset> out;
  if (!which) {
    Statement s(c,
                "SELECT p.topic_id, p.partition_index, o.committed_offset, o.leader_epoch, o.metadata, o.commit_ms, "
                "o.expire_ms FROM group_offsets AS o JOIN partitions AS p ON p.id = o.partition_id "
                "WHERE o.group_id = ? ORDER BY p.topic_id, p.partition_index");
    s.bind(1, group_id);
    while (s.step()) out.push_back(committed_offset_from_row(s));
    return out;
  }
  Transaction txn(c, Transaction::read);  // every listed partition from one snapshot
  for (const PartitionId& p : *which) {
    Statement s(c,
                "SELECT p.topic_id, p.partition_index, o.committed_offset, o.leader_epoch, o.metadata, o.commit_ms, "
                "o.expire_ms FROM partitions AS p JOIN group_offsets AS o ON o.partition_id = p.id "
                "WHERE p.topic_id = ? AND p.partition_index = ? AND o.group_id = ?");
    s.bind(1, p.topic_id).bind(2, p.partition).bind(3, group_id);
    if (s.step()) out.push_back(committed_offset_from_row(s));
  }
  return out;
}

size_t SqliteMetaStore::delete_offsets(const std::string& group_id, std::span<const PartitionId> which) {
  std::lock_guard lock(mu_);
  SqliteConnection& c = *db_;
  Transaction txn(c, Transaction::write);
  size_t deleted = 0;
  for (const PartitionId& p : which) {
    // An unknown partition makes the subquery NULL, which matches no row.
    Statement s(c,
                "DELETE FROM group_offsets WHERE group_id = ? AND partition_id = "
                "(SELECT id FROM partitions WHERE topic_id = ? AND partition_index = ?)");
    s.bind(1, group_id).bind(2, p.topic_id).bind(3, p.partition).run();
    deleted += static_cast<size_t>(s.changes());
  }
  txn.commit();
  return deleted;
}

bool SqliteMetaStore::delete_group(const std::string& group_id) {
  std::lock_guard lock(mu_);
  SqliteConnection& c = *db_;
  Transaction txn(c, Transaction::write);
  int deleted = 0;
  {
    // Offsets first: their foreign key refuses the other order.
    Statement s(c, "DELETE FROM group_offsets WHERE group_id = ?");
    s.bind(1, group_id).run();
    deleted += s.changes();
  }
  {
    Statement s(c, "DELETE FROM groups WHERE group_id = ?");
    s.bind(1, group_id).run();
    deleted += s.changes();
  }
  if (deleted == 0) return false;  // nothing written: the rollback ends it
  txn.commit();
  return true;
}

MetaStore::ExpiryOutcome SqliteMetaStore::expire_offsets(const std::string& group_id,
                                                         std::span<const CommittedOffset> seen,
                                                         bool drop_group_if_left_empty) {
  std::lock_guard lock(mu_);
  SqliteConnection& c = *db_;
  Transaction txn(c, Transaction::write);
  ExpiryOutcome out;
  for (const CommittedOffset& o : seen) {
    Statement s(c,
                "DELETE FROM group_offsets WHERE group_id = ? AND commit_ms = ? AND partition_id = "
                "(SELECT id FROM partitions WHERE topic_id = ? AND partition_index = ?)");
    s.bind(1, group_id).bind(2, o.commit_ms).bind(3, o.partition.topic_id).bind(4, o.partition.partition).run();
    out.offsets_deleted += static_cast<size_t>(s.changes());
  }
  if (drop_group_if_left_empty) {
    Statement s(c,
                "DELETE FROM groups WHERE group_id = ? AND NOT EXISTS "
                "(SELECT 1 FROM group_offsets WHERE group_id = ?)");
    s.bind(1, group_id).bind(2, group_id).run();
    out.group_deleted = s.changes() > 0;
  }
  txn.commit();
  return out;
}

// --- introspection -----------------------------------------------------------

std::vector<std::string> SqliteMetaStore::query_plan(Lookup lookup) {
  std::lock_guard lock(mu_);
  std::string sql = std::string("EXPLAIN QUERY PLAN ") + lookup_sql(lookup);
  sqlite3_stmt* stmt = nullptr;
  db_->check(sqlite3_prepare_v2(db_->raw(), sql.c_str(), -1, &stmt, nullptr), "prepare EXPLAIN QUERY PLAN");
  std::vector<std::string> lines;
  int rc;
  while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
    const unsigned char* detail = sqlite3_column_text(stmt, 3);
    lines.emplace_back(detail ? reinterpret_cast<const char*>(detail) : "");
  }
  std::string message = sqlite3_errmsg(db_->raw());
  sqlite3_finalize(stmt);
  if (rc != SQLITE_DONE) db_->fail("EXPLAIN QUERY PLAN: " + message);
  return lines;
}

SqliteMetaStore::LookupCounters SqliteMetaStore::take_counters() {
  std::lock_guard lock(mu_);
  return std::exchange(counters_, LookupCounters{});
}

}  // namespace floe::meta
