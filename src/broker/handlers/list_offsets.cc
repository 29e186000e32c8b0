#include "broker/handlers/list_offsets.h"

#include <limits>

#include "broker/topic_cache.h"
#include "common/blocking.h"
#include "common/log.h"
#include "fetch/read_path.h"
#include "meta/meta_store.h"
#include "protocol/generated/error_codes.h"
#include "protocol/record_batch.h"

namespace floe::broker {

using protocol::ErrorCode;
namespace pb = protocol;

namespace {

constexpr int64_t kLatest = -1;
constexpr int64_t kEarliest = -2;
constexpr int64_t kMaxTimestamp = -3;
constexpr int64_t kEarliestLocal = -4;

struct Found {
  int64_t offset = -1;
  int64_t timestamp = -1;
};

// The first record of the batches (a run, offsets patched) at or after
// `from` whose timestamp satisfies `match`, or nothing.
template <typename Match>
std::optional<Found> scan(const pb::Bytes& batches, int64_t from, Match match) {
  std::span<const uint8_t> rest(batches);
  while (!rest.empty()) {
    auto h = pb::parse_whole_batch_header(rest);
    if (!h) break;
    pb::RecordReader reader(rest.first(h->size()));
    pb::RecordView rec;
    while (reader.next(rec)) {
      int64_t offset = h->base_offset + rec.offset_delta;
      int64_t ts = h->timestamp_type() == pb::TimestampType::log_append_time ? h->max_timestamp
                                                                              : h->base_timestamp + rec.timestamp_delta;
      if (offset >= from && match(ts)) return Found{offset, ts};
    }
    rest = rest.subspan(h->size());
  }
  return std::nullopt;
}

}  // namespace

asio::awaitable<ListOffsetsHandler::Response> ListOffsetsHandler::handle(RequestContext& ctx, Request& req) {
  Broker& broker = ctx.broker;
  Response resp;
  for (const auto& t : req.topics) {
    Response::ListOffsetsTopicResponse tr;
    tr.name = t.name;
    auto topic = broker.topics->find(t.name);
    if (!topic) {
      co_await broker.topics->refresh(broker);
      topic = broker.topics->find(t.name);
    }
    for (const auto& p : t.partitions) {
      Response::ListOffsetsPartitionResponse pr;
      pr.partition_index = p.partition_index;
      if (ctx.api_version >= 4) pr.leader_epoch = 0;
      if (!topic || p.partition_index < 0 || p.partition_index >= topic->partitions) {
        pr.error_code = pb::code(ErrorCode::unknown_topic_or_partition);
        tr.partitions.push_back(std::move(pr));
        continue;
      }
      if (ctx.api_version == 0 && p.max_num_offsets < 1) {
        tr.partitions.push_back(std::move(pr));  // asked for no offsets
        continue;
      }
      fetch::PartitionKey key{topic->id, p.partition_index};
      try {
        auto offsets = co_await broker.reader->offsets(key);
        if (!offsets) {
          pr.error_code = pb::code(ErrorCode::unknown_topic_or_partition);
        } else if (p.timestamp == kLatest) {
          pr.offset = offsets->high_watermark;  // the last stable offset too: no transactions yet
        } else if (p.timestamp == kEarliest || p.timestamp == kEarliestLocal) {
          pr.offset = offsets->log_start_offset;
        } else if (p.timestamp == kMaxTimestamp || p.timestamp >= 0) {
          std::optional<meta::BatchLocation> loc;
          const protocol::Uuid id = topic->id;
          const int32_t part = p.partition_index;
          if (p.timestamp == kMaxTimestamp) {
            if (offsets->max_timestamp_offset >= offsets->log_start_offset) {
              int64_t at = offsets->max_timestamp_offset;
              loc = co_await run_blocking(*broker.blocking,
                                          [&] { return broker.meta->find_batch_containing(id, part, at); });
            }
          } else {
            int64_t ts = p.timestamp;
            loc = co_await run_blocking(*broker.blocking,
                                        [&] { return broker.meta->find_batch_by_timestamp(id, part, ts); });
          }
          std::optional<Found> found;
          if (loc) {
            pb::Records run;
            co_await broker.reader->append_batches(*loc, offsets->log_start_offset,
                                                   std::numeric_limits<size_t>::max(), true, run);
            const pb::Bytes batch = run.bytes();
            if (p.timestamp == kMaxTimestamp) {
              found = scan(batch, offsets->log_start_offset, [&](int64_t ts) { return ts == loc->max_timestamp; });
            } else {
              found = scan(batch, offsets->log_start_offset, [&](int64_t ts) { return ts >= p.timestamp; });
            }
          }
          if (found) {
            pr.offset = found->offset;
            pr.timestamp = found->timestamp;
          }
        } else {
          pr.error_code = pb::code(ErrorCode::invalid_request);  // an unknown special timestamp
        }
      } catch (const std::exception& e) {
        FLOE_LOG(error, "fetch") << "ListOffsets for " << topic->name << "-" << p.partition_index
                                 << " failed: " << e.what();
        pr.error_code = pb::code(ErrorCode::kafka_storage_error);
      }
      if (ctx.api_version == 0 && pr.error_code == 0 && pr.offset >= 0) pr.old_style_offsets.push_back(pr.offset);
      tr.partitions.push_back(std::move(pr));
    }
    resp.topics.push_back(std::move(tr));
  }
  co_return resp;
}

}  // namespace floe::broker
