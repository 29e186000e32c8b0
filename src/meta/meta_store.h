// The metadata store: everything durable that is not record bytes. Topics,
// partitions and their offsets, which object holds which batch, producer
// state, producer id allocation. SQLite is the embedded backend; PostgreSQL
// (a later issue) implements the same interface and passes the same
// conformance suite (meta_store_conformance.h).
//
// Several brokers may share one store: nothing here assumes it is the only
// writer, and brokers keep only caches of what it holds.
//
// Calls block (SQLite fsyncs on commit), so the broker runs them on its
// blocking pool, never on a network thread. Implementations are safe to call
// from several threads at once.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <stdexcept>
#include <string>
#include <vector>

#include "protocol/generated/error_codes.h"
#include "protocol/wire.h"

namespace floe::meta {

using protocol::ErrorCode;
using protocol::Uuid;

// An expected failure with the Kafka error code the client should see
// (topic_already_exists, unknown_topic_or_partition, invalid_partitions,
// offset_out_of_range, ...). Anything else (I/O, corruption) is a plain
// std::runtime_error.
class MetaError : public std::runtime_error {
 public:
  MetaError(ErrorCode code, const std::string& what) : std::runtime_error(what), code_(code) {}
  ErrorCode code() const { return code_; }

 private:
  ErrorCode code_;
};

struct Topic {
  Uuid id;
  std::string name;
  int32_t partitions = 0;
  std::map<std::string, std::string> configs;  // only the keys set on the topic
  int64_t created_ms = 0;
  bool operator==(const Topic&) const = default;
};

struct PartitionOffsets {
  int64_t log_start_offset = 0;
  int64_t high_watermark = 0;
  // The largest batch max timestamp among the batches the partition holds
  // and an offset inside the first batch run with it (-1, -1 when empty), for
  // ListOffsets MAX_TIMESTAMP, which scans that run for the record. Commits
  // give the last offset of the first batch with it, delete_records (which
  // recomputes it over what stays) the last offset of its run.
  int64_t max_timestamp = -1;
  int64_t max_timestamp_offset = -1;
  bool operator==(const PartitionOffsets&) const = default;
};

// One producer batch inside a WAL object, as the write path hands it over.
struct PendingBatch {
  Uuid topic_id;
  int32_t partition = 0;
  uint64_t byte_offset = 0;  // where the batch starts in the object
  uint32_t byte_length = 0;
  int32_t record_count = 0;  // last offset delta + 1
  int64_t max_timestamp = -1;  // after LogAppendTime was applied, if it was
  // Idempotence: producer_id -1 means a plain (non-idempotent) batch.
  int64_t producer_id = -1;
  int16_t producer_epoch = -1;
  int32_t base_sequence = -1;
};

struct CommitResult {
  ErrorCode error = ErrorCode::none;
  int64_t base_offset = -1;  // assigned, or the original one for a duplicate
  int64_t log_start_offset = -1;
  bool duplicate = false;    // an idempotent retry of a batch already stored
};

struct ObjectCommit {
  std::string key;
  uint64_t size = 0;
  int64_t append_time_ms = 0;  // the broker's clock at commit
};

// Where a run of batches is: one or more consecutive batches of one
// partition (offsets base_offset..last_offset), back to back in one object
// at [byte_offset, byte_offset + byte_length). commit_object stores one row
// per run, not per batch: the stored batches of a partition that lie back
// to back in the object (the WAL groups an object's bytes by partition) make
// one run of at most kMaxRunBytes (a single larger batch is a run of its
// own). A WAL object holds thousands of small batches (librdkafka sends one
// per partition and linger), and a row per batch was most of a commit's cost.
// Readers walk the batch headers inside a run.
struct BatchLocation {
  std::string object_key;
  uint64_t byte_offset = 0;
  uint32_t byte_length = 0;
  int64_t base_offset = 0;
  int64_t last_offset = 0;
  int64_t max_timestamp = -1;
  bool operator==(const BatchLocation&) const = default;
};

inline constexpr uint64_t kMaxRunBytes = uint64_t{1} << 20;

// A batch row that commit_object wrote.
struct StoredRun {
  Uuid topic_id;
  int32_t partition = 0;
  BatchLocation location;
  bool operator==(const StoredRun&) const = default;
};

struct CommitOutcome {
  std::vector<CommitResult> results;  // one per PendingBatch, same order
  // False when no batch of the object was stored (all rejected or
  // duplicates): the object is not recorded and the caller deletes it.
  bool object_recorded = false;
  // The rows written, each partition's in offset order (what find_batches
  // returns for this object). The read path plans recent fetches from them.
  std::vector<StoredRun> runs;
  // The gate (CommitGate) said no: nothing was written, and results and runs
  // are empty.
  bool abandoned = false;
};

// Called by commit_object once, after every check and write of the commit
// and just before it is made durable, on the committing thread and with the
// store's write lock held. True commits; false abandons the commit (nothing
// is written). The WAL writer commits an object while its upload is still
// running and waits here for the upload, so that nothing refers to an
// object that is not durable.
using CommitGate = std::function<bool()>;

struct FetchPlan {
  PartitionOffsets offsets;
  std::vector<BatchLocation> batches;
};

struct StoredObject {
  std::string key;
  uint64_t size = 0;
  int64_t created_ms = 0;
};

// A partition by topic id: the key of committed offsets, so that deleting a
// topic deletes its offsets and a topic re-created under the same name starts
// with none.
struct PartitionId {
  Uuid topic_id;
  int32_t partition = 0;
  auto operator<=>(const PartitionId&) const = default;
};

// What a group coordinator keeps durable about a consumer group besides its
// offsets. Membership lives in the coordinator's memory; the generation is
// durable so that it never goes backwards when another coordinator (or the
// same broker after a restart) takes the group over.
struct GroupRecord {
  std::string group_id;
  // "consumer", "connect", "sr", ...; "" for a group that only stores
  // offsets (commits by consumers that never joined: "standalone").
  std::string protocol_type;
  int32_t generation = 0;
  std::optional<std::string> protocol;  // selected protocol; nullopt while empty
  bool empty = true;                    // the generation has no members
  // When the generation started (for an empty group: when it became empty,
  // which is what offsets.retention.minutes counts from).
  int64_t state_ms = 0;
  // The longest session timeout among the generation's members (0 when
  // empty): how long after a coordinator change they may still be alive.
  int32_t session_timeout_ms = 0;
  bool operator==(const GroupRecord&) const = default;
};

struct CommittedOffset {
  PartitionId partition;
  int64_t offset = -1;
  int32_t leader_epoch = -1;  // -1: not given
  std::string metadata;       // a null metadata string is stored as ""
  int64_t commit_ms = 0;
  // Set by OffsetCommit v2-v4's retention_time_ms: the offset expires then,
  // whatever the group's state. nullopt: offsets.retention.minutes applies.
  std::optional<int64_t> expire_ms;
  bool operator==(const CommittedOffset&) const = default;
};

class MetaStore {
 public:
  virtual ~MetaStore() = default;

