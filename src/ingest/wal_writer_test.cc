// The shared WAL against a memory object store and a real SQLite metastore.
#include "ingest/wal_writer.h"

#include <gtest/gtest.h>

#include <asio/co_spawn.hpp>
#include <asio/detached.hpp>
#include <asio/io_context.hpp>
#include <asio/post.hpp>
#include <asio/strand.hpp>
#include <asio/thread_pool.hpp>
#include <atomic>
#include <condition_variable>
#include <filesystem>
#include <map>
#include <mutex>
#include <set>
#include <thread>

#include "common/completion.h"
#include "objstore/fault_injection.h"
#include "objstore/memory_store.h"
#include "protocol/record_batch.h"

namespace floe::ingest {
namespace {

using meta::CommitResult;
using protocol::ErrorCode;

class WalWriterTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           ("floe-wal-test-" + std::to_string(::getpid()) + "-" + std::to_string(counter_++));
    std::filesystem::create_directories(dir_);
    meta_ = meta::open_meta_store("sqlite://" + (dir_ / "meta.db").string());
    topic_ = meta_->create_topic("t", 4, {});
  }
  void TearDown() override {
    meta_.reset();
    std::filesystem::remove_all(dir_);
  }

  AppendItem item(int32_t partition, int records, int64_t producer = -1, int32_t seq = -1) {
    std::vector<protocol::Record> recs(static_cast<size_t>(records));
    for (auto& r : recs) r.value = protocol::Bytes(100, 'x');
    protocol::BuildOptions bo;
    bo.producer_id = producer;
    bo.producer_epoch = producer >= 0 ? 0 : -1;
    bo.base_sequence = seq;
    AppendItem it;
    it.bytes = protocol::build_batch(recs, bo);
    it.batch.topic_id = topic_.id;
    it.batch.partition = partition;
    it.batch.record_count = records;
    it.batch.max_timestamp = 0;
    it.batch.producer_id = producer;
    it.batch.producer_epoch = bo.producer_epoch;
    it.batch.base_sequence = seq;
    return it;
  }

  // Runs `requests` concurrently through one writer; returns each one's results.
  std::vector<std::vector<CommitResult>> run(objstore::ObjectStore& store, WalOptions options,
                                             std::vector<std::vector<AppendItem>> requests,
                                             std::vector<CommittedObject>* committed = nullptr) {
    asio::io_context io;
    asio::thread_pool blocking(4);
    WalWriter wal(io, blocking, store, *meta_, options, [&](const CommittedObject& c) {
      if (committed) committed->push_back(c);
    });
    std::vector<std::vector<CommitResult>> results(requests.size());
    for (size_t i = 0; i < requests.size(); ++i) {
      asio::co_spawn(
          io,
          [&, i]() -> asio::awaitable<void> { results[i] = co_await wal.append(std::move(requests[i])); },
          asio::detached);
    }
    io.run();
    blocking.join();
    return results;
  }

  static inline int counter_ = 0;
  std::filesystem::path dir_;
  std::unique_ptr<meta::MetaStore> meta_;
  meta::Topic topic_;
};

TEST_F(WalWriterTest, ManyRequestsShareOneObjectAndGetContiguousOffsets) {
  objstore::MemoryObjectStore store;
  std::vector<std::vector<AppendItem>> reqs;
  for (int i = 0; i < 20; ++i) reqs.push_back({item(i % 4, 3), item((i + 1) % 4, 2)});
  std::vector<CommittedObject> committed;
  WalOptions o;
  o.linger = std::chrono::milliseconds(50);
  auto results = run(store, o, std::move(reqs), &committed);
  EXPECT_EQ(store.counters().put.requests.load(), 1u) << "one linger window, one PUT";
  ASSERT_EQ(committed.size(), 1u);
  std::map<int32_t, int64_t> next;
  for (const auto& r : results) {
    ASSERT_EQ(r.size(), 2u);
    for (const auto& x : r) EXPECT_EQ(x.error, ErrorCode::none);
  }
  // Offsets per partition are dense and follow the order of the batches.
  for (size_t i = 0; i < committed[0].batches.size(); ++i) {
    const auto& b = committed[0].batches[i];
    EXPECT_EQ(committed[0].results[i].base_offset, next[b.partition]);
    next[b.partition] += b.record_count;
  }
  for (int p = 0; p < 4; ++p) EXPECT_EQ(meta_->partition_offsets(topic_.id, p)->high_watermark, next[p]);

  // The object is laid out partition by partition, each partition's batches
  // back to back in arrival order, so each partition is one row (one run).
  const CommittedObject& c = committed[0];
  std::map<int32_t, uint64_t> end;  // where the partition's next batch must start
  for (size_t i = 0; i < c.batches.size(); ++i) {
    const auto& b = c.batches[i];
    if (end.count(b.partition)) {
      EXPECT_EQ(b.byte_offset, end[b.partition]) << i;
    }
    end[b.partition] = b.byte_offset + b.byte_length;
    auto h = protocol::parse_batch_header(std::span(*c.data).subspan(b.byte_offset, b.byte_length));
    ASSERT_TRUE(h);
    EXPECT_EQ(h->size(), b.byte_length);
    EXPECT_EQ(h->record_count, b.record_count);
  }
  for (int p = 0; p < 4; ++p) {
    auto plan = meta_->find_batches(topic_.id, p, 0, 1 << 20);
    ASSERT_EQ(plan->batches.size(), 1u) << p;
    EXPECT_EQ(plan->batches[0].last_offset, next[p] - 1);
  }
}

