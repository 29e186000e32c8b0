// Garbage collection of objects (DESIGN §6): objects that no batch references
// any more (topic deleted, records deleted) and orphans (uploaded but never
// committed: a crash between upload and commit, a failed commit, a lost
// upload response) are deleted from the object store.
//
// Orphans are recognised by absence from the metadata store, so a young object
// may be one another broker is committing right now: only objects older than
// the grace period are touched.
#pragma once

#include <chrono>
#include <cstdint>

#include "meta/meta_store.h"
#include "objstore/object_store.h"

namespace floe::maintenance {

struct GcResult {
  size_t unreferenced_deleted = 0;
  size_t orphans_deleted = 0;
};

// Blocking; run it on the blocking pool. `now_ms` is the wall clock.
GcResult collect_garbage(objstore::ObjectStore& objects, meta::MetaStore& meta, int64_t now_ms,
                         std::chrono::milliseconds orphan_grace);

}  // namespace floe::maintenance
