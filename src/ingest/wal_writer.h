// The shared write-ahead log of DESIGN §2: batches of many partitions from
// many produce requests go into one buffer; the buffer is sealed at
// wal.object.max.bytes or when its oldest batch is wal.linger.ms old, uploaded
// as one object (uploads run in parallel), and committed to the metadata store
// in seal order. A produce request is answered only after its batches are
// durable in object storage and committed.
//
// So PUTs scale with bytes and time, never with partitions: at most one
// object per linger interval, or one per wal.object.max.bytes.
//
// Threads: all state lives on the writer's strand. Object uploads and commits
// run on the blocking pool; their completions come back to the strand. The
// commit of object N+1 never starts before object N's commit has finished,
// which keeps offsets in seal order.
//
// Never: answers a producer before its batch is committed, stores a batch
// twice for an idempotent producer, or holds more than wal.buffer.max.bytes of
// unacknowledged data (producers wait instead).
#pragma once

#include <asio/awaitable.hpp>
#include <asio/io_context.hpp>
#include <asio/steady_timer.hpp>
#include <asio/strand.hpp>
#include <asio/thread_pool.hpp>
#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <random>
#include <atomic>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "common/completion.h"
#include "ingest/buffer_pool.h"
#include "meta/meta_store.h"
#include "objstore/object_store.h"

namespace floe::ingest {

// One batch to log: its location fields (byte_offset) are filled in by the
// writer.
struct AppendItem {
  meta::PendingBatch batch;
  protocol::Bytes bytes;
};

// What the writer tells the read path after each commit.
struct CommittedObject {
  std::string key;
  std::shared_ptr<const protocol::Bytes> data;
  std::vector<meta::PendingBatch> batches;     // as committed (byte offsets set)
  std::vector<meta::CommitResult> results;     // one per batch
  std::vector<meta::StoredRun> runs;           // the batch rows written (CommitOutcome::runs)
};

struct WalOptions {
  std::chrono::milliseconds linger{250};
  uint64_t object_max_bytes = 8 << 20;
  uint64_t buffer_max_bytes = 256 << 20;
  int32_t node_id = 0;
  size_t max_parallel_uploads = 32;
  int upload_attempts = 4;  // first try plus retries, with exponential backoff
  // Hedged uploads: an upload still running after this long, and after the
  // 95th percentile of recent uploads, gets a second identical PUT beside it;
  // the first to succeed counts. A slow S3 PUT is usually a slow request,
  // not a slow store, so a fresh one beats it. Negative: never.
  std::chrono::milliseconds upload_hedge{200};
  // Early commits: while the 90th percentile of recent PUTs is at most this
  // long, the oldest sealed object's commit starts as soon as its PUT does,
  // and is made durable only once the PUT has succeeded (the store's gate,
  // meta::CommitGate); the commit's work and the upload overlap instead of
  // adding up. The commit holds the store's write lock while it waits, at
  // most twice this long, then gives up and commits after the upload.
  // Negative: never.
  std::chrono::milliseconds early_commit_max_put{20};
};

class WalWriter {
 public:
  using CommitListener = std::function<void(const CommittedObject&)>;

  WalWriter(asio::io_context& io, asio::thread_pool& blocking, objstore::ObjectStore& objects,
            meta::MetaStore& meta, WalOptions options, CommitListener on_commit);
  ~WalWriter();

  // Logs the batches of one produce request together and returns their
  // results in the same order once they are committed, or failed (a failed
  // upload gives KAFKA_STORAGE_ERROR, which producers retry). Waits first
  // while the broker holds wal.buffer.max.bytes of unacknowledged data.
  asio::awaitable<std::vector<meta::CommitResult>> append(std::vector<AppendItem> items);

  // The same without a coroutine of its own: any thread; the results reach
  // `done` (whose waiter must be on a strand). Requests submitted from one
  // strand are logged in submission order. The produce path uses this: a
  // commit answers thousands of requests at once, and each saved hop counts.
  void submit(std::vector<AppendItem> items, Completion<std::vector<meta::CommitResult>> done);

  // Seals what is buffered now and waits until every sealed object is
  // committed or failed. For shutdown.
  asio::awaitable<void> flush();

