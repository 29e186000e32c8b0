#include "fetch/read_path.h"

#include <gtest/gtest.h>

#include <asio/co_spawn.hpp>
#include <asio/detached.hpp>
#include <asio/io_context.hpp>
#include <asio/post.hpp>
#include <asio/steady_timer.hpp>
#include <asio/thread_pool.hpp>
#include <asio/use_awaitable.hpp>
#include <filesystem>
#include <tuple>

#include "objstore/memory_store.h"
#include "protocol/record_batch.h"

namespace floe::fetch {
namespace {

class ReadPathTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() / ("floe-read-test-" + std::to_string(::getpid()));
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_);
    meta_ = meta::open_meta_store("sqlite://" + (dir_ / "meta.db").string());
  }
  void TearDown() override {
    meta_.reset();
    std::filesystem::remove_all(dir_);
  }

  template <typename F>
  void run(F body) {
    asio::io_context io;
    asio::co_spawn(io, body(io), [](std::exception_ptr e) {
      if (e) std::rethrow_exception(e);
    });
    io.run();
  }

  std::filesystem::path dir_;
  std::unique_ptr<meta::MetaStore> meta_;
  objstore::MemoryObjectStore store_;
  asio::thread_pool blocking_{2};
};

// An object still in a bigger buffer (a WAL object in its pool buffer) is
// charged the whole buffer: that is the memory it holds.
TEST_F(ReadPathTest, TheCacheChargesAnObjectItsBuffersCapacity) {
  ReadPath reader(blocking_, *meta_, store_, 2500);
  auto committed = [&](const std::string& key) {
    protocol::Bytes b;
    b.reserve(1000);
    b.assign(100, 7);
    ingest::CommittedObject c;
    c.key = key;
    c.data = std::make_shared<const protocol::Bytes>(std::move(b));
    reader.on_commit(c);
  };
  committed("wal/a");
  EXPECT_EQ(reader.cache_stats().bytes, 1000u);
  committed("wal/b");
  committed("wal/c");  // 3000 > 2500: the oldest goes
  EXPECT_EQ(reader.cache_stats().objects, 2u);
  EXPECT_EQ(reader.cache_stats().bytes, 2000u);
}

TEST_F(ReadPathTest, CommittedObjectsAreServedWithoutAGet) {
  ReadPath reader(blocking_, *meta_, store_, 1 << 20);
  ingest::CommittedObject c;
  c.key = "wal/x";
  c.data = std::make_shared<const protocol::Bytes>(protocol::Bytes(100, 7));
  reader.on_commit(c);
  run([&](asio::io_context&) -> asio::awaitable<void> {
    auto data = co_await reader.object("wal/x");
    EXPECT_EQ(data->size(), 100u);
  });
  EXPECT_EQ(store_.counters().get.requests.load(), 0u);
  EXPECT_EQ(reader.cache_stats().hits, 1u);
}

TEST_F(ReadPathTest, ConcurrentMissesShareOneGetAndTheCacheIsBounded) {
  ReadPath reader(blocking_, *meta_, store_, 250);
  store_.put("a", protocol::Bytes(100, 1));
  store_.put("b", protocol::Bytes(100, 2));
  store_.put("c", protocol::Bytes(100, 3));
  run([&](asio::io_context& io) -> asio::awaitable<void> {
    int done = 0;
    for (int i = 0; i < 8; ++i) {
      asio::co_spawn(io, [&]() -> asio::awaitable<void> {
        auto d = co_await reader.object("a");
        EXPECT_EQ((*d)[0], 1);
        ++done;
      }, asio::detached);
    }
    co_await reader.object("b");
    co_await reader.object("c");
    asio::steady_timer t(io, std::chrono::milliseconds(50));
    co_await t.async_wait(asio::use_awaitable);
    EXPECT_EQ(done, 8);
  });
  EXPECT_EQ(store_.counters().get.requests.load(), 3u) << "eight readers of one object, one GET";
  EXPECT_LE(reader.cache_stats().bytes, 250u);
}