// With one batch per partition nothing is gained by regrouping (each batch
// is a row either way): the object keeps the bytes as they arrived.
TEST_F(WalWriterTest, AnObjectWithOneBatchPerPartitionKeepsItsArrivalLayout) {
  objstore::MemoryObjectStore store;
  std::vector<std::vector<AppendItem>> reqs{{item(3, 2), item(1, 1)}, {item(2, 3), item(0, 1)}};
  std::vector<CommittedObject> committed;
  WalOptions o;
  o.linger = std::chrono::milliseconds(50);
  run(store, o, std::move(reqs), &committed);
  ASSERT_EQ(committed.size(), 1u);
  const CommittedObject& c = committed[0];
  ASSERT_EQ(c.batches.size(), 4u);
  uint64_t end = 0;
  for (const auto& b : c.batches) {
    EXPECT_EQ(b.byte_offset, end) << "partition " << b.partition;
    end = b.byte_offset + b.byte_length;
  }
  EXPECT_EQ(end, c.data->size());
  EXPECT_EQ(c.runs.size(), 4u);
}

// An object of more requests than one answering step (answer_some): every
// request is answered, with its own offsets, oldest first.
TEST_F(WalWriterTest, AnObjectsRequestsAreAllAnsweredOldestFirst) {
  objstore::MemoryObjectStore store;
  constexpr int kRequests = 300;
  asio::io_context io;
  asio::thread_pool blocking(2);
  WalOptions o;
  o.linger = std::chrono::milliseconds(50);
  WalWriter wal(io, blocking, store, *meta_, o, nullptr);
  std::vector<int> answered;
  std::vector<int64_t> base_offsets(kRequests, -1);
  // Answered in steps: the WAL yields between them, so a handler posted when
  // the first answer arrives runs before the last answer does (had all 300
  // been posted at once, it would run after all of them).
  int answered_when_probed = -1;
  for (int i = 0; i < kRequests; ++i) {
    asio::co_spawn(
        io,
        [&, i]() -> asio::awaitable<void> {
          std::vector<AppendItem> items;
          items.push_back(item(0, 2));
          auto r = co_await wal.append(std::move(items));
          if (answered.empty()) asio::post(io, [&] { answered_when_probed = static_cast<int>(answered.size()); });
          answered.push_back(i);
          if (r.size() == 1 && r[0].error == ErrorCode::none) base_offsets[static_cast<size_t>(i)] = r[0].base_offset;
        },
        asio::detached);
  }
  io.run();
  blocking.join();
  EXPECT_EQ(store.counters().put.requests.load(), 1u);
  ASSERT_EQ(answered.size(), static_cast<size_t>(kRequests));
  EXPECT_GT(answered_when_probed, 0);
  EXPECT_LT(answered_when_probed, kRequests) << "every answer was posted before anything else could run";
  for (int i = 0; i < kRequests; ++i) {
    EXPECT_EQ(answered[static_cast<size_t>(i)], i) << "answered out of arrival order";
    EXPECT_EQ(base_offsets[static_cast<size_t>(i)], 2 * i);
  }
}

TEST_F(WalWriterTest, SizeLimitSealsObjectsCommittedInOrder) {
  objstore::MemoryObjectStore store;
  std::vector<std::vector<AppendItem>> reqs;
  for (int i = 0; i < 30; ++i) reqs.push_back({item(0, 10)});
  WalOptions o;
  o.object_max_bytes = 4096;  // a few batches per object
  o.linger = std::chrono::milliseconds(1000);
  std::vector<CommittedObject> committed;
  auto results = run(store, o, std::move(reqs), &committed);
  EXPECT_GT(committed.size(), 3u);
  int64_t expect = 0;
  for (const auto& c : committed) {
    for (const auto& r : c.results) {
      EXPECT_EQ(r.base_offset, expect) << "commits follow seal order";
      expect += 10;
    }
  }
  EXPECT_EQ(meta_->partition_offsets(topic_.id, 0)->high_watermark, 300);
}

TEST_F(WalWriterTest, FailedUploadsFailTheirBatchesWithARetriableError) {
  objstore::MemoryObjectStore inner;
  objstore::FaultInjectingStore store(inner, {.put_fail_before = 1.0}, 7);
  WalOptions o;
  o.linger = std::chrono::milliseconds(5);
  o.upload_attempts = 2;
  auto results = run(store, o, {{item(0, 1)}, {item(1, 1)}});
  for (const auto& r : results) {
    ASSERT_EQ(r.size(), 1u);
    EXPECT_EQ(r[0].error, ErrorCode::kafka_storage_error);
  }
  EXPECT_EQ(meta_->partition_offsets(topic_.id, 0)->high_watermark, 0);
  EXPECT_TRUE(meta_->objects().empty());
}

TEST_F(WalWriterTest, LostUploadResponsesAreRetriedAndStoredOnce) {
  objstore::MemoryObjectStore inner;
  objstore::FaultInjectingStore store(inner, {.put_fail_after = 0.5}, 11);
  WalOptions o;
  o.linger = std::chrono::milliseconds(2);
  o.upload_attempts = 20;
  std::vector<std::vector<AppendItem>> reqs;
  for (int i = 0; i < 10; ++i) reqs.push_back({item(0, 1, 5000, i)});
  auto results = run(store, o, std::move(reqs));
  for (const auto& r : results) EXPECT_EQ(r[0].error, ErrorCode::none);
  EXPECT_EQ(meta_->partition_offsets(topic_.id, 0)->high_watermark, 10);
}

