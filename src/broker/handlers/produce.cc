#include "broker/handlers/produce.h"

#include <asio/redirect_error.hpp>
#include <asio/steady_timer.hpp>
#include <asio/this_coro.hpp>
#include <asio/use_awaitable.hpp>
#include <array>
#include <chrono>
#include <map>
#include <memory>
#include <set>

#include "broker/topic_cache.h"
#include "broker/topic_config.h"
#include "common/clock.h"
#include "common/completion.h"
#include "common/log.h"
#include "ingest/wal_writer.h"
#include "protocol/generated/error_codes.h"
#include "protocol/record_batch.h"

namespace floe::broker {

using protocol::ErrorCode;
namespace pb = protocol;

namespace {

// A topic's settings, resolved once per topic snapshot rather than once per
// request: parsing its overrides and the broker's defaults was ~5% of the
// broker's CPU at 10,000 partitions (librdkafka sends a request per partition
// batch, ~20,000 a second). Snapshots are immutable (a config change makes a
// new one), so one seen before has the same settings. Per thread, so no lock;
// a copy, since the handler may resume on another thread.
TopicSettings settings_of(const Config& config, const std::shared_ptr<const meta::Topic>& topic) {
  struct Entry {
    std::weak_ptr<const meta::Topic> snapshot;
    const meta::Topic* address = nullptr;
    const Config* config = nullptr;
    TopicSettings settings;
  };
  thread_local std::array<Entry, 8> entries;
  thread_local size_t next = 0;
  for (const Entry& e : entries) {
    // While the snapshot lives, no other object can have its address.
    if (e.address == topic.get() && e.config == &config && !e.snapshot.expired()) return e.settings;
  }
  Entry& e = entries[next++ % entries.size()];
  e = Entry{topic, topic.get(), &config, effective_settings(config, *topic)};
  return e.settings;
}

struct PartitionOutcome {
  ErrorCode error = ErrorCode::none;
  std::optional<std::string> message;
  bool log_append_time = false;
  int64_t append_time = -1;
  int64_t log_start_offset = -1;
  int wal_index = -1;  // index of its item in the WAL append, when accepted
};

struct Validated {
  ErrorCode error = ErrorCode::none;
  std::string message;
  ingest::AppendItem item;
  bool log_append_time = false;
};

// Kafka's checks of one partition's records, then the rewrites the topic
// asks for (LogAppendTime, a compression.type other than `producer`).
Validated validate(std::optional<pb::Records>& request_records, const meta::Topic& topic,
                   const TopicSettings& settings, int64_t now) {
  Validated v;
  auto fail = [&](ErrorCode code, std::string message) {
    v.error = code;
    v.message = std::move(message);
    return std::move(v);
  };
  if (!request_records || request_records->empty()) {
    return fail(ErrorCode::invalid_record, "the request carries no record batch");
  }
  // A decoded request's records are already bytes it owns: no copy.
  pb::Bytes* records = &request_records->make_owned();
  pb::BatchOptions limits;
  limits.max_decompressed_bytes = std::max<size_t>(limits.max_decompressed_bytes,
                                                   static_cast<size_t>(settings.max_message_bytes) * 4);
  auto result = pb::validate_batches(*records, limits);
  if (!result.ok()) {
    return fail(static_cast<ErrorCode>(pb::produce_error_code(result.status)), result.reason);
  }
  if (result.batches.size() != 1) {
    return fail(ErrorCode::invalid_record, "a produce request must carry exactly one record batch per partition, not " +
                                               std::to_string(result.batches.size()));
  }
  const pb::BatchInfo& batch = result.batches.front();
  const pb::BatchHeader& h = batch.header;
  if (batch.bytes.size() > static_cast<size_t>(settings.max_message_bytes)) {
    return fail(ErrorCode::message_too_large, "batch of " + std::to_string(batch.bytes.size()) +
                                                  " bytes exceeds max.message.bytes " +
                                                  std::to_string(settings.max_message_bytes));
  }
  if (h.is_control()) return fail(ErrorCode::invalid_record, "clients may not write control batches");
  if (h.is_transactional()) return fail(ErrorCode::invalid_txn_state, "transactions are not supported yet");

  // One pass over the records: structure (the reader validates as it goes),
  // keys of compacted topics, and CreateTime timestamps within bounds.
  const bool check_times = !settings.log_append_time &&
                           (settings.timestamp_before_max_ms < INT64_MAX || settings.timestamp_after_max_ms < INT64_MAX);
  limits.verify_crc = false;  // validate_batches checked it; once per batch was 2% of the broker's CPU
  pb::RecordReader reader(batch.bytes, limits);
  pb::RecordView rec;
  int32_t count = 0;
  while (reader.next(rec)) {
    ++count;
    if (settings.compact && !rec.key) {
      return fail(ErrorCode::invalid_record, "compacted topic " + topic.name + " cannot take a record without a key");
    }
    if (check_times) {
      int64_t ts = h.base_timestamp + rec.timestamp_delta;
      bool too_old = settings.timestamp_before_max_ms < INT64_MAX && ts < now - settings.timestamp_before_max_ms;
      bool too_new = settings.timestamp_after_max_ms < INT64_MAX && ts > now + settings.timestamp_after_max_ms;
      if (too_old || too_new) {
        return fail(ErrorCode::invalid_timestamp, "timestamp " + std::to_string(ts) + " of record " +
                                                      std::to_string(count - 1) + " is out of the allowed range");
      }
    }
  }
  if (!reader.ok()) return fail(static_cast<ErrorCode>(pb::produce_error_code(reader.status())), reader.reason());

  // The batch is normally the whole buffer: take it over instead of copying.
  pb::Bytes bytes = batch.bytes.size() == records->size() ? std::move(*records)
                                                          : pb::Bytes(batch.bytes.begin(), batch.bytes.end());
  int64_t max_timestamp = h.max_timestamp;
  const bool recompress = settings.compression && *settings.compression != h.compression();
  if (settings.log_append_time || recompress) {
    pb::RewriteOptions ro;
    if (recompress) ro.compression = settings.compression;
    if (settings.log_append_time) ro.log_append_time_ms = now;
    ro.limits = limits;
    auto rw = pb::rewrite_batch(bytes, ro);
    if (!rw.ok()) return fail(static_cast<ErrorCode>(pb::produce_error_code(rw.status)), rw.reason);
    bytes = std::move(rw.batch);
    if (settings.log_append_time) max_timestamp = now;
  }
  v.log_append_time = settings.log_append_time;
  v.item.batch.topic_id = topic.id;
  v.item.batch.record_count = h.last_offset_delta + 1;
  v.item.batch.max_timestamp = max_timestamp;
  v.item.batch.producer_id = h.producer_id;
  v.item.batch.producer_epoch = h.producer_epoch;
  v.item.batch.base_sequence = h.base_sequence;
  v.item.bytes = std::move(bytes);
  return v;
}

// The order in which one connection's produce requests reach the WAL: the
// order they arrived, even when one waits for the metadata store (a topic not
// cached yet) and those behind it do not. Each request takes a ticket before
// its first wait and hands its batches to the WAL only on its turn.
// REQUIRES: the connection's strand (one per connection; see
// ConnectionInfo::handler_state).
struct ProduceOrder {
  uint64_t issued = 0;  // tickets handed out
  uint64_t turn = 0;    // the ticket that may submit now
  std::set<uint64_t> finished;  // later tickets that ended without submitting
  std::map<uint64_t, std::shared_ptr<asio::steady_timer>> waiting;

