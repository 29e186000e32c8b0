#include "objstore/fault_injection.h"

#include <cmath>
#include <stdexcept>
#include <thread>

#include "objstore/backend_util.h"

namespace floe::objstore {

namespace {

void check_rates(const FaultRates& r) {
  auto probability = [](double p) { return p >= 0 && p <= 1; };
  for (double p : {r.put_fail_before, r.put_fail_after, r.put_timeout, r.get_fail_before, r.get_fail_after,
                   r.get_timeout}) {
    if (!probability(p)) throw std::invalid_argument("fault rates must be probabilities");
  }
  if (r.put_fail_before + r.put_fail_after + r.put_timeout > 1 ||
      r.get_fail_before + r.get_fail_after + r.get_timeout > 1) {
    throw std::invalid_argument("the fault rates of one operation must add up to at most 1");
  }
  if (r.timeout.count() < 0) throw std::invalid_argument("the fault timeout must not be negative");
}

}  // namespace

std::optional<LatencyProfile> latency_profile(std::string_view name) {
  if (name == "none") return LatencyProfile{};
  if (name == "s3-standard") return LatencyProfile{"s3-standard", 100, 400, 30, 150};
  if (name == "s3-express") return LatencyProfile{"s3-express", 10, 40, 3, 15};
  return std::nullopt;
}

FaultInjectingStore::FaultInjectingStore(ObjectStore& inner, FaultRates rates, uint64_t seed, LatencyProfile latency)
    : inner_(inner), rates_(rates), latency_(std::move(latency)), random_(seed) {
  check_rates(rates);
}

double FaultInjectingStore::uniform() {
  // The top 53 bits as a double in [0, 1): the same draws with every
  // standard library, unlike std::uniform_real_distribution.
  return static_cast<double>(random_() >> 11) * 0x1.0p-53;
}

// Log-normal with the given median and 99th percentile: ln(delay) is normal
// with mean ln(p50) and sd ln(p99 / p50) / 2.3263 (the normal's 99th
// percentile), drawn by Box-Muller from the seeded generator.
std::chrono::microseconds FaultInjectingStore::draw_delay(double p50_ms, double p99_ms) {
  if (p50_ms <= 0) return std::chrono::microseconds{0};
  double u1, u2;
  {
    std::lock_guard lock(mu_);
    u1 = uniform();
    u2 = uniform();
  }
  const double z = std::sqrt(-2.0 * std::log(1.0 - u1)) * std::cos(2.0 * M_PI * u2);
  const double sigma = p99_ms > p50_ms ? std::log(p99_ms / p50_ms) / 2.3263478740 : 0.0;
  return std::chrono::microseconds(static_cast<int64_t>(1000.0 * p50_ms * std::exp(sigma * z)));
}

std::chrono::microseconds FaultInjectingStore::draw_put_delay() {
  return draw_delay(latency_.put_p50_ms, latency_.put_p99_ms);
}

std::chrono::microseconds FaultInjectingStore::draw_get_delay() {
  return draw_delay(latency_.get_p50_ms, latency_.get_p99_ms);
}

void FaultInjectingStore::set_rates(FaultRates rates) {
  check_rates(rates);
  std::lock_guard lock(mu_);
  rates_ = rates;
}

FaultInjectingStore::Outcome FaultInjectingStore::draw(double FaultRates::*before, double FaultRates::*after,
                                                       double FaultRates::*timeout) {
  std::lock_guard lock(mu_);
  double u = uniform();
  if (u < rates_.*before) return Outcome::fail_before;
  if (u < rates_.*before + rates_.*after) return Outcome::fail_after;
  if (u < rates_.*before + rates_.*after + rates_.*timeout) return Outcome::timeout;
  return Outcome::pass;
}

void FaultInjectingStore::fail_early(Outcome outcome, const std::string& what) {
  if (outcome == Outcome::fail_before) {
    failed_before_.fetch_add(1, std::memory_order_relaxed);
    throw ObjectStoreError(ErrorKind::retriable, "injected fault: " + what + " failed before reaching the store");
  }
  if (outcome == Outcome::timeout) {
    std::chrono::milliseconds hang;
    {
      std::lock_guard lock(mu_);
      hang = rates_.timeout;
    }
    std::this_thread::sleep_for(hang);
    timed_out_.fetch_add(1, std::memory_order_relaxed);
    throw ObjectStoreError(ErrorKind::retriable,
                           "injected fault: " + what + " timed out after " + std::to_string(hang.count()) + " ms");
  }
}

void FaultInjectingStore::put(const std::string& key, std::span<const uint8_t> data) {
  counted(counters_.put, [&] {
    std::this_thread::sleep_for(draw_put_delay());
    Outcome outcome = draw(&FaultRates::put_fail_before, &FaultRates::put_fail_after, &FaultRates::put_timeout);
    fail_early(outcome, "put '" + key + "'");
    inner_.put(key, data);
    if (outcome == Outcome::fail_after) {
      failed_after_.fetch_add(1, std::memory_order_relaxed);
      throw ObjectStoreError(ErrorKind::retriable,
                             "injected fault: put '" + key + "' was stored but its response was lost");
    }
    counters_.put.bytes.fetch_add(data.size(), std::memory_order_relaxed);
  });
}

bool FaultInjectingStore::create(const std::string& key, std::span<const uint8_t> data) {
  return counted(counters_.put, [&] {
    std::this_thread::sleep_for(draw_put_delay());
    Outcome outcome = draw(&FaultRates::put_fail_before, &FaultRates::put_fail_after, &FaultRates::put_timeout);
    fail_early(outcome, "create '" + key + "'");
    bool created = inner_.create(key, data);
    if (outcome == Outcome::fail_after) {
      failed_after_.fetch_add(1, std::memory_order_relaxed);
      throw ObjectStoreError(ErrorKind::retriable,
                             "injected fault: create '" + key + "' reached the store but its response was lost");
    }
    if (created) counters_.put.bytes.fetch_add(data.size(), std::memory_order_relaxed);
    return created;
  });
}

Bytes FaultInjectingStore::get(const std::string& key, std::optional<ByteRange> range) {
  return counted(counters_.get, [&] {
    std::this_thread::sleep_for(draw_get_delay());
    Outcome outcome = draw(&FaultRates::get_fail_before, &FaultRates::get_fail_after, &FaultRates::get_timeout);
    fail_early(outcome, "get '" + key + "'");
    Bytes bytes = inner_.get(key, range);
    if (outcome == Outcome::fail_after) {
      failed_after_.fetch_add(1, std::memory_order_relaxed);
      throw ObjectStoreError(ErrorKind::retriable, "injected fault: get '" + key + "' read, then failed");
    }
    counters_.get.bytes.fetch_add(bytes.size(), std::memory_order_relaxed);
    return bytes;
  });
}

std::optional<ObjectInfo> FaultInjectingStore::head(const std::string& key) {
  return counted(counters_.head, [&] { return inner_.head(key); });
}

void FaultInjectingStore::remove(std::span<const std::string> keys) {
  counted(counters_.remove, [&] { inner_.remove(keys); });
}

std::vector<ObjectInfo> FaultInjectingStore::list(const std::string& prefix) {
  return counted(counters_.list, [&] { return inner_.list(prefix); });
}

}  // namespace floe::objstore
