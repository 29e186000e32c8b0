#include "broker/handlers/offset_delete.h"

#include "broker/handlers/group_util.h"
#include "broker/topic_cache.h"
#include "common/blocking.h"
#include "common/log.h"
#include "meta/meta_store.h"

namespace floe::broker {

using protocol::ErrorCode;

asio::awaitable<OffsetDeleteHandler::Response> OffsetDeleteHandler::handle(RequestContext& ctx, Request& req) {
  Broker& broker = ctx.broker;
  Response resp;
  ErrorCode e = group_precheck(broker, req.group_id);
  groups::OffsetDeleteCheck check;
  if (e == ErrorCode::none) {
    check = co_await broker.groups->check_offset_delete(req.group_id);
    e = check.error;
  }
  if (e != ErrorCode::none) {
    resp.error_code = protocol::code(e);
    co_return resp;
  }
  std::vector<meta::PartitionId> deletable;
  std::vector<std::pair<size_t, size_t>> where;  // (topic, partition) index of each in resp
  for (const auto& t : req.topics) {
    auto& rt = resp.topics.emplace_back();
    rt.name = t.name;
    TopicCache::TopicPtr topic = co_await broker.topics->lookup(broker, t.name);
    const bool subscribed = check.all_subscribed || check.subscribed_topics.count(t.name) > 0;
    for (const auto& p : t.partitions) {
      auto& rp = rt.partitions.emplace_back();
      rp.partition_index = p.partition_index;
      if (!topic || p.partition_index < 0 || p.partition_index >= topic->partitions) {
        rp.error_code = protocol::code(ErrorCode::unknown_topic_or_partition);
      } else if (subscribed) {
        rp.error_code = protocol::code(ErrorCode::group_subscribed_to_topic);
      } else {
        deletable.push_back({topic->id, p.partition_index});
        where.emplace_back(resp.topics.size() - 1, rt.partitions.size() - 1);
      }
    }
  }
  if (deletable.empty()) co_return resp;
  try {
    co_await run_blocking(*broker.blocking, [&] { return broker.meta->delete_offsets(req.group_id, deletable); });
  } catch (const std::exception& ex) {
    FLOE_LOG(error, "groups") << "cannot delete offsets of group " << req.group_id << ": " << ex.what();
    for (auto [ti, pi] : where)
      resp.topics[ti].partitions[pi].error_code = protocol::code(ErrorCode::coordinator_not_available);
  }
  co_return resp;
}

}  // namespace floe::broker
