#include "meta/sqlite_store.h"

#include <gtest/gtest.h>
#include <sqlite3.h>

#include <atomic>
#include <fstream>
#include <map>
#include <mutex>
#include <random>
#include <set>
#include <thread>

#include "meta/meta_store_conformance.h"

namespace floe::meta {
namespace {

namespace fs = std::filesystem;
using testing::MetaStoreBackend;
using testing::MetaStoreConformance;
using testing::ScratchDir;

INSTANTIATE_TEST_SUITE_P(Sqlite, MetaStoreConformance,
                         ::testing::Values(MetaStoreBackend{"sqlite",
                                                            [](const fs::path& dir) -> std::unique_ptr<MetaStore> {
                                                              return std::make_unique<SqliteMetaStore>(
                                                                  (dir / "meta.db").string());
                                                            }}),
                         [](const auto& info) { return info.param.name; });

// A plain connection to the same file, to look at or tamper with what the
// store wrote, as an operator with the sqlite3 shell would.
class RawDb {
 public:
  explicit RawDb(const fs::path& path) {
    if (sqlite3_open(path.c_str(), &db_) != SQLITE_OK) throw std::runtime_error("open " + path.string());
    sqlite3_busy_timeout(db_, 5000);
  }
  ~RawDb() { sqlite3_close(db_); }
  void exec(const std::string& sql) {
    char* error = nullptr;
    if (sqlite3_exec(db_, sql.c_str(), nullptr, nullptr, &error) != SQLITE_OK) {
      std::string message = error ? error : "?";
      sqlite3_free(error);
      throw std::runtime_error(message);
    }
  }
  // The rows of a query, each row's columns joined by '|'.
  std::vector<std::string> rows(const std::string& sql) {
    sqlite3_stmt* stmt = nullptr;
    if (sqlite3_prepare_v2(db_, sql.c_str(), -1, &stmt, nullptr) != SQLITE_OK)
      throw std::runtime_error(sqlite3_errmsg(db_));
    std::vector<std::string> out;
    while (sqlite3_step(stmt) == SQLITE_ROW) {
      std::string row;
      for (int i = 0; i < sqlite3_column_count(stmt); ++i) {
        if (i) row += '|';
        const unsigned char* text = sqlite3_column_text(stmt, i);
        row += text ? reinterpret_cast<const char*>(text) : "NULL";
      }
      out.push_back(row);
    }
    sqlite3_finalize(stmt);
    return out;
  }
  std::string value(const std::string& sql) { return rows(sql).at(0); }

