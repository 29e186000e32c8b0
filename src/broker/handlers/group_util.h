// What the group handlers share: the checks every group request starts with.
#pragma once

#include <string>

#include "broker/broker.h"
#include "groups/coordinator.h"
#include "groups/placement.h"
#include "net/server.h"
#include "protocol/generated/error_codes.h"

namespace floe::broker {

// none when this broker coordinates `group_id`; otherwise the error Kafka
// gives: INVALID_GROUP_ID for an empty id, NOT_COORDINATOR when another
// broker coordinates it, COORDINATOR_NOT_AVAILABLE before the coordinator
// runs.
inline protocol::ErrorCode group_precheck(const Broker& broker, const std::string& group_id) {
  if (!broker.groups) return protocol::ErrorCode::coordinator_not_available;
  if (!groups::GroupCoordinator::valid_group_id(group_id)) return protocol::ErrorCode::invalid_group_id;
  auto live = broker.live_brokers();
  if (groups::coordinator_for(group_id, live) != broker.identity.node_id) return protocol::ErrorCode::not_coordinator;
  return protocol::ErrorCode::none;
}

// The client's address as Kafka reports it in DescribeGroups: "/ip".
inline std::string client_host(const net::ConnectionInfo& conn) {
  std::string host = conn.peer;
  auto colon = host.rfind(':');
  if (colon != std::string::npos) host.resize(colon);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
  return "/" + host;
}

}  // namespace floe::broker