  struct Stats {
    uint64_t objects_committed = 0;
    uint64_t bytes_committed = 0;
    uint64_t upload_failures = 0;
    uint64_t hedged_uploads = 0;  // second PUTs sent
    uint64_t early_commits = 0;            // committed beside their upload
    uint64_t early_commits_abandoned = 0;  // the upload failed or ran long: committed after it
    uint64_t written_while_filling = 0;    // objects stored by an ObjectWriter as they filled
  };
  Stats stats() const;

 private:
  struct Request;
  struct Object;
  struct UploadOutcome;
  struct Stream;

  bool may_commit_early(const Object& obj);
  std::optional<std::chrono::steady_clock::duration> recent_put_percentile(size_t percent, size_t min_samples);

  asio::awaitable<void> admit(uint64_t bytes);
  void admit_locked(std::shared_ptr<Request> request);
  void arm_linger(uint64_t seq, std::chrono::steady_clock::time_point deadline);
  void feed_locked(const std::shared_ptr<Object>& object);
  void pump(std::shared_ptr<Object> object);
  void seal_locked();
  void take_sealed();
  void note_layout(bool as_arrived);
  void start_uploads();
  asio::awaitable<void> upload(std::shared_ptr<Object> object);
  asio::awaitable<void> put_hedged(std::shared_ptr<Object> object);
  std::chrono::steady_clock::duration hedge_delay();
  void record_put(std::chrono::steady_clock::duration took);
  void commit_ready();
  asio::awaitable<void> commit(std::shared_ptr<Object> object);
  void finish(Object& object, std::vector<meta::CommitResult> results);
  struct Answers;
  void answer_some(std::shared_ptr<Answers> answers);
  void release(uint64_t bytes);
  std::string new_key();

  asio::strand<asio::io_context::executor_type> strand_;
  asio::thread_pool& blocking_;
  objstore::ObjectStore& objects_;
  meta::MetaStore& meta_;
  WalOptions options_;
  CommitListener on_commit_;
  std::shared_ptr<BufferPool> buffers_;

  // The intake: what produce requests touch, on their own threads.
  std::mutex intake_mu_;
  std::shared_ptr<Object> open_;                           // GUARDED_BY(intake_mu_); being filled, or null
  uint64_t unacknowledged_bytes_ = 0;                      // GUARDED_BY(intake_mu_)
  std::deque<std::shared_ptr<Request>> admission_waiters_;  // GUARDED_BY(intake_mu_)
  std::deque<std::shared_ptr<Object>> just_sealed_;        // GUARDED_BY(intake_mu_); not yet in sealed_
  uint64_t next_object_seq_ = 0;                           // GUARDED_BY(intake_mu_)
  // Whether the next object is written as it fills (objstore::ObjectWriter):
  // off once the store turns out not to take early bytes, and while objects
  // gain much from being laid out by partition, which needs the whole object.
  bool store_writes_early_ = true;  // GUARDED_BY(intake_mu_)
  bool layout_as_arrived_ = true;   // GUARDED_BY(intake_mu_)
  uint64_t next_key_seq_ = 0;                              // GUARDED_BY(intake_mu_)
  std::mt19937_64 key_rng_{std::random_device{}()};        // GUARDED_BY(intake_mu_)

  // REQUIRES: strand_ for everything below.
  asio::steady_timer linger_timer_;
  std::deque<std::shared_ptr<Object>> sealed_;  // seal order; front commits next
  size_t uploads_in_flight_ = 0;
  bool committing_ = false;
  std::vector<std::function<void()>> flush_waiters_;
  std::mt19937_64 rng_{std::random_device{}()};  // strand_: backoff jitter
  struct AtomicStats {
    std::atomic<uint64_t> objects_committed{0};
    std::atomic<uint64_t> bytes_committed{0};
    std::atomic<uint64_t> upload_failures{0};
    std::atomic<uint64_t> hedged_uploads{0};
    std::atomic<uint64_t> early_commits{0};
    std::atomic<uint64_t> early_commits_abandoned{0};
    std::atomic<uint64_t> written_while_filling{0};
  } stats_;  // written on strand_, read anywhere

  // How long recent successful PUTs took, for the hedge delay (written by
  // the blocking pool's threads).
  std::mutex put_times_mu_;
  std::vector<std::chrono::steady_clock::duration> put_times_;  // GUARDED_BY(put_times_mu_); a ring
  size_t put_times_next_ = 0;                                    // GUARDED_BY(put_times_mu_)
};

}  // namespace floe::ingest
