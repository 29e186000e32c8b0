#include "maintenance/gc.h"

#include <gtest/gtest.h>

#include <filesystem>

#include "objstore/memory_store.h"

namespace floe::maintenance {
namespace {

TEST(Gc, DeletesOrphansAndUnreferencedObjectsButNotLiveOnes) {
  auto dir = std::filesystem::temp_directory_path() / ("floe-gc-test-" + std::to_string(::getpid()));
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  auto meta = meta::open_meta_store("sqlite://" + (dir / "meta.db").string());
  objstore::MemoryObjectStore store;
  auto topic = meta->create_topic("t", 1, {});
  auto doomed = meta->create_topic("doomed", 1, {});

  auto commit = [&](const std::string& key, const meta::Topic& t) {
    store.put(key, protocol::Bytes(100));
    meta::PendingBatch b;
    b.topic_id = t.id;
    b.byte_length = 100;
    b.record_count = 1;
    auto outcome = meta->commit_object({key, 100, 0}, std::span(&b, 1));
    ASSERT_TRUE(outcome.object_recorded);
  };
  commit("wal/live", topic);
  commit("wal/of-deleted-topic", doomed);
  store.put("wal/orphan", protocol::Bytes(10));
  const int64_t now = std::chrono::duration_cast<std::chrono::milliseconds>(
                          std::chrono::system_clock::now().time_since_epoch()).count();

  // A young orphan survives: someone may be committing it.
  auto r = collect_garbage(store, *meta, now, std::chrono::minutes(10));
  EXPECT_EQ(r.orphans_deleted, 0u);
  EXPECT_NO_THROW(store.get("wal/orphan"));

  meta->delete_topic(doomed.id);
  r = collect_garbage(store, *meta, now + 11 * 60 * 1000, std::chrono::minutes(10));
  EXPECT_EQ(r.orphans_deleted, 1u);
  EXPECT_EQ(r.unreferenced_deleted, 1u);
  EXPECT_THROW(store.get("wal/orphan"), objstore::ObjectStoreError);
  EXPECT_THROW(store.get("wal/of-deleted-topic"), objstore::ObjectStoreError);
  EXPECT_NO_THROW(store.get("wal/live"));
  EXPECT_TRUE(meta->unreferenced_objects().empty());
  meta.reset();
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace floe::maintenance
