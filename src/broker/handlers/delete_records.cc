#include "broker/handlers/delete_records.h"

#include "broker/handlers/admin_util.h"
#include "broker/topic_cache.h"
#include "fetch/read_path.h"

namespace floe::broker {

using protocol::ErrorCode;

namespace {

// Kafka's low watermark for a partition it could not act on.
constexpr int64_t kInvalidLowWatermark = -1;

}  // namespace

asio::awaitable<DeleteRecordsHandler::Response> DeleteRecordsHandler::handle(RequestContext& ctx, Request& req) {
  Broker& broker = ctx.broker;
  co_await refresh_topics(broker, true);
  Response resp;
  for (const auto& t : req.topics) {
    auto& tr = resp.topics.emplace_back();
    tr.name = t.name;
    TopicCache::TopicPtr topic = broker.topics->find(t.name);
    for (const auto& p : t.partitions) {
      auto& pr = tr.partitions.emplace_back();
      pr.partition_index = p.partition_index;
      pr.low_watermark = kInvalidLowWatermark;
      if (!topic || p.partition_index < 0 || p.partition_index >= topic->partitions) {
        pr.error_code = protocol::code(ErrorCode::unknown_topic_or_partition);
        continue;
      }
      // -1 means "up to the high watermark"; any other negative offset is out
      // of range, as in Kafka.
      if (p.offset < -1) {
        pr.error_code = protocol::code(ErrorCode::offset_out_of_range);
        continue;
      }
      const protocol::Uuid id = topic->id;
      const int32_t partition = p.partition_index;
      const int64_t offset = p.offset;
      int64_t low_watermark = kInvalidLowWatermark;
      ApiError e = co_await call_meta(broker, "delete records of " + t.name + "-" + std::to_string(partition), [&] {
        low_watermark = broker.meta->delete_records(id, partition, offset);
      });
      if (e.code == ErrorCode::unknown_topic_id) e.code = ErrorCode::unknown_topic_or_partition;
      pr.error_code = e.wire_code();
      if (!e.ok()) continue;
      pr.low_watermark = low_watermark;
      if (broker.reader) broker.reader->invalidate_partition(id, partition);
      FLOE_LOG(debug, "admin") << "records of " << t.name << "-" << partition << " before offset " << low_watermark
                               << " deleted";
    }
  }
  co_return resp;
}

}  // namespace floe::broker
