// The conformance cases of meta_store_conformance.h. Each backend instantiates
// them in its own test file.
#include <algorithm>
#include <cstdint>
#include <limits>
#include <random>
#include <set>
#include <thread>

#include "meta/meta_store_conformance.h"

namespace floe::meta::testing {
namespace {

// Error codes compare by their Kafka names, so a failure reads
// "OUT_OF_ORDER_SEQUENCE_NUMBER vs NONE" rather than two raw bytes.
#define EXPECT_ERROR(actual, expected) \
  EXPECT_STREQ(protocol::error_name(actual), protocol::error_name(expected))
#define ASSERT_ERROR(actual, expected) \
  ASSERT_STREQ(protocol::error_name(actual), protocol::error_name(expected))

constexpr int32_t kMaxSequence = std::numeric_limits<int32_t>::max();

std::vector<int64_t> base_offsets(const CommitOutcome& out) {
  std::vector<int64_t> v;
  for (const auto& r : out.results) v.push_back(r.base_offset);
  return v;
}

// --- cluster -----------------------------------------------------------------

TEST_P(MetaStoreConformance, ClusterIdIsRandomAndSetOnce) {
  std::string id = store().cluster_id(std::nullopt);
  auto uuid = Uuid::parse(id);
  ASSERT_TRUE(uuid) << id;
  EXPECT_EQ(uuid->bytes[6] >> 4, 4) << "a version 4 UUID";
  EXPECT_EQ(store().cluster_id(std::nullopt), id);
  EXPECT_EQ(store().cluster_id(id), id);
  EXPECT_ERROR(meta_error_of([&] { store().cluster_id("another-id"); }), ErrorCode::inconsistent_cluster_id);
  EXPECT_EQ(store().cluster_id(std::nullopt), id);
}

TEST_P(MetaStoreConformance, ClusterIdKeepsTheProposedOne) {
  EXPECT_EQ(store().cluster_id("my-cluster"), "my-cluster");
  EXPECT_EQ(store().cluster_id(std::nullopt), "my-cluster");
  EXPECT_ERROR(meta_error_of([&] { store().cluster_id("other"); }), ErrorCode::inconsistent_cluster_id);
}

TEST_P(MetaStoreConformance, ProducerIdsArePositiveAndNeverRepeat) {
  std::set<int64_t> seen;
  for (int i = 0; i < 50; ++i) {
    int64_t id = store().allocate_producer_id();
    EXPECT_GE(id, 0);
    EXPECT_TRUE(seen.insert(id).second) << id;
  }
}

// --- topics ------------------------------------------------------------------

TEST_P(MetaStoreConformance, CreateFindAndListTopics) {
  Topic b = store().create_topic("beta", 3, {{"cleanup.policy", "compact"}, {"retention.ms", "1000"}});
  Topic a = store().create_topic("alpha", 1, {});
  EXPECT_EQ(b.name, "beta");
  EXPECT_EQ(b.partitions, 3);
  EXPECT_FALSE(b.id.is_zero());
  EXPECT_NE(a.id, b.id);
  EXPECT_EQ((std::map<std::string, std::string>{{"cleanup.policy", "compact"}, {"retention.ms", "1000"}}), b.configs);

  EXPECT_EQ(store().find_topic("beta"), b);
  EXPECT_EQ(store().find_topic(b.id), b);
  EXPECT_EQ(store().find_topic("gamma"), std::nullopt);
  EXPECT_EQ(store().find_topic(Uuid{}), std::nullopt);
  EXPECT_EQ(store().list_topics(), (std::vector<Topic>{a, b}));

  for (int32_t p = 0; p < 3; ++p) EXPECT_EQ(offsets(b, p), (PartitionOffsets{0, 0, -1, -1}));
  EXPECT_EQ(store().partition_offsets(b.id, 3), std::nullopt);
  EXPECT_EQ(store().partition_offsets(b.id, -1), std::nullopt);
}

TEST_P(MetaStoreConformance, DuplicateTopicNameIsRejected) {
  Topic t = store().create_topic("orders", 2, {});
  int64_t version = store().topics_version();
  EXPECT_ERROR(meta_error_of([&] { store().create_topic("orders", 5, {}); }), ErrorCode::topic_already_exists);
  EXPECT_EQ(store().topics_version(), version);
  EXPECT_EQ(store().find_topic("orders"), t);
}

TEST_P(MetaStoreConformance, TopicNeedsAtLeastOnePartition) {
  EXPECT_ERROR(meta_error_of([&] { store().create_topic("t", 0, {}); }), ErrorCode::invalid_partitions);
  EXPECT_ERROR(meta_error_of([&] { store().create_topic("t", -3, {}); }), ErrorCode::invalid_partitions);
  EXPECT_EQ(store().find_topic("t"), std::nullopt);
}

// topic_offsets is every partition's partition_offsets, in one answer.
TEST_P(MetaStoreConformance, TopicOffsetsAreEachPartitionsOffsets) {
  Topic t = store().create_topic("t", 4, {});
  Topic other = store().create_topic("other", 2, {});
  commit("o1", {batch(t, 1, 3), batch(t, 3, 2, 100), batch(other, 0, 7, 200)});
  commit("o2", {batch(t, 3, 4)});
  auto all = store().topic_offsets(t.id);
  ASSERT_EQ(all.size(), 4u);
  for (int32_t p = 0; p < 4; ++p) {
    EXPECT_EQ(all[static_cast<size_t>(p)].first, p);
    EXPECT_EQ(all[static_cast<size_t>(p)].second, offsets(t, p)) << p;
  }
  EXPECT_EQ(all[3].second.high_watermark, 6);
  EXPECT_EQ(all[0].second, (PartitionOffsets{0, 0, -1, -1}));
  store().create_partitions(t.id, 6);
  EXPECT_EQ(store().topic_offsets(t.id).size(), 6u) << "new partitions are listed";
  EXPECT_TRUE(store().topic_offsets(Uuid{}).empty()) << "an unknown topic has none";
}

TEST_P(MetaStoreConformance, CreatePartitionsOnlyGrows) {
  Topic t = store().create_topic("t", 2, {});
  store().create_partitions(t.id, 5);
  EXPECT_EQ(store().find_topic(t.id)->partitions, 5);
  for (int32_t p = 0; p < 5; ++p) EXPECT_TRUE(store().partition_offsets(t.id, p)) << p;
  EXPECT_FALSE(store().partition_offsets(t.id, 5));

  EXPECT_ERROR(meta_error_of([&] { store().create_partitions(t.id, 5); }), ErrorCode::invalid_partitions);
  EXPECT_ERROR(meta_error_of([&] { store().create_partitions(t.id, 3); }), ErrorCode::invalid_partitions);
  EXPECT_EQ(store().find_topic(t.id)->partitions, 5);

  Uuid unknown = t.id;
  unknown.bytes[0] ^= 0xff;
  EXPECT_ERROR(meta_error_of([&] { store().create_partitions(unknown, 9); }), ErrorCode::unknown_topic_id);
}

TEST_P(MetaStoreConformance, NewPartitionsTakeBatches) {
  Topic t = store().create_topic("t", 1, {});
  store().create_partitions(t.id, 2);
  CommitOutcome out = commit("o", {batch(t, 1, 3)});
  EXPECT_ERROR(out.results[0].error, ErrorCode::none);
  EXPECT_EQ(offsets(t, 1).high_watermark, 3);
}

TEST_P(MetaStoreConformance, AlterConfigsSetsAndRemovesKeys) {
  Topic t = store().create_topic("t", 1, {{"a", "1"}, {"b", "2"}});
  store().alter_topic_configs(t.id, {{"a", "10"}, {"b", std::nullopt}, {"c", "3"}, {"missing", std::nullopt}});
  EXPECT_EQ(store().find_topic(t.id)->configs, (std::map<std::string, std::string>{{"a", "10"}, {"c", "3"}}));
  EXPECT_EQ(store().list_topics().at(0).configs, (std::map<std::string, std::string>{{"a", "10"}, {"c", "3"}}));

  Uuid unknown = t.id;
  unknown.bytes[15] ^= 0xff;
  EXPECT_ERROR(meta_error_of([&] { store().alter_topic_configs(unknown, {{"a", "1"}}); }),
               ErrorCode::unknown_topic_id);
}

TEST_P(MetaStoreConformance, EveryTopicChangeBumpsTheVersion) {
  int64_t v0 = store().topics_version();
  Topic t = store().create_topic("t", 1, {});
  int64_t v1 = store().topics_version();
  EXPECT_GT(v1, v0);
  store().create_partitions(t.id, 2);
  int64_t v2 = store().topics_version();
  EXPECT_GT(v2, v1);
  store().alter_topic_configs(t.id, {{"retention.ms", "5"}});
  int64_t v3 = store().topics_version();
  EXPECT_GT(v3, v2);
  store().alter_topic_configs(t.id, {{"retention.ms", std::nullopt}});
  int64_t v4 = store().topics_version();
  EXPECT_GT(v4, v3);
  store().delete_topic(t.id);
  int64_t v5 = store().topics_version();
  EXPECT_GT(v5, v4);

  // Data and failed calls are not topic changes.
  Topic u = store().create_topic("u", 1, {});
  int64_t v6 = store().topics_version();
  commit("o", {batch(u, 0, 1)});
  EXPECT_ERROR(meta_error_of([&] { store().create_topic("u", 1, {}); }), ErrorCode::topic_already_exists);
  EXPECT_EQ(store().topics_version(), v6);
}

TEST_P(MetaStoreConformance, DeleteTopic) {
  Topic t = store().create_topic("t", 2, {{"k", "v"}});
  Topic other = store().create_topic("other", 1, {});
  commit("o", {batch(t, 0, 5), batch(t, 1, 2), batch(other, 0, 1)});
  store().delete_topic(t.id);
  EXPECT_EQ(store().find_topic("t"), std::nullopt);
  EXPECT_EQ(store().find_topic(t.id), std::nullopt);
  EXPECT_EQ(store().list_topics(), std::vector<Topic>{other});
  EXPECT_EQ(store().partition_offsets(t.id, 0), std::nullopt);
  EXPECT_EQ(store().find_batches(t.id, 0, 0, 1 << 20), std::nullopt);
  EXPECT_ERROR(meta_error_of([&] { store().delete_topic(t.id); }), ErrorCode::unknown_topic_id);
  EXPECT_EQ(offsets(other, 0).high_watermark, 1);

  // A late commit to the deleted topic (an object sealed before the delete)
  // stores nothing.
  CommitOutcome late = commit("late", {batch(t, 0, 1), batch(t, 1, 1)});
  EXPECT_ERROR(late.results.at(0).error, ErrorCode::unknown_topic_or_partition);
  EXPECT_ERROR(late.results.at(1).error, ErrorCode::unknown_topic_or_partition);
  EXPECT_FALSE(late.object_recorded);

  // The name is free again, with a new id and empty partitions.
  Topic again = store().create_topic("t", 1, {});
  EXPECT_NE(again.id, t.id);
  EXPECT_TRUE(again.configs.empty());
  EXPECT_EQ(offsets(again, 0), (PartitionOffsets{0, 0, -1, -1}));
}

TEST_P(MetaStoreConformance, DeletedTopicForgetsProducerState) {
  Topic t = store().create_topic("t", 1, {});
  ASSERT_ERROR(commit_one(idempotent(t, 0, 7, 0, 0, 5)).error, ErrorCode::none);
  store().delete_topic(t.id);
  Topic again = store().create_topic("t", 1, {});
  // A new topic knows nothing of the producer: any sequence is accepted.
  CommitResult r = commit_one(idempotent(again, 0, 7, 0, 0, 5));
  EXPECT_ERROR(r.error, ErrorCode::none);
  EXPECT_FALSE(r.duplicate);
  EXPECT_EQ(r.base_offset, 0);
}

// --- commit ------------------------------------------------------------------

TEST_P(MetaStoreConformance, CommitSpreadsOffsetsPerPartition) {
  Topic a = store().create_topic("a", 2, {});
  Topic b = store().create_topic("b", 2, {});
  CommitOutcome out = commit("wal-1", {batch(a, 0, 3), batch(b, 1, 2), batch(a, 0, 4), batch(a, 1, 1),
                                       batch(b, 1, 5), batch(a, 0, 1)});
  EXPECT_TRUE(out.object_recorded);
  ASSERT_EQ(out.results.size(), 6u);
  for (const auto& r : out.results) {
    EXPECT_ERROR(r.error, ErrorCode::none);
    EXPECT_FALSE(r.duplicate);
    EXPECT_EQ(r.log_start_offset, 0);
  }
  EXPECT_EQ(base_offsets(out), (std::vector<int64_t>{0, 0, 3, 0, 2, 7}));
  EXPECT_EQ(offsets(a, 0).high_watermark, 8);
  EXPECT_EQ(offsets(a, 1).high_watermark, 1);
  EXPECT_EQ(offsets(b, 0).high_watermark, 0);
  EXPECT_EQ(offsets(b, 1).high_watermark, 7);

  // A second object continues where the first left off.
  CommitOutcome next = commit("wal-2", {batch(b, 1, 1), batch(a, 0, 2)});
  EXPECT_EQ(base_offsets(next), (std::vector<int64_t>{7, 8}));

  // The batch index knows where every batch is.
  auto plan = store().find_batches(a.id, 0, 0, 1 << 20);
  ASSERT_TRUE(plan);
  EXPECT_EQ(plan->offsets.high_watermark, 10);
  ASSERT_EQ(plan->batches.size(), 4u);
  EXPECT_EQ(plan->batches[0], (BatchLocation{"wal-1", 0, 100, 0, 2, -1}));
  EXPECT_EQ(plan->batches[1], (BatchLocation{"wal-1", 200, 100, 3, 6, -1}));
  EXPECT_EQ(plan->batches[2], (BatchLocation{"wal-1", 500, 100, 7, 7, -1}));
  EXPECT_EQ(plan->batches[3], (BatchLocation{"wal-2", 100, 100, 8, 9, -1}));
}

TEST_P(MetaStoreConformance, UnknownPartitionFailsOnlyItsBatch) {
  Topic t = store().create_topic("t", 2, {});
  Uuid unknown_topic = t.id;
  unknown_topic.bytes[3] ^= 0x55;
  PendingBatch to_unknown_topic = batch(t, 0, 1);
  to_unknown_topic.topic_id = unknown_topic;
  CommitOutcome out = commit("o", {batch(t, 0, 2), batch(t, 7, 3), to_unknown_topic, batch(t, -1, 1), batch(t, 0, 4)});
  ASSERT_EQ(out.results.size(), 5u);
  EXPECT_ERROR(out.results[0].error, ErrorCode::none);
  EXPECT_ERROR(out.results[1].error, ErrorCode::unknown_topic_or_partition);
  EXPECT_ERROR(out.results[2].error, ErrorCode::unknown_topic_or_partition);
  EXPECT_ERROR(out.results[3].error, ErrorCode::unknown_topic_or_partition);
  EXPECT_ERROR(out.results[4].error, ErrorCode::none);
  EXPECT_EQ(out.results[1].base_offset, -1);
  EXPECT_EQ(out.results[0].base_offset, 0);
  EXPECT_EQ(out.results[4].base_offset, 2);
  EXPECT_TRUE(out.object_recorded);
  EXPECT_EQ(offsets(t, 0).high_watermark, 6);
  EXPECT_EQ(offsets(t, 1).high_watermark, 0);
}

TEST_P(MetaStoreConformance, ObjectIsNotRecordedWhenNothingIsStored) {
  Topic t = store().create_topic("t", 1, {});
  CommitOutcome out = commit("rejected", {batch(t, 3, 1), batch(t, 4, 1)});
  EXPECT_FALSE(out.object_recorded);
  EXPECT_TRUE(store().objects().empty());

  // Only duplicates: nothing stored either.
  ASSERT_TRUE(commit("first", {idempotent(t, 0, 1, 0, 0, 3)}).object_recorded);
  CommitOutcome retry = commit("retry", {idempotent(t, 0, 1, 0, 0, 3)});
  EXPECT_TRUE(retry.results[0].duplicate);
  EXPECT_FALSE(retry.object_recorded);
  ASSERT_EQ(store().objects().size(), 1u);
  EXPECT_EQ(store().objects()[0].key, "first");

  CommitOutcome empty = commit("empty", {});
  EXPECT_FALSE(empty.object_recorded);
  EXPECT_TRUE(empty.results.empty());
}

// The gate is asked once, after the commit's checks and writes; "no" leaves
// no trace: no object, no offsets, no producer state, nothing for a fetch.
TEST_P(MetaStoreConformance, AGateThatSaysNoAbandonsTheCommit) {
  Topic t = store().create_topic("t", 2, {});
  ASSERT_EQ(commit_one(idempotent(t, 0, 9, 0, 0, 2)).base_offset, 0);
  const auto objects_before = store().objects().size();

  std::vector<PendingBatch> batches{idempotent(t, 0, 9, 0, 2, 3), batch(t, 1, 4), batch(t, 7, 1)};
  uint64_t end = 0;
  for (auto& b : batches) {
    b.byte_offset = end;
    end += b.byte_length;
  }
  int asked = 0;
  CommitOutcome no = store().commit_object(ObjectCommit{"gated", end, 1000}, batches, [&] {
    ++asked;
    return false;
  });
  EXPECT_EQ(asked, 1);
  EXPECT_TRUE(no.abandoned);
  EXPECT_TRUE(no.results.empty());
  EXPECT_TRUE(no.runs.empty());
  EXPECT_FALSE(no.object_recorded);
  EXPECT_EQ(store().objects().size(), objects_before);
  EXPECT_EQ(offsets(t, 0).high_watermark, 2);
  EXPECT_EQ(offsets(t, 1).high_watermark, 0);
  EXPECT_EQ(store().find_batches(t.id, 1, 0, 1 << 20)->batches.size(), 0u);

  // The same commit again, with a gate that says yes: as if the first had
  // never been (sequence 2 is not taken for a duplicate).
  CommitOutcome yes = store().commit_object(ObjectCommit{"gated", end, 1000}, batches, [&] {
    ++asked;
    return true;
  });
  EXPECT_EQ(asked, 2);
  EXPECT_FALSE(yes.abandoned);
  ASSERT_EQ(yes.results.size(), 3u);
  EXPECT_ERROR(yes.results[0].error, ErrorCode::none);
  EXPECT_FALSE(yes.results[0].duplicate);
  EXPECT_EQ(yes.results[0].base_offset, 2);
  EXPECT_EQ(yes.results[1].base_offset, 0);
  EXPECT_ERROR(yes.results[2].error, ErrorCode::unknown_topic_or_partition);
  EXPECT_TRUE(yes.object_recorded);
  EXPECT_EQ(offsets(t, 0).high_watermark, 5);
  EXPECT_EQ(offsets(t, 1).high_watermark, 4);
  // And the producer state is the second commit's: the next sequence is 5.
  EXPECT_EQ(commit_one(idempotent(t, 0, 9, 0, 5, 1)).base_offset, 5);
}

TEST_P(MetaStoreConformance, ObjectsListsRecordedObjects) {
  Topic t = store().create_topic("t", 1, {});
  commit("wal/a", {batch(t, 0, 1, 0, 40)}, 111);
  commit("wal/b", {batch(t, 0, 1, 0, 70), batch(t, 0, 1, 0, 30)}, 222);
  auto objects = store().objects();
  ASSERT_EQ(objects.size(), 2u);
  EXPECT_EQ(objects[0].key, "wal/a");
  EXPECT_EQ(objects[0].size, 40u);
  EXPECT_EQ(objects[0].created_ms, 111);
  EXPECT_EQ(objects[1].key, "wal/b");
  EXPECT_EQ(objects[1].size, 100u);
  EXPECT_EQ(objects[1].created_ms, 222);
  EXPECT_TRUE(store().unreferenced_objects().empty());
}

TEST_P(MetaStoreConformance, MalformedPendingBatchIsACallerBug) {
  Topic t = store().create_topic("t", 1, {});
  PendingBatch empty = batch(t, 0, 0);
  EXPECT_THROW(store().commit_object(ObjectCommit{"o", 100, 1}, std::vector{empty}), std::invalid_argument);
  PendingBatch outside = batch(t, 0, 1, 90, 20);
  EXPECT_THROW(store().commit_object(ObjectCommit{"o", 100, 1}, std::vector{outside}), std::invalid_argument);
  EXPECT_EQ(offsets(t, 0).high_watermark, 0);
  EXPECT_TRUE(store().objects().empty());
}

TEST_P(MetaStoreConformance, PlainBatchesAreNeverDuplicates) {
  Topic t = store().create_topic("t", 1, {});
  CommitOutcome out = commit("o", {batch(t, 0, 2), batch(t, 0, 2)});
  EXPECT_EQ(base_offsets(out), (std::vector<int64_t>{0, 2}));
  EXPECT_FALSE(out.results[1].duplicate);
}

// --- idempotence -------------------------------------------------------------

TEST_P(MetaStoreConformance, InOrderSequencesAreAccepted) {
  Topic t = store().create_topic("t", 1, {});
  int64_t pid = store().allocate_producer_id();
  EXPECT_EQ(commit_one(idempotent(t, 0, pid, 0, 0, 5)).base_offset, 0);
  EXPECT_EQ(commit_one(idempotent(t, 0, pid, 0, 5, 1)).base_offset, 5);
  EXPECT_EQ(commit_one(batch(t, 0, 4)).base_offset, 6);  // others interleave
  CommitResult r = commit_one(idempotent(t, 0, pid, 0, 6, 3));
  EXPECT_ERROR(r.error, ErrorCode::none);
  EXPECT_EQ(r.base_offset, 10);
  EXPECT_EQ(offsets(t, 0).high_watermark, 13);
}

TEST_P(MetaStoreConformance, FirstBatchOfAProducerMayStartAnywhere) {
  Topic t = store().create_topic("t", 1, {});
  CommitResult r = commit_one(idempotent(t, 0, 42, 3, 1000, 2));
  EXPECT_ERROR(r.error, ErrorCode::none);
  EXPECT_EQ(commit_one(idempotent(t, 0, 42, 3, 1002, 1)).base_offset, 2);
}

TEST_P(MetaStoreConformance, DuplicatesOfTheLastFiveGetTheirOriginalOffsets) {
  Topic t = store().create_topic("t", 1, {});
  std::vector<int64_t> original;
  for (int32_t i = 0; i < 6; ++i) {  // sequences 0-1, 2-3, ..., 10-11
    CommitResult r = commit_one(idempotent(t, 0, 9, 0, 2 * i, 2));
    ASSERT_ERROR(r.error, ErrorCode::none);
    original.push_back(r.base_offset);
  }
  commit_one(batch(t, 0, 10));  // offsets no longer match sequences
  PartitionOffsets before = offsets(t, 0);
  size_t objects_before = store().objects().size();

  for (int32_t i = 1; i < 6; ++i) {
    CommitOutcome out = commit("retry-" + std::to_string(i), {idempotent(t, 0, 9, 0, 2 * i, 2)});
    EXPECT_ERROR(out.results[0].error, ErrorCode::none);
    EXPECT_TRUE(out.results[0].duplicate) << i;
    EXPECT_EQ(out.results[0].base_offset, original[i]) << i;
    EXPECT_EQ(out.results[0].log_start_offset, 0);
    EXPECT_FALSE(out.object_recorded);
  }
  EXPECT_EQ(offsets(t, 0), before);
  EXPECT_EQ(store().objects().size(), objects_before);

  // The oldest is no longer remembered: out of order, as Kafka answers.
  CommitResult oldest = commit_one(idempotent(t, 0, 9, 0, 0, 2));
  EXPECT_ERROR(oldest.error, ErrorCode::out_of_order_sequence_number);
  EXPECT_FALSE(oldest.duplicate);
  // A retry must match the stored range exactly, not just start the same.
  EXPECT_ERROR(commit_one(idempotent(t, 0, 9, 0, 10, 1)).error, ErrorCode::out_of_order_sequence_number);
  EXPECT_EQ(offsets(t, 0), before);
  EXPECT_EQ(commit_one(idempotent(t, 0, 9, 0, 12, 1)).base_offset, before.high_watermark);
}

TEST_P(MetaStoreConformance, SequenceGapIsOutOfOrder) {
  Topic t = store().create_topic("t", 1, {});
  ASSERT_ERROR(commit_one(idempotent(t, 0, 5, 0, 0, 3)).error, ErrorCode::none);
  CommitResult gap = commit_one(idempotent(t, 0, 5, 0, 4, 1));
  EXPECT_ERROR(gap.error, ErrorCode::out_of_order_sequence_number);
  EXPECT_EQ(gap.base_offset, -1);
  EXPECT_EQ(offsets(t, 0).high_watermark, 3);
  // The failed batch changed nothing: the next in-order one is accepted.
  EXPECT_EQ(commit_one(idempotent(t, 0, 5, 0, 3, 1)).base_offset, 3);
}

TEST_P(MetaStoreConformance, EpochBumpRestartsTheSequence) {
  Topic t = store().create_topic("t", 1, {});
  ASSERT_ERROR(commit_one(idempotent(t, 0, 5, 0, 0, 3)).error, ErrorCode::none);
  EXPECT_ERROR(commit_one(idempotent(t, 0, 5, 1, 5, 1)).error, ErrorCode::out_of_order_sequence_number);
  EXPECT_ERROR(commit_one(idempotent(t, 0, 5, 1, 3, 1)).error, ErrorCode::out_of_order_sequence_number);
  CommitResult bumped = commit_one(idempotent(t, 0, 5, 1, 0, 2));
  EXPECT_ERROR(bumped.error, ErrorCode::none);
  EXPECT_FALSE(bumped.duplicate) << "same sequences as an old-epoch batch, but a new epoch";
  EXPECT_EQ(bumped.base_offset, 3);
  EXPECT_EQ(commit_one(idempotent(t, 0, 5, 1, 2, 1)).base_offset, 5);
  // The old epoch is fenced, even for what would be a duplicate.
  EXPECT_ERROR(commit_one(idempotent(t, 0, 5, 0, 3, 1)).error, ErrorCode::invalid_producer_epoch);
  EXPECT_ERROR(commit_one(idempotent(t, 0, 5, 0, 0, 3)).error, ErrorCode::invalid_producer_epoch);
  EXPECT_EQ(offsets(t, 0).high_watermark, 6);
  // The duplicate window now holds only the new epoch's batches.
  CommitResult dup = commit_one(idempotent(t, 0, 5, 1, 0, 2));
  EXPECT_TRUE(dup.duplicate);
  EXPECT_EQ(dup.base_offset, 3);
}

TEST_P(MetaStoreConformance, SequenceWrapsAroundAfterInt32Max) {
  Topic t = store().create_topic("t", 1, {});
  ASSERT_ERROR(commit_one(idempotent(t, 0, 5, 0, kMaxSequence - 1, 2)).error, ErrorCode::none);
  CommitResult wrapped = commit_one(idempotent(t, 0, 5, 0, 0, 3));
  EXPECT_ERROR(wrapped.error, ErrorCode::none);
  EXPECT_EQ(wrapped.base_offset, 2);

  // A batch that wraps inside: MAX-2, MAX-1, MAX, 0.
  Topic u = store().create_topic("u", 1, {});
  ASSERT_ERROR(commit_one(idempotent(u, 0, 6, 0, kMaxSequence - 2, 4)).error, ErrorCode::none);
  CommitResult dup = commit_one(idempotent(u, 0, 6, 0, kMaxSequence - 2, 4));
  EXPECT_TRUE(dup.duplicate);
  EXPECT_EQ(dup.base_offset, 0);
  EXPECT_ERROR(commit_one(idempotent(u, 0, 6, 0, 0, 1)).error, ErrorCode::out_of_order_sequence_number);
  EXPECT_ERROR(commit_one(idempotent(u, 0, 6, 0, 2, 1)).error, ErrorCode::out_of_order_sequence_number);
  EXPECT_EQ(commit_one(idempotent(u, 0, 6, 0, 1, 1)).base_offset, 4);
}

TEST_P(MetaStoreConformance, BatchesInOneObjectSeeEachOthersProducerState) {
  Topic t = store().create_topic("t", 2, {});
  CommitOutcome out = commit("o", {
                                      idempotent(t, 0, 3, 0, 0, 3),   // stored at 0
                                      idempotent(t, 0, 3, 0, 0, 3),   // duplicate of the first
                                      idempotent(t, 1, 3, 0, 0, 1),   // another partition: own state
                                      idempotent(t, 0, 3, 0, 5, 1),   // gap
                                      idempotent(t, 0, 3, 0, 3, 2),   // in order after the first
                                      idempotent(t, 0, 3, 1, 0, 1),   // epoch bump
                                      idempotent(t, 0, 3, 0, 5, 1),   // now fenced
                                  });
  ASSERT_EQ(out.results.size(), 7u);
  EXPECT_ERROR(out.results[0].error, ErrorCode::none);
  EXPECT_EQ(out.results[0].base_offset, 0);
  EXPECT_TRUE(out.results[1].duplicate);
  EXPECT_EQ(out.results[1].base_offset, 0);
  EXPECT_ERROR(out.results[2].error, ErrorCode::none);
  EXPECT_EQ(out.results[2].base_offset, 0);
  EXPECT_ERROR(out.results[3].error, ErrorCode::out_of_order_sequence_number);
  EXPECT_EQ(out.results[4].base_offset, 3);
  EXPECT_EQ(out.results[5].base_offset, 5);
  EXPECT_ERROR(out.results[6].error, ErrorCode::invalid_producer_epoch);
  EXPECT_EQ(offsets(t, 0).high_watermark, 6);

  // And the state they left is what the next object sees.
  EXPECT_EQ(commit_one(idempotent(t, 0, 3, 1, 1, 1)).base_offset, 6);
  EXPECT_TRUE(commit_one(idempotent(t, 1, 3, 0, 0, 1)).duplicate);
}

TEST_P(MetaStoreConformance, CommitResultCarriesTheLogStart) {
  Topic t = store().create_topic("t", 1, {});
  commit_one(batch(t, 0, 10));
  store().delete_records(t.id, 0, 4);
  CommitOutcome out = commit("o", {batch(t, 0, 1), batch(t, 5, 1)});
  EXPECT_EQ(out.results[0].log_start_offset, 4);
  EXPECT_EQ(out.results[0].base_offset, 10);
  EXPECT_EQ(out.results[1].log_start_offset, -1);
}

TEST_P(MetaStoreConformance, ConcurrentCommitsNeverShareOffsets) {
  Topic t = store().create_topic("t", 2, {});
  constexpr int kThreads = 4;
  constexpr int kCommits = 25;
  std::vector<std::vector<CommitOutcome>> outcomes(kThreads);
  std::vector<std::thread> threads;
  for (int i = 0; i < kThreads; ++i) {
    threads.emplace_back([&, i] {
      for (int j = 0; j < kCommits; ++j) {
        std::vector<PendingBatch> batches{batch(t, 0, 2, 0), batch(t, 1, 1, 100)};
        outcomes[i].push_back(store().commit_object(
            ObjectCommit{"t" + std::to_string(i) + "-" + std::to_string(j), 200, 1}, batches));
      }
    });
  }
  for (auto& th : threads) th.join();
  std::set<int64_t> p0, p1;
  for (const auto& per_thread : outcomes)
    for (const auto& out : per_thread) {
      EXPECT_TRUE(p0.insert(out.results[0].base_offset).second);
      EXPECT_TRUE(p1.insert(out.results[1].base_offset).second);
    }
  EXPECT_EQ(offsets(t, 0).high_watermark, 2 * kThreads * kCommits);
  EXPECT_EQ(offsets(t, 1).high_watermark, kThreads * kCommits);
  EXPECT_EQ(*p0.rbegin(), 2 * kThreads * kCommits - 2);
  EXPECT_EQ(store().objects().size(), static_cast<size_t>(kThreads * kCommits));
}

// --- the read path -------------------------------------------------------------

TEST_P(MetaStoreConformance, FindBatchesFromTheMiddleOfABatch) {
  Topic t = store().create_topic("t", 1, {});
  commit_apart("o", {batch(t, 0, 10, 0, 100), batch(t, 0, 10, 0, 100), batch(t, 0, 10, 0, 100)});
  auto plan = store().find_batches(t.id, 0, 15, 1 << 20);
  ASSERT_TRUE(plan);
  ASSERT_EQ(plan->batches.size(), 2u);
  EXPECT_EQ(plan->batches[0].base_offset, 10);
  EXPECT_EQ(plan->batches[0].last_offset, 19);
  EXPECT_EQ(plan->batches[1].base_offset, 20);
  // The last offset of a batch still finds that batch.
  EXPECT_EQ(store().find_batches(t.id, 0, 19, 1 << 20)->batches.at(0).base_offset, 10);
  EXPECT_EQ(store().find_batches(t.id, 0, 20, 1 << 20)->batches.at(0).base_offset, 20);
  EXPECT_EQ(plan->offsets, offsets(t, 0));
}

// --- batch runs (BatchLocation): a row per run of back-to-back batches -----------

TEST_P(MetaStoreConformance, BatchesBackToBackInAnObjectAreOneRun) {
  Topic t = store().create_topic("t", 2, {});
  // Laid out one after the other: p0 [0,100) [100,200), p1 [200,300), p0 [300,400).
  commit("o", {batch(t, 0, 2, 0, 100, 50), batch(t, 0, 3, 0, 100, 40), batch(t, 1, 1, 0, 100, 7),
               batch(t, 0, 1, 0, 100, 60)});
  auto p0 = store().find_batches(t.id, 0, 0, 1 << 20);
  ASSERT_EQ(p0->batches.size(), 2u);
  EXPECT_EQ(p0->batches[0], (BatchLocation{"o", 0, 200, 0, 4, 50}));
  EXPECT_EQ(p0->batches[1], (BatchLocation{"o", 300, 100, 5, 5, 60}));
  EXPECT_EQ(store().find_batches(t.id, 1, 0, 1 << 20)->batches,
            (std::vector<BatchLocation>{{"o", 200, 100, 0, 0, 7}}));
  // Any offset of a run finds the whole run.
  EXPECT_EQ(store().find_batches(t.id, 0, 3, 1 << 20)->batches.at(0).base_offset, 0);
  EXPECT_EQ(store().find_batch_containing(t.id, 0, 4)->byte_length, 200u);
  EXPECT_EQ(store().find_batch_by_timestamp(t.id, 0, 45)->base_offset, 0);
  EXPECT_EQ(store().find_batch_by_timestamp(t.id, 0, 55)->base_offset, 5);
  EXPECT_EQ(offsets(t, 0), (PartitionOffsets{0, 6, 60, 5}));
  // Batches of the next object never join a run of this one.
  commit("p", {batch(t, 0, 1, 0, 100, 70)});
  EXPECT_EQ(store().find_batches(t.id, 0, 0, 1 << 20)->batches.size(), 3u);
}

TEST_P(MetaStoreConformance, RejectedAndDuplicateBatchesSplitARun) {
  Topic t = store().create_topic("t", 1, {});
  const int64_t pid = store().allocate_producer_id();
  ASSERT_EQ(commit("a", {idempotent(t, 0, pid, 0, 0, 1)}).results[0].base_offset, 0);
  // [0,100) new, [100,200) a duplicate of sequence 0, [200,300) new,
  // [300,400) an unknown partition, [400,500) new.
  PendingBatch unknown = batch(t, 7, 1);
  auto out = commit("b", {idempotent(t, 0, pid, 0, 1, 1), idempotent(t, 0, pid, 0, 0, 1),
                          idempotent(t, 0, pid, 0, 2, 1), unknown, idempotent(t, 0, pid, 0, 3, 1)});
  EXPECT_TRUE(out.results[1].duplicate);
  EXPECT_EQ(out.results[3].error, ErrorCode::unknown_topic_or_partition);
  auto plan = store().find_batches(t.id, 0, 1, 1 << 20);
  ASSERT_EQ(plan->batches.size(), 3u);
  EXPECT_EQ(plan->batches[0], (BatchLocation{"b", 0, 100, 1, 1, -1}));
  EXPECT_EQ(plan->batches[1], (BatchLocation{"b", 200, 100, 2, 2, -1}));
  EXPECT_EQ(plan->batches[2], (BatchLocation{"b", 400, 100, 3, 3, -1}));
  // The commit reports the same rows.
  std::vector<BatchLocation> reported;
  for (const auto& r : out.runs) reported.push_back(r.location);
  EXPECT_EQ(reported, plan->batches);
}

// CommitOutcome::runs is exactly the rows find_batches then returns for the
// object, each partition's in offset order (the read path plans from them).
TEST_P(MetaStoreConformance, ACommitReportsTheRowsItWrote) {
  Topic a = store().create_topic("a", 2, {});
  Topic b = store().create_topic("b", 2, {});
  commit("wal-0", {batch(a, 0, 2)});
  // a-0: [100,200) then [200,300) back to back (one run), then [400,500);
  // b-1 between them; a-1 at the end; one batch to no partition.
  CommitOutcome out = commit("wal-1", {batch(a, 0, 3, 100), batch(a, 0, 1, 200), batch(b, 1, 2, 300),
                                       batch(a, 0, 4, 400), batch(a, 7, 1, 500), batch(a, 1, 5, 600)});
  ASSERT_TRUE(out.object_recorded);
  for (const auto& [topic, partition] : std::vector<std::pair<Topic, int32_t>>{{a, 0}, {a, 1}, {b, 1}}) {
    std::vector<BatchLocation> reported;
    for (const auto& r : out.runs) {
      if (r.topic_id == topic.id && r.partition == partition) reported.push_back(r.location);
    }
    std::vector<BatchLocation> stored;
    auto plan = store().find_batches(topic.id, partition, 0, 1 << 20);
    ASSERT_TRUE(plan);
    for (const auto& loc : plan->batches) {
      if (loc.object_key == "wal-1") stored.push_back(loc);
    }
    EXPECT_EQ(reported, stored) << topic.name << "-" << partition;
  }
  EXPECT_EQ(out.runs.size(), 4u);
  EXPECT_EQ(out.runs[0], (StoredRun{a.id, 0, BatchLocation{"wal-1", 100, 200, 2, 5, -1}}));
  EXPECT_TRUE(commit("wal-2", {batch(a, 9, 1)}).runs.empty()) << "nothing stored, nothing reported";
}

TEST_P(MetaStoreConformance, RunsStopAtTheirSizeLimit) {
  Topic t = store().create_topic("t", 1, {});
  const auto quarter = static_cast<uint32_t>(kMaxRunBytes / 4);
  // Four quarters fill one run exactly; the fifth starts the next.
  commit("o", {batch(t, 0, 1, 0, quarter), batch(t, 0, 1, 0, quarter), batch(t, 0, 1, 0, quarter),
               batch(t, 0, 1, 0, quarter), batch(t, 0, 1, 0, quarter)});
  auto plan = store().find_batches(t.id, 0, 0, 1 << 30);
  ASSERT_EQ(plan->batches.size(), 2u);
  EXPECT_EQ(plan->batches[0], (BatchLocation{"o", 0, 4 * quarter, 0, 3, -1}));
  EXPECT_EQ(plan->batches[1], (BatchLocation{"o", 4 * quarter, quarter, 4, 4, -1}));
  // A batch larger than the limit is a run of its own.
  const auto big = static_cast<uint32_t>(kMaxRunBytes + 1);
  commit("p", {batch(t, 0, 1, 0, 10), batch(t, 0, 1, 0, big), batch(t, 0, 1, 0, 10)});
  plan = store().find_batches(t.id, 0, 5, 1 << 30);
  ASSERT_EQ(plan->batches.size(), 3u);
  EXPECT_EQ(plan->batches[1].byte_length, big);
}

TEST_P(MetaStoreConformance, FindBatchesHonoursTheByteBudget) {
  Topic t = store().create_topic("t", 1, {});
  commit_apart("o", {batch(t, 0, 1, 0, 100), batch(t, 0, 1, 0, 100), batch(t, 0, 1, 0, 300), batch(t, 0, 1, 0, 50)});
  auto count = [&](int64_t from, uint64_t max_bytes) {
    return store().find_batches(t.id, 0, from, max_bytes)->batches.size();
  };
  EXPECT_EQ(count(0, 200), 2u);   // exactly full
  EXPECT_EQ(count(0, 201), 3u);   // the run that crosses the budget comes too (the caller cuts it)
  EXPECT_EQ(count(0, 499), 3u);   // ... but nothing after it
  EXPECT_EQ(count(0, 500), 3u);
  EXPECT_EQ(count(0, 501), 4u);
  EXPECT_EQ(count(0, 10000), 4u);
  EXPECT_EQ(count(2, 100), 1u);   // the first run always, even if larger (KIP-74)
  EXPECT_EQ(count(2, 0), 1u);
  EXPECT_EQ(count(0, 1), 1u);
}

TEST_P(MetaStoreConformance, FindBatchesAtOrPastTheEndIsEmpty) {
  Topic t = store().create_topic("t", 1, {});
  auto empty = store().find_batches(t.id, 0, 0, 1000);
  ASSERT_TRUE(empty);
  EXPECT_TRUE(empty->batches.empty());
  EXPECT_EQ(empty->offsets, (PartitionOffsets{0, 0, -1, -1}));

  commit("o", {batch(t, 0, 5)});
  auto at_end = store().find_batches(t.id, 0, 5, 1000);
  ASSERT_TRUE(at_end);
  EXPECT_TRUE(at_end->batches.empty());
  EXPECT_EQ(at_end->offsets.high_watermark, 5);
  EXPECT_TRUE(store().find_batches(t.id, 0, 99, 1000)->batches.empty());
}

TEST_P(MetaStoreConformance, FindBatchesOfAnUnknownPartition) {
  Topic t = store().create_topic("t", 1, {});
  EXPECT_EQ(store().find_batches(t.id, 1, 0, 1000), std::nullopt);
  Uuid unknown = t.id;
  unknown.bytes[9] ^= 1;
  EXPECT_EQ(store().find_batches(unknown, 0, 0, 1000), std::nullopt);
}

TEST_P(MetaStoreConformance, FindBatchByTimestampWithOutOfOrderTimestamps) {
  Topic t = store().create_topic("t", 1, {});
  // Batch max timestamps in offset order: 100, 50, 300, 200, 400 (offsets 0-1, 2-3, ...).
  std::vector<int64_t> ts{100, 50, 300, 200, 400};
  std::vector<PendingBatch> batches;
  for (int64_t m : ts) batches.push_back(batch(t, 0, 2, 0, 100, m));
  commit_apart("o", batches);
  auto first_offset = [&](int64_t timestamp) -> int64_t {
    auto b = store().find_batch_by_timestamp(t.id, 0, timestamp);
    return b ? b->base_offset : -1;
  };
  EXPECT_EQ(first_offset(-1), 0);
  EXPECT_EQ(first_offset(0), 0);
  EXPECT_EQ(first_offset(50), 0);
  EXPECT_EQ(first_offset(100), 0);
  EXPECT_EQ(first_offset(101), 4);  // not the 200 batch at offset 6: 300 comes first
  EXPECT_EQ(first_offset(250), 4);
  EXPECT_EQ(first_offset(300), 4);
  EXPECT_EQ(first_offset(301), 8);
  EXPECT_EQ(first_offset(400), 8);
  EXPECT_EQ(first_offset(401), -1);

  auto b = store().find_batch_by_timestamp(t.id, 0, 250);
  ASSERT_TRUE(b);
  EXPECT_EQ(*b, (BatchLocation{"o", 203, 100, 4, 5, 300}));
  EXPECT_EQ(store().find_batch_by_timestamp(t.id, 1, 0), std::nullopt);
}

TEST_P(MetaStoreConformance, MaxTimestampIsTracked) {
  Topic t = store().create_topic("t", 1, {});
  commit("a", {batch(t, 0, 3, 0, 100, 500), batch(t, 0, 2, 0, 100, 700)});
  EXPECT_EQ(offsets(t, 0), (PartitionOffsets{0, 5, 700, 4}));
  commit("b", {batch(t, 0, 4, 0, 100, 600), batch(t, 0, 1, 0, 100, 700)});  // lower; a tie keeps the earlier
  EXPECT_EQ(offsets(t, 0), (PartitionOffsets{0, 10, 700, 4}));
  commit("c", {batch(t, 0, 2, 0, 100, 900)});
  EXPECT_EQ(offsets(t, 0), (PartitionOffsets{0, 12, 900, 11}));

  auto holder = store().find_batch_containing(t.id, 0, offsets(t, 0).max_timestamp_offset);
  ASSERT_TRUE(holder);
  EXPECT_EQ(*holder, (BatchLocation{"c", 0, 100, 10, 11, 900}));
}

TEST_P(MetaStoreConformance, FindBatchContaining) {
  Topic t = store().create_topic("t", 1, {});
  commit_apart("o", {batch(t, 0, 3, 0, 100, 10), batch(t, 0, 3, 0, 100, 20)});
  for (int64_t o = 0; o < 3; ++o) EXPECT_EQ(store().find_batch_containing(t.id, 0, o)->base_offset, 0) << o;
  for (int64_t o = 3; o < 6; ++o) EXPECT_EQ(store().find_batch_containing(t.id, 0, o)->base_offset, 3) << o;
  EXPECT_EQ(store().find_batch_containing(t.id, 0, 6), std::nullopt);
  EXPECT_EQ(store().find_batch_containing(t.id, 0, -1), std::nullopt);
  EXPECT_EQ(store().find_batch_containing(t.id, 1, 0), std::nullopt);
}

// --- delete records ------------------------------------------------------------

TEST_P(MetaStoreConformance, DeleteRecordsAdvancesTheLogStart) {
  Topic t = store().create_topic("t", 1, {});
  commit_apart("o", {batch(t, 0, 10), batch(t, 0, 10), batch(t, 0, 10)});  // 0-9, 10-19, 20-29
  EXPECT_ERROR(meta_error_of([&] { store().delete_records(t.id, 0, 31); }), ErrorCode::offset_out_of_range);
  EXPECT_ERROR(meta_error_of([&] { store().delete_records(t.id, 0, -2); }), ErrorCode::offset_out_of_range);
  EXPECT_ERROR(meta_error_of([&] { store().delete_records(t.id, 1, 0); }), ErrorCode::unknown_topic_or_partition);

  EXPECT_EQ(store().delete_records(t.id, 0, 15), 15);
  EXPECT_EQ(offsets(t, 0).log_start_offset, 15);
  // The batch straddling the new start stays; the one before it is gone.
  auto plan = store().find_batches(t.id, 0, 0, 1 << 20);
  ASSERT_EQ(plan->batches.size(), 2u);
  EXPECT_EQ(plan->batches[0].base_offset, 10);
  EXPECT_EQ(plan->offsets.log_start_offset, 15);
  EXPECT_EQ(store().find_batch_containing(t.id, 0, 5), std::nullopt);

  EXPECT_EQ(store().delete_records(t.id, 0, 3), 15) << "moving back is a no-op";
  EXPECT_EQ(store().delete_records(t.id, 0, 15), 15);
  EXPECT_EQ(store().delete_records(t.id, 0, 20), 20);
  EXPECT_EQ(store().find_batches(t.id, 0, 0, 1 << 20)->batches.size(), 1u);

  EXPECT_EQ(store().delete_records(t.id, 0, -1), 30) << "-1 means the high watermark";
  EXPECT_EQ(offsets(t, 0), (PartitionOffsets{30, 30, -1, -1}));
  EXPECT_TRUE(store().find_batches(t.id, 0, 0, 1 << 20)->batches.empty());

  // Offsets carry on from the high watermark.
  EXPECT_EQ(commit_one(batch(t, 0, 2)).base_offset, 30);
  EXPECT_EQ(store().find_batches(t.id, 0, 30, 1 << 20)->batches.size(), 1u);
}

TEST_P(MetaStoreConformance, DeleteRecordsForgetsTimestampsOfDroppedBatches) {
  Topic t = store().create_topic("t", 1, {});
  // A far-future timestamp in the first batch, then ordinary ones.
  commit_apart("o", {batch(t, 0, 1, 0, 100, 9000), batch(t, 0, 1, 0, 100, 10), batch(t, 0, 1, 0, 100, 500),
                     batch(t, 0, 1, 0, 100, 200)});
  EXPECT_EQ(store().find_batch_by_timestamp(t.id, 0, 400)->base_offset, 0);
  store().delete_records(t.id, 0, 1);
  EXPECT_EQ(offsets(t, 0), (PartitionOffsets{1, 4, 500, 2}));
  EXPECT_EQ(store().find_batch_by_timestamp(t.id, 0, 400)->base_offset, 2);
  EXPECT_EQ(store().find_batch_by_timestamp(t.id, 0, 5)->base_offset, 1);
  EXPECT_EQ(store().find_batch_by_timestamp(t.id, 0, 501), std::nullopt);
  // New batches build on what remains.
  commit("p", {batch(t, 0, 1, 0, 100, 450)});
  EXPECT_EQ(store().find_batch_by_timestamp(t.id, 0, 400)->base_offset, 2);
  EXPECT_EQ(offsets(t, 0).max_timestamp, 500);
}

TEST_P(MetaStoreConformance, DeleteRecordsRepairsManyTimestampRows) {
  Topic t = store().create_topic("t", 1, {});
  std::vector<PendingBatch> batches{batch(t, 0, 1, 0, 10, 1'000'000)};
  for (int i = 0; i < 1300; ++i) batches.push_back(batch(t, 0, 1, 0, 10, i));
  commit_apart("o", batches);
  store().delete_records(t.id, 0, 1);
  EXPECT_EQ(store().find_batch_by_timestamp(t.id, 0, 1000)->base_offset, 1001);
  EXPECT_EQ(store().find_batch_by_timestamp(t.id, 0, 1299)->base_offset, 1300);
  EXPECT_EQ(store().find_batch_by_timestamp(t.id, 0, 1300), std::nullopt);
  EXPECT_EQ(offsets(t, 0), (PartitionOffsets{1, 1301, 1299, 1300}));
}

// Every lookup against a plain model of the batch rows, over long partitions
// (hundreds of rows, so that a backend's internal structure is crossed many
// times), runs of several batches, timestamps out of order and missing, and
// deletes of records and of a whole topic in between.
TEST_P(MetaStoreConformance, LookupsAgreeWithAModelThroughCommitsAndDeletes) {
  constexpr int32_t kPartitions = 3;
  Topic t = store().create_topic("t", kPartitions, {});
  Topic other = store().create_topic("other", 2, {});
  std::vector<std::vector<BatchLocation>> model(kPartitions);  // each partition's rows, in offset order
  std::vector<int64_t> log_start(kPartitions, 0);
  std::vector<int64_t> high_watermark(kPartitions, 0);
  std::vector<size_t> rows_written(kPartitions, 0);
  std::mt19937_64 rng(11);
  auto random = [&](uint64_t n) { return static_cast<int64_t>(rng() % n); };

  auto check = [&](int32_t p, const std::string& when) {
    SCOPED_TRACE(when + ", partition " + std::to_string(p));
    const std::vector<BatchLocation>& rows = model[p];
    const PartitionOffsets o = offsets(t, p);
    EXPECT_EQ(o.log_start_offset, log_start[p]);
    EXPECT_EQ(o.high_watermark, high_watermark[p]);
    // The max timestamp, and the first row reaching each timestamp.
    // (The offset is in the first row that has it: the last of its batch
    // while that batch is stored, the row's last after records are deleted.)
    const BatchLocation* max_row = nullptr;
    for (const BatchLocation& r : rows)
      if (r.max_timestamp >= 0 && (!max_row || r.max_timestamp > max_row->max_timestamp)) max_row = &r;
    EXPECT_EQ(o.max_timestamp, max_row ? max_row->max_timestamp : -1);
    if (max_row) {
      EXPECT_GE(o.max_timestamp_offset, max_row->base_offset);
      EXPECT_LE(o.max_timestamp_offset, max_row->last_offset);
    }
    for (int64_t ts = -1; ts <= 1002; ts += 1 + random(7)) {
      std::optional<BatchLocation> expected;
      for (const BatchLocation& r : rows) {
        if (r.max_timestamp >= ts) {
          expected = r;
          break;
        }
      }
      EXPECT_EQ(store().find_batch_by_timestamp(t.id, p, ts), expected) << "timestamp " << ts;
    }
    for (int64_t from = 0; from <= high_watermark[p] + 1; ++from) {
      // The batch holding `from`.
      std::optional<BatchLocation> holder;
      for (const BatchLocation& r : rows)
        if (r.base_offset <= from && from <= r.last_offset) holder = r;
      ASSERT_EQ(store().find_batch_containing(t.id, p, from), holder) << "offset " << from;
      // A fetch from it with a random budget.
      const uint64_t budget = static_cast<uint64_t>(random(4000));
      std::vector<BatchLocation> expected;
      uint64_t total = 0;
      for (const BatchLocation& r : rows) {
        if (r.last_offset < from) continue;
        if (total >= budget && !expected.empty()) break;
        expected.push_back(r);
        total += r.byte_length;
      }
      auto plan = store().find_batches(t.id, p, from, budget);
      ASSERT_TRUE(plan);
      ASSERT_EQ(plan->batches, expected) << "from " << from << ", budget " << budget;
    }
  };

  for (int round = 0; round < 120; ++round) {
    const std::string key = "o" + std::to_string(round);
    // Batches in a random order of partitions: some back to back with the
    // previous batch of their partition (one run), some apart.
    std::vector<PendingBatch> batches;
    uint64_t end = 0;
    int32_t previous_partition = -1;
    const int n = 1 + static_cast<int>(random(12));
    for (int i = 0; i < n; ++i) {
      const int32_t p = static_cast<int32_t>(random(kPartitions));
      const bool joined = p == previous_partition && random(2) == 0;
      const uint32_t length = 50 + static_cast<uint32_t>(random(300));
      const int64_t ts = random(6) == 0 ? -1 : random(1000);
      batches.push_back(batch(t, p, 1 + static_cast<int32_t>(random(3)), joined ? end : end + 1, length, ts));
      end = batches.back().byte_offset + length;
      previous_partition = p;
    }
    if (random(4) == 0) batches.push_back(batch(other, static_cast<int32_t>(random(2)), 1, end + 1, 10));
    const uint64_t size = batches.back().byte_offset + batches.back().byte_length;
    CommitOutcome out = store().commit_object(ObjectCommit{key, size, 1000}, batches);
    // The model's rows: the runs the store reports, in its row order per
    // partition (offsets ascending).
    for (const auto& run : out.runs) {
      if (run.topic_id != t.id) continue;
      model[run.partition].push_back(run.location);
      ++rows_written[run.partition];
      high_watermark[run.partition] = run.location.last_offset + 1;
    }
    if (round % 15 == 14) {
      const int32_t p = static_cast<int32_t>(random(kPartitions));
      // Sometimes everything, else a random point at or after the start.
      const int64_t target =
          random(5) == 0 ? high_watermark[p] : log_start[p] + random(high_watermark[p] - log_start[p] + 1);
      EXPECT_EQ(store().delete_records(t.id, p, target), std::max(target, log_start[p]));
      log_start[p] = std::max(target, log_start[p]);
      std::erase_if(model[p], [&](const BatchLocation& r) { return r.last_offset < log_start[p]; });
    }
    if (round % 30 == 29) {
      for (int32_t p = 0; p < kPartitions; ++p) check(p, "after round " + std::to_string(round));
    }
    if (round == 60) {
      store().delete_topic(other.id);
      other = store().create_topic("other", 2, {});
    }
  }
  for (size_t written : rows_written) EXPECT_GT(written, 150u) << "the partitions should be long";
  // With both topics gone, no object is referenced any more.
  store().delete_topic(t.id);
  store().delete_topic(other.id);
  EXPECT_EQ(store().unreferenced_objects().size(), store().objects().size());
  EXPECT_EQ(store().objects().size(), 120u);
}

// --- objects and garbage collection ----------------------------------------------

TEST_P(MetaStoreConformance, DeleteTopicLeavesObjectsUnreferenced) {
  Topic a = store().create_topic("a", 1, {});
  Topic b = store().create_topic("b", 1, {});
  commit("shared", {batch(a, 0, 1), batch(b, 0, 1)});
  commit("only-a", {batch(a, 0, 1), batch(a, 0, 1)});
  EXPECT_TRUE(store().unreferenced_objects().empty());

  store().delete_topic(a.id);
  auto unreferenced = store().unreferenced_objects();
  ASSERT_EQ(unreferenced.size(), 1u);
  EXPECT_EQ(unreferenced[0].key, "only-a");

  store().delete_topic(b.id);
  unreferenced = store().unreferenced_objects();
  ASSERT_EQ(unreferenced.size(), 2u);
  EXPECT_EQ(store().objects().size(), 2u) << "unreferenced objects are listed until forgotten";

  std::vector<std::string> keys{"only-a"};
  store().forget_objects(keys);
  ASSERT_EQ(store().objects().size(), 1u);
  EXPECT_EQ(store().objects()[0].key, "shared");
  keys = {"shared", "never-existed"};
  store().forget_objects(keys);
  EXPECT_TRUE(store().objects().empty());
  EXPECT_TRUE(store().unreferenced_objects().empty());
}

TEST_P(MetaStoreConformance, DeleteRecordsLeavesObjectsUnreferenced) {
  Topic t = store().create_topic("t", 1, {});
  commit("first", {batch(t, 0, 5)});
  commit("second", {batch(t, 0, 5)});
  store().delete_records(t.id, 0, 7);
  auto unreferenced = store().unreferenced_objects();
  ASSERT_EQ(unreferenced.size(), 1u);
  EXPECT_EQ(unreferenced[0].key, "first");
}

TEST_P(MetaStoreConformance, ForgetObjectsKeepsReferencedObjects) {
  Topic t = store().create_topic("t", 1, {});
  commit("live", {batch(t, 0, 5)});
  std::vector<std::string> keys{"live"};
  store().forget_objects(keys);
  ASSERT_EQ(store().objects().size(), 1u);
  EXPECT_EQ(store().find_batches(t.id, 0, 0, 1000)->batches.at(0).object_key, "live");
}

// --- consumer groups -------------------------------------------------------------

std::vector<std::string> error_names(const std::vector<ErrorCode>& codes) {
  std::vector<std::string> names;
  for (ErrorCode code : codes) names.emplace_back(protocol::error_name(code));
  return names;
}

GroupRecord group_record(const std::string& id, int32_t generation, std::optional<std::string> protocol,
                         bool empty, int64_t state_ms) {
  return GroupRecord{id, "consumer", generation, std::move(protocol), empty, state_ms, empty ? 0 : 45000};
}

TEST_P(MetaStoreConformance, GroupRecordRoundTrip) {
  EXPECT_EQ(store().find_group("g"), std::nullopt);
  GroupRecord stable = group_record("g", 3, "range", false, 1234);
  store().store_group(stable);
  EXPECT_EQ(store().find_group("g"), stable);

  // An empty group: no protocol, no protocol type (offsets only).
  GroupRecord empty{"standalone", "", 0, std::nullopt, true, 99, 0};
  store().store_group(empty);
  EXPECT_EQ(store().find_group("standalone"), empty);
  EXPECT_EQ(store().find_group("g"), stable);
  EXPECT_EQ(store().find_group("G"), std::nullopt);
}

TEST_P(MetaStoreConformance, GroupGenerationNeverGoesBack) {
  GroupRecord current = group_record("g", 5, "range", false, 100);
  store().store_group(current);
  EXPECT_ERROR(meta_error_of([&] { store().store_group(group_record("g", 4, "roundrobin", true, 200)); }),
               ErrorCode::illegal_generation);
  EXPECT_ERROR(meta_error_of([&] { store().store_group(group_record("g", 0, std::nullopt, true, 300)); }),
               ErrorCode::illegal_generation);
  EXPECT_EQ(store().find_group("g"), current);
  EXPECT_EQ(store().list_groups(), std::vector<GroupRecord>{current});
}

TEST_P(MetaStoreConformance, EqualOrHigherGenerationReplacesEveryField) {
  store().store_group(group_record("g", 5, "range", false, 100));
  // The same generation becoming empty, as a coordinator records it.
  GroupRecord emptied{"g", "consumer", 5, std::nullopt, true, 150, 0};
  store().store_group(emptied);
  EXPECT_EQ(store().find_group("g"), emptied);
  GroupRecord next{"g", "connect", 6, "sticky", false, 200, 30000};
  store().store_group(next);
  EXPECT_EQ(store().find_group("g"), next);
}

TEST_P(MetaStoreConformance, ListGroupsOrderedById) {
  EXPECT_TRUE(store().list_groups().empty());
  Topic t = store().create_topic("t", 1, {});
  GroupRecord b = group_record("b", 1, "range", false, 1);
  GroupRecord a = group_record("a", 2, std::nullopt, true, 2);
  GroupRecord c = group_record("c", 3, "range", false, 3);
  store().store_group(b);
  store().store_group(c);
  store().store_group(a);
  commit_offsets("aa", {committed(t, 0, 1)}, 4);
  GroupRecord aa{"aa", "", 0, std::nullopt, true, 4, 0};
  EXPECT_EQ(store().list_groups(), (std::vector<GroupRecord>{a, aa, b, c}));
}

TEST_P(MetaStoreConformance, CommitCreatesTheGroupRecord) {
  Topic t = store().create_topic("t", 1, {});
  EXPECT_EQ(error_names(commit_offsets("fresh", {committed(t, 0, 10)}, 5000)), std::vector<std::string>{"NONE"});
  EXPECT_EQ(store().find_group("fresh"), (GroupRecord{"fresh", "", 0, std::nullopt, true, 5000, 0}));
  // Later commits leave an existing record alone.
  commit_offsets("fresh", {committed(t, 0, 11)}, 6000);
  EXPECT_EQ(store().find_group("fresh")->state_ms, 5000);
  GroupRecord joined = group_record("joined", 7, "range", false, 100);
  store().store_group(joined);
  commit_offsets("joined", {committed(t, 0, 3)}, 7000);
  EXPECT_EQ(store().find_group("joined"), joined);
}

TEST_P(MetaStoreConformance, CommitReplacesAnEarlierCommit) {
  Topic t = store().create_topic("t", 2, {});
  commit_offsets("g", {committed(t, 0, 10, 1000), committed(t, 1, 20, 1000)});
  CommittedOffset later = committed(t, 0, 15, 2000);
  later.leader_epoch = 3;
  later.metadata = "m";
  EXPECT_EQ(error_names(commit_offsets("g", {later}, 2000)), std::vector<std::string>{"NONE"});
  EXPECT_EQ(fetch_all("g").size(), 2u);
  EXPECT_EQ(fetch("g", {{t.id, 0}}), std::vector<CommittedOffset>{later});
  EXPECT_EQ(fetch("g", {{t.id, 1}}), std::vector<CommittedOffset>{committed(t, 1, 20, 1000)});
  // Moving back is allowed: a consumer may reset its position.
  commit_offsets("g", {committed(t, 0, 2, 3000)});
  EXPECT_EQ(fetch("g", {{t.id, 0}}).at(0).offset, 2);
}

TEST_P(MetaStoreConformance, CommitToUnknownPartitionsFailsOnlyThose) {
  Topic t = store().create_topic("t", 2, {});
  Topic unknown_topic = t;
  unknown_topic.id.bytes[5] ^= 0x21;
  std::vector<ErrorCode> codes = commit_offsets(
      "g", {committed(t, 0, 1), committed(t, 2, 2), committed(unknown_topic, 0, 3), committed(t, -1, 4),
            committed(t, 1, 5)});
  EXPECT_EQ(error_names(codes), (std::vector<std::string>{"NONE", "UNKNOWN_TOPIC_OR_PARTITION",
                                                           "UNKNOWN_TOPIC_OR_PARTITION",
                                                           "UNKNOWN_TOPIC_OR_PARTITION", "NONE"}));
  EXPECT_EQ(fetch_all("g"), (std::vector<CommittedOffset>{committed(t, 0, 1), committed(t, 1, 5)}));
  EXPECT_TRUE(fetch("g", {{t.id, 2}, {unknown_topic.id, 0}}).empty());
}

TEST_P(MetaStoreConformance, OffsetMetadataEmptyAndLong) {
  Topic t = store().create_topic("t", 3, {});
  CommittedOffset none = committed(t, 0, 1);
  CommittedOffset long_text = committed(t, 1, 2);
  for (size_t i = 0; i < 4096; ++i) long_text.metadata.push_back(static_cast<char>('a' + i % 26));
  CommittedOffset utf8 = committed(t, 2, 3);
  utf8.metadata = "Gr\xc3\xbc\xc3\x9f" "e \xe2\x9c\x93";
  commit_offsets("g", {none, long_text, utf8});
  std::vector<CommittedOffset> all = fetch_all("g");
  std::sort(all.begin(), all.end(), [](const auto& a, const auto& b) { return a.partition < b.partition; });
  ASSERT_EQ(all.size(), 3u);
  EXPECT_EQ(all[0].metadata, "");
  EXPECT_EQ(all[1].metadata.size(), 4096u);
  EXPECT_EQ(all[1], long_text);
  EXPECT_EQ(all[2], utf8);
}

TEST_P(MetaStoreConformance, LeaderEpochAndExpiryRoundTrip) {
  Topic t = store().create_topic("t", 2, {});
  CommittedOffset with = committed(t, 0, 40, 1500);
  with.leader_epoch = 12;
  with.expire_ms = 86'401'500;
  CommittedOffset without = committed(t, 1, 50, 1600);
  commit_offsets("g", {with, without});
  EXPECT_EQ(fetch("g", {{t.id, 0}, {t.id, 1}}), (std::vector<CommittedOffset>{with, without}));
  EXPECT_EQ(fetch("g", {{t.id, 1}}).at(0).leader_epoch, -1);
  EXPECT_EQ(fetch("g", {{t.id, 1}}).at(0).expire_ms, std::nullopt);
  // A later commit without retention clears the expiry.
  CommittedOffset again = committed(t, 0, 41, 1700);
  commit_offsets("g", {again});
  EXPECT_EQ(fetch("g", {{t.id, 0}}), std::vector<CommittedOffset>{again});
}

TEST_P(MetaStoreConformance, FetchAllIsOrderedListedIsAsAsked) {
  Topic a = store().create_topic("a", 3, {});
  Topic b = store().create_topic("b", 2, {});
  // Committed in neither order.
  std::vector<CommittedOffset> offsets{committed(b, 1, 1), committed(a, 2, 2), committed(b, 0, 3),
                                       committed(a, 0, 4)};
  commit_offsets("g", offsets);
  commit_offsets("other", {committed(a, 1, 99)});

  std::vector<CommittedOffset> expected = offsets;
  std::sort(expected.begin(), expected.end(), [](const auto& x, const auto& y) { return x.partition < y.partition; });
  EXPECT_EQ(fetch_all("g"), expected) << "ordered by topic id, then partition";

  Uuid unknown = a.id;
  unknown.bytes[0] ^= 0x80;
  // a-1 has an offset only in the other group, b-5 and the unknown topic do
  // not exist: all left out; the rest in the order asked.
  EXPECT_EQ(fetch("g", {{a.id, 0}, {a.id, 1}, {b.id, 1}, {unknown, 0}, {b.id, 5}, {a.id, 2}}),
            (std::vector<CommittedOffset>{committed(a, 0, 4), committed(b, 1, 1), committed(a, 2, 2)}));
  EXPECT_TRUE(fetch("g", {}).empty());
  EXPECT_TRUE(fetch_all("never-committed").empty());
  EXPECT_TRUE(fetch("never-committed", {{a.id, 0}}).empty());
}

TEST_P(MetaStoreConformance, DeleteOffsetsKeepsTheGroupRecord) {
  Topic t = store().create_topic("t", 3, {});
  GroupRecord g = group_record("g", 2, "range", false, 10);
  store().store_group(g);
  commit_offsets("g", {committed(t, 0, 1), committed(t, 1, 2), committed(t, 2, 3)});
  Uuid unknown = t.id;
  unknown.bytes[7] ^= 1;
  std::vector<PartitionId> which{{t.id, 0}, {t.id, 2}, {t.id, 9}, {unknown, 0}, {t.id, 0}};
  EXPECT_EQ(store().delete_offsets("g", which), 2u);
  EXPECT_EQ(fetch_all("g"), std::vector<CommittedOffset>{committed(t, 1, 2)});
  EXPECT_EQ(store().find_group("g"), g);
  EXPECT_EQ(store().delete_offsets("g", which), 0u);
  EXPECT_EQ(store().delete_offsets("no-such-group", which), 0u);
  std::vector<PartitionId> last{{t.id, 1}};
  EXPECT_EQ(store().delete_offsets("g", last), 1u);
  EXPECT_TRUE(fetch_all("g").empty());
  EXPECT_EQ(store().find_group("g"), g);
}

TEST_P(MetaStoreConformance, DeleteGroupRemovesRecordAndOffsets) {
  Topic t = store().create_topic("t", 2, {});
  commit_offsets("g", {committed(t, 0, 1), committed(t, 1, 2)});
  store().store_group(group_record("record-only", 1, std::nullopt, true, 5));
  EXPECT_TRUE(store().delete_group("g"));
  EXPECT_EQ(store().find_group("g"), std::nullopt);
  EXPECT_TRUE(fetch_all("g").empty());
  EXPECT_TRUE(fetch("g", {{t.id, 0}}).empty());
  EXPECT_FALSE(store().delete_group("g"));
  EXPECT_FALSE(store().delete_group("never-existed"));
  EXPECT_TRUE(store().delete_group("record-only"));
  EXPECT_TRUE(store().list_groups().empty());

  // The id can be used again, from nothing.
  commit_offsets("g", {committed(t, 1, 7)}, 9000);
  EXPECT_EQ(fetch_all("g"), std::vector<CommittedOffset>{committed(t, 1, 7)});
  EXPECT_EQ(store().find_group("g"), (GroupRecord{"g", "", 0, std::nullopt, true, 9000, 0}));
}

// Expiry deletes only what it read: an offset committed again since keeps
// its new value, and the group record goes only when nothing is left.
TEST_P(MetaStoreConformance, ExpireOffsetsKeepsNewerCommits) {
  Topic t = store().create_topic("t", 3, {});
  commit_offsets("g", {committed(t, 0, 1, 100), committed(t, 1, 2, 100), committed(t, 2, 3, 100)});
  std::vector<CommittedOffset> seen = fetch_all("g");
  ASSERT_EQ(seen.size(), 3u);
  // Partition 1 is committed again between the read and the expiry.
  commit_offsets("g", {committed(t, 1, 9, 200)});
  auto out = store().expire_offsets("g", seen, true);
  EXPECT_EQ(out.offsets_deleted, 2u);
  EXPECT_FALSE(out.group_deleted);
  EXPECT_EQ(fetch_all("g"), std::vector<CommittedOffset>{committed(t, 1, 9, 200)});
  EXPECT_TRUE(store().find_group("g"));

  // Expiring what is left, without dropping the record, keeps the record.
  out = store().expire_offsets("g", fetch_all("g"), false);
  EXPECT_EQ(out.offsets_deleted, 1u);
  EXPECT_FALSE(out.group_deleted);
  EXPECT_TRUE(store().find_group("g"));
  // Nothing left and asked to: the record goes.
  out = store().expire_offsets("g", {}, true);
  EXPECT_EQ(out.offsets_deleted, 0u);
  EXPECT_TRUE(out.group_deleted);
  EXPECT_EQ(store().find_group("g"), std::nullopt);
  // Unknown group: nothing happens.
  out = store().expire_offsets("nobody", {}, true);
  EXPECT_FALSE(out.group_deleted);
}

TEST_P(MetaStoreConformance, DeleteTopicRemovesOnlyItsOffsets) {
  Topic doomed = store().create_topic("doomed", 2, {});
  Topic kept = store().create_topic("kept", 1, {});
  commit("o", {batch(doomed, 0, 3), batch(kept, 0, 3)});
  commit_offsets("g", {committed(doomed, 0, 3), committed(doomed, 1, 0), committed(kept, 0, 2)});
  commit_offsets("h", {committed(doomed, 1, 1)});
  store().delete_topic(doomed.id);
  EXPECT_EQ(fetch_all("g"), std::vector<CommittedOffset>{committed(kept, 0, 2)});
  EXPECT_TRUE(fetch_all("h").empty());
  EXPECT_TRUE(fetch("g", {{doomed.id, 0}}).empty());
  // The groups themselves stay.
  EXPECT_TRUE(store().find_group("g"));
  EXPECT_TRUE(store().find_group("h"));

  // A topic re-created under the name starts with no offsets.
  Topic again = store().create_topic("doomed", 2, {});
  EXPECT_TRUE(fetch("g", {{again.id, 0}, {again.id, 1}}).empty());
  EXPECT_EQ(error_names(commit_offsets("g", {committed(doomed, 0, 5)})),
            std::vector<std::string>{"UNKNOWN_TOPIC_OR_PARTITION"});
}

TEST_P(MetaStoreConformance, NewPartitionsTakeOffsets) {
  Topic t = store().create_topic("t", 1, {});
  EXPECT_EQ(error_names(commit_offsets("g", {committed(t, 1, 4)})),
            std::vector<std::string>{"UNKNOWN_TOPIC_OR_PARTITION"});
  store().create_partitions(t.id, 3);
  EXPECT_EQ(error_names(commit_offsets("g", {committed(t, 1, 4), committed(t, 2, 6)})),
            (std::vector<std::string>{"NONE", "NONE"}));
  EXPECT_EQ(fetch_all("g"), (std::vector<CommittedOffset>{committed(t, 1, 4), committed(t, 2, 6)}));
}

TEST_P(MetaStoreConformance, GroupsAreIndependent) {
  Topic t = store().create_topic("t", 1, {});
  store().store_group(group_record("a", 4, "range", false, 1));
  store().store_group(group_record("b", 1, "range", false, 1));
  commit_offsets("a", {committed(t, 0, 10)});
  commit_offsets("b", {committed(t, 0, 20)});
  EXPECT_EQ(fetch_all("a"), std::vector<CommittedOffset>{committed(t, 0, 10)});
  EXPECT_EQ(fetch_all("b"), std::vector<CommittedOffset>{committed(t, 0, 20)});
  // Generations are per group: b may store a generation below a's.
  store().store_group(group_record("b", 2, "range", false, 2));
  EXPECT_EQ(store().find_group("a")->generation, 4);

  std::vector<PartitionId> p0{{t.id, 0}};
  EXPECT_EQ(store().delete_offsets("a", p0), 1u);
  EXPECT_EQ(fetch_all("b"), std::vector<CommittedOffset>{committed(t, 0, 20)});
  commit_offsets("a", {committed(t, 0, 11)});
  EXPECT_TRUE(store().delete_group("b"));
  EXPECT_EQ(fetch_all("a"), std::vector<CommittedOffset>{committed(t, 0, 11)});
  EXPECT_EQ(store().find_group("a")->generation, 4);
}

}  // namespace
}  // namespace floe::meta::testing
