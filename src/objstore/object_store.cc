#include "objstore/object_store.h"

#include <algorithm>
#include <cctype>
#include <cstdio>

#include "common/text.h"
#include "objstore/file_store.h"
#include "objstore/memory_store.h"
#include "objstore/s3_store.h"

namespace floe::objstore {

CostEstimate estimate_cost(const Counters& c, const Prices& p) {
  auto load = [](const std::atomic<uint64_t>& v) { return static_cast<double>(v.load(std::memory_order_relaxed)); };
  constexpr double kGiB = 1024.0 * 1024 * 1024;  // AWS bills a "GB" of 2^30 bytes
  CostEstimate e;
  e.requests = (load(c.put.requests) + load(c.list.requests)) * p.write_request +
               (load(c.get.requests) + load(c.head.requests)) * p.read_request;
  e.transfer = load(c.get.bytes) / kGiB * p.transfer_gb;
  e.storage_per_month = load(c.put.bytes) / kGiB * p.storage_gb_month;
  return e;
}

std::string describe_usage(const Counters& c, const Prices& p) {
  CostEstimate e = estimate_cost(c, p);
  auto n = [](const std::atomic<uint64_t>& v) { return std::to_string(v.load(std::memory_order_relaxed)); };
  char cost[160];
  std::snprintf(cost, sizeof cost, "estimated cost $%.6f for requests, $%.6f for transfer, $%.6f per month to store",
                e.requests, e.transfer, e.storage_per_month);
  return n(c.put.requests) + " PUT (" + n(c.put.bytes) + " bytes), " + n(c.get.requests) + " GET (" + n(c.get.bytes) +
         " bytes), " + n(c.head.requests) + " HEAD, " + n(c.remove.requests) + " DELETE, " + n(c.list.requests) +
         " LIST, " + n(c.retries) + " retried; " + cost;
}

std::unique_ptr<ObjectStore> open_object_store(const std::string& url,
                                               const std::map<std::string, std::string>& s3_settings) {
  size_t separator = url.find("://");
  if (separator == std::string::npos || separator == 0) {
    // The URL is not echoed: a malformed S3 URL may carry credentials.
    throw ObjectStoreError(ErrorKind::other,
                           "object store URL has no scheme (expected file://PATH, memory:// or s3://)");
  }
  std::string scheme = ascii_lower(url.substr(0, separator));
  std::string rest = url.substr(separator + 3);

  if (scheme == "file") {
    if (rest.empty()) throw ObjectStoreError(ErrorKind::other, "file:// object store URL has no path");
    return std::make_unique<FileObjectStore>(rest);
  }
  if (scheme == "memory") return std::make_unique<MemoryObjectStore>();
  if (scheme == "s3") return open_s3_store(url, s3_settings, aws::Environment::from_process());
  bool printable = std::all_of(scheme.begin(), scheme.end(),
                               [](unsigned char c) { return std::isalnum(c) || c == '+' || c == '-' || c == '.'; });
  throw ObjectStoreError(ErrorKind::other, "unsupported object store URL scheme '" +
                                               (printable ? scheme : std::string("?")) +
                                               "://' (expected file://, memory:// or s3://)");
}

}  // namespace floe::objstore
