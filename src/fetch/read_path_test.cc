#include "fetch/read_path.h"

#include <gtest/gtest.h>

#include <asio/co_spawn.hpp>
#include <asio/detached.hpp>
#include <asio/io_context.hpp>
#include <asio/steady_timer.hpp>
#include <asio/thread_pool.hpp>
#include <asio/use_awaitable.hpp>
#include <filesystem>

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

TEST_F(ReadPathTest, ACommitWakesAWatchOnItsPartitionOnly) {
  ReadPath reader(blocking_, *meta_, store_, 1 << 20);
  protocol::Uuid topic;
  topic.bytes[0] = 1;
  PartitionKey watched{topic, 3};
  auto commit_to = [&](int32_t partition) {
    ingest::CommittedObject c;
    c.key = "wal/" + std::to_string(partition);
    c.data = std::make_shared<const protocol::Bytes>(protocol::Bytes(10));
    meta::PendingBatch b;
    b.topic_id = topic;
    b.partition = partition;
    b.record_count = 1;
    c.batches.push_back(b);
    c.results.push_back(meta::CommitResult{protocol::ErrorCode::none, 0, 0, false});
    reader.on_commit(c);
  };
  run([&](asio::io_context& io) -> asio::awaitable<void> {
    auto watch = reader.watch(std::span(&watched, 1), co_await asio::this_coro::executor);
    // A commit to another partition does not wake it: only the deadline ends
    // this wait (no time is asserted; the test would still pass if it were
    // woken, so the next part is the real check).
    commit_to(2);
    co_await watch->wait_until(std::chrono::steady_clock::now() + std::chrono::milliseconds(20));
    // A commit made before the wait starts is remembered: a wait with a
    // far deadline returns (otherwise this test hangs and ctest fails it).
    commit_to(3);
    asio::steady_timer settle(io, std::chrono::milliseconds(10));
    co_await settle.async_wait(asio::use_awaitable);
    co_await watch->wait_until(std::chrono::steady_clock::now() + std::chrono::hours(1));
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
    protocol::Bytes out;
    EXPECT_TRUE(co_await reader.append_batches(f.loc, 100, 1 << 20, true, out));
    EXPECT_EQ(RunFixture::bases(out), (std::vector<int64_t>{100, 102, 103}));
    EXPECT_EQ(out.size(), f.loc.byte_length);
    // Offsets patched, nothing else changed: the CRCs still hold.
    EXPECT_TRUE(protocol::validate_batches(out).ok());

    // From the middle: the batch holding the offset first, none before it.
    out.clear();
    EXPECT_TRUE(co_await reader.append_batches(f.loc, 102, 1 << 20, true, out));
    EXPECT_EQ(RunFixture::bases(out), (std::vector<int64_t>{102, 103}));
    out.clear();
    EXPECT_TRUE(co_await reader.append_batches(f.loc, 105, 1 << 20, true, out));
    EXPECT_EQ(RunFixture::bases(out), (std::vector<int64_t>{103}));

    // Cut at a batch boundary by the limit; false says "stop here".
    out.clear();
    EXPECT_FALSE(co_await reader.append_batches(f.loc, 100, a + b, true, out));
    EXPECT_EQ(RunFixture::bases(out), (std::vector<int64_t>{100, 102}));
    out.clear();
    EXPECT_FALSE(co_await reader.append_batches(f.loc, 100, a + b - 1, true, out));
    EXPECT_EQ(RunFixture::bases(out), (std::vector<int64_t>{100}));
    // The first batch of a response goes in whatever the limit (KIP-74) ...
    out.clear();
    EXPECT_FALSE(co_await reader.append_batches(f.loc, 100, 1, true, out));
    EXPECT_EQ(RunFixture::bases(out), (std::vector<int64_t>{100}));
    // ... but not when the response already has data.
    out.assign(3, 0);
    EXPECT_FALSE(co_await reader.append_batches(f.loc, 100, 10, false, out));
    EXPECT_EQ(out.size(), 3u);
  });
}

TEST_F(ReadPathTest, ARunThatDisagreesWithItsRowIsAnError) {
  ReadPath reader(blocking_, *meta_, store_, 1 << 20);
  RunFixture f;
  store_.put(f.loc.object_key, f.object);
  auto fails = [&](meta::BatchLocation loc) {
    bool threw = false;
    run([&](asio::io_context&) -> asio::awaitable<void> {
      protocol::Bytes out;
      try {
        co_await reader.append_batches(loc, 0, 1 << 20, true, out);
      } catch (const std::runtime_error&) {
        threw = true;
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