TEST_F(ReadPathTest, MissingObjectsThrowTheStoreError) {
  ReadPath reader(blocking_, *meta_, store_, 1 << 20);
  run([&](asio::io_context&) -> asio::awaitable<void> {
    bool threw = false;
    try {
      co_await reader.object("nope");
    } catch (const objstore::ObjectStoreError& e) {
      threw = e.kind() == objstore::ErrorKind::not_found;
    }
    EXPECT_TRUE(threw);
  });
}

namespace {

// What on_commit gets for one batch of `topic`-`partition`.
ingest::CommittedObject one_batch_commit(const protocol::Uuid& topic, int32_t partition) {
  ingest::CommittedObject c;
  c.key = "wal/" + std::to_string(partition);
  c.data = std::make_shared<const protocol::Bytes>(protocol::Bytes(10));
  meta::PendingBatch b;
  b.topic_id = topic;
  b.partition = partition;
  b.record_count = 1;
  c.batches.push_back(b);
  c.results.push_back(meta::CommitResult{protocol::ErrorCode::none, 0, 0, false});
  return c;
}

// Whether `watch` was woken: lets every wake-up already posted to this
// (single-threaded) io_context run first, then looks without waiting.
asio::awaitable<bool> woken(ReadPath::Watch& watch) {
  co_await asio::post(co_await asio::this_coro::executor, asio::use_awaitable);
  co_return co_await watch.wait_until(std::chrono::steady_clock::now() - std::chrono::seconds(1));
}

}  // namespace

TEST_F(ReadPathTest, ACommitWakesAWatchOnItsPartitionOnly) {
  ReadPath reader(blocking_, *meta_, store_, 1 << 20);
  protocol::Uuid topic;
  topic.bytes[0] = 1;
  PartitionKey watched{topic, 3};
  run([&](asio::io_context& io) -> asio::awaitable<void> {
    auto watch = reader.watch(std::span(&watched, 1), co_await asio::this_coro::executor);
    reader.on_commit(one_batch_commit(topic, 2));
    EXPECT_FALSE(co_await woken(*watch));
    // A commit made before the wait starts is remembered: a wait with a
    // far deadline returns (otherwise this test hangs and ctest fails it).
    reader.on_commit(one_batch_commit(topic, 3));
    asio::steady_timer settle(io, std::chrono::milliseconds(10));
    co_await settle.async_wait(asio::use_awaitable);
    EXPECT_TRUE(co_await watch->wait_until(std::chrono::steady_clock::now() + std::chrono::hours(1)));
    // Once reported, the wake-up is spent.
    EXPECT_FALSE(co_await woken(*watch));
  });
}

TEST_F(ReadPathTest, WatchesRegisterOncePerTopicAndWakeOnlyForTheirPartitions) {
  ReadPath reader(blocking_, *meta_, store_, 1 << 20);
  protocol::Uuid a, b;
  a.bytes[0] = 1;
  b.bytes[0] = 2;
  run([&](asio::io_context&) -> asio::awaitable<void> {
    auto ex = co_await asio::this_coro::executor;
    // Topics interleaved and repeated, and a negative partition, which is ignored.
    std::vector<PartitionKey> first_keys{{a, 5}, {b, 2}, {a, 0}, {a, -1}};
    std::vector<PartitionKey> second_keys{{a, 1}};
    auto first = reader.watch(first_keys, ex);
    auto second = reader.watch(second_keys, ex);
    EXPECT_EQ(reader.watch_registrations(), 3u);  // first: a and b; second: a

    reader.on_commit(one_batch_commit(a, 5));
    EXPECT_TRUE(co_await woken(*first));
    EXPECT_FALSE(co_await woken(*second));
    reader.on_commit(one_batch_commit(a, 1));
    EXPECT_FALSE(co_await woken(*first));
    EXPECT_TRUE(co_await woken(*second));
    reader.on_commit(one_batch_commit(b, 2));
    EXPECT_TRUE(co_await woken(*first));
    // Partitions nobody watches: inside the first watch's range, past every
    // watch's range, and of a topic with no watches.
    for (const auto& [topic, partition] : std::vector<std::pair<protocol::Uuid, int32_t>>{{a, 3}, {a, 600}, {b, 0}}) {
      protocol::Uuid nobody;
      nobody.bytes[0] = 9;
      reader.on_commit(one_batch_commit(topic, partition));
      reader.on_commit(one_batch_commit(nobody, 0));
      EXPECT_FALSE(co_await woken(*first));
      EXPECT_FALSE(co_await woken(*second));
    }

    first.reset();
    EXPECT_EQ(reader.watch_registrations(), 1u);
    reader.on_commit(one_batch_commit(a, 1));
    EXPECT_TRUE(co_await woken(*second));
    second.reset();
    EXPECT_EQ(reader.watch_registrations(), 0u);
    auto none = reader.watch(std::vector<PartitionKey>{{a, -1}}, ex);
    EXPECT_EQ(reader.watch_registrations(), 0u);
  });
}