  // --- cluster ------------------------------------------------------------

  // The cluster id. The first call on a new store records `proposed` (or a
  // fresh random id when nullopt); later calls return the recorded one and
  // throw MetaError(inconsistent_cluster_id) if `proposed` differs from it.
  // An empty `proposed` is a caller bug (std::invalid_argument).
  virtual std::string cluster_id(const std::optional<std::string>& proposed) = 0;

  // A producer id never handed out before, by any broker sharing the store.
  virtual int64_t allocate_producer_id() = 0;

  // --- topics -------------------------------------------------------------

  // Creates a topic with a new random id and `partitions` empty partitions.
  // MetaError(topic_already_exists) if the name is taken,
  // MetaError(invalid_partitions) if partitions < 1. Validation of names and
  // configs is the caller's.
  virtual Topic create_topic(const std::string& name, int32_t partitions,
                             const std::map<std::string, std::string>& configs) = 0;
  virtual std::optional<Topic> find_topic(const std::string& name) = 0;
  virtual std::optional<Topic> find_topic(const Uuid& id) = 0;
  virtual std::vector<Topic> list_topics() = 0;  // ordered by name

  // Deletes the topic, its partitions, batch rows, producer state and the
  // consumer groups' committed offsets of its partitions.
  // Objects left without batches become unreferenced (see
  // unreferenced_objects). MetaError(unknown_topic_id) if absent. One
  // transaction: its cost grows with the topic's batch rows.
  virtual void delete_topic(const Uuid& id) = 0;

