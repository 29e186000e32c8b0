// The broker's process-wide state that handlers read: who this broker is,
// which cluster it belongs to, and where clients reach it.
//
// Threads: the identity and the service pointers are immutable after
// start-up, so handlers on any connection strand read them without a lock;
// each service documents its own concurrency.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "broker/config.h"

namespace asio {
class thread_pool;
}
namespace floe::meta {
class MetaStore;
}
namespace floe::objstore {
class ObjectStore;
}
namespace floe::ingest {
class WalWriter;
}
namespace floe::fetch {
class ReadPath;
}
namespace floe::groups {
class GroupCoordinator;
}

namespace floe::broker {

struct BrokerIdentity {
  int32_t node_id = 0;
  std::string cluster_id;
  std::optional<std::string> rack;
  // advertised.listeners with the ports that were actually bound.
  std::vector<Listener> advertised;
};

class TopicCache;

struct Broker {
  const Config& config;
  BrokerIdentity identity;

  // Services, owned by run_broker() and set before the first request.
  meta::MetaStore* meta = nullptr;
  objstore::ObjectStore* objects = nullptr;
  asio::thread_pool* blocking = nullptr;  // where metadata and object store calls run
  TopicCache* topics = nullptr;
  ingest::WalWriter* wal = nullptr;
  fetch::ReadPath* reader = nullptr;
  groups::GroupCoordinator* groups = nullptr;

  // The live brokers' node ids, for coordinator placement (DESIGN §5). One
  // broker for now: this one.
  std::vector<int32_t> live_brokers() const { return {identity.node_id}; }

  // The endpoint clients should use to reach this broker over the listener a
  // request arrived on (Kafka answers per listener name). Falls back to the
  // first advertised listener.
  const Listener& advertised_for(const std::string& listener_name) const;
};

}  // namespace floe::broker