TEST_F(ReadPathTest, PlanAllAnswersEachPartitionInOrder) {
  ReadPath reader(blocking_, *meta_, store_, 1 << 20);
  meta::Topic t = meta_->create_topic("t", 2, {});
  std::vector<meta::PendingBatch> batches(3);
  for (size_t i = 0; i < batches.size(); ++i) {
    batches[i].topic_id = t.id;
    batches[i].partition = i == 1 ? 1 : 0;
    batches[i].record_count = 2;
    batches[i].byte_offset = i * 101;  // apart: a run each
    batches[i].byte_length = 100;
  }
  meta_->commit_object(meta::ObjectCommit{"o", 400, 1}, batches);
  run([&](asio::io_context&) -> asio::awaitable<void> {
    std::vector<ReadPath::PlanRequest> requests{{{t.id, 1}, 0, 1000}, {{t.id, 0}, 2, 1000}, {{t.id, 5}, 0, 1000}};
    auto plans = co_await reader.plan_all(std::move(requests));
    EXPECT_EQ(plans.size(), 3u);
    if (plans.size() != 3) co_return;
    EXPECT_EQ(plans[0]->batches, (std::vector<meta::BatchLocation>{{"o", 101, 100, 0, 1, -1}}));
    EXPECT_EQ(plans[1]->batches, (std::vector<meta::BatchLocation>{{"o", 202, 100, 2, 3, -1}}));
    EXPECT_EQ(plans[1]->offsets.high_watermark, 4);
    EXPECT_EQ(plans[2], std::nullopt) << "an unknown partition";
    // The offsets came back with the plans: the next look needs no query.
    PartitionKey p0{t.id, 0};
    auto o = co_await reader.offsets(p0);
    EXPECT_EQ(o->high_watermark, 4);
  });
}

// Commits `batches` (partition, record count, byte offset, byte length) as
// object `key` through the metadata store, and tells `reader` unless `seen`
// is false (a commit of another broker).
void commit(meta::MetaStore& meta, ReadPath* reader, const meta::Topic& t, const std::string& key,
            const std::vector<std::tuple<int32_t, int32_t, uint64_t, uint32_t>>& batches) {
  ingest::CommittedObject c;
  c.key = key;
  c.data = std::make_shared<const protocol::Bytes>(protocol::Bytes(1000, 0));
  for (const auto& [partition, count, offset, length] : batches) {
    meta::PendingBatch b;
    b.topic_id = t.id;
    b.partition = partition;
    b.record_count = count;
    b.byte_offset = offset;
    b.byte_length = length;
    c.batches.push_back(b);
  }
  meta::CommitOutcome outcome = meta.commit_object(meta::ObjectCommit{key, 1000, 1}, c.batches);
  c.results = std::move(outcome.results);
  c.runs = std::move(outcome.runs);
  if (reader) reader->on_commit(c);
}