// Runs PUTs through a hook first: (call number from 0, key).
// Passes every call to `inner`; a test's store overrides what it watches.
class ForwardingStore : public objstore::ObjectStore {
 public:
  explicit ForwardingStore(objstore::ObjectStore& inner) : inner_(inner) {}
  void put(const std::string& key, std::span<const uint8_t> data) override { inner_.put(key, data); }
  bool create(const std::string& key, std::span<const uint8_t> data) override { return inner_.create(key, data); }
  objstore::Bytes get(const std::string& key, std::optional<objstore::ByteRange> r) override { return inner_.get(key, r); }
  std::optional<objstore::ObjectInfo> head(const std::string& key) override { return inner_.head(key); }
  void remove(std::span<const std::string> keys) override { inner_.remove(keys); }
  std::vector<objstore::ObjectInfo> list(const std::string& prefix) override { return inner_.list(prefix); }
  std::string describe() const override { return "forwarding to " + inner_.describe(); }

 protected:
  objstore::ObjectStore& inner_;
};

class HookedPuts final : public ForwardingStore {
 public:
  HookedPuts(objstore::ObjectStore& inner, std::function<void(int, const std::string&)> hook)
      : ForwardingStore(inner), hook_(std::move(hook)) {}
  void put(const std::string& key, std::span<const uint8_t> data) override {
    counters_.put.requests++;
    hook_(calls_++, key);
    inner_.put(key, data);
  }

 private:
  std::function<void(int, const std::string&)> hook_;
  std::atomic<int> calls_{0};
};

// Sleeps before the first `slow` puts (then stores, or throws if `fail`).
HookedPuts slow_puts(objstore::ObjectStore& inner, int slow, std::chrono::milliseconds delay, bool fail = false) {
  return HookedPuts(inner, [=](int call, const std::string&) {
    if (call < slow || fail) std::this_thread::sleep_for(delay);
    if (fail) throw objstore::ObjectStoreError(objstore::ErrorKind::retriable, "injected");
  });
}

TEST_F(WalWriterTest, ASlowUploadIsHedgedAndTheFirstSuccessCommits) {
  objstore::MemoryObjectStore inner;
  auto store = slow_puts(inner, 1, std::chrono::milliseconds(1500));
  WalOptions o;
  o.linger = std::chrono::milliseconds(2);
  o.upload_hedge = std::chrono::milliseconds(20);
  std::vector<CommittedObject> committed;
  auto results = run(store, o, {{item(0, 3)}}, &committed);
  ASSERT_EQ(results[0].size(), 1u);
  EXPECT_EQ(results[0][0].error, ErrorCode::none);
  EXPECT_EQ(store.counters().put.requests, 2u) << "the slow PUT and its hedge";
  ASSERT_EQ(committed.size(), 1u);
  // The slow PUT finished later (run() joins the pool) with the same bytes.
  EXPECT_EQ(inner.get(committed[0].key), *committed[0].data);
  EXPECT_EQ(inner.list("").size(), 1u);
}

TEST_F(WalWriterTest, HangingUploadsAreHedgedOrRetriedAndEveryBatchCommits) {
  objstore::MemoryObjectStore inner;
  objstore::FaultInjectingStore store(inner, {.put_timeout = 0.4, .timeout = std::chrono::milliseconds(300)}, 23);
  WalOptions o;
  o.linger = std::chrono::milliseconds(2);
  o.upload_hedge = std::chrono::milliseconds(20);
  o.upload_attempts = 10;
  std::vector<std::vector<AppendItem>> reqs;
  for (int i = 0; i < 12; ++i) reqs.push_back({item(i % 4, 2, 7000 + i % 4, 2 * (i / 4))});
  auto results = run(store, o, std::move(reqs));
  for (const auto& r : results) EXPECT_EQ(r[0].error, ErrorCode::none);
  EXPECT_GT(store.timed_out(), 0u) << "the seed must make some uploads hang";
  for (int p = 0; p < 4; ++p) EXPECT_EQ(meta_->partition_offsets(topic_.id, p)->high_watermark, 6);
}

TEST_F(WalWriterTest, NoHedgeWhenTurnedOffOrFast) {
  objstore::MemoryObjectStore inner;
  auto slow = slow_puts(inner, 1, std::chrono::milliseconds(100));
  WalOptions o;
  o.linger = std::chrono::milliseconds(2);
  o.upload_hedge = std::chrono::milliseconds(-1);
  run(slow, o, {{item(0, 1)}});
  EXPECT_EQ(slow.counters().put.requests, 1u);
  objstore::MemoryObjectStore fast;
  o.upload_hedge = std::chrono::milliseconds(200);
  run(fast, o, {{item(0, 1)}});
  EXPECT_EQ(fast.counters().put.requests, 1u);
}

TEST_F(WalWriterTest, AHedgedAttemptFailsOnlyWhenBothPutsFail) {
  objstore::MemoryObjectStore inner;
  auto store = slow_puts(inner, 0, std::chrono::milliseconds(100), /*fail=*/true);
  WalOptions o;
  o.linger = std::chrono::milliseconds(2);
  o.upload_hedge = std::chrono::milliseconds(10);
  o.upload_attempts = 1;
  auto results = run(store, o, {{item(0, 1)}});
  EXPECT_EQ(results[0][0].error, ErrorCode::kafka_storage_error);
  EXPECT_EQ(store.counters().put.requests, 2u);
  EXPECT_EQ(meta_->partition_offsets(topic_.id, 0)->high_watermark, 0);
}