  // Ends `ticket`'s turn (or records that it ended early) and wakes the next.
  void done(uint64_t ticket) {
    if (ticket != turn) {
      finished.insert(ticket);
      return;
    }
    ++turn;
    while (finished.erase(turn)) ++turn;
    if (auto it = waiting.find(turn); it != waiting.end()) {
      it->second->cancel();
      waiting.erase(it);
    }
  }

  asio::awaitable<void> wait_for(uint64_t ticket) {
    if (ticket == turn) co_return;
    auto timer = std::make_shared<asio::steady_timer>(co_await asio::this_coro::executor,
                                                      asio::steady_timer::time_point::max());
    waiting[ticket] = timer;
    std::error_code ec;
    co_await timer->async_wait(asio::redirect_error(asio::use_awaitable, ec));
  }
};

// Holds a ticket; ends its turn when it goes, whatever way the handler ends.
class ProduceTurn {
 public:
  explicit ProduceTurn(const net::ConnectionInfo& conn) {
    if (!conn.handler_state) conn.handler_state = std::make_shared<ProduceOrder>();
    order_ = std::static_pointer_cast<ProduceOrder>(conn.handler_state);
    ticket_ = order_->issued++;
  }
  ProduceTurn(const ProduceTurn&) = delete;
  ProduceTurn& operator=(const ProduceTurn&) = delete;
  ~ProduceTurn() { end(); }

  asio::awaitable<void> wait() { return order_->wait_for(ticket_); }
  void end() {
    if (ended_) return;
    ended_ = true;
    order_->done(ticket_);
  }