// The first lookup of a topic caches every partition's offsets: a consumer
// assigned all of a big topic's partitions asks for them one by one.
TEST_F(ReadPathTest, TheFirstOffsetsLookupOfATopicCachesAllItsPartitions) {
  ReadPath reader(blocking_, *meta_, store_, 1 << 20);
  meta::Topic t = meta_->create_topic("t", 3, {});
  meta::Topic other = meta_->create_topic("other", 2, {});
  commit(*meta_, &reader, t, "o1", {{1, 4, 0, 100}});
  run([&](asio::io_context&) -> asio::awaitable<void> {
    EXPECT_EQ((co_await reader.offsets({t.id, 0}))->high_watermark, 0);
    // Commits the reader does not see (another broker's, say) move the store
    // on; what the reader answers now shows where it answered from.
    commit(*meta_, nullptr, t, "o2", {{2, 5, 0, 100}, {1, 1, 100, 100}});
    commit(*meta_, nullptr, other, "o3", {{0, 3, 0, 100}});
    EXPECT_EQ((co_await reader.offsets({t.id, 2}))->high_watermark, 0) << "cached with partition 0";
    EXPECT_EQ((co_await reader.offsets({t.id, 1}))->high_watermark, 4) << "cached with partition 0";
    EXPECT_EQ((co_await reader.offsets({other.id, 0}))->high_watermark, 3) << "another topic: its own lookup";
    // Invalidated, a partition is looked up alone, and the topic not again.
    reader.invalidate_partition(t.id, 2);
    commit(*meta_, nullptr, t, "o4", {{1, 2, 0, 100}});
    EXPECT_EQ((co_await reader.offsets({t.id, 2}))->high_watermark, 5);
    EXPECT_EQ((co_await reader.offsets({t.id, 1}))->high_watermark, 4);
    EXPECT_FALSE(co_await reader.offsets({t.id, 3})) << "no such partition";
    // A forgotten (deleted) topic is forgotten whole: the next lookup loads
    // all its partitions again.
    reader.forget_topic(t.id);
    EXPECT_EQ((co_await reader.offsets({t.id, 0}))->high_watermark, 0);
    commit(*meta_, nullptr, t, "o5", {{1, 1, 0, 100}});
    EXPECT_EQ((co_await reader.offsets({t.id, 1}))->high_watermark, 7) << "loaded with partition 0, before o5";
  });
}

TEST_F(ReadPathTest, PlansOfWhatThisBrokerCommittedComeFromItsRecentRuns) {
  ReadPath reader(blocking_, *meta_, store_, 1 << 20);
  meta::Topic t = meta_->create_topic("t", 2, {});
  const PartitionKey p0{t.id, 0};
  // o1: two batches of partition 0 around one of partition 1 (two runs);
  // o2: two more of partition 0, back to back (one run).
  commit(*meta_, &reader, t, "o1", {{0, 2, 0, 100}, {1, 1, 100, 50}, {0, 3, 150, 100}});
  commit(*meta_, &reader, t, "o2", {{0, 1, 0, 40}, {0, 2, 40, 30}});
  run([&](asio::io_context&) -> asio::awaitable<void> {
    EXPECT_EQ((co_await reader.offsets(p0))->high_watermark, 8);  // one query: the offsets are then cached
    // That query cached the whole topic; partition 1 is forgotten again, so
    // that the store must answer for it.
    reader.invalidate_partition(t.id, 1);
    const auto before = reader.cache_stats();
    // (Requests built before the co_await: GCC 12 mishandles brace-init
    // temporaries inside one.)
    std::vector<ReadPath::PlanRequest> requests{{p0, 0, 1000}, {p0, 3, 1000}, {p0, 5, 1}, {{t.id, 1}, 0, 1000}};
    auto plans = co_await reader.plan_all(std::move(requests));
    const auto after = reader.cache_stats();
    EXPECT_EQ(after.plans_from_recent_runs - before.plans_from_recent_runs, 3u);
    // Partition 1's offsets are not cached: the store answers it.
    EXPECT_EQ(after.plans_from_store - before.plans_from_store, 1u);
    // The same runs as the store's rows, with the same budget rule.
    const std::vector<std::pair<int64_t, uint64_t>> asked{{0, 1000}, {3, 1000}, {5, 1}};
    for (size_t i = 0; i < asked.size(); ++i) {
      auto stored = meta_->find_batches(t.id, 0, asked[i].first, asked[i].second);
      EXPECT_EQ(plans[i]->batches, stored->batches) << "from " << asked[i].first;
      EXPECT_EQ(plans[i]->offsets, stored->offsets) << "from " << asked[i].first;
    }
    EXPECT_EQ(plans[0]->batches, (std::vector<meta::BatchLocation>{{"o1", 0, 100, 0, 1, -1},
                                                                 {"o1", 150, 100, 2, 4, -1},
                                                                 {"o2", 0, 70, 5, 7, -1}}));
    EXPECT_EQ(plans[2]->batches.size(), 1u) << "the run crossing the budget, and nothing after it";
    EXPECT_EQ(plans[3]->batches, (std::vector<meta::BatchLocation>{{"o1", 100, 50, 0, 0, -1}}));
  });
}

