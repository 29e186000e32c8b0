// An object store in process memory (memory://), for tests: the same key
// rules, range semantics and counters as the other backends, no durability.
#pragma once

#include <map>
#include <memory>
#include <mutex>
#include <string>

#include "objstore/object_store.h"

namespace floe::objstore {

class MemoryObjectStore final : public ObjectStore {
 public:
  void put(const std::string& key, std::span<const uint8_t> data) override;
  bool create(const std::string& key, std::span<const uint8_t> data) override;
  Bytes get(const std::string& key, std::optional<ByteRange> range = std::nullopt) override;
  std::optional<ObjectInfo> head(const std::string& key) override;
  void remove(std::span<const std::string> keys) override;
  std::vector<ObjectInfo> list(const std::string& prefix) override;
  std::string describe() const override { return "memory://"; }

 private:
  struct Object {
    // Shared and immutable, so a get copies its bytes outside the lock and an
    // overwrite never changes bytes a reader is copying.
    std::shared_ptr<const Bytes> data;
    int64_t modified_ms = 0;
  };

  mutable std::mutex mu_;
  std::map<std::string, Object, std::less<>> objects_;  // GUARDED_BY(mu_)
};

}  // namespace floe::objstore
