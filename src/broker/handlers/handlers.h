// The one list of APIs this broker serves, and at which versions.
//
// Each handler is a struct in its own file under handlers/ with:
//   using Request = protocol::XRequest; using Response = protocol::XResponse;
//   static constexpr int16_t kMinVersion, kMaxVersion;  // what we serve
//   static asio::awaitable<Response> handle(RequestContext&, Request&);
// ApiVersions advertises exactly this list, and the dispatcher routes by it,
// so "what do we serve" has one answer.
#pragma once

#include <cstdint>

#include "broker/handlers/alter_configs.h"
#include "broker/handlers/api_versions.h"
#include "broker/handlers/create_partitions.h"
#include "broker/handlers/create_topics.h"
#include "broker/handlers/delete_groups.h"
#include "broker/handlers/delete_records.h"
#include "broker/handlers/delete_topics.h"
#include "broker/handlers/describe_cluster.h"
#include "broker/handlers/describe_configs.h"
#include "broker/handlers/describe_groups.h"
#include "broker/handlers/describe_topic_partitions.h"
#include "broker/handlers/fetch.h"
#include "broker/handlers/find_coordinator.h"
#include "broker/handlers/heartbeat.h"
#include "broker/handlers/incremental_alter_configs.h"
#include "broker/handlers/init_producer_id.h"
#include "broker/handlers/join_group.h"
#include "broker/handlers/leave_group.h"
#include "broker/handlers/list_groups.h"
#include "broker/handlers/list_offsets.h"
#include "broker/handlers/metadata.h"
#include "broker/handlers/offset_commit.h"
#include "broker/handlers/offset_delete.h"
#include "broker/handlers/offset_fetch.h"
#include "broker/handlers/produce.h"
#include "broker/handlers/sync_group.h"

namespace floe::broker {

template <typename... H>
struct HandlerList {
  // Calls f(std::type_identity<H>{}) for the handler of `api_key`; false if none.
  template <typename F>
  static bool visit(int16_t api_key, F&& f) {
    return ((H::Request::kApiKey == api_key ? (f(std::type_identity<H>{}), true) : false) || ...);
  }
  // Calls f(std::type_identity<H>{}) for every handler, in list order.
  template <typename F>
  static void for_each(F&& f) {
    (f(std::type_identity<H>{}), ...);
  }
};

using Handlers = HandlerList<ApiVersionsHandler, MetadataHandler, ProduceHandler, FetchHandler, ListOffsetsHandler,
                             InitProducerIdHandler,
                             // Consumer groups.
                             FindCoordinatorHandler, JoinGroupHandler, SyncGroupHandler, HeartbeatHandler,
                             LeaveGroupHandler, OffsetCommitHandler, OffsetFetchHandler, ListGroupsHandler,
                             DescribeGroupsHandler, DeleteGroupsHandler, OffsetDeleteHandler,
                             // Topic and config administration.
                             CreateTopicsHandler, DeleteTopicsHandler, CreatePartitionsHandler, DeleteRecordsHandler,
                             DescribeConfigsHandler, AlterConfigsHandler, IncrementalAlterConfigsHandler,
                             DescribeClusterHandler, DescribeTopicPartitionsHandler>;

}  // namespace floe::broker
