// An ObjectStore wrapper that fails puts and gets on purpose, for tests of the
// modules above object storage (the WAL uploader's retries, the fetch path's
// error handling, garbage collection of objects whose commit never happened).
//
// Each put or get draws once from a seeded RNG and then either
//   - fails before reaching the wrapped store (nothing is written or read),
//   - hangs for FaultRates::timeout and then fails, as a request that timed
//     out (nothing is written),
//   - reaches the wrapped store and then fails anyway: a "lost response",
//     the object is stored but the caller sees an error, as when an S3 PUT
//     succeeds and the connection drops before the reply, or
//   - passes through.
// create draws as put does. Injected failures are ObjectStoreError(retriable).
// head, remove and list pass through untouched. With one thread the outcomes are a pure function of the
// seed; with several, each call still gets one independent draw.
//
// It can also add latency drawn from a profile of a real object store
// (latency_profile()): each put and get first sleeps for a draw from a
// log-normal distribution with the profile's median and 99th percentile, in
// the calling thread (the broker's blocking pool), so `make bench` and tests
// see S3-like timing on the memory or file backend.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <mutex>
#include <optional>
#include <random>
#include <string>
#include <string_view>

#include "objstore/object_store.h"

namespace floe::objstore {

struct FaultRates {
  double put_fail_before = 0;  // probability a put fails before writing
  double put_fail_after = 0;   // probability a put writes, then fails
  double put_timeout = 0;      // probability a put hangs for `timeout`, then fails, writing nothing
  double get_fail_before = 0;
  double get_fail_after = 0;  // the wrapped store is read, then the call fails
  double get_timeout = 0;
  // How long a timed-out call hangs: a client's request timeout.
  std::chrono::milliseconds timeout{2000};
};

// Latency of an object store's requests: median and 99th percentile, in
// milliseconds. Zeros add nothing.
struct LatencyProfile {
  std::string name = "none";
  double put_p50_ms = 0, put_p99_ms = 0;  // a PUT of 4-8 MiB, whole
  double get_p50_ms = 0, get_p99_ms = 0;  // a GET, to its first byte
};

// "none"; "s3-standard": PUT p50 100 ms, p99 400 ms, GET first byte p50 30 ms,
// p99 150 ms (public measurements of S3 Standard in one region); "s3-express"
// (S3 Express One Zone): a tenth of those. nullopt for another name.
std::optional<LatencyProfile> latency_profile(std::string_view name);

class FaultInjectingStore final : public ObjectStore {
 public:
  // `inner` must outlive this wrapper. Throws std::invalid_argument if a
  // probability is outside [0, 1] or those of one operation sum above 1.
  FaultInjectingStore(ObjectStore& inner, FaultRates rates, uint64_t seed, LatencyProfile latency = {});

  // Changes the rates from the next call on (a test heals the store this way).
  void set_rates(FaultRates rates);

  // The delay the next put or get would sleep, drawn as they draw it.
  std::chrono::microseconds draw_put_delay();
  std::chrono::microseconds draw_get_delay();

  void put(const std::string& key, std::span<const uint8_t> data) override;
  bool create(const std::string& key, std::span<const uint8_t> data) override;
  Bytes get(const std::string& key, std::optional<ByteRange> range = std::nullopt) override;
  std::optional<ObjectInfo> head(const std::string& key) override;
  void remove(std::span<const std::string> keys) override;
  std::vector<ObjectInfo> list(const std::string& prefix) override;
  std::string describe() const override {
    return (latency_.name == "none" ? "faults(" : "faults+" + latency_.name + "(") + inner_.describe() + ")";
  }

  // How many failures were injected, by kind.
  uint64_t failed_before() const { return failed_before_.load(std::memory_order_relaxed); }
  uint64_t failed_after() const { return failed_after_.load(std::memory_order_relaxed); }
  uint64_t timed_out() const { return timed_out_.load(std::memory_order_relaxed); }

 private:
  enum class Outcome { pass, fail_before, fail_after, timeout };
  Outcome draw(double FaultRates::*fail_before, double FaultRates::*fail_after, double FaultRates::*timeout);
  // Throws for fail_before and timeout (after hanging), else returns.
  void fail_early(Outcome outcome, const std::string& what);
  double uniform();  // REQUIRES: mu_
  std::chrono::microseconds draw_delay(double p50_ms, double p99_ms);

  ObjectStore& inner_;
  std::mutex mu_;
  FaultRates rates_;        // GUARDED_BY(mu_)
  const LatencyProfile latency_;
  std::mt19937_64 random_;  // GUARDED_BY(mu_)
  std::atomic<uint64_t> failed_before_{0};
  std::atomic<uint64_t> failed_after_{0};
  std::atomic<uint64_t> timed_out_{0};
};

}  // namespace floe::objstore