 private:
  sqlite3* db_ = nullptr;
};

std::string open_error(const fs::path& path) {
  try {
    SqliteMetaStore store(path.string());
  } catch (const std::runtime_error& e) {
    return e.what();
  }
  return "";
}

PendingBatch plain(const Topic& t, int32_t partition, int32_t count, uint64_t byte_offset, uint32_t length,
                   int64_t max_timestamp = -1) {
  PendingBatch b;
  b.topic_id = t.id;
  b.partition = partition;
  b.record_count = count;
  b.byte_offset = byte_offset;
  b.byte_length = length;
  b.max_timestamp = max_timestamp;
  return b;
}

// The triggers that keep objects.live_batches, as every batches table since
// version 2 has them (tests that rebuild an older table recreate them).
constexpr const char* kBatchesObjectTriggers =
    "CREATE TRIGGER batches_release_object AFTER DELETE ON batches BEGIN "
    "  UPDATE objects SET live_batches = live_batches - 1 WHERE id = OLD.object_id; END; "
    "CREATE TRIGGER batches_move_object AFTER UPDATE OF object_id ON batches "
    "WHEN NEW.object_id IS NOT OLD.object_id BEGIN "
    "  UPDATE objects SET live_batches = live_batches - 1 WHERE id = OLD.object_id; "
    "  UPDATE objects SET live_batches = live_batches + 1 WHERE id = NEW.object_id; END; ";

// A partition's state as migration 8 keeps it (a 48-byte entry of its
// block in partition_states), read through the raw file.
struct RawState {
  int64_t log_start_offset = 0, high_watermark = 0, max_timestamp = 0, max_timestamp_offset = 0;
  int64_t last_batch_id = 0;  // 0: none
  int64_t unmarked_batches = 0;
};

// Every partition's state, by partition id.
std::map<int64_t, RawState> raw_states(RawDb& raw) {
  std::map<int64_t, RawState> out;
  for (const std::string& row :
       raw.rows("SELECT p.id, p.partition_index % 64, hex(b.states) FROM partitions AS p JOIN partition_states AS b "
                "ON b.topic_id = p.topic_id AND b.first_index = p.partition_index / 64 * 64")) {
    const size_t bar1 = row.find('|');
    const size_t bar2 = row.find('|', bar1 + 1);
    const int64_t id = std::stoll(row.substr(0, bar1));
    const int64_t slot = std::stoll(row.substr(bar1 + 1, bar2 - bar1 - 1));
    const std::string hex = row.substr(bar2 + 1);
    EXPECT_EQ(hex.size(), 64u * 48 * 2);
    auto field = [&](int n) {  // the n-th little-endian int64 of the entry
      uint64_t v = 0;
      for (int byte = 7; byte >= 0; --byte) {
        v = (v << 8) | std::stoul(hex.substr(static_cast<size_t>((slot * 48 + n * 8 + byte) * 2), 2), nullptr, 16);
      }
      return static_cast<int64_t>(v);
    };
    out[id] = RawState{field(0), field(1), field(2), field(3), field(4), field(5)};
  }
  return out;
}

// Puts a current file's partition state back into version 7's shape
// (columns of the partition rows) and forgets version 8.
void back_to_version_7(RawDb& raw) {
  const auto states = raw_states(raw);
  std::string sql =
      "BEGIN; ALTER TABLE partitions ADD COLUMN max_timestamp INTEGER NOT NULL DEFAULT -1; "
      "ALTER TABLE partitions ADD COLUMN max_timestamp_offset INTEGER NOT NULL DEFAULT -1; "
      "ALTER TABLE partitions ADD COLUMN last_batch_id INTEGER; "
      "ALTER TABLE partitions ADD COLUMN unmarked_batches INTEGER NOT NULL DEFAULT 0 "
      "  CHECK (unmarked_batches BETWEEN 0 AND 31); ";
  for (const auto& [id, st] : states) {
    sql += "UPDATE partitions SET log_start_offset = " + std::to_string(st.log_start_offset) +
           ", high_watermark = " + std::to_string(st.high_watermark) + ", max_timestamp = " +
           std::to_string(st.max_timestamp) + ", max_timestamp_offset = " + std::to_string(st.max_timestamp_offset) +
           ", last_batch_id = " + (st.last_batch_id ? std::to_string(st.last_batch_id) : std::string("NULL")) +
           ", unmarked_batches = " + std::to_string(st.unmarked_batches) + " WHERE id = " + std::to_string(id) + "; ";
  }
  sql += "DROP TABLE partition_states; DELETE FROM schema_version WHERE version >= 8; COMMIT";
  raw.exec(sql);
}

// Puts a current file's batch rows back into version 6's shape (arrival
// order, no chain, one index entry per row) and forgets version 7, so that
// reopening it runs that step on a file with data.
void back_to_version_6(RawDb& raw) {
  back_to_version_7(raw);
  raw.exec(
      "BEGIN; DROP TRIGGER batches_release_object; DROP TRIGGER batches_move_object; "
      "CREATE TABLE v6 (partition_id INTEGER NOT NULL REFERENCES partitions (id), last_offset INTEGER NOT NULL, "
      "base_offset INTEGER NOT NULL, object_id INTEGER NOT NULL REFERENCES objects (id), "
      "byte_offset INTEGER NOT NULL, byte_length INTEGER NOT NULL, max_timestamp INTEGER NOT NULL, "
      "running_max_timestamp INTEGER NOT NULL, record_count INTEGER NOT NULL); "
      "INSERT INTO v6 SELECT partition_id, last_offset, base_offset, object_id, byte_offset, byte_length, "
      "max_timestamp, running_max_timestamp, record_count FROM batches ORDER BY id; "
      "DROP TABLE batches; ALTER TABLE v6 RENAME TO batches; "
      "CREATE UNIQUE INDEX batches_by_offset ON batches (partition_id, last_offset); "
      "CREATE INDEX batches_by_object ON batches (object_id); "
      + std::string(kBatchesObjectTriggers) +
      "ALTER TABLE partitions DROP COLUMN last_batch_id; ALTER TABLE partitions DROP COLUMN unmarked_batches; "
      "DELETE FROM cluster WHERE key = 'next_partition_id'; "
      "DELETE FROM schema_version WHERE version >= 7; COMMIT");
}

// --- schema and file -----------------------------------------------------------

TEST(SqliteMetaStore, FreshFileGetsEveryMigration) {
  ScratchDir dir;
  fs::path file = dir.path() / "meta.db";
  {
    SqliteMetaStore store(file.string());
    EXPECT_EQ(store.schema_version(), SqliteMetaStore::latest_schema_version());
  }
  RawDb raw(file);
  auto versions = raw.rows("SELECT version FROM schema_version ORDER BY version");
  ASSERT_EQ(versions.size(), static_cast<size_t>(SqliteMetaStore::latest_schema_version()));
  for (size_t i = 0; i < versions.size(); ++i) EXPECT_EQ(versions[i], std::to_string(i + 1));
  EXPECT_EQ(raw.value("PRAGMA application_id"), std::to_string(0x666c6f65));
  EXPECT_EQ(raw.value("PRAGMA journal_mode"), "wal");
  for (const char* table : {"cluster", "topics", "topic_configs", "partitions", "objects", "batches",
                            "producer_state", "groups", "group_offsets"}) {
    EXPECT_EQ(raw.value(std::string("SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = '") + table +
                        "'"),
              "1")
        << table;
  }
}

TEST(SqliteMetaStore, ReopenKeepsDataAndMigratesNothing) {
  ScratchDir dir;
  fs::path file = dir.path() / "meta.db";
  Topic t;
  std::string cluster;
  int64_t producer = 0;
  {
    SqliteMetaStore store(file.string());
    cluster = store.cluster_id(std::nullopt);
    producer = store.allocate_producer_id();
    t = store.create_topic("t", 2, {{"k", "v"}});
    std::vector<PendingBatch> batches{plain(t, 1, 5, 0, 100, 77)};
    ASSERT_TRUE(store.commit_object(ObjectCommit{"o", 100, 5}, batches).object_recorded);
  }
  std::string applied = RawDb(file).value("SELECT group_concat(applied_ms) FROM schema_version");
  SqliteMetaStore store(file.string());
  EXPECT_EQ(RawDb(file).value("SELECT group_concat(applied_ms) FROM schema_version"), applied);
  EXPECT_EQ(store.cluster_id(std::nullopt), cluster);
  EXPECT_GT(store.allocate_producer_id(), producer);
  EXPECT_EQ(store.find_topic("t"), t);
  EXPECT_EQ(store.partition_offsets(t.id, 1), (PartitionOffsets{0, 5, 77, 4}));
  EXPECT_EQ(store.find_batches(t.id, 1, 0, 1000)->batches.at(0), (BatchLocation{"o", 0, 100, 0, 4, 77}));
}

// A version 2 file is a current one without what step 3 added (step 3 only
// creates tables): strip it, reopen, and step 3 runs on a file with data.
TEST(SqliteMetaStore, MigratesAVersion2FileToGroups) {
  ScratchDir dir;
  fs::path file = dir.path() / "meta.db";
  Topic t;
  {
    SqliteMetaStore store(file.string());
    t = store.create_topic("t", 2, {});
    std::vector<PendingBatch> batches{plain(t, 0, 5, 0, 100)};
    ASSERT_TRUE(store.commit_object(ObjectCommit{"o", 100, 5}, batches).object_recorded);
  }
  {
    RawDb raw(file);
    back_to_version_6(raw);
    // Back to version 2's shape: no group tables, and batch rows with the
    // producer columns that version 5 dropped.
    raw.exec("BEGIN; DROP TABLE group_offsets; DROP TABLE groups; DELETE FROM schema_version WHERE version >= 3; "
             "ALTER TABLE batches ADD COLUMN producer_id INTEGER NOT NULL DEFAULT -1; "
             "ALTER TABLE batches ADD COLUMN producer_epoch INTEGER NOT NULL DEFAULT -1; "
             "ALTER TABLE batches ADD COLUMN base_sequence INTEGER NOT NULL DEFAULT -1; COMMIT");
    ASSERT_EQ(raw.value("SELECT max(version) FROM schema_version"), "2");
  }
  SqliteMetaStore store(file.string());
  EXPECT_EQ(store.schema_version(), SqliteMetaStore::latest_schema_version());
  EXPECT_EQ(RawDb(file).value("SELECT description FROM schema_version WHERE version = 3"),
            "consumer groups: records and committed offsets");
  EXPECT_EQ(store.find_topic("t"), t);
  EXPECT_EQ(store.partition_offsets(t.id, 0)->high_watermark, 5);
  auto plan = store.find_batches(t.id, 0, 0, 1 << 20);
  ASSERT_EQ(plan->batches.size(), 1u);
  EXPECT_EQ(plan->batches[0], (BatchLocation{"o", 0, 100, 0, 4, -1}));
  EXPECT_EQ(RawDb(file).value("SELECT count(*) FROM pragma_table_info('batches') WHERE name = 'producer_id'"), "0");
  EXPECT_TRUE(store.list_groups().empty());

  CommittedOffset o;
  o.partition = PartitionId{t.id, 0};
  o.offset = 5;
  o.commit_ms = 10;
  std::vector<CommittedOffset> offsets{o};
  EXPECT_EQ(store.commit_offsets("g", offsets, 10), std::vector<ErrorCode>{ErrorCode::none});
  EXPECT_EQ(store.fetch_offsets("g", std::nullopt), offsets);
}

// Version 6 rebuilt the batches table in arrival order. Put a file with
// rows back into version 5's shape (clustered on partition and offset, with
// the running max timestamp index) and check that nothing is lost: rows,
// the objects' row counts, and the triggers that keep them.
TEST(SqliteMetaStore, MigratesVersion5BatchRowsToArrivalOrder) {
  ScratchDir dir;
  fs::path file = dir.path() / "meta.db";
  Topic t;
  {
    SqliteMetaStore store(file.string());
    t = store.create_topic("t", 2, {});
    // Two objects, each with rows of both partitions; timestamps rise but
    // for one late batch.
    for (int o = 0; o < 2; ++o) {
      std::vector<PendingBatch> batches;
      for (int i = 0; i < 4; ++i) {
        const int64_t ts = 1000 + o * 100 + i * 10 - (i == 2 ? 15 : 0);
        batches.push_back(plain(t, i % 2, 3, static_cast<uint64_t>(i) * 101, 100, ts));
      }
      ASSERT_TRUE(store.commit_object(ObjectCommit{"o" + std::to_string(o), 404, 5}, batches).object_recorded);
    }
  }
  {
    RawDb raw(file);
    back_to_version_6(raw);
    raw.exec(
        "BEGIN; DROP TRIGGER batches_release_object; DROP TRIGGER batches_move_object; "
        "CREATE TABLE v5 (partition_id INTEGER NOT NULL REFERENCES partitions (id), last_offset INTEGER NOT NULL, "
        "base_offset INTEGER NOT NULL, object_id INTEGER NOT NULL REFERENCES objects (id), "
        "byte_offset INTEGER NOT NULL, byte_length INTEGER NOT NULL, max_timestamp INTEGER NOT NULL, "
        "running_max_timestamp INTEGER NOT NULL, record_count INTEGER NOT NULL, "
        "PRIMARY KEY (partition_id, last_offset)) WITHOUT ROWID; "
        "INSERT INTO v5 SELECT * FROM batches; DROP TABLE batches; ALTER TABLE v5 RENAME TO batches; "
        "CREATE INDEX batches_by_running_max_timestamp ON batches (partition_id, running_max_timestamp, last_offset); "
        "CREATE INDEX batches_by_object ON batches (object_id); "
        + std::string(kBatchesObjectTriggers) +
        "DELETE FROM schema_version WHERE version >= 6; COMMIT");
    ASSERT_EQ(raw.value("SELECT max(version) FROM schema_version"), "5");
    ASSERT_EQ(raw.value("SELECT group_concat(live_batches) FROM objects ORDER BY id"), "4,4");
  }
  SqliteMetaStore store(file.string());
  EXPECT_EQ(store.schema_version(), SqliteMetaStore::latest_schema_version());
  RawDb raw(file);
  EXPECT_EQ(raw.value("SELECT count(*) FROM sqlite_master WHERE name = 'batches_by_running_max_timestamp'"), "0");
  EXPECT_EQ(raw.value("SELECT count(*) FROM sqlite_master WHERE name = 'batches_marks'"), "1");
  EXPECT_EQ(raw.value("SELECT group_concat(live_batches) FROM objects ORDER BY id"), "4,4");

  // Partition 0 has batches 0 and 2 of each object: offsets 0-2 (ts 1000),
  // 3-5 (ts 1005, late), 6-8 (ts 1100), 9-11 (ts 1105, late).
  auto plan = store.find_batches(t.id, 0, 0, 1 << 20);
  ASSERT_EQ(plan->batches.size(), 4u);
  EXPECT_EQ(plan->batches[1], (BatchLocation{"o0", 202, 100, 3, 5, 1005}));
  EXPECT_EQ(plan->batches[3], (BatchLocation{"o1", 202, 100, 9, 11, 1105}));
  EXPECT_EQ(store.find_batch_by_timestamp(t.id, 0, 1001)->base_offset, 3);
  EXPECT_EQ(store.find_batch_by_timestamp(t.id, 0, 1006)->base_offset, 6);
  EXPECT_EQ(store.partition_offsets(t.id, 0)->max_timestamp, 1105);

  // The delete trigger still counts: dropping offsets 0-5 of partition 0
  // releases two of o0's rows.
  store.delete_records(t.id, 0, 6);
  EXPECT_EQ(raw.value("SELECT group_concat(live_batches) FROM objects ORDER BY id"), "2,4");
  EXPECT_EQ(store.partition_offsets(t.id, 0), (PartitionOffsets{6, 12, 1105, 11}));
  EXPECT_EQ(raw.value("PRAGMA integrity_check"), "ok");
  EXPECT_TRUE(raw.rows("PRAGMA foreign_key_check").empty());
}

// Version 7 chains each partition's rows and indexes every 32nd. A version
// 6 file with 70 rows in partition 0 (marks at rows 32 and 64, 6 after),
// 5 in partition 1 and none in partition 2 must read back the same, and
// commits after the step must carry the chain on: the next mark of
// partition 0 comes 26 rows later.
// Version 8 moves the partition rows' offsets and chain ends into blocks of
// 64 partitions: every partition, in either block of a 70-partition topic,
// keeps its offsets, log start, max timestamp and chain, and commits go on
// from there.
TEST(SqliteMetaStore, MigratesVersion7PartitionRowsToBlocks) {
  ScratchDir dir;
  fs::path file = dir.path() / "meta.db";
  Topic t, other;
  std::vector<std::pair<int32_t, PartitionOffsets>> offsets_before;
  std::vector<std::vector<BatchLocation>> batches_before;
  {
    SqliteMetaStore store(file.string());
    t = store.create_topic("t", 70, {});
    other = store.create_topic("other", 1, {});
    for (int o = 0; o < 40; ++o) {
      std::vector<PendingBatch> batches{plain(t, 0, 2, 0, 10, 1000 + o), plain(t, 65, 1, 10, 10, 3000 - o),
                                        plain(other, 0, 3, 20, 10, 7)};
      ASSERT_TRUE(store.commit_object(ObjectCommit{"o" + std::to_string(o), 30, 5}, batches).object_recorded);
    }
    store.delete_records(t.id, 65, 4);
    offsets_before = store.topic_offsets(t.id);
    for (int32_t p : {0, 1, 65, 69}) batches_before.push_back(store.find_batches(t.id, p, 0, 1 << 20)->batches);
  }
  {
    RawDb raw(file);
    back_to_version_7(raw);
    ASSERT_EQ(raw.value("SELECT max(version) FROM schema_version"), "7");
    ASSERT_EQ(raw.value("SELECT high_watermark FROM partitions WHERE partition_index = 65 AND topic_id = "
                        "(SELECT id FROM topics WHERE name = 't')"),
              "40");
  }
  SqliteMetaStore store(file.string());
  EXPECT_EQ(store.schema_version(), SqliteMetaStore::latest_schema_version());
  RawDb raw(file);
  EXPECT_EQ(raw.value("SELECT count(*) FROM partition_states"), "3") << "two blocks of t, one of other";
  EXPECT_EQ(raw.value("SELECT count(*) FROM pragma_table_info('partitions') WHERE name IN "
                      "('max_timestamp', 'max_timestamp_offset', 'last_batch_id', 'unmarked_batches')"),
            "0");
  EXPECT_EQ(raw.value("SELECT max(high_watermark) FROM partitions"), "0") << "the columns left are unused";

  EXPECT_EQ(store.topic_offsets(t.id), offsets_before);
  EXPECT_EQ(offsets_before[65].second.log_start_offset, 4);
  EXPECT_EQ(offsets_before[65].second.max_timestamp, 2996);  // of the rows left: offsets 4 on
  size_t k = 0;
  for (int32_t p : {0, 1, 65, 69}) EXPECT_EQ(store.find_batches(t.id, p, 0, 1 << 20)->batches, batches_before[k++]) << p;
  EXPECT_EQ(store.partition_offsets(other.id, 0)->high_watermark, 120);

  std::vector<PendingBatch> more{plain(t, 65, 1, 0, 10, 1), plain(t, 69, 2, 10, 10, 1)};
  auto out = store.commit_object(ObjectCommit{"after", 20, 5}, more);
  EXPECT_EQ(out.results[0].base_offset, 40);
  EXPECT_EQ(out.results[1].base_offset, 0);
  EXPECT_EQ(store.find_batches(t.id, 65, 0, 1 << 20)->batches.size(), batches_before[2].size() + 1);
  EXPECT_EQ(store.partition_offsets(t.id, 69)->high_watermark, 2);
}

TEST(SqliteMetaStore, MigratesVersion6BatchRowsToChains) {
  ScratchDir dir;
  fs::path file = dir.path() / "meta.db";
  Topic t;
  std::vector<BatchLocation> before;
  {
    SqliteMetaStore store(file.string());
    t = store.create_topic("t", 3, {});
    for (int o = 0; o < 70; ++o) {
      std::vector<PendingBatch> batches{plain(t, 0, 2, 0, 10, 1000 + o)};
      if (o < 5) batches.push_back(plain(t, 1, 1, 10, 10, 5000 - o));
      ASSERT_TRUE(store.commit_object(ObjectCommit{"o" + std::to_string(o), 20, 5}, batches).object_recorded);
    }
    before = store.find_batches(t.id, 0, 0, 1 << 20)->batches;
    ASSERT_EQ(before.size(), 70u);
  }
  {
    RawDb raw(file);
    back_to_version_6(raw);
    ASSERT_EQ(raw.value("SELECT max(version) FROM schema_version"), "6");
  }
  SqliteMetaStore store(file.string());
  EXPECT_EQ(store.schema_version(), SqliteMetaStore::latest_schema_version());
  RawDb raw(file);
  EXPECT_EQ(raw.value("SELECT count(*) FROM sqlite_master WHERE name = 'batches_by_offset'"), "0");
  EXPECT_EQ(raw.value("SELECT value FROM cluster WHERE key = 'next_partition_id'"),
            raw.value("SELECT max(id) + 1 FROM partitions"));
  {
    // Per partition: rows not marked at the chain's end, and the last row's
    // last offset.
    std::vector<std::string> ends;
    for (const auto& [id, st] : raw_states(raw)) {
      ends.push_back(std::to_string(st.unmarked_batches) + "|" +
                     (st.last_batch_id ? raw.value("SELECT last_offset FROM batches WHERE id = " +
                                                   std::to_string(st.last_batch_id))
                                       : std::string("NULL")));
    }
    EXPECT_EQ(ends, (std::vector<std::string>{"6|139", "5|4", "0|NULL"}));
  }
  EXPECT_EQ(raw.value("SELECT group_concat(last_offset) FROM (SELECT last_offset FROM batches WHERE marked = 1 ORDER BY last_offset)"), "63,127");

  EXPECT_EQ(store.find_batches(t.id, 0, 0, 1 << 20)->batches, before);
  EXPECT_EQ(store.find_batches(t.id, 0, 101, 1 << 20)->batches,
            std::vector<BatchLocation>(before.begin() + 50, before.end()));
  EXPECT_EQ(store.find_batch_containing(t.id, 0, 64)->base_offset, 64);
  EXPECT_EQ(store.find_batch_by_timestamp(t.id, 0, 1033)->base_offset, 66);
  EXPECT_EQ(store.find_batch_by_timestamp(t.id, 1, 4997)->base_offset, 0);  // the running max is 5000 from the start
  EXPECT_EQ(store.find_batches(t.id, 1, 0, 1 << 20)->batches.size(), 5u);

  for (int o = 70; o < 100; ++o) {
    std::vector<PendingBatch> batches{plain(t, 0, 2, 0, 10, 1000 + o)};
    ASSERT_TRUE(store.commit_object(ObjectCommit{"o" + std::to_string(o), 10, 5}, batches).object_recorded);
  }
  EXPECT_EQ(raw.value("SELECT group_concat(last_offset) FROM (SELECT last_offset FROM batches WHERE marked = 1 ORDER BY last_offset)"),
            "63,127,191");
  auto all = store.find_batches(t.id, 0, 0, 1 << 20)->batches;
  ASSERT_EQ(all.size(), 100u);
  for (size_t i = 0; i < all.size(); ++i) EXPECT_EQ(all[i].base_offset, static_cast<int64_t>(2 * i));
  EXPECT_EQ(raw.value("PRAGMA integrity_check"), "ok");
  EXPECT_TRUE(raw.rows("PRAGMA foreign_key_check").empty());
}

// A deleted partition's id is never given to a new one: were any of its
// batch rows left behind, a new partition could otherwise read them as its
// own (batch rows name their partition by id, with no foreign key).
TEST(SqliteMetaStore, PartitionIdsAreNeverReused) {
  ScratchDir dir;
  fs::path file = dir.path() / "meta.db";
  SqliteMetaStore store(file.string());
  Topic a = store.create_topic("a", 2, {});
  Topic b = store.create_topic("b", 2, {});
  RawDb raw(file);
  const std::string highest = raw.value("SELECT max(id) FROM partitions");
  store.delete_topic(b.id);
  store.delete_topic(a.id);
  Topic c = store.create_topic("c", 1, {});
  store.create_partitions(c.id, 3);
  EXPECT_EQ(raw.rows("SELECT id > " + highest + " FROM partitions ORDER BY partition_index"),
            (std::vector<std::string>{"1", "1", "1"}));
  EXPECT_EQ(raw.value("SELECT count(DISTINCT id) FROM partitions"), "3");
}

TEST(SqliteMetaStore, GroupOffsetsGoWithTheirTopic) {
  ScratchDir dir;
  fs::path file = dir.path() / "meta.db";
  SqliteMetaStore store(file.string());
  Topic a = store.create_topic("a", 2, {});
  Topic b = store.create_topic("b", 1, {});
  std::vector<CommittedOffset> offsets(3);
  offsets[0].partition = PartitionId{a.id, 0};
  offsets[1].partition = PartitionId{a.id, 1};
  offsets[2].partition = PartitionId{b.id, 0};
  store.commit_offsets("g", offsets, 1);
  store.commit_offsets("h", std::span(offsets).first(1), 1);
  RawDb raw(file);
  EXPECT_EQ(raw.value("SELECT count(*) FROM group_offsets"), "4");
  store.delete_topic(a.id);
  EXPECT_EQ(raw.value("SELECT count(*) FROM group_offsets"), "1");
  EXPECT_TRUE(raw.rows("PRAGMA foreign_key_check").empty());
  EXPECT_TRUE(store.delete_group("g"));
  EXPECT_EQ(raw.value("SELECT count(*) FROM group_offsets"), "0");
  EXPECT_EQ(raw.value("SELECT group_concat(group_id) FROM groups"), "h");
}

TEST(SqliteMetaStore, NewerSchemaIsRefused) {
  ScratchDir dir;
  fs::path file = dir.path() / "meta.db";
  { SqliteMetaStore store(file.string()); }
  int newer = SqliteMetaStore::latest_schema_version() + 1;
  RawDb(file).exec("INSERT INTO schema_version VALUES (" + std::to_string(newer) + ", 'from the future', 0)");
  std::string error = open_error(file);
  EXPECT_NE(error.find("newer"), std::string::npos) << error;
  EXPECT_NE(error.find(std::to_string(newer)), std::string::npos) << error;
}

TEST(SqliteMetaStore, ForeignDatabaseIsRefused) {
  ScratchDir dir;
  fs::path file = dir.path() / "other.db";
  RawDb(file).exec("CREATE TABLE accounts (id INTEGER PRIMARY KEY)");
  std::string error = open_error(file);
  EXPECT_NE(error.find("not a floe metadata store"), std::string::npos) << error;
  // And it was left as it was.
  EXPECT_EQ(RawDb(file).value("SELECT count(*) FROM sqlite_master WHERE name = 'schema_version'"), "0");
}

TEST(SqliteMetaStore, GarbageFileIsRefused) {
  ScratchDir dir;
  fs::path file = dir.path() / "meta.db";
  std::ofstream(file) << std::string(8192, 'x');
  std::string error = open_error(file);
  EXPECT_NE(error.find(file.string()), std::string::npos) << error;
}

TEST(SqliteMetaStore, MissingFolderIsAnError) {
  ScratchDir dir;
  std::string error = open_error(dir.path() / "no" / "such" / "meta.db");
  EXPECT_NE(error.find("cannot open"), std::string::npos) << error;
}

TEST(SqliteMetaStore, AFailedCommitLeavesNothingBehind) {
  ScratchDir dir;
  SqliteMetaStore store((dir.path() / "meta.db").string());
  Topic t = store.create_topic("t", 1, {});
  std::vector<PendingBatch> batches{plain(t, 0, 5, 0, 100)};
  ASSERT_TRUE(store.commit_object(ObjectCommit{"same-key", 100, 1}, batches).object_recorded);
  // Object keys are unique; reusing one is a caller bug and fails the whole
  // commit, rolled back.
  EXPECT_THROW(store.commit_object(ObjectCommit{"same-key", 100, 1}, batches), std::runtime_error);
  EXPECT_EQ(store.partition_offsets(t.id, 0)->high_watermark, 5);
  EXPECT_EQ(store.objects().size(), 1u);
  // And the connection is usable afterwards.
  EXPECT_EQ(store.commit_object(ObjectCommit{"next", 100, 1}, batches).results.at(0).base_offset, 5);
}

// --- several processes on one file ------------------------------------------------

TEST(SqliteMetaStore, TwoStoresOnOneFileSeeEachOther) {
  ScratchDir dir;
  std::string file = (dir.path() / "meta.db").string();
  SqliteMetaStore a(file);
  SqliteMetaStore b(file);

  std::set<int64_t> ids;
  for (int i = 0; i < 20; ++i) {
    EXPECT_TRUE(ids.insert(a.allocate_producer_id()).second);
    EXPECT_TRUE(ids.insert(b.allocate_producer_id()).second);
  }

  EXPECT_EQ(b.cluster_id(a.cluster_id(std::nullopt)), a.cluster_id(std::nullopt));
  Topic t = a.create_topic("t", 1, {});
  EXPECT_EQ(b.find_topic("t"), t);
  EXPECT_EQ(b.topics_version(), a.topics_version());
  try {
    b.create_topic("t", 1, {});
    ADD_FAILURE() << "the second store created a topic the first one has";
  } catch (const MetaError& e) {
    EXPECT_EQ(e.code(), ErrorCode::topic_already_exists);
  }

  std::vector<PendingBatch> batches{plain(t, 0, 3, 0, 100)};
  EXPECT_EQ(a.commit_object(ObjectCommit{"a1", 100, 1}, batches).results.at(0).base_offset, 0);
  EXPECT_EQ(b.commit_object(ObjectCommit{"b1", 100, 1}, batches).results.at(0).base_offset, 3);
  EXPECT_EQ(a.commit_object(ObjectCommit{"a2", 100, 1}, batches).results.at(0).base_offset, 6);
  EXPECT_EQ(b.partition_offsets(t.id, 0)->high_watermark, 9);
  EXPECT_EQ(a.find_batches(t.id, 0, 3, 1000)->batches.at(0).object_key, "b1");

  // Producer state is shared too: a retry through the other broker is a duplicate.
  PendingBatch idem = plain(t, 0, 2, 0, 100);
  idem.producer_id = *ids.begin();
  idem.producer_epoch = 0;
  idem.base_sequence = 0;
  std::vector<PendingBatch> one{idem};
  CommitResult first = a.commit_object(ObjectCommit{"a3", 100, 1}, one).results.at(0);
  CommitResult retry = b.commit_object(ObjectCommit{"b3", 100, 1}, one).results.at(0);
  EXPECT_TRUE(retry.duplicate);
  EXPECT_EQ(retry.base_offset, first.base_offset);
}

TEST(SqliteMetaStore, TwoStoresCommitConcurrently) {
  ScratchDir dir;
  std::string file = (dir.path() / "meta.db").string();
  SqliteMetaStore a(file);
  SqliteMetaStore b(file);
  Topic t = a.create_topic("t", 1, {});

  constexpr int kThreadsPerStore = 2;
  constexpr int kCommits = 40;
  std::mutex mu;
  std::set<int64_t> offsets;
  std::set<int64_t> producer_ids;
  std::atomic<int> failures{0};
  std::vector<std::thread> threads;
  for (SqliteMetaStore* store : {&a, &b}) {
    for (int i = 0; i < kThreadsPerStore; ++i) {
      threads.emplace_back([&, store, i] {
        for (int j = 0; j < kCommits; ++j) {
          std::string key = std::to_string(reinterpret_cast<uintptr_t>(store)) + "-" + std::to_string(i) + "-" +
                            std::to_string(j);
          std::vector<PendingBatch> batches{plain(t, 0, 1, 0, 10)};
          CommitOutcome out = store->commit_object(ObjectCommit{key, 10, 1}, batches);
          int64_t pid = store->allocate_producer_id();
          std::lock_guard lock(mu);
          if (!offsets.insert(out.results.at(0).base_offset).second) ++failures;
          if (!producer_ids.insert(pid).second) ++failures;
        }
      });
    }
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(failures.load(), 0);
  constexpr int kTotal = 2 * kThreadsPerStore * kCommits;
  EXPECT_EQ(offsets.size(), static_cast<size_t>(kTotal));
  EXPECT_EQ(*offsets.rbegin(), kTotal - 1);
  EXPECT_EQ(b.partition_offsets(t.id, 0)->high_watermark, kTotal);
}

// --- lookups cost what they return ------------------------------------------------

class SqliteMetaStoreLookupCost : public ::testing::Test {
 protected:
  static constexpr int kBatches = 100'000;
  static constexpr uint32_t kLength = 100;

  void SetUp() override {
    store_ = std::make_unique<SqliteMetaStore>((dir_.path() / "meta.db").string());
    t_ = store_->create_topic("t", 1, {});
    constexpr int kPerObject = 5000;
    for (int o = 0; o < kBatches / kPerObject; ++o) {
      std::vector<PendingBatch> batches;
      for (int i = 0; i < kPerObject; ++i) {
        int64_t index = static_cast<int64_t>(o) * kPerObject + i;
        // Timestamps rise with jitter: every 7th batch is a little late.
        int64_t ts = 1'000'000 + index * 10 - (index % 7 == 0 ? 25 : 0);
        // A byte apart: every batch is a run (a row) of its own.
        batches.push_back(plain(t_, 0, 1, static_cast<uint64_t>(i) * (kLength + 1), kLength, ts));
      }
      store_->commit_object(ObjectCommit{"o" + std::to_string(o), uint64_t{kPerObject} * (kLength + 1), 1}, batches);
    }
    ASSERT_EQ(store_->partition_offsets(t_.id, 0)->high_watermark, kBatches);
    store_->take_counters();
  }

  ScratchDir dir_;
  std::unique_ptr<SqliteMetaStore> store_;
  Topic t_;
};

// Row k of the partition (from 1) is marked when k % 32 == 0: offsets 31,
// 63, ... A fetch probes the marks index once per segment of 32 rows it
// reaches and reads the rows back from that mark, so it reads what it
// returns and at most a segment more, wherever the consumer is.
TEST_F(SqliteMetaStoreLookupCost, FindBatchesReadsWhatItReturnsAndAtMostASegmentMore) {
  for (int64_t from : {int64_t{0}, int64_t{12'345}, int64_t{50'000}, int64_t{kBatches - 10}}) {
    auto plan = store_->find_batches(t_.id, 0, from, 10 * kLength);
    ASSERT_TRUE(plan);
    ASSERT_EQ(plan->batches.size(), 10u);
    EXPECT_EQ(plan->batches.front().base_offset, from);
    auto counters = store_->take_counters();
    EXPECT_LE(counters.mark_probes, 2) << "from " << from;
    EXPECT_LE(counters.rows_read, 10 + 32 + 2) << "from " << from;
  }
  // From offset 0 the first mark is at 31: one probe, 32 rows read.
  store_->find_batches(t_.id, 0, 0, 10 * kLength);
  auto counters = store_->take_counters();
  EXPECT_EQ(counters.mark_probes, 1);
  EXPECT_EQ(counters.rows_read, 32);

  // A long read: one probe and 32 rows per segment.
  auto plan = store_->find_batches(t_.id, 0, 64, 320 * kLength);
  ASSERT_EQ(plan->batches.size(), 320u);
  EXPECT_EQ(plan->batches.back().last_offset, 64 + 319);
  counters = store_->take_counters();
  EXPECT_EQ(counters.mark_probes, 10);
  EXPECT_EQ(counters.rows_read, 320);

  // A run that crosses the budget is returned (the caller cuts it), and
  // nothing after it.
  EXPECT_EQ(store_->find_batches(t_.id, 0, 0, 10 * kLength + 50)->batches.size(), 11u);

  std::string text;
  for (const auto& line : store_->query_plan(SqliteMetaStore::Lookup::mark_probe)) text += line + "\n";
  EXPECT_NE(text.find("SEARCH batches USING INDEX batches_marks (partition_id=? AND last_offset>?)"), std::string::npos)
      << text;
  EXPECT_EQ(text.find("SCAN"), std::string::npos) << text;
  EXPECT_EQ(text.find("TEMP B-TREE"), std::string::npos) << text;
  text.clear();
  for (const auto& line : store_->query_plan(SqliteMetaStore::Lookup::row_by_id)) text += line + "\n";
  EXPECT_NE(text.find("SEARCH batches USING INTEGER PRIMARY KEY (rowid=?)"), std::string::npos) << text;
}

TEST_F(SqliteMetaStoreLookupCost, FindBatchByTimestampIsABinarySearchOverMarks) {
  // Batch i has timestamp 1'000'000 + 10 i, 25 less when i % 7 == 0:
  // 48'999 -> 1'489'990, 49'000 -> 1'489'975 (late), 49'001 -> 1'490'010.
  auto b = store_->find_batch_by_timestamp(t_.id, 0, 1'489'985);
  ASSERT_TRUE(b);
  EXPECT_EQ(b->base_offset, 48'999);
  store_->take_counters();
  b = store_->find_batch_by_timestamp(t_.id, 0, 1'489'995);  // the late batch is skipped
  ASSERT_TRUE(b);
  EXPECT_EQ(b->base_offset, 49'001);
  EXPECT_EQ(b->max_timestamp, 1'490'010);
  // One probe per halving of the 100,000 offsets, one more for the mark
  // found, and fewer than 32 rows walked back from it.
  auto counters = store_->take_counters();
  EXPECT_GE(counters.mark_probes, 17);
  EXPECT_LE(counters.mark_probes, 19);
  EXPECT_LE(counters.rows_read, counters.mark_probes + 1 + 32);

  // Before every batch, after every batch, and at the very first and last.
  EXPECT_EQ(store_->find_batch_by_timestamp(t_.id, 0, 0)->base_offset, 0);
  EXPECT_EQ(store_->find_batch_by_timestamp(t_.id, 0, 1'000'000 + (kBatches - 1) * 10)->base_offset, kBatches - 1);
  EXPECT_FALSE(store_->find_batch_by_timestamp(t_.id, 0, 1'000'000 + kBatches * 10));
}

// The binary search against the definition, over random timestamps (late
// batches, equal ones, batches without any) and every timestamp around them.
TEST(SqliteMetaStore, FindBatchByTimestampMatchesALinearScan) {
  ScratchDir dir;
  SqliteMetaStore store((dir.path() / "meta.db").string());
  Topic t = store.create_topic("t", 1, {});
  std::mt19937_64 rng(7);
  std::vector<int64_t> ts;  // per batch, in offset order (one record each)
  for (int o = 0; o < 20; ++o) {
    std::vector<PendingBatch> batches;
    const int n = 1 + static_cast<int>(rng() % 30);
    for (int i = 0; i < n; ++i) {
      int64_t v = rng() % 5 == 0 ? -1 : static_cast<int64_t>(rng() % 400);
      ts.push_back(v);
      batches.push_back(plain(t, 0, 1, static_cast<uint64_t>(i) * 11, 10, v));
    }
    store.commit_object(ObjectCommit{"o" + std::to_string(o), static_cast<uint64_t>(n) * 11, 1}, batches);
  }
  for (int64_t target = 0; target <= 401; ++target) {
    std::optional<int64_t> expected;
    for (size_t i = 0; i < ts.size() && !expected; ++i)
      if (ts[i] >= target) expected = static_cast<int64_t>(i);
    auto found = store.find_batch_by_timestamp(t.id, 0, target);
    ASSERT_EQ(found.has_value(), expected.has_value()) << "timestamp " << target;
    if (found) {
      EXPECT_EQ(found->base_offset, *expected) << "timestamp " << target;
    }
  }
}

// --- URLs --------------------------------------------------------------------------

TEST(OpenMetaStore, AbsoluteSqlitePathCreatesTheFolder) {
  ScratchDir dir;
  fs::path file = dir.path() / "a" / "b" / "meta.db";
  auto store = open_meta_store("sqlite://" + file.string());
  ASSERT_TRUE(store);
  store->create_topic("t", 1, {});
  EXPECT_TRUE(fs::exists(file));
}

TEST(OpenMetaStore, RelativeSqlitePath) {
  ScratchDir dir;
  fs::path relative = fs::relative(dir.path() / "sub" / "meta.db", fs::current_path());
  ASSERT_TRUE(relative.is_relative());
  auto store = open_meta_store("sqlite://" + relative.string());
  store->create_topic("t", 1, {});
  EXPECT_TRUE(fs::exists(dir.path() / "sub" / "meta.db"));
}

TEST(OpenMetaStore, OtherUrlsAreRefused) {
  auto error = [](const std::string& url) -> std::string {
    try {
      open_meta_store(url);
    } catch (const std::runtime_error& e) {
      return e.what();
    }
    return "";
  };
  EXPECT_EQ(error("postgresql://user@db/floe"), "PostgreSQL metastores are not supported yet");
  EXPECT_NE(error("mysql://db/floe").find("'mysql'"), std::string::npos) << error("mysql://db/floe");
  EXPECT_NE(error("/var/lib/floe/meta.db").find("not a URL"), std::string::npos);
  EXPECT_NE(error("sqlite://").find("names no database file"), std::string::npos);
  EXPECT_NE(error("sqlite:///tmp/").find("names no database file"), std::string::npos);
}

}  // namespace
}  // namespace floe::meta