TEST_F(ReadPathTest, RecentRunsWithAGapOrTooOldOrInvalidatedLeaveItToTheStore) {
  ReadPath reader(blocking_, *meta_, store_, 1 << 20);
  meta::Topic t = meta_->create_topic("t", 1, {});
  const PartitionKey p0{t.id, 0};
  commit(*meta_, &reader, t, "a", {{0, 1, 0, 10}});
  commit(*meta_, nullptr, t, "b", {{0, 1, 0, 10}});  // another broker's: offset 1
  commit(*meta_, &reader, t, "c", {{0, 1, 0, 10}});  // offset 2, after a gap
  run([&](asio::io_context&) -> asio::awaitable<void> {
    EXPECT_EQ((co_await reader.offsets(p0))->high_watermark, 3);
    auto before = reader.cache_stats();
    std::vector<ReadPath::PlanRequest> requests{{p0, 2, 100}, {p0, 1, 100}, {p0, 0, 100}};
    auto plans = co_await reader.plan_all(std::move(requests));
    auto after = reader.cache_stats();
    EXPECT_EQ(after.plans_from_recent_runs - before.plans_from_recent_runs, 1u) << "only from the run after the gap";
    EXPECT_EQ(after.plans_from_store - before.plans_from_store, 2u);
    EXPECT_EQ(plans[1]->batches, meta_->find_batches(t.id, 0, 1, 100)->batches);
    EXPECT_EQ(plans[2]->batches.size(), 3u);

    // Only the last kRecentRuns runs are kept.
    for (size_t i = 0; i < ReadPath::kRecentRuns + 2; ++i) commit(*meta_, &reader, t, "d" + std::to_string(i), {{0, 1, 0, 10}});
    before = reader.cache_stats();
    // Offsets 3 .. 3 + kRecentRuns + 1 were committed; the kept runs start at 5.
    requests = {{p0, 4, 100}, {p0, 5, 100}};
    plans = co_await reader.plan_all(std::move(requests));
    after = reader.cache_stats();
    EXPECT_EQ(after.plans_from_store - before.plans_from_store, 1u);
    EXPECT_EQ(after.plans_from_recent_runs - before.plans_from_recent_runs, 1u);
    EXPECT_EQ(plans[0]->batches, meta_->find_batches(t.id, 0, 4, 100)->batches);
    // The kept runs, in offset order after the ring wrapped: 5 to 12.
    EXPECT_EQ(plans[1]->batches.size(), ReadPath::kRecentRuns);
    EXPECT_EQ(plans[1]->batches, meta_->find_batches(t.id, 0, 5, 100)->batches);

    // DeleteRecords (and topic deletion) invalidate the partition.
    reader.invalidate_partition(t.id, 0);
    co_await reader.offsets(p0);
    before = reader.cache_stats();
    requests = {{p0, 12, 100}};
    co_await reader.plan_all(std::move(requests));
    after = reader.cache_stats();
    EXPECT_EQ(after.plans_from_store - before.plans_from_store, 1u);
  });
}

