// The read path of DESIGN §3: partition offsets, batch locations, object
// bytes, and waking long polls.
//
// - Offsets: a per-broker cache of each partition's log start and high
//   watermark, updated by this broker's commits, so a tailing consumer that is
//   caught up costs no metadata query.
// - Recent runs: the last few batch runs this broker committed per partition
//   (the rows commit_object reports it wrote), so a consumer
//   reading what was just committed costs no metadata query either. Used only
//   while they end exactly at the cached high watermark, with no gap; any
//   other fetch asks the metadata store.
// - Objects: an LRU cache bounded by cache.max.bytes. A WAL object this broker
//   just committed goes in without a GET; any other object is read whole once
//   (one GET serves every partition and consumer that needs it; concurrent
//   misses for one key share that GET).
// - Long polls: a fetch registers the partitions it waits for; a commit that
//   touches one of them wakes it. No polling loop.
//
// Threads: every method is safe from any thread; state is under one mutex,
// never held across I/O. Metadata and object store calls run on the blocking
// pool.
//
// With several brokers (a later issue) other brokers' commits reach the
// offsets cache and the waiters through metadata-store notifications; until
// then the cache is exact for a single broker.
#pragma once

#include <asio/awaitable.hpp>
#include <asio/steady_timer.hpp>
#include <asio/thread_pool.hpp>
#include <array>
#include <chrono>
#include <cstdint>
#include <list>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <set>
#include <string>
#include <unordered_map>
#include <vector>

#include "ingest/wal_writer.h"
#include "meta/meta_store.h"
#include "objstore/object_store.h"

namespace floe::fetch {

struct PartitionKey {
  protocol::Uuid topic;
  int32_t partition = 0;
  auto operator<=>(const PartitionKey&) const = default;
};

// Hashed, not ordered, containers: a fetch at 10,000 partitions looks up every
// one of them, and a commit updates ~5,000.
struct PartitionKeyHash {
  size_t operator()(const PartitionKey& k) const noexcept;
};

class ReadPath {
 public:
  ReadPath(asio::thread_pool& blocking, meta::MetaStore& meta, objstore::ObjectStore& objects,
           uint64_t cache_max_bytes);
  ~ReadPath();

  // Called by the WAL writer after each commit (any thread).
  void on_commit(const ingest::CommittedObject& committed);

  // Forgets cached offsets (DeleteRecords, topic deletion, partition growth).
  void invalidate_partition(const protocol::Uuid& topic, int32_t partition);

  // Forgets everything cached of a deleted topic, including that its
  // offsets were loaded all at once.
  void forget_topic(const protocol::Uuid& topic);

  // The partition's offsets; nullopt when the partition does not exist.
  asio::awaitable<std::optional<meta::PartitionOffsets>> offsets(const PartitionKey& p);
  // The same for many partitions, in order: the cached ones under one lock,
  // the others in one trip to the blocking pool.
  asio::awaitable<std::vector<std::optional<meta::PartitionOffsets>>> offsets_all(
      std::vector<PartitionKey> partitions);

  // The batch runs to read (MetaStore::find_batches) of many partitions: one
  // result per request, in order. From the recent runs where they cover the
  // request; the rest in one trip to the blocking pool (one trip per
  // partition cost a fetch of 100 partitions 18.6 ms; at 10,000 partitions
  // the one trip took 26-74 ms). Each partition's offsets are remembered
  // from its plan.
  struct PlanRequest {
    PartitionKey partition;
    int64_t from = 0;
    uint64_t max_bytes = 0;
  };
  asio::awaitable<std::vector<std::optional<meta::FetchPlan>>> plan_all(std::vector<PlanRequest> requests);

  // The whole object, from the cache or one GET. Throws
  // objstore::ObjectStoreError if it cannot be read.
  asio::awaitable<std::shared_ptr<const protocol::Bytes>> object(const std::string& key);

  // Appends the batches of the run `loc` (meta::BatchLocation) that hold
  // offsets >= from to `out`, each to be written with its committed base
  // offset, while `out` stays within `limit` bytes; when `first` and nothing
  // was appended yet, one batch goes in whatever its size (KIP-74). The
  // batches stay in the object, which `out` keeps alive, and are copied once,
  // when `out` is encoded. Returns false when a batch did not fit (the caller
  // stops there), true when the rest of the run went in. Throws
  // std::runtime_error if the run's bytes disagree with its row (lengths,
  // offsets), having appended nothing; objstore::ObjectStoreError if the
  // object cannot be read.
  asio::awaitable<bool> append_batches(const meta::BatchLocation& loc, int64_t from, size_t limit, bool first,
                                       protocol::Records& out);
  // The same from `object`, the object `loc` lies in (from object()): for a
  // caller reading many runs of one object, one cache lookup instead of one
  // per run.
  static bool append_batches_from(const std::shared_ptr<const protocol::Bytes>& object,
                                  const meta::BatchLocation& loc, int64_t from, size_t limit, bool first,
                                  protocol::Records& out);

  // Long poll. A Watch registered before the caller looks at the partitions
  // remembers any commit that touches them from then on, so a wake-up between
  // the look and the wait is not lost.
  class Watch {
   public:
    ~Watch();
    // Returns when a watched partition got a commit since the watch started
    // (or since the last wait returned): true; or at the deadline: false.
    asio::awaitable<bool> wait_until(std::chrono::steady_clock::time_point deadline);

