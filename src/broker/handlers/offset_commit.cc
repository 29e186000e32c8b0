#include "broker/handlers/offset_commit.h"

#include "broker/handlers/group_util.h"
#include "broker/topic_cache.h"
#include "common/clock.h"
#include "common/log.h"
#include "meta/meta_store.h"

namespace floe::broker {

using protocol::ErrorCode;

asio::awaitable<OffsetCommitHandler::Response> OffsetCommitHandler::handle(RequestContext& ctx, Request& req) {
  Broker& broker = ctx.broker;
  const int16_t v = ctx.api_version;
  Response resp;
  // The response mirrors the request; every partition starts as none.
  for (const auto& t : req.topics) {
    auto& rt = resp.topics.emplace_back();
    rt.name = t.name;
    for (const auto& p : t.partitions) rt.partitions.emplace_back().partition_index = p.partition_index;
  }
  auto fail_all = [&](ErrorCode e) {
    for (auto& rt : resp.topics)
      for (auto& rp : rt.partitions)
        if (rp.error_code == 0) rp.error_code = protocol::code(e);
  };
  if (ErrorCode e = group_precheck(broker, req.group_id); e != ErrorCode::none) {
    fail_all(e);
    co_return resp;
  }

  // Per-partition checks first, as Kafka does: unknown partitions and
  // oversized metadata fail alone; the rest go to the coordinator.
  const int64_t now = unix_now_ms();
  std::vector<meta::CommittedOffset> offsets;
  std::vector<int16_t*> slots;  // where each offset's outcome goes
  for (size_t ti = 0; ti < req.topics.size(); ++ti) {
    const auto& t = req.topics[ti];
    TopicCache::TopicPtr topic = co_await broker.topics->lookup(broker, t.name);
    for (size_t pi = 0; pi < t.partitions.size(); ++pi) {
      const auto& p = t.partitions[pi];
      int16_t& slot = resp.topics[ti].partitions[pi].error_code;
      if (!topic || p.partition_index < 0 || p.partition_index >= topic->partitions) {
        slot = protocol::code(ErrorCode::unknown_topic_or_partition);
        continue;
      }
      if (p.committed_metadata &&
          p.committed_metadata->size() > static_cast<size_t>(broker.config.offset_metadata_max_bytes)) {
        slot = protocol::code(ErrorCode::offset_metadata_too_large);
        continue;
      }
      meta::CommittedOffset o;
      o.partition = {topic->id, p.partition_index};
      o.offset = p.committed_offset;
      o.leader_epoch = v >= 6 ? p.committed_leader_epoch : -1;
      o.metadata = p.committed_metadata.value_or("");
      o.commit_ms = now;
      // v2-v4 may set a retention of their own (-1: the broker's).
      if (v >= 2 && v <= 4 && req.retention_time_ms >= 0) o.expire_ms = now + req.retention_time_ms;
      offsets.push_back(std::move(o));
      slots.push_back(&slot);
    }
  }
  if (offsets.empty()) co_return resp;

  // v0 commits carry no generation or member: standalone.
  const int32_t generation = v >= 1 ? req.generation_id_or_member_epoch : -1;
  std::string member_id;
  if (v >= 1) member_id = req.member_id;
  std::optional<std::string> instance_id;
  if (v >= 7) instance_id = req.group_instance_id;
  groups::CommitOutcome out = co_await broker.groups->commit_offsets(req.group_id, generation, member_id,
                                                                     instance_id, std::move(offsets), now);
  if (out.error == ErrorCode::group_id_not_found && v < 9) out.error = ErrorCode::illegal_generation;
  for (size_t i = 0; i < slots.size(); ++i) {
    ErrorCode e = out.error;
    if (e == ErrorCode::none) e = i < out.results.size() ? out.results[i] : ErrorCode::unknown_server_error;
    *slots[i] = protocol::code(e);
  }
  co_return resp;
}

}  // namespace floe::broker
