#include "broker/handlers/offset_fetch.h"

#include <map>

#include "broker/handlers/group_util.h"
#include "broker/topic_cache.h"
#include "common/blocking.h"
#include "common/log.h"
#include "meta/meta_store.h"

namespace floe::broker {

using protocol::ErrorCode;

namespace {

struct PartitionAnswer {
  int32_t partition = 0;
  int64_t offset = -1;
  int32_t leader_epoch = -1;
  std::string metadata;
};

struct TopicAnswer {
  std::string name;
  std::vector<PartitionAnswer> partitions;
};

struct GroupAnswer {
  ErrorCode error = ErrorCode::none;
  std::vector<TopicAnswer> topics;
};

using TopicRequest = std::pair<std::string, std::vector<int32_t>>;

// One group's committed offsets: of the partitions asked for (-1 where none
// is committed, whether or not the topic exists, as Kafka answers), or of
// every partition that has one when `asked` is nullopt.
asio::awaitable<GroupAnswer> fetch_group(Broker& broker, const std::string& group_id,
                                         const std::optional<std::vector<TopicRequest>>& asked) {
  GroupAnswer out;
  if (ErrorCode e = group_precheck(broker, group_id); e != ErrorCode::none) {
    out.error = e;
    co_return out;
  }
  try {
    if (!asked) {
      auto all = co_await run_blocking(*broker.blocking,
                                       [&] { return broker.meta->fetch_offsets(group_id, std::nullopt); });
      std::map<std::string, TopicAnswer> by_name;
      for (const auto& o : all) {
        TopicCache::TopicPtr topic = co_await broker.topics->lookup(broker, o.partition.topic_id);
        if (!topic) continue;  // deleted meanwhile
        auto& t = by_name[topic->name];
        t.name = topic->name;
        t.partitions.push_back({o.partition.partition, o.offset, o.leader_epoch, o.metadata});
      }
      for (auto& [name, t] : by_name) out.topics.push_back(std::move(t));
      co_return out;
    }
    std::vector<meta::PartitionId> ids;
    for (const auto& [name, partitions] : *asked) {
      auto& t = out.topics.emplace_back();
      t.name = name;
      TopicCache::TopicPtr topic = co_await broker.topics->lookup(broker, name);
      for (int32_t p : partitions) {
        t.partitions.push_back({p, -1, -1, ""});
        if (topic) ids.push_back({topic->id, p});
      }
    }
    auto found = co_await run_blocking(*broker.blocking, [&] { return broker.meta->fetch_offsets(group_id, ids); });
    std::map<meta::PartitionId, const meta::CommittedOffset*> index;
    for (const auto& o : found) index[o.partition] = &o;
    for (auto& t : out.topics) {
      TopicCache::TopicPtr topic = broker.topics->find(t.name);
      if (!topic) continue;
      for (auto& p : t.partitions) {
        auto it = index.find({topic->id, p.partition});
        if (it == index.end()) continue;
        p.offset = it->second->offset;
        p.leader_epoch = it->second->leader_epoch;
        p.metadata = it->second->metadata;
      }
    }
  } catch (const std::exception& e) {
    FLOE_LOG(error, "groups") << "cannot read offsets of group " << group_id << ": " << e.what();
    out.error = ErrorCode::coordinator_not_available;
    out.topics.clear();
  }
  co_return out;
}

// The answer in the response's shape: v8+ and older versions have
// different types with the same fields.
template <typename ResponseTopics>
void fill_topics(ResponseTopics& out, std::vector<TopicAnswer> topics) {
  for (auto& t : topics) {
    auto& rt = out.emplace_back();
    rt.name = std::move(t.name);
    for (auto& p : t.partitions) {
      auto& rp = rt.partitions.emplace_back();
      rp.partition_index = p.partition;
      rp.committed_offset = p.offset;
      rp.committed_leader_epoch = p.leader_epoch;
      rp.metadata = std::move(p.metadata);
    }
  }
}

}  // namespace

asio::awaitable<OffsetFetchHandler::Response> OffsetFetchHandler::handle(RequestContext& ctx, Request& req) {
  Broker& broker = ctx.broker;
  const int16_t v = ctx.api_version;
  Response resp;
  // No transactional offsets exist yet, so require_stable has nothing to
  // wait for.
  if (v >= 8) {
    for (const auto& g : req.groups) {
      std::optional<std::vector<TopicRequest>> asked;
      if (g.topics) {
        asked.emplace();
        for (const auto& t : *g.topics) asked->emplace_back(t.name, t.partition_indexes);
      }
      GroupAnswer a = co_await fetch_group(broker, g.group_id, asked);
      auto& rg = resp.groups.emplace_back();
      rg.group_id = g.group_id;
      rg.error_code = protocol::code(a.error);
      fill_topics(rg.topics, std::move(a.topics));
    }
    co_return resp;
  }
  // v0-v1 always name topics; v2+ may ask for all of them (null).
  std::optional<std::vector<TopicRequest>> asked;
  if (req.topics || v < 2) {
    asked.emplace();
    if (req.topics)
      for (const auto& t : *req.topics) asked->emplace_back(t.name, t.partition_indexes);
  }
  GroupAnswer a = co_await fetch_group(broker, req.group_id, asked);
  if (a.error != ErrorCode::none && v < 2) {
    // No top-level error before v2: every partition carries it.
    for (const auto& [name, partitions] : *asked) {
      auto& rt = resp.topics.emplace_back();
      rt.name = name;
      for (int32_t p : partitions) {
        auto& rp = rt.partitions.emplace_back();
        rp.partition_index = p;
        rp.committed_offset = -1;
        rp.metadata = "";
        rp.error_code = protocol::code(a.error);
      }
    }
    co_return resp;
  }
  resp.error_code = protocol::code(a.error);
  fill_topics(resp.topics, std::move(a.topics));
  co_return resp;
}

}  // namespace floe::broker
