// The cluster id: generated once, then kept in the data directory so that it
// is stable across restarts (clients and tools key caches on it).
//
// It lives in DATA_DIR/cluster.id until the metadata store exists; shared
// stores will hold it there so that every broker of a cluster agrees.
#pragma once

#include <optional>
#include <string>

namespace floe::broker {

// Returns the persisted id, creating it (from `configured`, or a random
// UUID in Kafka's base64 form) on first start. Throws std::runtime_error if
// `configured` disagrees with the persisted id or the file cannot be written.
std::string load_or_create_cluster_id(const std::string& data_dir, const std::optional<std::string>& configured);

}  // namespace floe::broker
