// What every backend does the same way: key rules, range arithmetic, counting
// requests. Backends use it; callers of ObjectStore do not need it.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "objstore/object_store.h"

namespace floe::objstore {

// The file backend writes an object under this name first and renames it into
// place; no key segment may start with it, so a temporary is never a key.
inline constexpr std::string_view temporary_prefix = ".tmp-";

inline constexpr size_t max_key_bytes = 1024;     // S3's limit
inline constexpr size_t max_segment_bytes = 255;  // NAME_MAX of common file systems

// Why `key` is not a valid object key ("" when it is). See object_store.h.
std::string key_problem(std::string_view key);

// Throws ObjectStoreError(other) naming the key and the problem.
void validate_key(const std::string& key);

// The part of an object of `size` bytes that get(key, range) returns.
// Throws ObjectStoreError(other) for a range that starts at or past the end
// or has length 0.
struct Slice {
  uint64_t offset = 0;
  uint64_t length = 0;
};
Slice resolve_range(const std::string& key, uint64_t size, std::optional<ByteRange> range);

// Runs `op`, counting one request on `counter` and, if `op` throws, one error
// (the exception goes on to the caller).
template <typename Op>
auto counted(OperationCounter& counter, Op&& op) -> decltype(op()) {
  counter.requests.fetch_add(1, std::memory_order_relaxed);
  try {
    return op();
  } catch (...) {
    counter.errors.fetch_add(1, std::memory_order_relaxed);
    throw;
  }
}

}  // namespace floe::objstore