TEST_F(WalWriterTest, IdempotentDuplicatesGetTheirOriginalOffset) {
  objstore::MemoryObjectStore store;
  WalOptions o;
  o.linger = std::chrono::milliseconds(2);
  auto first = run(store, o, {{item(2, 4, 42, 0)}});
  auto again = run(store, o, {{item(2, 4, 42, 0)}});
  ASSERT_EQ(again[0][0].error, ErrorCode::none);
  EXPECT_TRUE(again[0][0].duplicate);
  EXPECT_EQ(again[0][0].base_offset, first[0][0].base_offset);
  EXPECT_EQ(meta_->partition_offsets(topic_.id, 2)->high_watermark, 4);
}

TEST_F(WalWriterTest, BackpressureHoldsRequestsButCompletesThemAll) {
  objstore::MemoryObjectStore store;
  WalOptions o;
  o.linger = std::chrono::milliseconds(1);
  o.buffer_max_bytes = 2000;  // smaller than a few batches
  std::vector<std::vector<AppendItem>> reqs;
  for (int i = 0; i < 40; ++i) reqs.push_back({item(i % 4, 5)});
  auto results = run(store, o, std::move(reqs));
  for (const auto& r : results) EXPECT_EQ(r[0].error, ErrorCode::none);
  EXPECT_GT(store.counters().put.requests.load(), 5u) << "the limit forced small objects";
}

// Produce requests reach the writer from every network thread at once
// (submit() takes them on the caller's thread). Each strand's requests keep
// their order, every one is answered, and the offsets stay dense, while
// objects seal by size and backpressure holds requests back concurrently.
TEST_F(WalWriterTest, RequestsFromManyThreadsAtOnceKeepEachStrandsOrder) {
  objstore::MemoryObjectStore store;
  WalOptions o;
  o.linger = std::chrono::milliseconds(5);
  o.object_max_bytes = 4000;   // a few batches: objects seal by size all the time
  o.buffer_max_bytes = 12000;  // and backpressure holds requests back
  constexpr int kStrands = 4;
  constexpr int kPerStrand = 150;
  asio::io_context io;
  asio::thread_pool blocking(4);
  WalWriter wal(io, blocking, store, *meta_, o, nullptr);
  std::vector<std::vector<std::vector<CommitResult>>> results(kStrands, std::vector<std::vector<CommitResult>>(kPerStrand));
  for (int s = 0; s < kStrands; ++s) {
    auto strand = asio::make_strand(io);
    asio::co_spawn(
        strand,
        [&, s]() -> asio::awaitable<void> {
          auto ex = co_await asio::this_coro::executor;
          std::vector<Completion<std::vector<CommitResult>>> done;
          for (int i = 0; i < kPerStrand; ++i) {
            done.emplace_back(ex);
            wal.submit({item(s, 2)}, done.back());  // strand s writes partition s alone
          }
          for (int i = 0; i < kPerStrand; ++i) results[s][i] = co_await done[i].wait();
        },
        asio::detached);
  }
  std::vector<std::thread> threads;
  for (int t = 0; t < 3; ++t) threads.emplace_back([&io] { io.run(); });
  io.run();
  for (auto& t : threads) t.join();
  blocking.join();
  for (int s = 0; s < kStrands; ++s) {
    for (int i = 0; i < kPerStrand; ++i) {
      ASSERT_EQ(results[s][i].size(), 1u) << s << " " << i;
      EXPECT_EQ(results[s][i][0].error, ErrorCode::none) << s << " " << i;
      EXPECT_EQ(results[s][i][0].base_offset, 2 * i) << "strand " << s << " request " << i << " out of order";
    }
    EXPECT_EQ(meta_->partition_offsets(topic_.id, s)->high_watermark, 2 * kPerStrand);
  }
  EXPECT_GT(store.counters().put.requests.load(), 10u) << "the size limit sealed many objects";
}

// flush() (the broker's shutdown) commits what is still open without waiting
// for the linger, and leaves nothing behind that keeps io.run() going: the
// linger timer's wait is cancelled, not left to run out.
TEST_F(WalWriterTest, FlushCommitsTheOpenObjectAndLetsTheLoopEnd) {
  objstore::MemoryObjectStore store;
  WalOptions o;
  o.linger = std::chrono::hours(1);
  asio::io_context io;
  asio::thread_pool blocking(2);
  WalWriter wal(io, blocking, store, *meta_, o, nullptr);
  std::vector<CommitResult> appended;
  bool flushed = false;
  auto strand = asio::make_strand(io);
  asio::co_spawn(
      strand,
      [&]() -> asio::awaitable<void> {
        auto ex = co_await asio::this_coro::executor;
        Completion<std::vector<CommitResult>> done(ex);
        wal.submit({item(1, 3)}, done);
        co_await wal.flush();
        flushed = true;
        appended = co_await done.wait();
      },
      asio::detached);
  // Generous, and only a bound: a loop kept alive by an hour-long wait would
  // stop here without having run out of work.
  io.run_for(std::chrono::seconds(60));
  EXPECT_TRUE(io.stopped()) << "io.run() ended because nothing was left to do";
  blocking.join();
  EXPECT_TRUE(flushed);
  ASSERT_EQ(appended.size(), 1u);
  EXPECT_EQ(appended[0].error, ErrorCode::none);
  EXPECT_EQ(appended[0].base_offset, 0);
  EXPECT_EQ(store.counters().put.requests.load(), 1u);
  EXPECT_EQ(meta_->partition_offsets(topic_.id, 1)->high_watermark, 3);
}