// A run of three batches (2, 1 and 3 records, as the producer sent them:
// base offset 0 in each header) in one object, after 5 bytes of something
// else.
struct RunFixture {
  std::vector<protocol::Bytes> batches;
  protocol::Bytes object;
  meta::BatchLocation loc;

  RunFixture() {
    for (int n : {2, 1, 3}) {
      std::vector<protocol::Record> recs(static_cast<size_t>(n));
      for (auto& r : recs) r.value = protocol::Bytes(40, static_cast<uint8_t>('a' + n));
      batches.push_back(protocol::build_batch(recs));
    }
    object.assign(5, 0xee);
    for (const auto& b : batches) object.insert(object.end(), b.begin(), b.end());
    loc = meta::BatchLocation{"wal/run", 5, static_cast<uint32_t>(object.size() - 5), 100, 105, -1};
  }
  // The base offsets of the batches in `out`.
  static std::vector<int64_t> bases(const protocol::Bytes& out) {
    std::vector<int64_t> r;
    std::span<const uint8_t> rest(out);
    while (!rest.empty()) {
      auto h = protocol::parse_whole_batch_header(rest);
      if (!h) break;
      r.push_back(h->base_offset);
      rest = rest.subspan(h->size());
    }
    return r;
  }
};

TEST_F(ReadPathTest, ARunIsServedBatchByBatchWithItsOffsets) {
  ReadPath reader(blocking_, *meta_, store_, 1 << 20);
  RunFixture f;
  store_.put(f.loc.object_key, f.object);
  const size_t a = f.batches[0].size(), b = f.batches[1].size();
  run([&](asio::io_context&) -> asio::awaitable<void> {
    protocol::Records out;
    EXPECT_TRUE(co_await reader.append_batches(f.loc, 100, 1 << 20, true, out));
    EXPECT_EQ(RunFixture::bases(out.bytes()), (std::vector<int64_t>{100, 102, 103}));
    EXPECT_EQ(out.size(), f.loc.byte_length);
    // Offsets patched, nothing else changed: the CRCs still hold.
    EXPECT_TRUE(protocol::validate_batches(out.bytes()).ok());

    // From the middle: the batch holding the offset first, none before it.
    out = {};
    EXPECT_TRUE(co_await reader.append_batches(f.loc, 102, 1 << 20, true, out));
    EXPECT_EQ(RunFixture::bases(out.bytes()), (std::vector<int64_t>{102, 103}));
    out = {};
    EXPECT_TRUE(co_await reader.append_batches(f.loc, 105, 1 << 20, true, out));
    EXPECT_EQ(RunFixture::bases(out.bytes()), (std::vector<int64_t>{103}));

    // Cut at a batch boundary by the limit; false says "stop here".
    out = {};
    EXPECT_FALSE(co_await reader.append_batches(f.loc, 100, a + b, true, out));
    EXPECT_EQ(RunFixture::bases(out.bytes()), (std::vector<int64_t>{100, 102}));
    out = {};
    EXPECT_FALSE(co_await reader.append_batches(f.loc, 100, a + b - 1, true, out));
    EXPECT_EQ(RunFixture::bases(out.bytes()), (std::vector<int64_t>{100}));
    // The first batch of a response goes in whatever the limit (KIP-74) ...
    out = {};
    EXPECT_FALSE(co_await reader.append_batches(f.loc, 100, 1, true, out));
    EXPECT_EQ(RunFixture::bases(out.bytes()), (std::vector<int64_t>{100}));
    // ... but not when the response already has data.
    out = protocol::Bytes(3, 0);
    EXPECT_FALSE(co_await reader.append_batches(f.loc, 100, 10, false, out));
    EXPECT_EQ(out.size(), 3u);
  });
}

