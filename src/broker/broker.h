// The broker's process-wide state that handlers read: who this broker is,
// which cluster it belongs to, and where clients reach it.
//
// Threads: immutable after start-up, so handlers on any connection strand may
// read it without a lock. Mutable shared state (topics, groups, the WAL)
// arrives with its own module and its own concurrency notes.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "broker/config.h"

namespace floe::broker {

struct BrokerIdentity {
  int32_t node_id = 0;
  std::string cluster_id;
  std::optional<std::string> rack;
  // advertised.listeners with the ports that were actually bound.
  std::vector<Listener> advertised;
};

struct Broker {
  const Config& config;
  BrokerIdentity identity;

  // The endpoint clients should use to reach this broker over the listener a
  // request arrived on (Kafka answers per listener name). Falls back to the
  // first advertised listener.
  const Listener& advertised_for(const std::string& listener_name) const;
};

}  // namespace floe::broker