  // Grows the topic to `total` partitions. MetaError(invalid_partitions) if
  // total <= current; unknown_topic_id if absent.
  virtual void create_partitions(const Uuid& id, int32_t total) = 0;

  // Sets (value) or removes (nullopt) topic config keys in one transaction.
  // MetaError(unknown_topic_id) if absent. Removing an unset key is a no-op.
  virtual void alter_topic_configs(const Uuid& id,
                                   const std::map<std::string, std::optional<std::string>>& changes) = 0;

  // Bumped by every topic change (create, delete, partitions, configs), so a
  // broker can tell cheaply whether its topic cache is stale.
  virtual int64_t topics_version() = 0;

  // --- the data path ------------------------------------------------------

  // Commits one uploaded WAL object in one transaction: for each batch, in
  // order, checks the partition exists (else unknown_topic_or_partition) and
  // the producer's epoch and sequence (invalid_producer_epoch,
  // out_of_order_sequence_number, or a duplicate that gets its original base
  // offset back and is not stored again), assigns the base offset from the
  // high watermark, records the batch's location, advances the high
  // watermark and max timestamp, and updates the producer's state (the last
  // 5 batches per producer and partition, as Kafka keeps). A later batch of
  // the same producer and partition sees the state earlier ones left.
  //
  // Results: base_offset -1 on error; log_start_offset is the partition's log
  // start whenever the partition exists (also on errors and duplicates).
  //
  // Concurrent commits by several brokers cannot deadlock: SQLite serialises
  // whole write transactions with its database lock; a backend with row
  // locks (PostgreSQL) locks the touched partitions in a fixed order (topic
  // id, partition) before processing. Batches are processed in input order.
  //
  // The key must be new to the store (a reused key fails the whole commit
  // with std::runtime_error). A malformed PendingBatch (record_count < 1,
  // byte range empty or outside the object) is a caller bug:
  // std::invalid_argument, nothing committed.
  //
  // With a gate, the commit asks it before making anything durable, and is
  // abandoned (CommitOutcome::abandoned, nothing written) when it says no.
  // The gate may block: for as long as it does, every other writer of the
  // store waits.
  virtual CommitOutcome commit_object(const ObjectCommit& object, std::span<const PendingBatch> batches,
                                      const CommitGate& gate = nullptr) = 0;

  // Offsets of one partition; nullopt if the topic or partition is unknown.
  virtual std::optional<PartitionOffsets> partition_offsets(const Uuid& topic, int32_t partition) = 0;

  // Offsets of every partition of a topic, by partition index ascending, in
  // one query; empty if the topic is unknown. For warming a cache: a consumer
  // assigned 10,000 partitions asks for each one's offsets in turn.
  virtual std::vector<std::pair<int32_t, PartitionOffsets>> topic_offsets(const Uuid& topic) = 0;

  // The batch runs holding offsets >= from_offset, in offset order: the run
  // containing from_offset first, then following ones until the bytes
  // returned reach max_bytes (the first run is always returned, however
  // large: KIP-74; the last one may cross max_bytes, and the caller cuts it
  // at a batch boundary). Cost is bounded by max_bytes (plus one run, and a
  // constant number of rows a backend may read to find the first: SQLite
  // walks back at most 32), never by how far from_offset is from the start. The first run may start
  // before from_offset and before the log start offset (see
  // delete_records); skipping those batches and records is the caller's.
  // nullopt if the partition is unknown.
  virtual std::optional<FetchPlan> find_batches(const Uuid& topic, int32_t partition, int64_t from_offset,
                                                uint64_t max_bytes) = 0;

  // The first batch run, in offset order, that holds a record with a
  // timestamp >= timestamp (the caller scans its records for the exact
  // offset); nullopt
  // if there is none. Bounded cost (an index, not a scan).
  virtual std::optional<BatchLocation> find_batch_by_timestamp(const Uuid& topic, int32_t partition,
                                                               int64_t timestamp) = 0;

