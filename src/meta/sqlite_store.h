// The embedded metadata store: MetaStore on SQLite (the system libsqlite3).
//
// Threads: one SQLite connection per store object, guarded by one mutex. Every
// public call takes the mutex for its whole duration, so calls from several
// threads are serialised within a process (SQLite connections are not meant
// to run two statements at once, and a transaction spans several calls to
// sqlite3_step). Several store objects - typically several broker processes on
// one machine - may open the same file: BEGIN IMMEDIATE takes SQLite's
// database write lock, so write transactions of all of them are serialised,
// and WAL mode lets readers run beside the one writer. A store waits up to
// busy_timeout_ms for that lock before a call fails.
//
// Durability: WAL journal, synchronous=FULL: a write call returns only after
// its transaction is fsynced, so an acknowledged produce survives power loss.
//
// The file must be on a local file system (WAL needs shared memory between
// the processes that share it; network file systems do not provide it).
#pragma once

#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "meta/meta_store.h"

namespace floe::meta {

class SqliteConnection;
struct PartitionRowCache;

class SqliteMetaStore final : public MetaStore {
 public:
  struct Options {
    // How long a call waits for another connection's write transaction (or a
    // WAL checkpoint) before failing with std::runtime_error.
    int busy_timeout_ms = 5000;
  };

  // Opens (creating if absent) the database at `path` and applies the schema
  // migrations it lacks. Throws std::runtime_error if the file is not a floe
  // metadata store, is unusable, or has a schema newer than this code knows.
  explicit SqliteMetaStore(const std::string& path);
  SqliteMetaStore(const std::string& path, Options options);
  ~SqliteMetaStore() override;
  SqliteMetaStore(const SqliteMetaStore&) = delete;
  SqliteMetaStore& operator=(const SqliteMetaStore&) = delete;

  // The schema version this code migrates to, and the one the file has.
  static int latest_schema_version();
  int schema_version();

  // --- MetaStore ----------------------------------------------------------

  std::string cluster_id(const std::optional<std::string>& proposed) override;
  int64_t allocate_producer_id() override;

  Topic create_topic(const std::string& name, int32_t partitions,
                     const std::map<std::string, std::string>& configs) override;
  std::optional<Topic> find_topic(const std::string& name) override;
  std::optional<Topic> find_topic(const Uuid& id) override;
  std::vector<Topic> list_topics() override;
  void delete_topic(const Uuid& id) override;
  void create_partitions(const Uuid& id, int32_t total) override;
  void alter_topic_configs(const Uuid& id,
                           const std::map<std::string, std::optional<std::string>>& changes) override;
  int64_t topics_version() override;

  CommitOutcome commit_object(const ObjectCommit& object, std::span<const PendingBatch> batches,
                              const CommitGate& gate = nullptr) override;
  std::optional<PartitionOffsets> partition_offsets(const Uuid& topic, int32_t partition) override;
  std::vector<std::pair<int32_t, PartitionOffsets>> topic_offsets(const Uuid& topic) override;
  std::optional<FetchPlan> find_batches(const Uuid& topic, int32_t partition, int64_t from_offset,
                                        uint64_t max_bytes) override;
  std::optional<BatchLocation> find_batch_by_timestamp(const Uuid& topic, int32_t partition,
                                                       int64_t timestamp) override;
  std::optional<BatchLocation> find_batch_containing(const Uuid& topic, int32_t partition,
                                                     int64_t offset) override;
  int64_t delete_records(const Uuid& topic, int32_t partition, int64_t offset) override;

  std::vector<StoredObject> objects() override;
  std::vector<StoredObject> unreferenced_objects() override;
  void forget_objects(std::span<const std::string> keys) override;

  void store_group(const GroupRecord& group) override;
  std::optional<GroupRecord> find_group(const std::string& group_id) override;
  std::vector<GroupRecord> list_groups() override;
  std::vector<ErrorCode> commit_offsets(const std::string& group_id, std::span<const CommittedOffset> offsets,
                                        int64_t now_ms) override;
  std::vector<CommittedOffset> fetch_offsets(const std::string& group_id,
                                             std::optional<std::span<const PartitionId>> which) override;
  size_t delete_offsets(const std::string& group_id, std::span<const PartitionId> which) override;
  bool delete_group(const std::string& group_id) override;
  ExpiryOutcome expire_offsets(const std::string& group_id, std::span<const CommittedOffset> seen,
                               bool drop_group_if_left_empty) override;

  // --- introspection, for tests and benchmarks -----------------------------

  // The two statements every batch lookup is made of: a probe of the marks
  // index, and a row read by id along a partition's chain (see migration 7
  // in sqlite_store.cc).
  enum class Lookup { mark_probe, row_by_id };

  // SQLite's EXPLAIN QUERY PLAN for the statement, one line per plan step.
  std::vector<std::string> query_plan(Lookup lookup);

  // What the walks along batch chains (fetch, by timestamp, containing an
  // offset, deleting records or a topic) did since the previous call (the
  // counters are reset): probes of the marks index and batch rows read.
  // Commits are not counted.
  struct LookupCounters {
    int64_t mark_probes = 0;
    int64_t rows_read = 0;
  };
  LookupCounters take_counters();

 private:
  std::mutex mu_;
  std::unique_ptr<SqliteConnection> db_;  // GUARDED_BY(mu_)
  LookupCounters counters_;               // GUARDED_BY(mu_)
  // The partition rows as this store's own commits left them (see
  // PartitionRowCache in sqlite_store.cc).
  std::unique_ptr<PartitionRowCache> partition_rows_;  // GUARDED_BY(mu_)
};

}  // namespace floe::meta