 private:
  std::shared_ptr<ProduceOrder> order_;
  uint64_t ticket_ = 0;
  bool ended_ = false;
};

}  // namespace

asio::awaitable<std::optional<ProduceHandler::Response>> ProduceHandler::handle(RequestContext& ctx, Request& req) {
  Broker& broker = ctx.broker;
  // Taken before the first wait below: tickets follow arrival order.
  ProduceTurn turn(ctx.connection);
  const int64_t now = unix_now_ms();
  const bool old_format = ctx.api_version < 3;

  // Request-wide refusals, answered on every partition.
  ErrorCode request_error = ErrorCode::none;
  std::optional<std::string> request_message;
  if (old_format) {
    request_error = ErrorCode::unsupported_version;
    request_message = "Produce v0-v2 (message formats 0 and 1) are not supported; use v3 or later";
  } else if (req.acks != 0 && req.acks != 1 && req.acks != -1) {
    request_error = ErrorCode::invalid_required_acks;
  } else if (req.transactional_id) {
    request_error = ErrorCode::invalid_txn_state;
    request_message = "transactions are not supported yet";
  }

  Response resp;
  std::vector<std::vector<PartitionOutcome>> outcomes(req.topic_data.size());
  std::vector<ingest::AppendItem> items;
  for (size_t t = 0; t < req.topic_data.size(); ++t) {
    auto& topic_data = req.topic_data[t];
    outcomes[t].resize(topic_data.partition_data.size());
    std::shared_ptr<const meta::Topic> topic;
    ErrorCode topic_error = request_error;
    if (topic_error == ErrorCode::none) {
      auto [err, found] = co_await broker.topics->get_or_create(broker, topic_data.name);
      topic_error = err;
      topic = std::move(found);
    }
    std::optional<TopicSettings> settings;
    if (topic) settings = settings_of(broker.config, topic);
    for (size_t p = 0; p < topic_data.partition_data.size(); ++p) {
      auto& pd = topic_data.partition_data[p];
      PartitionOutcome& out = outcomes[t][p];
      if (topic_error != ErrorCode::none) {
        out.error = topic_error;
        out.message = request_message;
        continue;
      }
      if (pd.index < 0 || pd.index >= topic->partitions) {
        out.error = ErrorCode::unknown_topic_or_partition;
        continue;
      }
      Validated v = validate(pd.records, *topic, *settings, now);
      if (v.error != ErrorCode::none) {
        FLOE_LOG(debug, "produce") << "rejected batch for " << topic->name << "-" << pd.index << " from "
                                   << ctx.connection.peer << ": " << pb::error_name(v.error) << ": " << v.message;
        out.error = v.error;
        out.message = std::move(v.message);
        continue;
      }
      v.item.batch.partition = pd.index;
      out.log_append_time = v.log_append_time;
      out.append_time = v.log_append_time ? now : -1;
      out.wal_index = static_cast<int>(items.size());
      items.push_back(std::move(v.item));
      pd.records.reset();  // the bytes now belong to the WAL item
    }
  }

  // The WAL answers through `done`, so a timeout answers the producer while
  // the commit finishes in the background (a retry is then a duplicate that
  // idempotent producers have recognised).
  std::vector<meta::CommitResult> results;
  bool timed_out = false;
  if (!items.empty()) {
    auto executor = co_await asio::this_coro::executor;
    Completion<std::vector<meta::CommitResult>> done(executor);
    co_await turn.wait();
    broker.wal->submit(std::move(items), done);
    turn.end();
    if (req.acks == 0) co_return std::nullopt;
    auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(std::max(0, req.timeout_ms));
    auto r = co_await done.wait_until(deadline);
    if (r) {
      results = std::move(*r);
    } else {
      timed_out = true;
    }
  } else if (req.acks == 0) {
    co_return std::nullopt;
  }

  for (size_t t = 0; t < req.topic_data.size(); ++t) {
    Response::TopicProduceResponse tr;
    tr.name = req.topic_data[t].name;
    for (size_t p = 0; p < req.topic_data[t].partition_data.size(); ++p) {
      const PartitionOutcome& out = outcomes[t][p];
      Response::PartitionProduceResponse pr;
      pr.index = req.topic_data[t].partition_data[p].index;
      pr.error_code = pb::code(out.error);
      pr.error_message = out.message;
      if (out.wal_index >= 0) {
        if (timed_out) {
          pr.error_code = pb::code(ErrorCode::request_timed_out);
        } else {
          const meta::CommitResult& r = results[static_cast<size_t>(out.wal_index)];
          pr.error_code = pb::code(r.error);
          pr.base_offset = r.error == ErrorCode::none ? r.base_offset : -1;
          pr.log_start_offset = r.log_start_offset;
          pr.log_append_time_ms = r.error == ErrorCode::none ? out.append_time : -1;
        }
      }
      tr.partition_responses.push_back(std::move(pr));
    }
    resp.responses.push_back(std::move(tr));
  }
  co_return resp;
}

}  // namespace floe::broker
