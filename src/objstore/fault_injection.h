// An ObjectStore wrapper that fails puts and gets on purpose, for tests of the
// modules above object storage (the WAL uploader's retries, the fetch path's
// error handling, garbage collection of objects whose commit never happened).
//
// Each put or get draws once from a seeded RNG and then either
//   - fails before reaching the wrapped store (nothing is written or read),
//   - reaches the wrapped store and then fails anyway: a "lost response",
//     the object is stored but the caller sees an error, as when an S3 PUT
//     succeeds and the connection drops before the reply, or
//   - passes through.
// Injected failures are ObjectStoreError(retriable). remove and list pass
// through untouched. With one thread the outcomes are a pure function of the
// seed; with several, each call still gets one independent draw.
#pragma once

#include <atomic>
#include <cstdint>
#include <mutex>
#include <random>

#include "objstore/object_store.h"

namespace floe::objstore {

struct FaultRates {
  double put_fail_before = 0;  // probability a put fails before writing
  double put_fail_after = 0;   // probability a put writes, then fails
  double get_fail_before = 0;
  double get_fail_after = 0;  // the wrapped store is read, then the call fails
};

class FaultInjectingStore final : public ObjectStore {
 public:
  // `inner` must outlive this wrapper. Throws std::invalid_argument if a
  // probability is outside [0, 1] or the two of an operation sum above 1.
  FaultInjectingStore(ObjectStore& inner, FaultRates rates, uint64_t seed);

  // Changes the rates from the next call on (a test heals the store this way).
  void set_rates(FaultRates rates);

  void put(const std::string& key, std::span<const uint8_t> data) override;
  Bytes get(const std::string& key, std::optional<ByteRange> range = std::nullopt) override;
  void remove(std::span<const std::string> keys) override;
  std::vector<ObjectInfo> list(const std::string& prefix) override;
  std::string describe() const override { return "faults(" + inner_.describe() + ")"; }

  // How many failures were injected, by kind.
  uint64_t failed_before() const { return failed_before_.load(std::memory_order_relaxed); }
  uint64_t failed_after() const { return failed_after_.load(std::memory_order_relaxed); }

 private:
  enum class Outcome { pass, fail_before, fail_after };
  Outcome draw(double FaultRates::*fail_before, double FaultRates::*fail_after);

  ObjectStore& inner_;
  std::mutex mu_;
  FaultRates rates_;        // GUARDED_BY(mu_)
  std::mt19937_64 random_;  // GUARDED_BY(mu_)
  std::atomic<uint64_t> failed_before_{0};
  std::atomic<uint64_t> failed_after_{0};
};

}  // namespace floe::objstore