TEST_F(WalWriterTest, BatchesOfUnknownPartitionsFailAlone) {
  objstore::MemoryObjectStore store;
  WalOptions o;
  o.linger = std::chrono::milliseconds(2);
  auto bad = item(0, 1);
  bad.batch.partition = 99;
  auto results = run(store, o, {{item(0, 1), std::move(bad), item(1, 1)}});
  EXPECT_EQ(results[0][0].error, ErrorCode::none);
  EXPECT_EQ(results[0][1].error, ErrorCode::unknown_topic_or_partition);
  EXPECT_EQ(results[0][2].error, ErrorCode::none);
}

// A metadata store whose commits fail on demand, and that tells which
// objects' commits began with a gate (beside their upload); everything else
// is the real one.
class FailingCommits final : public meta::MetaStore {
 public:
  explicit FailingCommits(meta::MetaStore& inner) : inner_(inner) {}
  std::atomic<int> failures_left{0};

  meta::CommitOutcome commit_object(const meta::ObjectCommit& o, std::span<const meta::PendingBatch> b,
                                    const meta::CommitGate& gate = nullptr) override {
    if (gate) {
      std::lock_guard lock(mu_);
      gated_.insert(o.key);
      cv_.notify_all();
    }
    if (failures_left.fetch_sub(1) > 0) throw std::runtime_error("injected: disk I/O error");
    return inner_.commit_object(o, b, gate);
  }
  // Whether a commit of `key` with a gate begins within `limit`.
  bool wait_for_gated_commit(const std::string& key, std::chrono::milliseconds limit) {
    std::unique_lock lock(mu_);
    return cv_.wait_for(lock, limit, [&] { return gated_.count(key) > 0; });
  }
  std::string cluster_id(const std::optional<std::string>& p) override { return inner_.cluster_id(p); }
  int64_t allocate_producer_id() override { return inner_.allocate_producer_id(); }
  meta::Topic create_topic(const std::string& n, int32_t p, const std::map<std::string, std::string>& c) override {
    return inner_.create_topic(n, p, c);
  }
  std::optional<meta::Topic> find_topic(const std::string& n) override { return inner_.find_topic(n); }
  std::optional<meta::Topic> find_topic(const protocol::Uuid& id) override { return inner_.find_topic(id); }
  std::vector<meta::Topic> list_topics() override { return inner_.list_topics(); }
  void delete_topic(const protocol::Uuid& id) override { inner_.delete_topic(id); }
  void create_partitions(const protocol::Uuid& id, int32_t t) override { inner_.create_partitions(id, t); }
  void alter_topic_configs(const protocol::Uuid& id,
                           const std::map<std::string, std::optional<std::string>>& c) override {
    inner_.alter_topic_configs(id, c);
  }
  int64_t topics_version() override { return inner_.topics_version(); }
  std::optional<meta::PartitionOffsets> partition_offsets(const protocol::Uuid& t, int32_t p) override {
    return inner_.partition_offsets(t, p);
  }
  std::vector<std::pair<int32_t, meta::PartitionOffsets>> topic_offsets(const protocol::Uuid& t) override {
    return inner_.topic_offsets(t);
  }
  std::optional<meta::FetchPlan> find_batches(const protocol::Uuid& t, int32_t p, int64_t f, uint64_t m) override {
    return inner_.find_batches(t, p, f, m);
  }
  std::optional<meta::BatchLocation> find_batch_by_timestamp(const protocol::Uuid& t, int32_t p,
                                                             int64_t ts) override {
    return inner_.find_batch_by_timestamp(t, p, ts);
  }
  std::optional<meta::BatchLocation> find_batch_containing(const protocol::Uuid& t, int32_t p, int64_t o) override {
    return inner_.find_batch_containing(t, p, o);
  }
  int64_t delete_records(const protocol::Uuid& t, int32_t p, int64_t o) override {
    return inner_.delete_records(t, p, o);
  }
  std::vector<meta::StoredObject> objects() override { return inner_.objects(); }
  std::vector<meta::StoredObject> unreferenced_objects() override { return inner_.unreferenced_objects(); }
  void forget_objects(std::span<const std::string> k) override { inner_.forget_objects(k); }
  void store_group(const meta::GroupRecord& g) override { inner_.store_group(g); }
  std::optional<meta::GroupRecord> find_group(const std::string& g) override { return inner_.find_group(g); }
  std::vector<meta::GroupRecord> list_groups() override { return inner_.list_groups(); }
  std::vector<protocol::ErrorCode> commit_offsets(const std::string& g, std::span<const meta::CommittedOffset> o,
                                                  int64_t now) override {
    return inner_.commit_offsets(g, o, now);
  }
  std::vector<meta::CommittedOffset> fetch_offsets(const std::string& g,
                                                   std::optional<std::span<const meta::PartitionId>> w) override {
    return inner_.fetch_offsets(g, w);
  }
  size_t delete_offsets(const std::string& g, std::span<const meta::PartitionId> w) override {
    return inner_.delete_offsets(g, w);
  }
  bool delete_group(const std::string& g) override { return inner_.delete_group(g); }
  ExpiryOutcome expire_offsets(const std::string& g, std::span<const meta::CommittedOffset> s, bool d) override {
    return inner_.expire_offsets(g, s, d);
  }

 private:
  meta::MetaStore& inner_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::set<std::string> gated_;  // GUARDED_BY(mu_)
};