  // The batch run holding `offset` (ListOffsets MAX_TIMESTAMP asks for the
  // one holding max_timestamp_offset); nullopt if no stored batch holds it
  // (unknown partition, offset at or past the high watermark, or before the
  // first batch that remains after delete_records).
  virtual std::optional<BatchLocation> find_batch_containing(const Uuid& topic, int32_t partition,
                                                             int64_t offset) = 0;

  // Advances the log start offset to `offset` (DeleteRecords; -1 means the
  // high watermark) and drops the rows of batch runs wholly before it.
  // Returns the new log start offset; a run straddling the new start stays
  // (fetch skips its batches and records before the log start). MetaError(offset_out_of_range)
  // if offset is past the high watermark or negative other than -1;
  // MetaError(unknown_topic_or_partition) if the partition is unknown; a
  // smaller offset than the current start is a no-op returning the current
  // start.
  virtual int64_t delete_records(const Uuid& topic, int32_t partition, int64_t offset) = 0;

  // --- object bookkeeping (garbage collection) ----------------------------

  // Every object the store has recorded (referenced or not yet forgotten),
  // in commit order.
  virtual std::vector<StoredObject> objects() = 0;

  // Objects that no batch references any more (topic deleted, records
  // deleted, ...); the caller deletes them from the object store, then calls
  // forget_objects. forget_objects drops only unreferenced keys: a key some
  // batch still points at, or an unknown key, is left alone.
  virtual std::vector<StoredObject> unreferenced_objects() = 0;
  virtual void forget_objects(std::span<const std::string> keys) = 0;

  // --- consumer groups ----------------------------------------------------

  // Inserts or updates the group's record. A generation lower than the
  // stored one is refused with MetaError(illegal_generation) and nothing
  // changes (a coordinator that lost the group must not move it back); an
  // equal or higher one replaces every field.
  virtual void store_group(const GroupRecord& group) = 0;
  virtual std::optional<GroupRecord> find_group(const std::string& group_id) = 0;
  virtual std::vector<GroupRecord> list_groups() = 0;  // ordered by group id

  // Stores `offsets` in one transaction, replacing earlier commits of the
  // same partitions. A group with no record gets one first (protocol_type "",
  // generation 0, empty, state_ms = now_ms). Returns one code per offset, in
  // order: none, or unknown_topic_or_partition when the topic id or the
  // partition does not exist (that offset is skipped; the others are stored).
  // Validation of group membership and metadata size is the caller's.
  virtual std::vector<ErrorCode> commit_offsets(const std::string& group_id,
                                                std::span<const CommittedOffset> offsets, int64_t now_ms) = 0;

  // The group's committed offsets: every one when `which` is nullopt (ordered
  // by topic id, then partition), else those of the listed partitions that
  // have one (in the order listed; partitions without one are left out).
  virtual std::vector<CommittedOffset> fetch_offsets(const std::string& group_id,
                                                     std::optional<std::span<const PartitionId>> which) = 0;

  // Deletes the listed partitions' offsets (absent ones are ignored) and
  // returns how many were deleted. The group record stays.
  virtual size_t delete_offsets(const std::string& group_id, std::span<const PartitionId> which) = 0;

  // Deletes the group's record and all its offsets; false if it had neither.
  virtual bool delete_group(const std::string& group_id) = 0;

  // Offset expiry, in one transaction: deletes each of `seen` (offsets read
  // earlier by fetch_offsets) only if its row still has the commit_ms that
  // was read, so a commit that landed since is kept. Then, if
  // `drop_group_if_left_empty`, deletes the group's record when no offset of
  // it remains. Returns how many offsets were deleted and whether the record
  // was.
  struct ExpiryOutcome {
    size_t offsets_deleted = 0;
    bool group_deleted = false;
  };
  virtual ExpiryOutcome expire_offsets(const std::string& group_id, std::span<const CommittedOffset> seen,
                                       bool drop_group_if_left_empty) = 0;
};

// Opens the store named by `url`: sqlite:///abs/path/meta.db or
// sqlite://relative/path/meta.db (everything after "sqlite://" is the path;
// its folder is created). Applies schema migrations. Throws
// std::runtime_error for an unknown scheme, postgresql:// (not yet), an
// unusable or foreign file, or a schema newer than this code.
std::unique_ptr<MetaStore> open_meta_store(const std::string& url);

}  // namespace floe::meta
