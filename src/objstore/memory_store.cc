#include "objstore/memory_store.h"

#include "common/clock.h"

#include <chrono>

#include "objstore/backend_util.h"

namespace floe::objstore {

void MemoryObjectStore::put(const std::string& key, std::span<const uint8_t> data) {
  counted(counters_.put, [&] {
    validate_key(key);
    Object object{std::make_shared<const Bytes>(data.begin(), data.end()), unix_now_ms()};
    {
      std::lock_guard lock(mu_);
      objects_.insert_or_assign(key, std::move(object));
    }
    counters_.put.bytes.fetch_add(data.size(), std::memory_order_relaxed);
  });
}

bool MemoryObjectStore::create(const std::string& key, std::span<const uint8_t> data) {
  return counted(counters_.put, [&] {
    validate_key(key);
    Object object{std::make_shared<const Bytes>(data.begin(), data.end()), unix_now_ms()};
    bool created;
    {
      std::lock_guard lock(mu_);
      created = objects_.try_emplace(key, std::move(object)).second;
    }
    if (created) counters_.put.bytes.fetch_add(data.size(), std::memory_order_relaxed);
    return created;
  });
}

std::optional<ObjectInfo> MemoryObjectStore::head(const std::string& key) {
  return counted(counters_.head, [&]() -> std::optional<ObjectInfo> {
    validate_key(key);
    std::lock_guard lock(mu_);
    auto it = objects_.find(key);
    if (it == objects_.end()) return std::nullopt;
    return ObjectInfo{key, it->second.data->size(), it->second.modified_ms};
  });
}

Bytes MemoryObjectStore::get(const std::string& key, std::optional<ByteRange> range) {
  return counted(counters_.get, [&] {
    validate_key(key);
    std::shared_ptr<const Bytes> data;
    {
      std::lock_guard lock(mu_);
      auto it = objects_.find(key);
      if (it == objects_.end()) {
        throw ObjectStoreError(ErrorKind::not_found, "no object '" + key + "' in memory://");
      }
      data = it->second.data;
    }
    Slice slice = resolve_range(key, data->size(), range);
    auto first = data->begin() + static_cast<std::ptrdiff_t>(slice.offset);
    Bytes out(first, first + static_cast<std::ptrdiff_t>(slice.length));
    counters_.get.bytes.fetch_add(out.size(), std::memory_order_relaxed);
    return out;
  });
}

void MemoryObjectStore::remove(std::span<const std::string> keys) {
  counted(counters_.remove, [&] {
    // All keys are checked first so an invalid one removes nothing.
    for (const std::string& key : keys) validate_key(key);
    std::lock_guard lock(mu_);
    for (const std::string& key : keys) objects_.erase(key);
  });
}

std::vector<ObjectInfo> MemoryObjectStore::list(const std::string& prefix) {
  return counted(counters_.list, [&] {
    std::vector<ObjectInfo> out;
    std::lock_guard lock(mu_);
    for (auto it = objects_.lower_bound(prefix); it != objects_.end() && it->first.starts_with(prefix); ++it) {
      out.push_back({it->first, it->second.data->size(), it->second.modified_ms});
    }
    return out;
  });
}

}  // namespace floe::objstore