TEST_F(WalWriterTest, AFailedCommitFailsItsObjectAndLaterObjectsStillCommit) {
  objstore::MemoryObjectStore store;
  FailingCommits failing(*meta_);
  failing.failures_left = 1;
  asio::io_context io;
  asio::thread_pool blocking(2);
  WalOptions o;
  o.linger = std::chrono::milliseconds(2);
  WalWriter wal(io, blocking, store, failing, o, nullptr);
  std::vector<CommitResult> first, second;
  asio::co_spawn(
      io,
      [&]() -> asio::awaitable<void> {
        // Built outside the co_await: GCC 12 miscompiles braced lists there.
        std::vector<AppendItem> a, b;
        a.push_back(item(0, 2));
        b.push_back(item(0, 3));
        first = co_await wal.append(std::move(a));
        second = co_await wal.append(std::move(b));
      },
      asio::detached);
  io.run();
  blocking.join();
  ASSERT_EQ(first.size(), 1u);
  EXPECT_EQ(first[0].error, ErrorCode::kafka_storage_error) << "retriable: the producer tries again";
  ASSERT_EQ(second.size(), 1u);
  EXPECT_EQ(second[0].error, ErrorCode::none);
  EXPECT_EQ(second[0].base_offset, 0) << "the failed commit assigned nothing";
  EXPECT_EQ(meta_->partition_offsets(topic_.id, 0)->high_watermark, 3);
  // The failed object was uploaded but is not referenced: garbage collection's.
  EXPECT_EQ(store.list("wal/").size(), 2u);
  EXPECT_EQ(meta_->objects().size(), 1u);
}

}  // namespace
}  // namespace floe::ingest

namespace floe::ingest {
namespace {

class EarlyCommitTest : public WalWriterTest {
 protected:
  static constexpr int kWarmup = 10;  // quick PUTs first: the p90 of recent PUTs needs samples
  static constexpr int kRequests = 14;

  struct InTurn {
    std::vector<std::vector<CommitResult>> results;  // per request
    WalWriter::Stats stats;
    // Per committed object: whether its bytes were in `inner` when the
    // commit was reported.
    std::vector<bool> durable_at_commit;
  };

  // Appends kRequests one-record batches to partition 0, one after another
  // (each its own object).
  InTurn run_in_turn(objstore::ObjectStore& store, objstore::ObjectStore& inner, meta::MetaStore& meta,
                     WalOptions o) {
    InTurn out;
    asio::io_context io;
    asio::thread_pool blocking(4);
    o.linger = std::chrono::milliseconds(1);
    o.upload_hedge = std::chrono::milliseconds(-1);
    WalWriter wal(io, blocking, store, meta, o, [&](const CommittedObject& c) {
      out.durable_at_commit.push_back(inner.head(c.key).has_value());
    });
    auto& results = out.results;
    results.resize(kRequests);
    asio::co_spawn(
        io,
        [&]() -> asio::awaitable<void> {
          for (int i = 0; i < kRequests; ++i) {
            std::vector<AppendItem> one;
            one.push_back(item(0, 1));
            results[static_cast<size_t>(i)] = co_await wal.append(std::move(one));
          }
        },
        asio::detached);
    io.run();
    blocking.join();
    out.stats = wal.stats();
    return out;
  }
};

// Past the warm-up, each PUT holds its bytes back until the commit of its
// object has begun (with a gate): it cannot finish first, so the commit runs
// beside it, and is reported only once the object is stored.
TEST_F(EarlyCommitTest, TheOldestObjectCommitsBesideItsUploadAndOnlyOnceItIsStored) {
  objstore::MemoryObjectStore inner;
  FailingCommits meta(*meta_);
  std::atomic<int> overlapped{0};
  HookedPuts store(inner, [&](int call, const std::string& key) {
    if (call < kWarmup) return;
    if (meta.wait_for_gated_commit(key, std::chrono::seconds(5))) ++overlapped;
    // Long enough for a commit that did not wait to be reported first.
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  });
  WalOptions o;
  o.early_commit_max_put = std::chrono::milliseconds(5000);
  auto [results, stats, durable] = run_in_turn(store, inner, meta, o);
  for (int i = 0; i < kRequests; ++i) {
    ASSERT_EQ(results[static_cast<size_t>(i)].size(), 1u);
    EXPECT_EQ(results[static_cast<size_t>(i)][0].error, ErrorCode::none);
    EXPECT_EQ(results[static_cast<size_t>(i)][0].base_offset, i);
  }
  EXPECT_EQ(overlapped.load(), kRequests - kWarmup) << "every commit past the warm-up began before its PUT ended";
  EXPECT_GE(stats.early_commits, static_cast<uint64_t>(kRequests - kWarmup));
  EXPECT_EQ(stats.early_commits_abandoned, 0u);
  ASSERT_EQ(durable.size(), static_cast<size_t>(kRequests));
  for (size_t i = 0; i < durable.size(); ++i) EXPECT_TRUE(durable[i]) << "object " << i << " reported before stored";
  EXPECT_EQ(meta_->partition_offsets(topic_.id, 0)->high_watermark, kRequests);
}

// An upload that fails while its commit waits in the gate: the commit is
// abandoned and the object's batches fail, retriably; nothing refers to it.
TEST_F(EarlyCommitTest, AnUploadThatFailsUnderAnEarlyCommitLeavesNoTrace) {
  objstore::MemoryObjectStore inner;
  FailingCommits meta(*meta_);
  std::string failed_key;
  HookedPuts store(inner, [&](int call, const std::string& key) {
    if (call != kWarmup) return;
    failed_key = key;
    EXPECT_TRUE(meta.wait_for_gated_commit(key, std::chrono::seconds(5)));
    throw objstore::ObjectStoreError(objstore::ErrorKind::other, "injected");
  });
  WalOptions o;
  o.early_commit_max_put = std::chrono::milliseconds(5000);
  o.upload_attempts = 1;
  auto [results, stats, durable] = run_in_turn(store, inner, meta, o);
  int64_t next = 0;
  for (int i = 0; i < kRequests; ++i) {
    const auto& r = results[static_cast<size_t>(i)].at(0);
    if (i == kWarmup) {
      EXPECT_EQ(r.error, ErrorCode::kafka_storage_error);
      continue;
    }
    EXPECT_EQ(r.error, ErrorCode::none) << i;
    EXPECT_EQ(r.base_offset, next++);
  }
  EXPECT_EQ(stats.early_commits_abandoned, 1u);
  for (bool d : durable) EXPECT_TRUE(d);
  EXPECT_EQ(meta_->partition_offsets(topic_.id, 0)->high_watermark, kRequests - 1);
  for (const auto& obj : meta_->objects()) EXPECT_NE(obj.key, failed_key);
}

// An upload that outlasts the gate's wait: the early commit gives up (other
// writers of the store were waiting) and the object commits after its upload.
TEST_F(EarlyCommitTest, AnUploadLongerThanTheGateWaitsCommitsAfterIt) {
  objstore::MemoryObjectStore inner;
  FailingCommits meta(*meta_);
  HookedPuts store(inner, [&](int call, const std::string& key) {
    if (call != kWarmup) return;
    EXPECT_TRUE(meta.wait_for_gated_commit(key, std::chrono::seconds(5)));
    std::this_thread::sleep_for(std::chrono::seconds(1));  // 100 times the gate's wait
  });
  WalOptions o;
  o.early_commit_max_put = std::chrono::milliseconds(5);
  auto [results, stats, durable] = run_in_turn(store, inner, meta, o);
  for (int i = 0; i < kRequests; ++i) {
    EXPECT_EQ(results[static_cast<size_t>(i)].at(0).error, ErrorCode::none) << i;
    EXPECT_EQ(results[static_cast<size_t>(i)].at(0).base_offset, i);
  }
  EXPECT_EQ(stats.early_commits_abandoned, 1u);
  ASSERT_EQ(durable.size(), static_cast<size_t>(kRequests));
  for (bool d : durable) EXPECT_TRUE(d);
}

// Turned off, or while PUTs are slow, commits wait for their uploads.
TEST_F(EarlyCommitTest, NoEarlyCommitWhenTurnedOffOrWhilePutsAreSlow) {
  for (int slow : {0, 1}) {
    objstore::MemoryObjectStore inner;
    HookedPuts store(inner, [&](int, const std::string&) {
      if (slow) std::this_thread::sleep_for(std::chrono::milliseconds(30));
    });
    WalOptions o;
    o.early_commit_max_put = std::chrono::milliseconds(slow ? 10 : -1);
    auto [results, stats, durable] = run_in_turn(store, inner, *meta_, o);
    for (const auto& r : results) EXPECT_EQ(r.at(0).error, ErrorCode::none);
    EXPECT_EQ(stats.early_commits, 0u) << "slow " << slow;
    EXPECT_EQ(stats.early_commits_abandoned, 0u) << "slow " << slow;
  }
}

// A store that takes objects as they fill (like file://): its writers keep
// what they were given, call by call, and store the object in `inner` on
// finish. Writes throw while `fail_writes` is set.
class EarlyWrites final : public ForwardingStore {
 public:
  struct Written {
    std::string key;
    std::vector<size_t> writes;  // bytes seen by each write()
    size_t finished = 0;         // bytes at finish()
  };

