// How long the broker took to answer requests, per API: from the moment a
// request's last byte was read to the moment its response was handed to the
// socket. This is the broker's own share of a client's request latency; the
// rest is the client's queueing and the network.
//
// Threads: every method may be called from any thread at any time. Counts
// are relaxed atomics: a snapshot taken while requests are being recorded
// may have a request in its bucket but not yet in sum_us or max_us (or the
// other way round), which is fine for reporting.
#pragma once

#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace floe::net {

// Request latencies in microseconds, in log-linear buckets: exact below 128
// µs, then 128 buckets per power of two, so a bucket is at most 1/128 of its
// value wide and a percentile (a bucket's midpoint) is within 0.4% of the
// true one. Values past ~2^40 µs (12 days) land in the last bucket.
class LatencyHistogram {
 public:
  static constexpr int kSubBits = 7;
  static constexpr uint64_t kSub = uint64_t{1} << kSubBits;
  static constexpr int kMaxExponent = 40;
  static constexpr size_t kBuckets = kSub + (kMaxExponent - kSubBits + 1) * kSub;

  void record(std::chrono::microseconds latency);

  struct Snapshot {
    uint64_t count = 0;
    uint64_t max_us = 0;
    uint64_t sum_us = 0;
    std::vector<uint64_t> buckets;  // kBuckets counts; empty when count is 0
    // The q-quantile (0 < q <= 1) in microseconds: the midpoint of the bucket
    // holding the ceil(q * count)-th smallest value, never above max_us.
    // 0 when nothing was recorded.
    double quantile_us(double q) const;
  };
  Snapshot snapshot() const;
  // The counts so far, and starts again from nothing. A request recorded
  // meanwhile counts in this snapshot or the next.
  Snapshot take();

  // Exposed for tests: the bucket of a value and the values a bucket holds.
  static size_t bucket_of(uint64_t us);
  static uint64_t bucket_low(size_t bucket);   // smallest value in it
  static uint64_t bucket_high(size_t bucket);  // largest value in it

 private:
  std::array<std::atomic<uint64_t>, kBuckets> buckets_{};
  std::atomic<uint64_t> sum_us_{0};
  std::atomic<uint64_t> max_us_{0};
};

// A histogram per API key, made on the first request of that API.
class RequestStats {
 public:
  static constexpr int16_t kMaxApiKey = 127;  // Kafka's keys are below 100

  RequestStats() = default;
  ~RequestStats();
  RequestStats(const RequestStats&) = delete;
  RequestStats& operator=(const RequestStats&) = delete;

  // Keys outside [0, kMaxApiKey] (requests the broker rejects) are not kept.
  void record(int16_t api_key, std::chrono::microseconds latency);

  struct Entry {
    int16_t api_key;
    LatencyHistogram::Snapshot latency;
  };
  // The APIs that have been answered, by key.
  std::vector<Entry> snapshot() const;
  // The same, and starts every histogram again from nothing.
  std::vector<Entry> take();

  // One line for logs: per API by name, "Produce 409600 p50 150.1 p99 270.3
  // p99.9 281.0 max 290.2 ms; Fetch ..."; "none" when nothing was answered.
  static std::string describe(const std::vector<Entry>& entries);

 private:
  std::array<std::atomic<LatencyHistogram*>, kMaxApiKey + 1> by_key_{};
};

}  // namespace floe::net
