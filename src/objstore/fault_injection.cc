#include "objstore/fault_injection.h"

#include <stdexcept>

#include "objstore/backend_util.h"

namespace floe::objstore {

namespace {

void check_rates(const FaultRates& r) {
  auto probability = [](double p) { return p >= 0 && p <= 1; };
  if (!probability(r.put_fail_before) || !probability(r.put_fail_after) || !probability(r.get_fail_before) ||
      !probability(r.get_fail_after) || r.put_fail_before + r.put_fail_after > 1 ||
      r.get_fail_before + r.get_fail_after > 1) {
    throw std::invalid_argument("fault rates must be probabilities, at most 1 per operation together");
  }
}

}  // namespace

FaultInjectingStore::FaultInjectingStore(ObjectStore& inner, FaultRates rates, uint64_t seed)
    : inner_(inner), rates_(rates), random_(seed) {
  check_rates(rates);
}

void FaultInjectingStore::set_rates(FaultRates rates) {
  check_rates(rates);
  std::lock_guard lock(mu_);
  rates_ = rates;
}

FaultInjectingStore::Outcome FaultInjectingStore::draw(double FaultRates::*before, double FaultRates::*after) {
  std::lock_guard lock(mu_);
  // The top 53 bits as a double in [0, 1): the same draws with every
  // standard library, unlike std::uniform_real_distribution.
  double u = static_cast<double>(random_() >> 11) * 0x1.0p-53;
  if (u < rates_.*before) return Outcome::fail_before;
  if (u < rates_.*before + rates_.*after) return Outcome::fail_after;
  return Outcome::pass;
}

void FaultInjectingStore::put(const std::string& key, std::span<const uint8_t> data) {
  counted(counters_.put, [&] {
    Outcome outcome = draw(&FaultRates::put_fail_before, &FaultRates::put_fail_after);
    if (outcome == Outcome::fail_before) {
      failed_before_.fetch_add(1, std::memory_order_relaxed);
      throw ObjectStoreError(ErrorKind::retriable, "injected fault: put '" + key + "' failed before writing");
    }
    inner_.put(key, data);
    if (outcome == Outcome::fail_after) {
      failed_after_.fetch_add(1, std::memory_order_relaxed);
      throw ObjectStoreError(ErrorKind::retriable,
                             "injected fault: put '" + key + "' was stored but its response was lost");
    }
    counters_.put.bytes.fetch_add(data.size(), std::memory_order_relaxed);
  });
}

Bytes FaultInjectingStore::get(const std::string& key, std::optional<ByteRange> range) {
  return counted(counters_.get, [&] {
    Outcome outcome = draw(&FaultRates::get_fail_before, &FaultRates::get_fail_after);
    if (outcome == Outcome::fail_before) {
      failed_before_.fetch_add(1, std::memory_order_relaxed);
      throw ObjectStoreError(ErrorKind::retriable, "injected fault: get '" + key + "' failed before reading");
    }
    Bytes bytes = inner_.get(key, range);
    if (outcome == Outcome::fail_after) {
      failed_after_.fetch_add(1, std::memory_order_relaxed);
      throw ObjectStoreError(ErrorKind::retriable, "injected fault: get '" + key + "' read, then failed");
    }
    counters_.get.bytes.fetch_add(bytes.size(), std::memory_order_relaxed);
    return bytes;
  });
}

void FaultInjectingStore::remove(std::span<const std::string> keys) {
  counted(counters_.remove, [&] { inner_.remove(keys); });
}

std::vector<ObjectInfo> FaultInjectingStore::list(const std::string& prefix) {
  return counted(counters_.list, [&] { return inner_.list(prefix); });
}

}  // namespace floe::objstore