  explicit EarlyWrites(objstore::ObjectStore& inner) : ForwardingStore(inner) {}

  std::unique_ptr<objstore::ObjectWriter> start_put(const std::string& key) override {
    std::lock_guard lock(mu_);
    written_.push_back({key, {}, 0});
    return std::make_unique<Writer>(*this, written_.size() - 1);
  }
  void put(const std::string& key, std::span<const uint8_t> data) override {
    plain_puts++;
    inner_.put(key, data);
  }

  std::vector<Written> written() {
    std::lock_guard lock(mu_);
    return written_;
  }

  std::atomic<bool> fail_writes{false};
  std::atomic<int> plain_puts{0};

 private:
  class Writer final : public objstore::ObjectWriter {
   public:
    Writer(EarlyWrites& store, size_t index) : store_(store), index_(index) {}
    void write(std::span<const uint8_t> object) override {
      if (store_.fail_writes) throw objstore::ObjectStoreError(objstore::ErrorKind::retriable, "injected");
      std::lock_guard lock(store_.mu_);
      store_.written_[index_].writes.push_back(object.size());
    }
    void finish(std::span<const uint8_t> object) override {
      std::string key;
      {
        std::lock_guard lock(store_.mu_);
        store_.written_[index_].finished = object.size();
        key = store_.written_[index_].key;
      }
      store_.inner_.put(key, object);
    }

   private:
    EarlyWrites& store_;
    size_t index_;
  };

  std::mutex mu_;
  std::vector<Written> written_;  // GUARDED_BY(mu_)
};

class WrittenWhileFillingTest : public WalWriterTest {
 protected:
  // ~50 KiB of records for `partition`.
  AppendItem big_item(int32_t partition) { return item(partition, 500); }

