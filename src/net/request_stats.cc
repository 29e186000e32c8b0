#include "net/request_stats.h"

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstdio>

#include "protocol/generated/api_table.h"

namespace floe::net {

size_t LatencyHistogram::bucket_of(uint64_t us) {
  if (us < kSub) return static_cast<size_t>(us);
  const int exponent = std::bit_width(us) - 1;  // kSubBits..63
  if (exponent > kMaxExponent) return kBuckets - 1;
  const uint64_t sub = (us >> (exponent - kSubBits)) - kSub;  // the kSubBits bits under the top one
  return static_cast<size_t>(kSub + static_cast<uint64_t>(exponent - kSubBits) * kSub + sub);
}

uint64_t LatencyHistogram::bucket_low(size_t bucket) {
  if (bucket < kSub) return bucket;
  const uint64_t octave = (bucket - kSub) / kSub;  // exponent - kSubBits
  const uint64_t sub = (bucket - kSub) % kSub;
  return (kSub + sub) << octave;
}

uint64_t LatencyHistogram::bucket_high(size_t bucket) {
  if (bucket + 1 >= kBuckets) return UINT64_MAX;
  return bucket_low(bucket + 1) - 1;
}

void LatencyHistogram::record(std::chrono::microseconds latency) {
  const uint64_t us = latency.count() > 0 ? static_cast<uint64_t>(latency.count()) : 0;
  buckets_[bucket_of(us)].fetch_add(1, std::memory_order_relaxed);
  sum_us_.fetch_add(us, std::memory_order_relaxed);
  uint64_t seen = max_us_.load(std::memory_order_relaxed);
  while (us > seen && !max_us_.compare_exchange_weak(seen, us, std::memory_order_relaxed)) {
  }
}

namespace {

template <typename Read>
LatencyHistogram::Snapshot collect(Read read) {
  LatencyHistogram::Snapshot s;
  s.buckets.resize(LatencyHistogram::kBuckets);
  for (size_t i = 0; i < LatencyHistogram::kBuckets; ++i) s.count += s.buckets[i] = read(i);
  if (s.count == 0) s.buckets.clear();
  return s;
}

}  // namespace

// count is the buckets' total, so that quantiles always find their rank,
// even in a snapshot taken while requests are being recorded.
LatencyHistogram::Snapshot LatencyHistogram::snapshot() const {
  Snapshot s = collect([this](size_t i) { return buckets_[i].load(std::memory_order_relaxed); });
  s.sum_us = sum_us_.load(std::memory_order_relaxed);
  s.max_us = max_us_.load(std::memory_order_relaxed);
  return s;
}

LatencyHistogram::Snapshot LatencyHistogram::take() {
  Snapshot s = collect([this](size_t i) { return buckets_[i].exchange(0, std::memory_order_relaxed); });
  s.sum_us = sum_us_.exchange(0, std::memory_order_relaxed);
  s.max_us = max_us_.exchange(0, std::memory_order_relaxed);
  return s;
}

double LatencyHistogram::Snapshot::quantile_us(double q) const {
  if (count == 0) return 0;
  const auto rank = static_cast<uint64_t>(std::clamp(std::ceil(q * static_cast<double>(count)), 1.0,
                                                     static_cast<double>(count)));
  uint64_t seen = 0;
  for (size_t i = 0; i < buckets.size(); ++i) {
    seen += buckets[i];
    if (seen >= rank) {
      const double low = static_cast<double>(bucket_low(i));
      const double high = i + 1 >= kBuckets ? low : static_cast<double>(bucket_high(i));
      return std::min((low + high) / 2, static_cast<double>(std::max(max_us, bucket_low(i))));
    }
  }
  return static_cast<double>(max_us);
}

RequestStats::~RequestStats() {
  for (auto& h : by_key_) delete h.load();
}

void RequestStats::record(int16_t api_key, std::chrono::microseconds latency) {
  if (api_key < 0 || api_key > kMaxApiKey) return;
  auto& slot = by_key_[static_cast<size_t>(api_key)];
  LatencyHistogram* h = slot.load(std::memory_order_acquire);
  if (!h) {
    auto fresh = std::make_unique<LatencyHistogram>();
    LatencyHistogram* expected = nullptr;
    if (slot.compare_exchange_strong(expected, fresh.get(), std::memory_order_acq_rel)) {
      h = fresh.release();
    } else {
      h = expected;  // another thread made it first
    }
  }
  h->record(latency);
}

std::vector<RequestStats::Entry> RequestStats::snapshot() const {
  std::vector<Entry> out;
  for (size_t key = 0; key < by_key_.size(); ++key) {
    const LatencyHistogram* h = by_key_[key].load(std::memory_order_acquire);
    if (!h) continue;
    LatencyHistogram::Snapshot s = h->snapshot();
    if (s.count > 0) out.push_back({static_cast<int16_t>(key), std::move(s)});
  }
  return out;
}

std::vector<RequestStats::Entry> RequestStats::take() {
  std::vector<Entry> out;
  for (size_t key = 0; key < by_key_.size(); ++key) {
    LatencyHistogram* h = by_key_[key].load(std::memory_order_acquire);
    if (!h) continue;
    LatencyHistogram::Snapshot s = h->take();
    if (s.count > 0) out.push_back({static_cast<int16_t>(key), std::move(s)});
  }
  return out;
}

std::string RequestStats::describe(const std::vector<Entry>& entries) {
  std::string out;
  char buf[160];
  for (const Entry& e : entries) {
    const protocol::ApiInfo* api = protocol::find_api(e.api_key);
    const std::string name = api ? api->name : "api " + std::to_string(e.api_key);
    const auto ms = [&](double us) { return us / 1000.0; };
    std::snprintf(buf, sizeof buf, "%s%s %llu p50 %.1f p99 %.1f p99.9 %.1f max %.1f ms", out.empty() ? "" : "; ",
                  name.c_str(), static_cast<unsigned long long>(e.latency.count), ms(e.latency.quantile_us(0.5)),
                  ms(e.latency.quantile_us(0.99)), ms(e.latency.quantile_us(0.999)),
                  ms(static_cast<double>(e.latency.max_us)));
    out += buf;
  }
  return out.empty() ? "none" : out;
}

}  // namespace floe::net
