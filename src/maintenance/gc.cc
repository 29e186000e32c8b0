#include "maintenance/gc.h"

#include <unordered_set>

#include "common/log.h"

namespace floe::maintenance {

GcResult collect_garbage(objstore::ObjectStore& objects, meta::MetaStore& meta, int64_t now_ms,
                         std::chrono::milliseconds orphan_grace) {
  GcResult r;
  auto unreferenced = meta.unreferenced_objects();
  if (!unreferenced.empty()) {
    std::vector<std::string> keys;
    for (const auto& o : unreferenced) keys.push_back(o.key);
    objects.remove(keys);
    meta.forget_objects(keys);
    r.unreferenced_deleted = keys.size();
  }
  std::unordered_set<std::string> known;
  for (auto& o : meta.objects()) known.insert(std::move(o.key));
  std::vector<std::string> orphans;
  for (const auto& info : objects.list("wal/")) {
    if (known.count(info.key)) continue;
    if (info.modified_ms > now_ms - orphan_grace.count()) continue;
    orphans.push_back(info.key);
  }
  if (!orphans.empty()) {
    objects.remove(orphans);
    r.orphans_deleted = orphans.size();
  }
  if (r.unreferenced_deleted || r.orphans_deleted) {
    FLOE_LOG(info, "gc") << "deleted " << r.unreferenced_deleted << " unreferenced and " << r.orphans_deleted
                         << " orphaned objects";
  }
  return r;
}

}  // namespace floe::maintenance
