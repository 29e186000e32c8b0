#include "broker/handlers/create_partitions.h"

#include <map>
#include <set>

#include "broker/handlers/admin_util.h"
#include "broker/topic_cache.h"
#include "fetch/read_path.h"

namespace floe::broker {

using protocol::ErrorCode;

namespace {

using Topic = CreatePartitionsHandler::Request::CreatePartitionsTopic;

// Kafka's checks (KRaft controller), in its order and words. floe places no
// replicas, so assignments only need to match the number of new partitions
// and be well-formed.
ApiError check(const Topic& t, const meta::Topic& current) {
  if (t.count_ == current.partitions) {
    return api_error(ErrorCode::invalid_partitions,
                     "Topic already has " + std::to_string(current.partitions) + " partition(s).");
  }
  if (t.count_ < current.partitions) {
    return api_error(ErrorCode::invalid_partitions,
                     "The topic " + t.name + " currently has " + std::to_string(current.partitions) +
                         " partition(s); " + std::to_string(t.count_) + " would not be an increase.");
  }
  const int64_t additional = int64_t{t.count_} - current.partitions;
  if (t.assignments) {
    if (static_cast<int64_t>(t.assignments->size()) != additional) {
      return api_error(ErrorCode::invalid_replica_assignment,
                       "Attempted to add " + std::to_string(additional) + " additional partition(s), but only " +
                           std::to_string(t.assignments->size()) + " assignment(s) were specified.");
    }
    for (const auto& a : *t.assignments) {
      if (a.broker_ids.empty()) {
        return api_error(ErrorCode::invalid_replica_assignment,
                         "The manual partition assignment includes an empty replica list.");
      }
      std::set<int32_t> seen;
      for (int32_t b : a.broker_ids) {
        if (!seen.insert(b).second) {
          return api_error(ErrorCode::invalid_replica_assignment, "The manual partition assignment includes the broker " +
                                                                      std::to_string(b) + " more than once.");
        }
      }
    }
  }
  return {};
}

}  // namespace

asio::awaitable<CreatePartitionsHandler::Response> CreatePartitionsHandler::handle(RequestContext& ctx,
                                                                                  Request& req) {
  Broker& broker = ctx.broker;
  co_await refresh_topics(broker, true);
  std::map<std::string, int> occurrences;
  for (const auto& t : req.topics) ++occurrences[t.name];

  Response resp;
  std::set<std::string> answered;
  bool grew_any = false;
  for (const Topic& t : req.topics) {
    if (!answered.insert(t.name).second) continue;
    auto& r = resp.results.emplace_back();
    r.name = t.name;
    auto fail = [&](const ApiError& e) {
      r.error_code = e.wire_code();
      r.error_message = e.message;
    };
    if (occurrences[t.name] > 1) {
      fail(api_error(ErrorCode::invalid_request, "Duplicate topic name."));
      continue;
    }
    TopicCache::TopicPtr topic = broker.topics->find(t.name);
    if (!topic) {
      fail(api_error(ErrorCode::unknown_topic_or_partition, topic_does_not_exist(t.name)));
      continue;
    }
    if (ApiError e = check(t, *topic); !e.ok()) {
      fail(e);
      continue;
    }
    if (req.validate_only) continue;
    const protocol::Uuid id = topic->id;
    const int32_t total = t.count_;
    ApiError e = co_await call_meta(broker, "add partitions to topic " + t.name,
                                    [&] { broker.meta->create_partitions(id, total); });
    if (e.code == ErrorCode::unknown_topic_id) {
      e = api_error(ErrorCode::unknown_topic_or_partition, topic_does_not_exist(t.name));
    }
    if (!e.ok()) {
      fail(e);
      continue;
    }
    grew_any = true;
    FLOE_LOG(info, "admin") << "topic " << t.name << " grew from " << topic->partitions << " to " << total
                            << " partitions";
    if (broker.reader) {
      for (int32_t p = topic->partitions; p < total; ++p) broker.reader->invalidate_partition(id, p);
    }
  }
  if (grew_any) co_await refresh_topics(broker, true);
  co_return resp;
}

}  // namespace floe::broker
