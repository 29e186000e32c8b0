#include "broker/handlers/fetch.h"

#include <algorithm>
#include <chrono>
#include <limits>

#include "broker/topic_cache.h"
#include "common/log.h"
#include "fetch/read_path.h"
#include "protocol/generated/error_codes.h"
#include "protocol/record_batch.h"

namespace floe::broker {

using protocol::ErrorCode;
namespace pb = protocol;

namespace {

struct Slot {
  std::shared_ptr<const meta::Topic> topic;  // null: unknown topic
};

void fill_offsets(FetchHandler::Response::PartitionData& pd, const meta::PartitionOffsets& o) {
  pd.high_watermark = o.high_watermark;
  pd.last_stable_offset = o.high_watermark;  // no transactions yet: nothing is unstable
  pd.log_start_offset = o.log_start_offset;
}

// One pass over the requested partitions. Returns the bytes it collected.
//
// In three steps: the partitions' offsets (cached) decide which ones have
// data to read; their batch runs are looked up in one trip to the metadata
// store; then the runs are read within the byte budgets, in request order.
// The lookups use each partition's own limit (bounded by max_bytes), since
// what the earlier partitions will take is not known yet.
asio::awaitable<size_t> collect(RequestContext& ctx, const FetchHandler::Request& req,
                                const std::vector<Slot>& slots, FetchHandler::Response& resp) {
  using PartitionData = FetchHandler::Response::PartitionData;
  fetch::ReadPath& reader = *ctx.broker.reader;
  resp.responses.clear();
  const bool read_committed = req.isolation_level == 1;
  const size_t max_bytes = static_cast<size_t>(std::max(0, req.max_bytes));

  struct Pending {
    PartitionData* pd;
    std::shared_ptr<const meta::Topic> topic;
    int64_t fetch_offset;
    size_t partition_budget;
  };
  std::vector<Pending> pending;
  std::vector<fetch::ReadPath::PlanRequest> lookups;
  // First the partitions that exist, then all their offsets at once (one
  // lock, or one metadata trip for those not cached: a fetch names every
  // partition it follows, 10,000 of them for some consumers).
  struct Known {
    PartitionData* pd;
    const FetchHandler::Request::FetchPartition* fp;
    const std::shared_ptr<const meta::Topic>* topic;
  };
  std::vector<Known> known;
  std::vector<fetch::PartitionKey> keys;
  resp.responses.resize(req.topics.size());
  for (size_t t = 0; t < req.topics.size(); ++t) {
    const auto& ft = req.topics[t];
    auto& tr = resp.responses[t];
    tr.topic = ft.topic;
    tr.topic_id = ft.topic_id;
    tr.partitions.resize(ft.partitions.size());
    for (size_t i = 0; i < ft.partitions.size(); ++i) {
      const auto& fp = ft.partitions[i];
      PartitionData& pd = tr.partitions[i];
      pd.partition_index = fp.partition;
      pd.records.emplace();
      if (read_committed) pd.aborted_transactions.emplace();
      const auto& topic = slots[t].topic;
      if (!topic || fp.partition < 0 || fp.partition >= topic->partitions) {
        pd.error_code = pb::code(ErrorCode::unknown_topic_or_partition);
        pd.high_watermark = pd.last_stable_offset = pd.log_start_offset = -1;
        continue;
      }
      known.push_back({&pd, &fp, &topic});
      keys.push_back({topic->id, fp.partition});
    }
  }
  auto all_offsets = co_await reader.offsets_all(keys);
  for (size_t k = 0; k < known.size(); ++k) {
    PartitionData& pd = *known[k].pd;
    const auto& fp = *known[k].fp;
    const auto& offsets = all_offsets[k];
    if (!offsets) {
      pd.error_code = pb::code(ErrorCode::unknown_topic_or_partition);
      continue;
    }
    fill_offsets(pd, *offsets);
    if (fp.fetch_offset < offsets->log_start_offset || fp.fetch_offset > offsets->high_watermark) {
      pd.error_code = pb::code(ErrorCode::offset_out_of_range);
      continue;
    }
    if (fp.fetch_offset == offsets->high_watermark) continue;
    const size_t partition_budget = static_cast<size_t>(std::max(0, fp.partition_max_bytes));
    pending.push_back(Pending{&pd, *known[k].topic, fp.fetch_offset, partition_budget});
    lookups.push_back({keys[k], fp.fetch_offset, std::max<size_t>(1, std::min(max_bytes, partition_budget))});
  }
  if (pending.empty()) co_return 0;

  auto plans = co_await reader.plan_all(std::move(lookups));
  size_t budget = max_bytes;
  size_t total = 0;
  bool first_data = true;  // the first batch of the response is returned whole
  std::shared_ptr<const pb::Bytes> object;  // the object last read from
  std::string object_key;
  for (size_t k = 0; k < pending.size(); ++k) {
    const Pending& p = pending[k];
    PartitionData& pd = *p.pd;
    auto& plan = plans[k];
    if (!plan) {
      pd.error_code = pb::code(ErrorCode::unknown_topic_or_partition);
      continue;
    }
    fill_offsets(pd, plan->offsets);
    if (!first_data && (budget == 0 || p.partition_budget == 0)) continue;
    const size_t limit = first_data ? std::max<size_t>(1, std::min(budget, p.partition_budget))
                                    : std::min(budget, p.partition_budget);
    pb::Records& records = *pd.records;
    for (const auto& loc : plan->batches) {
      try {
        // Most runs of a fetch lie in one object (the last commit's).
        if (!object || loc.object_key != object_key) {
          object = co_await reader.object(loc.object_key);
          object_key = loc.object_key;
        }
        if (!fetch::ReadPath::append_batches_from(object, loc, p.fetch_offset, limit, first_data && records.empty(),
                                                  records)) {
          break;
        }
      } catch (const std::exception& e) {
        // What the run appended is gone again; the runs before it stay.
        FLOE_LOG(error, "fetch") << "cannot read " << p.topic->name << "-" << pd.partition_index << " at "
                                 << loc.base_offset << ": " << e.what();
        if (records.empty()) pd.error_code = pb::code(ErrorCode::kafka_storage_error);
        break;
      }
    }
    if (!records.empty()) first_data = false;
    total += records.size();
    budget -= std::min(budget, records.size());
  }
  co_return total;
}

// Puts each topic's partitions that carry records first, oldest first by the
// timestamp of their first record; the others follow in request order.
// Clients find partitions by index, not position (a sessionless response need
// only carry every partition asked for), but they hand records to the
// application in response order: a consumer takes a while to get through
// thousands of partitions of one response, and in request order the records
// that had waited longest in the producer's and the broker's buffers would
// wait for all the younger ones ahead of them. With a producer's timestamps
// (CreateTime) this is the order the records were sent in.
void order_oldest_first(FetchHandler::Response& resp) {
  using PartitionData = FetchHandler::Response::PartitionData;
  for (auto& tr : resp.responses) {
    auto& parts = tr.partitions;
    struct Entry {
      int64_t first_timestamp;
      size_t index;
    };
    std::vector<Entry> with_records;
    std::vector<size_t> without;
    for (size_t i = 0; i < parts.size(); ++i) {
      const auto& records = parts[i].records;
      if (!records || records->empty()) {
        without.push_back(i);
        continue;
      }
      auto h = pb::parse_whole_batch_header(records->first_bytes());
      with_records.push_back({h ? h->base_timestamp : std::numeric_limits<int64_t>::max(), i});
    }
    std::stable_sort(with_records.begin(), with_records.end(),
                     [](const Entry& a, const Entry& b) { return a.first_timestamp < b.first_timestamp; });
    bool in_order = true;
    for (size_t i = 0; i < with_records.size() && in_order; ++i) in_order = with_records[i].index == i;
    if (in_order) continue;
    std::vector<PartitionData> ordered;
    ordered.reserve(parts.size());
    for (const auto& e : with_records) ordered.push_back(std::move(parts[e.index]));
    for (size_t i : without) ordered.push_back(std::move(parts[i]));
    parts = std::move(ordered);
  }
}

}  // namespace

asio::awaitable<FetchHandler::Response> FetchHandler::handle(RequestContext& ctx, Request& req) {
  Response resp;
  resp.session_id = 0;
  if (req.session_id != 0 || req.session_epoch > 0) {
    // We never hand out sessions, so an incremental fetch names one we do not have.
    resp.error_code = pb::code(ErrorCode::fetch_session_id_not_found);
    co_return resp;
  }
  std::vector<Slot> slots(req.topics.size());
  std::vector<fetch::PartitionKey> keys;
  for (size_t t = 0; t < req.topics.size(); ++t) {
    const auto& ft = req.topics[t];
    auto topic = ctx.api_version >= 13 ? ctx.broker.topics->find(ft.topic_id) : ctx.broker.topics->find(ft.topic);
    if (!topic) {
      co_await ctx.broker.topics->refresh(ctx.broker);
      topic = ctx.api_version >= 13 ? ctx.broker.topics->find(ft.topic_id) : ctx.broker.topics->find(ft.topic);
    }
    slots[t].topic = topic;
    if (topic) {
      // Only partitions that exist: any other is an error, which answers at once.
      for (const auto& fp : ft.partitions) {
        if (fp.partition >= 0 && fp.partition < topic->partitions) keys.push_back({topic->id, fp.partition});
      }
    }
  }
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(std::max(0, req.max_wait_ms));
  // Watch before the first look, so that a commit between the look and the
  // wait still wakes us.
  auto watch = ctx.broker.reader->watch(keys, co_await asio::this_coro::executor);
  for (;;) {
    size_t bytes = co_await collect(ctx, req, slots, resp);
    bool has_error = false;
    for (const auto& t : resp.responses) {
      for (const auto& p : t.partitions) has_error |= p.error_code != 0;
    }
    if (bytes >= static_cast<size_t>(std::max(0, req.min_bytes)) || has_error || keys.empty() ||
        std::chrono::steady_clock::now() >= deadline) {
      if (bytes > 0) order_oldest_first(resp);
      break;
    }
    co_await watch->wait_until(deadline);
  }
  co_return resp;
}

}  // namespace floe::broker
