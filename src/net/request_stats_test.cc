#include "net/request_stats.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <random>
#include <thread>

namespace floe::net {
namespace {

using std::chrono::microseconds;
using H = LatencyHistogram;

TEST(LatencyHistogram, BucketsTileTheValuesWithoutGapsAndStayNarrow) {
  for (size_t b = 0; b + 1 < H::kBuckets; ++b) {
    ASSERT_EQ(H::bucket_high(b) + 1, H::bucket_low(b + 1)) << "bucket " << b;
    ASSERT_EQ(H::bucket_of(H::bucket_low(b)), b);
    ASSERT_EQ(H::bucket_of(H::bucket_high(b)), b);
    // At most 1/128 of its values wide (exact below 128 µs).
    ASSERT_LE(H::bucket_high(b) - H::bucket_low(b) + 1, std::max<uint64_t>(1, H::bucket_low(b) / H::kSub)) << b;
  }
  EXPECT_EQ(H::bucket_of(0), 0u);
  EXPECT_EQ(H::bucket_of(127), 127u);
  EXPECT_EQ(H::bucket_of(128), 128u);
  // Past the last power of two kept, everything shares the last bucket.
  EXPECT_EQ(H::bucket_of(uint64_t{1} << 41), H::kBuckets - 1);
  EXPECT_EQ(H::bucket_of(UINT64_MAX), H::kBuckets - 1);
  std::mt19937_64 rng(7);
  for (int i = 0; i < 100000; ++i) {
    const uint64_t v = rng() >> (rng() % 64);
    const size_t b = H::bucket_of(v);
    ASSERT_LE(H::bucket_low(b), v);
    if (b + 1 < H::kBuckets) ASSERT_GE(H::bucket_high(b), v);
  }
}

TEST(LatencyHistogram, QuantilesAreWithinHalfAPercentOfTheExactOnes) {
  // Log-normal latencies around 150 ms with a long tail, as produce sees.
  std::mt19937_64 rng(42);
  std::lognormal_distribution<double> dist(std::log(150000.0), 0.6);
  H h;
  std::vector<uint64_t> values;
  for (int i = 0; i < 200000; ++i) {
    const auto v = static_cast<uint64_t>(dist(rng));
    values.push_back(v);
    h.record(microseconds(v));
  }
  std::sort(values.begin(), values.end());
  const H::Snapshot s = h.snapshot();
  ASSERT_EQ(s.count, values.size());
  EXPECT_EQ(s.max_us, values.back());
  uint64_t sum = 0;
  for (uint64_t v : values) sum += v;
  EXPECT_EQ(s.sum_us, sum);
  for (double q : {0.01, 0.5, 0.9, 0.99, 0.999, 1.0}) {
    const auto rank = static_cast<size_t>(std::ceil(q * static_cast<double>(values.size())));
    const double exact = static_cast<double>(values[rank - 1]);
    EXPECT_NEAR(s.quantile_us(q), exact, exact * 0.005) << "q " << q;
  }
  EXPECT_LE(s.quantile_us(1.0), static_cast<double>(s.max_us));
}

TEST(LatencyHistogram, SmallValuesAreExactAndEmptyReportsZero) {
  H h;
  EXPECT_EQ(h.snapshot().count, 0u);
  EXPECT_EQ(h.snapshot().quantile_us(0.99), 0.0);
  for (uint64_t v : {3, 3, 5, 90, 127}) h.record(microseconds(v));
  h.record(microseconds(-4));  // a clock that went back counts as 0
  const H::Snapshot s = h.snapshot();
  EXPECT_EQ(s.count, 6u);
  EXPECT_EQ(s.quantile_us(1.0 / 6), 0.0);
  EXPECT_EQ(s.quantile_us(0.5), 3.0);
  EXPECT_EQ(s.quantile_us(4.0 / 6), 5.0);
  EXPECT_EQ(s.quantile_us(1.0), 127.0);
  EXPECT_EQ(s.max_us, 127u);
}

TEST(LatencyHistogram, AValuePastTheRangeIsKeptAndReportedByItsMax) {
  H h;
  const uint64_t huge = uint64_t{1} << 50;
  h.record(microseconds(static_cast<int64_t>(huge)));
  const H::Snapshot s = h.snapshot();
  EXPECT_EQ(s.count, 1u);
  EXPECT_EQ(s.max_us, huge);
  EXPECT_GE(s.quantile_us(0.99), static_cast<double>(H::bucket_low(H::kBuckets - 1)));
  EXPECT_LE(s.quantile_us(0.99), static_cast<double>(huge));
}

TEST(LatencyHistogram, ConcurrentRecordsAreAllCounted) {
  H h;
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&h, t] {
      for (int i = 0; i < 50000; ++i) h.record(microseconds(1000 * t + i % 1000));
    });
  }
  for (auto& t : threads) t.join();
  const H::Snapshot s = h.snapshot();
  EXPECT_EQ(s.count, 200000u);
  EXPECT_EQ(s.max_us, 3999u);
}

TEST(RequestStats, KeepsAHistogramPerApiAndIgnoresKeysOutOfRange) {
  RequestStats stats;
  EXPECT_TRUE(stats.snapshot().empty());
  EXPECT_EQ(RequestStats::describe(stats.snapshot()), "none");
  stats.record(0, microseconds(250000));
  stats.record(0, microseconds(270000));
  stats.record(1, microseconds(1000));
  stats.record(-1, microseconds(5));
  stats.record(RequestStats::kMaxApiKey + 1, microseconds(5));
  stats.record(RequestStats::kMaxApiKey, microseconds(5));
  const auto snap = stats.snapshot();
  ASSERT_EQ(snap.size(), 3u);
  EXPECT_EQ(snap[0].api_key, 0);
  EXPECT_EQ(snap[0].latency.count, 2u);
  EXPECT_EQ(snap[1].api_key, 1);
  EXPECT_EQ(snap[1].latency.count, 1u);
  EXPECT_EQ(snap[2].api_key, RequestStats::kMaxApiKey);
  const std::string line = RequestStats::describe(stats.snapshot());
  EXPECT_NE(line.find("Produce 2 p50 2"), std::string::npos) << line;  // 250 ms, within a bucket
  EXPECT_NE(line.find("max 270.0 ms; Fetch 1 p50 1.0"), std::string::npos) << line;
  EXPECT_NE(line.find("api 127 1 "), std::string::npos) << line;

  // take() hands over what was counted and starts again.
  const auto taken = stats.take();
  EXPECT_EQ(RequestStats::describe(taken), line);
  EXPECT_TRUE(stats.snapshot().empty());
  stats.record(0, microseconds(7));
  const auto after = stats.snapshot();
  ASSERT_EQ(after.size(), 1u);
  EXPECT_EQ(after[0].latency.count, 1u);
  EXPECT_EQ(after[0].latency.max_us, 7u);
  EXPECT_EQ(after[0].latency.sum_us, 7u);
}

}  // namespace
}  // namespace floe::net