   private:
    friend class ReadPath;
    struct State;
    std::shared_ptr<State> state_;
    ReadPath* owner_ = nullptr;
  };
  // REQUIRES: `executor` is a strand (the fetch's connection strand): wake-ups
  // are posted to it and must not race with the wait. Negative partitions are
  // ignored.
  std::unique_ptr<Watch> watch(std::span<const PartitionKey> partitions, asio::any_io_executor executor);
  // How many (watch, topic) registrations are live, for tests.
  size_t watch_registrations() const;

  // How many of a partition's latest runs are kept to plan fetches from.
  static constexpr size_t kRecentRuns = 8;

  struct CacheStats {
    uint64_t hits = 0, misses = 0, bytes = 0, objects = 0;
    uint64_t plans_from_recent_runs = 0, plans_from_store = 0;
  };
  CacheStats cache_stats() const;

 private:
  struct Loading;
  void cache_put_locked(const std::string& key, std::shared_ptr<const protocol::Bytes> data);
  std::shared_ptr<const protocol::Bytes> cache_get_locked(const std::string& key);  // counts a hit
  void remember_offsets(const PartitionKey& p, const meta::PartitionOffsets& o);
  std::optional<meta::FetchPlan> plan_from_recent_runs_locked(const PlanRequest& r);

  asio::thread_pool& blocking_;
  meta::MetaStore& meta_;
  objstore::ObjectStore& objects_;
  const uint64_t cache_max_bytes_;

  mutable std::mutex mu_;
  // REQUIRES: mu_ for everything below.
  // Topics whose partitions' offsets were all loaded at once (offsets_all).
  std::set<protocol::Uuid> warmed_topics_;
  // A partition's last kRecentRuns runs in offset order, back to back (each
  // starts at the offset after the one before), in a fixed ring: a commit
  // overwrites the oldest slot in place, where its object key string keeps
  // its buffer, instead of allocating and freeing deque chunks and strings
  // for each of the ~5,000 partitions it touches at 10,000 partitions.
  class RecentRuns {
   public:
    bool empty() const { return size_ == 0; }
    size_t size() const { return size_; }
    // The i-th oldest.
    const meta::BatchLocation& operator[](size_t i) const { return slots_[(first_ + i) % kRecentRuns]; }
    const meta::BatchLocation& front() const { return (*this)[0]; }
    const meta::BatchLocation& back() const { return (*this)[size_ - 1]; }
    void clear() { first_ = size_ = 0; }
    // Appends, dropping the oldest when full.
    void push_back(const meta::BatchLocation& run) {
      if (size_ < kRecentRuns) {
        slots_[(first_ + size_++) % kRecentRuns] = run;
      } else {
        slots_[first_] = run;
        first_ = (first_ + 1) % kRecentRuns;
      }
    }

   private:
    std::array<meta::BatchLocation, kRecentRuns> slots_;
    size_t first_ = 0, size_ = 0;
  };
  // What is kept per partition: its offsets once known, its recent runs once
  // this broker committed to it.
  struct PartitionState {
    std::optional<meta::PartitionOffsets> offsets;
    std::unique_ptr<RecentRuns> runs;  // null until then
  };
  // Per topic, indexed by partition. A fetch and a commit go through a
  // topic's partitions together: one table lookup per topic, then an index.
  // (Keyed by topic and partition, the two tables had cost ~15,000 lookups a
  // commit at 10,000 partitions, most of their time cache misses on the
  // tables' nodes, ~4% of the broker's CPU.)
  std::unordered_map<protocol::Uuid, std::vector<PartitionState>, protocol::UuidHash> partitions_;
  // A partition's state; null when there is none.
  PartitionState* find_state_locked(const PartitionKey& k);
  // A partition's state, made when missing. REQUIRES: k.partition >= 0.
  PartitionState& state_locked(const PartitionKey& k);
  uint64_t plans_from_recent_runs_ = 0, plans_from_store_ = 0;
  struct CacheEntry {
    std::shared_ptr<const protocol::Bytes> data;
    std::list<std::string>::iterator lru;
  };
  std::unordered_map<std::string, CacheEntry> cache_;
  std::list<std::string> lru_;  // most recent first
  uint64_t cache_bytes_ = 0;
  uint64_t hits_ = 0, misses_ = 0;
  std::unordered_map<std::string, std::shared_ptr<Loading>> loading_;
  // Per topic, the watches on some of its partitions, each with a bit per
  // partition: a fetch of 10,000 partitions registers (and later removes) one
  // entry, not 10,000; that was ~4% of the broker's CPU at 10,000 partitions,
  // under this mutex, between a fetch's answer and its encoding.
  struct TopicWatch {
    const Watch::State* id = nullptr;  // the watch it belongs to
    std::weak_ptr<Watch::State> state;
    std::vector<bool> partitions;  // bit p: partition p is watched
  };
  std::unordered_map<protocol::Uuid, std::vector<TopicWatch>, protocol::UuidHash> watchers_;
};

}  // namespace floe::fetch