  // Submits each group's requests at once (one object each), the next group
  // once the one before has committed; returns the objects committed and,
  // in `stats`, the writer's counts after each group.
  std::vector<CommittedObject> in_turn(objstore::ObjectStore& store, WalOptions options,
                                       std::vector<std::vector<std::vector<AppendItem>>> groups,
                                       std::vector<WalWriter::Stats>* stats = nullptr) {
    asio::io_context io;
    asio::thread_pool blocking(4);
    std::vector<CommittedObject> committed;
    WalWriter wal(io, blocking, store, *meta_, options, [&](const CommittedObject& c) { committed.push_back(c); });
    std::vector<CommitResult> results;
    asio::co_spawn(
        io,
        [&]() -> asio::awaitable<void> {
          auto executor = co_await asio::this_coro::executor;
          for (auto& group : groups) {
            std::vector<Completion<std::vector<CommitResult>>> done;
            for (auto& request : group) {
              done.emplace_back(executor);
              wal.submit(std::move(request), done.back());
            }
            for (auto& d : done) {
              for (auto& r : co_await d.wait()) results.push_back(r);
            }
            if (stats) stats->push_back(wal.stats());
          }
        },
        asio::detached);
    io.run();
    blocking.join();
    for (const auto& r : results) EXPECT_EQ(r.error, ErrorCode::none);
    return committed;
  }

  // One object of 40 requests of ~50 KiB over 4 partitions (~2 MiB) through
  // `store`, stored in `memory` as committed; the writer's counts after it.
  std::pair<CommittedObject, WalWriter::Stats> one_object(objstore::ObjectStore& store,
                                                          objstore::MemoryObjectStore& memory,
                                                          std::chrono::milliseconds linger) {
    WalOptions o;
    o.linger = linger;
    std::vector<std::vector<AppendItem>> requests;
    for (int i = 0; i < 40; ++i) requests.push_back({big_item(i % 4)});
    std::vector<WalWriter::Stats> stats;
    auto committed = in_turn(store, o, {std::move(requests)}, &stats);
    EXPECT_EQ(committed.size(), 1u);
    EXPECT_EQ(stats.size(), 1u);
    if (committed.size() != 1 || stats.size() != 1) return {};
    EXPECT_EQ(memory.get(committed[0].key), *committed[0].data);
    EXPECT_EQ(stats[0].upload_failures, 0u);
    return {committed[0], stats[0]};
  }
};

// An object's bytes go to the store while it fills: the writer sees them
// before the seal, finishes with exactly the object that commits, and no
// whole-object PUT is made.
TEST_F(WrittenWhileFillingTest, AnObjectIsWrittenAsItFills) {
  objstore::MemoryObjectStore memory;
  EarlyWrites store(memory);
  auto [committed, stats] = one_object(store, memory, std::chrono::milliseconds(300));
  ASSERT_TRUE(committed.data);
  auto written = store.written();
  ASSERT_EQ(written.size(), 1u);
  EXPECT_EQ(written[0].key, committed.key);
  EXPECT_FALSE(written[0].writes.empty()) << "bytes went out before the seal";
  for (size_t w : written[0].writes) EXPECT_LE(w, committed.data->size());
  EXPECT_EQ(written[0].finished, committed.data->size());
  EXPECT_EQ(store.plain_puts.load(), 0);
  EXPECT_EQ(stats.written_while_filling, 1u);
}

// A writer that fails hands the object to an ordinary PUT at once: the
// producers are answered, and nothing counts as a failed upload.
TEST_F(WrittenWhileFillingTest, AFailedWriterHandsOverToAPut) {
  objstore::MemoryObjectStore memory;
  EarlyWrites store(memory);
  store.fail_writes = true;
  auto [committed, stats] = one_object(store, memory, std::chrono::milliseconds(100));
  ASSERT_TRUE(committed.data);
  EXPECT_EQ(store.written().size(), 1u);
  EXPECT_EQ(store.plain_puts.load(), 1);
  EXPECT_EQ(stats.written_while_filling, 0u);
}

// Objects written as they fill keep their arrival layout. One that would
// have gained much from a layout by partition (many batches of few
// partitions) turns early writing off for the next, which is laid out by
// partition and PUT whole; an object that gains little turns it back on.
TEST_F(WrittenWhileFillingTest, ObjectsThatGainFromALayoutByPartitionAreNotWrittenEarly) {
  objstore::MemoryObjectStore memory;
  EarlyWrites store(memory);
  WalOptions o;
  o.linger = std::chrono::milliseconds(50);
  auto interleaved = [&] {
    std::vector<std::vector<AppendItem>> requests;
    for (int i = 0; i < 40; ++i) requests.push_back({big_item(i % 2)});  // 40 runs as they arrive, 2 by partition
    return requests;
  };
  auto one_each = [&] {
    std::vector<std::vector<AppendItem>> requests;
    for (int i = 0; i < 4; ++i) requests.push_back({item(i, 2000)});  // ~200 KiB each: 4 runs either way
    return requests;
  };
  auto committed = in_turn(store, o, {interleaved(), interleaved(), one_each(), one_each()});
  ASSERT_EQ(committed.size(), 4u);
  std::set<std::string> early;  // objects written as they filled
  for (const auto& w : store.written()) early.insert(w.key);
  EXPECT_TRUE(early.count(committed[0].key)) << "nothing learnt yet";
  EXPECT_FALSE(early.count(committed[1].key)) << "the object before gained much from a layout by partition";
  EXPECT_FALSE(early.count(committed[2].key)) << "the object before gained much from a layout by partition";
  EXPECT_TRUE(early.count(committed[3].key)) << "the object before gained little";
  EXPECT_EQ(store.plain_puts.load(), 2);
  // The first object kept its arrival layout (a row per batch); the second
  // was laid out by partition (a row per run of up to 1 MiB of a partition's
  // batches, here ~1 MiB each).
  EXPECT_EQ(committed[0].runs.size(), 40u);
  EXPECT_GE(committed[1].runs.size(), 2u);
  EXPECT_LE(committed[1].runs.size(), 4u);
  for (const auto& c : committed) EXPECT_EQ(memory.get(c.key), *c.data);
}

}  // namespace
}  // namespace floe::ingest