// The batches are not copied out of the object: the records keep the cached
// object alive and are written from it, offsets set, when encoded.
TEST_F(ReadPathTest, RecordsReferToTheObjectTheyLieIn) {
  RunFixture f;
  auto object = std::make_shared<const protocol::Bytes>(f.object);
  protocol::Records out = protocol::Bytes{1, 2, 3};  // bytes already there stay first
  EXPECT_TRUE(ReadPath::append_batches_from(object, f.loc, 101, 1 << 20, true, out));
  EXPECT_EQ(object.use_count(), 2);
  EXPECT_EQ(out.size(), 3 + f.loc.byte_length);
  EXPECT_EQ(out.first_bytes().data(), out.owned().data());
  const protocol::Bytes whole = out.bytes();
  EXPECT_EQ(protocol::Bytes(whole.begin(), whole.begin() + 3), (protocol::Bytes{1, 2, 3}));
  EXPECT_EQ(RunFixture::bases(protocol::Bytes(whole.begin() + 3, whole.end())),
            (std::vector<int64_t>{100, 102, 103}));
  // The object itself is as it was: base offset 0 in each header.
  EXPECT_EQ(*object, f.object);
  out = {};
  EXPECT_EQ(object.use_count(), 1);

  // Written by the codec: length, then the bytes with their offsets.
  EXPECT_TRUE(ReadPath::append_batches_from(object, f.loc, 100, 1 << 20, true, out));
  EXPECT_EQ(out.first_bytes().data(), object->data() + 5);
  protocol::Bytes encoded;
  protocol::Writer w(encoded);
  w.write_records(out, false);
  protocol::Reader r(encoded);
  protocol::Records decoded = r.read_records(false);
  EXPECT_EQ(r.remaining(), 0u);
  EXPECT_EQ(decoded, out);
  EXPECT_EQ(RunFixture::bases(decoded.owned()), (std::vector<int64_t>{100, 102, 103}));

  // Only whole batch headers can be shared: their base offset is written on encode.
  EXPECT_THROW(out.append_batch(object, std::span(*object).subspan(5, 60), 0), std::invalid_argument);
  EXPECT_EQ(decoded, out);

  // Taken over as owned bytes (a caller that needs them contiguous): the
  // same bytes, and the object is let go.
  const protocol::Bytes& owned = out.make_owned();
  EXPECT_EQ(owned, decoded.owned());
  EXPECT_EQ(out.size(), owned.size());
  EXPECT_EQ(object.use_count(), 1);
  const uint8_t* at = owned.data();
  EXPECT_EQ(out.make_owned().data(), at);  // nothing shared left: no copy
}

TEST_F(ReadPathTest, ARunThatDisagreesWithItsRowIsAnError) {
  ReadPath reader(blocking_, *meta_, store_, 1 << 20);
  RunFixture f;
  store_.put(f.loc.object_key, f.object);
  auto fails = [&](meta::BatchLocation loc) {
    bool threw = false;
    run([&](asio::io_context&) -> asio::awaitable<void> {
      // A run that fails leaves what was there before it, and nothing of its own.
      protocol::Records out = protocol::Bytes{7};
      EXPECT_TRUE(co_await reader.append_batches(f.loc, 0, 1 << 20, false, out));
      const protocol::Bytes before = out.bytes();
      try {
        co_await reader.append_batches(loc, 0, 1 << 20, true, out);
      } catch (const std::runtime_error&) {
        threw = true;
        EXPECT_EQ(out.bytes(), before);
      }
    });
    return threw;
  };
  meta::BatchLocation loc = f.loc;
  EXPECT_FALSE(fails(loc));
  loc.last_offset = 106;  // the row claims more offsets than the batches hold
  EXPECT_TRUE(fails(loc));
  loc = f.loc;
  loc.byte_length -= 1;  // the last batch is cut
  EXPECT_TRUE(fails(loc));
  loc = f.loc;
  loc.byte_offset = 4;  // not at a batch
  EXPECT_TRUE(fails(loc));
  loc = f.loc;
  loc.byte_length += 1;  // past the object's end
  EXPECT_TRUE(fails(loc));
}

}  // namespace
}  // namespace floe::fetch
