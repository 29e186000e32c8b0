// The conformance suite every MetaStore backend passes: a value-parameterized
// GoogleTest fixture whose parameter opens a fresh, empty store.
//
// The cases (TEST_P) live once in meta_store_conformance_test.cc; a backend's
// test file only instantiates them:
//
//   INSTANTIATE_TEST_SUITE_P(Sqlite, MetaStoreConformance,
//       ::testing::Values(MetaStoreBackend{"sqlite", [](const std::filesystem::path& dir) {
//         return std::make_unique<SqliteMetaStore>((dir / "meta.db").string());
//       }}),
//       [](const auto& info) { return info.param.name; });
//
// The cases assert the contract of meta_store.h only, never a backend's
// schema or plans; backend-specific tests sit beside the backend.
#pragma once

#include <gtest/gtest.h>
#include <stdlib.h>

#include <algorithm>
#include <filesystem>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "meta/meta_store.h"

namespace floe::meta::testing {

struct MetaStoreBackend {
  std::string name;  // a GoogleTest name: letters, digits, '_'
  // Opens a fresh, empty store. `scratch` is an empty folder the test owns
  // and removes afterwards (after the store is destroyed); a backend that
  // keeps no files ignores it. Called once per test (twice when a test
  // reopens the store).
  std::function<std::unique_ptr<MetaStore>(const std::filesystem::path& scratch)> open;
};

// A folder under the system temp folder, removed with everything in it when
// the object goes.
class ScratchDir {
 public:
  ScratchDir() {
    std::string pattern = (std::filesystem::temp_directory_path() / "floe-meta-XXXXXX").string();
    if (::mkdtemp(pattern.data()) == nullptr) throw std::runtime_error("mkdtemp failed for " + pattern);
    path_ = pattern;
  }
  ~ScratchDir() {
    std::error_code ec;  // best effort in a destructor; a leftover is visible in the temp folder
    std::filesystem::remove_all(path_, ec);
  }
  ScratchDir(const ScratchDir&) = delete;
  ScratchDir& operator=(const ScratchDir&) = delete;
  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
};

class MetaStoreConformance : public ::testing::TestWithParam<MetaStoreBackend> {
 protected:
  void SetUp() override { store_ = GetParam().open(scratch_.path()); }
  void TearDown() override { store_.reset(); }

  MetaStore& store() { return *store_; }

  // A plain (non-idempotent) batch of `count` records at [byte_offset,
  // byte_offset + length) of its object.
  static PendingBatch batch(const Topic& t, int32_t partition, int32_t count, uint64_t byte_offset = 0,
                            uint32_t length = 100, int64_t max_timestamp = -1) {
    PendingBatch b;
    b.topic_id = t.id;
    b.partition = partition;
    b.byte_offset = byte_offset;
    b.byte_length = length;
    b.record_count = count;
    b.max_timestamp = max_timestamp;
    return b;
  }

  static PendingBatch idempotent(const Topic& t, int32_t partition, int64_t producer_id, int16_t epoch,
                                 int32_t base_sequence, int32_t count) {
    PendingBatch b = batch(t, partition, count);
    b.producer_id = producer_id;
    b.producer_epoch = epoch;
    b.base_sequence = base_sequence;
    return b;
  }

  // Commits `batches` as one object named `key`. Batches whose byte_offset is
  // 0 are laid out one after the other; the object is as large as needed.
  CommitOutcome commit(const std::string& key, std::vector<PendingBatch> batches, int64_t append_time_ms = 1000) {
    uint64_t end = 0;
    for (auto& b : batches) {
      if (b.byte_offset == 0) b.byte_offset = end;
      end = std::max(end, b.byte_offset + b.byte_length);
    }
    return store().commit_object(ObjectCommit{key, end, append_time_ms}, batches);
  }

  // As commit(), but batches whose byte_offset is 0 are laid out with a
  // one-byte gap between them, so that each stays a run of its own
  // (BatchLocation): for tests about single batches.
  CommitOutcome commit_apart(const std::string& key, std::vector<PendingBatch> batches,
                             int64_t append_time_ms = 1000) {
    uint64_t end = 0;
    for (auto& b : batches) {
      if (b.byte_offset == 0) b.byte_offset = end + 1;
      end = std::max(end, b.byte_offset + b.byte_length);
    }
    return store().commit_object(ObjectCommit{key, end, append_time_ms}, batches);
  }

  // Commits one batch in its own object and returns its result.
  CommitResult commit_one(const PendingBatch& b) {
    CommitOutcome out = commit("obj-" + std::to_string(next_object_++), {b});
    return out.results.at(0);
  }

  PartitionOffsets offsets(const Topic& t, int32_t partition) {
    auto o = store().partition_offsets(t.id, partition);
    if (!o) ADD_FAILURE() << "no partition " << partition << " of " << t.name;
    return o.value_or(PartitionOffsets{});
  }

  // A committed offset of `t`'s partition with no leader epoch, metadata or
  // expiry.
  static CommittedOffset committed(const Topic& t, int32_t partition, int64_t offset, int64_t commit_ms = 1000) {
    CommittedOffset o;
    o.partition = PartitionId{t.id, partition};
    o.offset = offset;
    o.commit_ms = commit_ms;
    return o;
  }

  std::vector<ErrorCode> commit_offsets(const std::string& group, const std::vector<CommittedOffset>& offsets,
                                        int64_t now_ms = 1000) {
    return store().commit_offsets(group, offsets, now_ms);
  }

  std::vector<CommittedOffset> fetch_all(const std::string& group) {
    return store().fetch_offsets(group, std::nullopt);
  }

  std::vector<CommittedOffset> fetch(const std::string& group, const std::vector<PartitionId>& which) {
    return store().fetch_offsets(group, std::span<const PartitionId>(which));
  }

  ScratchDir scratch_;
  std::unique_ptr<MetaStore> store_;
  int next_object_ = 0;
};

// Runs `fn` and returns the code of the MetaError it throws (none if it
// throws nothing; any other exception propagates).
template <typename Fn>
ErrorCode meta_error_of(Fn&& fn) {
  try {
    fn();
  } catch (const MetaError& e) {
    return e.code();
  }
  return ErrorCode::none;
}

}  // namespace floe::meta::testing
