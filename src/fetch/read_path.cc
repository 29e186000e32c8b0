#include "fetch/read_path.h"

#include <algorithm>
#include <cstring>

#include <asio/post.hpp>
#include <asio/redirect_error.hpp>
#include <asio/use_awaitable.hpp>

#include "common/blocking.h"
#include "common/completion.h"
#include "common/log.h"
#include "protocol/record_batch.h"

namespace floe::fetch {

using protocol::Bytes;

namespace {
using ObjectResult = std::pair<std::shared_ptr<const Bytes>, std::exception_ptr>;
}  // namespace

size_t PartitionKeyHash::operator()(const PartitionKey& k) const noexcept {
  return protocol::hash_partition(k.topic, k.partition);
}

struct ReadPath::Loading {
  std::vector<Completion<ObjectResult>> waiters;
};

struct ReadPath::Watch::State {
  explicit State(asio::any_io_executor ex) : timer(ex) {}
  asio::steady_timer timer;
  bool notified = false;  // REQUIRES: timer's executor
  std::vector<protocol::Uuid> topics;  // those it is registered under
};

ReadPath::ReadPath(asio::thread_pool& blocking, meta::MetaStore& meta, objstore::ObjectStore& objects,
                   uint64_t cache_max_bytes)
    : blocking_(blocking), meta_(meta), objects_(objects), cache_max_bytes_(cache_max_bytes) {}

ReadPath::~ReadPath() = default;

void ReadPath::on_commit(const ingest::CommittedObject& committed) {
  std::vector<std::shared_ptr<Watch::State>> wake;
  const std::vector<TopicWatch> no_watches;
  const std::vector<TopicWatch>* topic_watches = nullptr;  // those of watched_topic
  protocol::Uuid watched_topic;
  {
    std::lock_guard lock(mu_);
    cache_put_locked(committed.key, committed.data);
    // The rows the commit wrote. A run that does not follow the partition's
    // last one (a commit this broker did not see came between) starts its
    // tail afresh.
    for (const auto& run : committed.runs) {
      auto& runs = state_locked(PartitionKey{run.topic_id, run.partition}).runs;
      if (!runs) runs = std::make_unique<RecentRuns>();
      RecentRuns& q = *runs;
      if (!q.empty() && q.back().last_offset + 1 != run.location.base_offset) q.clear();
      q.push_back(run.location);
    }
    for (size_t i = 0; i < committed.batches.size(); ++i) {
      const auto& b = committed.batches[i];
      const auto& r = committed.results[i];
      if (r.error != protocol::ErrorCode::none || r.duplicate) continue;
      PartitionState* state = find_state_locked(PartitionKey{b.topic_id, b.partition});
      if (state && state->offsets) {
        meta::PartitionOffsets& o = *state->offsets;
        int64_t end = r.base_offset + b.record_count;
        if (end > o.high_watermark) o.high_watermark = end;
        o.log_start_offset = r.log_start_offset;
        if (b.max_timestamp > o.max_timestamp) {
          o.max_timestamp = b.max_timestamp;
          o.max_timestamp_offset = end - 1;
        }
      }
      if (!topic_watches || b.topic_id != watched_topic) {
        watched_topic = b.topic_id;
        auto w = watchers_.find(b.topic_id);
        topic_watches = w == watchers_.end() ? &no_watches : &w->second;
      }
      for (const TopicWatch& w : *topic_watches) {
        if (static_cast<size_t>(b.partition) >= w.partitions.size() || !w.partitions[static_cast<size_t>(b.partition)]) {
          continue;
        }
        // One fetch usually watches all the partitions a commit touches:
        // skip the run of repeats here, the rest below.
        if (!wake.empty() && wake.back().get() == w.id) continue;
        if (auto s = w.state.lock()) wake.push_back(std::move(s));
      }
    }
  }
  // One wake-up per waiting fetch, not one per partition of it the commit
  // touched (5,000 posts a commit at 10,000 partitions).
  std::sort(wake.begin(), wake.end());
  wake.erase(std::unique(wake.begin(), wake.end()), wake.end());
  for (auto& s : wake) {
    asio::post(s->timer.get_executor(), [s] {
      s->notified = true;
      s->timer.cancel();
    });
  }
}

ReadPath::PartitionState* ReadPath::find_state_locked(const PartitionKey& k) {
  auto it = partitions_.find(k.topic);
  if (it == partitions_.end() || k.partition < 0 || static_cast<size_t>(k.partition) >= it->second.size()) {
    return nullptr;
  }
  return &it->second[static_cast<size_t>(k.partition)];
}

ReadPath::PartitionState& ReadPath::state_locked(const PartitionKey& k) {
  auto& topic = partitions_[k.topic];
  const auto p = static_cast<size_t>(k.partition);
  if (p >= topic.size()) topic.resize(p + 1);
  return topic[p];
}

void ReadPath::invalidate_partition(const protocol::Uuid& topic, int32_t partition) {
  std::lock_guard lock(mu_);
  if (PartitionState* state = find_state_locked(PartitionKey{topic, partition})) {
    state->offsets.reset();
    state->runs.reset();
  }
}

void ReadPath::forget_topic(const protocol::Uuid& topic) {
  std::lock_guard lock(mu_);
  partitions_.erase(topic);
  warmed_topics_.erase(topic);
}

void ReadPath::remember_offsets(const PartitionKey& p, const meta::PartitionOffsets& o) {
  if (p.partition < 0) return;
  std::lock_guard lock(mu_);
  auto& cur = state_locked(p).offsets;
  // A commit may have advanced the cache while the query ran; keep the newer.
  if (!cur || o.high_watermark >= cur->high_watermark) cur = o;
}

asio::awaitable<std::optional<meta::PartitionOffsets>> ReadPath::offsets(const PartitionKey& p) {
  std::vector<PartitionKey> one{p};  // built before the co_await (GCC 12 and brace temporaries)
  auto all = co_await offsets_all(std::move(one));
  co_return all.front();
}

std::optional<meta::FetchPlan> ReadPath::plan_from_recent_runs_locked(const PlanRequest& r) {
  const PartitionState* state = find_state_locked(r.partition);
  if (!state || !state->offsets || !state->runs || state->runs->empty()) return std::nullopt;
  const RecentRuns& q = *state->runs;
  const meta::PartitionOffsets& o = *state->offsets;
  // Only a tail that ends at the high watermark and holds the fetch offset:
  // then nothing between them is missing (another broker's commit, say).
  if (q.back().last_offset + 1 != o.high_watermark || r.from < q.front().base_offset ||
      r.from < o.log_start_offset || r.from >= o.high_watermark) {
    return std::nullopt;
  }
  meta::FetchPlan plan;
  plan.offsets = o;
  // As MetaStore::find_batches: runs from the one holding `from`, until the
  // budget is reached (the last may cross it; the caller cuts it).
  uint64_t total = 0;
  for (size_t i = 0; i < q.size(); ++i) {
    const meta::BatchLocation& run = q[i];
    if (run.last_offset < r.from) continue;
    if (total >= r.max_bytes && !plan.batches.empty()) break;
    plan.batches.push_back(run);
    total += run.byte_length;
  }
  return plan;
}

asio::awaitable<std::vector<std::optional<meta::PartitionOffsets>>> ReadPath::offsets_all(
    std::vector<PartitionKey> partitions) {
  std::vector<std::optional<meta::PartitionOffsets>> out(partitions.size());
  std::vector<size_t> misses;
  {
    std::lock_guard lock(mu_);
    for (size_t i = 0; i < partitions.size(); ++i) {
      const PartitionState* state = find_state_locked(partitions[i]);
      if (state && state->offsets) {
        out[i] = state->offsets;
      } else {
        misses.push_back(i);
      }
    }
  }
  if (misses.empty()) co_return out;
  // The first miss of a topic loads every partition of it in the same trip:
  // a consumer assigned 10,000 partitions sends 10,000 ListOffsets of one
  // partition each (librdkafka), one after another, and each was a trip
  // through the blocking pool to the store. Now the rest are cache hits
  // (about a microsecond each).
  std::vector<protocol::Uuid> warm;  // topics loaded whole in this trip
  auto is_warm = [&](const protocol::Uuid& t) { return std::find(warm.begin(), warm.end(), t) != warm.end(); };
  {
    std::lock_guard lock(mu_);
    for (size_t i : misses) {
      const protocol::Uuid& t = partitions[i].topic;
      if (!warmed_topics_.count(t) && !is_warm(t)) warm.push_back(t);
    }
  }
  struct Found {
    std::vector<std::optional<meta::PartitionOffsets>> misses;       // one per miss
    std::vector<std::pair<PartitionKey, meta::PartitionOffsets>> warmed;  // every partition of `warm`
  };
  auto found = co_await run_blocking(blocking_, [&] {
    Found r;
    std::unordered_map<PartitionKey, meta::PartitionOffsets, PartitionKeyHash> by_key;
    for (const auto& t : warm) {
      for (const auto& [p, o] : meta_.topic_offsets(t)) by_key.emplace(PartitionKey{t, p}, o);
    }
    r.misses.reserve(misses.size());
    for (size_t i : misses) {
      const PartitionKey& k = partitions[i];
      if (is_warm(k.topic)) {
        auto it = by_key.find(k);
        r.misses.push_back(it == by_key.end() ? std::nullopt : std::optional(it->second));
      } else {
        r.misses.push_back(meta_.partition_offsets(k.topic, k.partition));
      }
    }
    r.warmed.assign(by_key.begin(), by_key.end());
    return r;
  });
  if (!warm.empty()) {
    std::lock_guard lock(mu_);
    warmed_topics_.insert(warm.begin(), warm.end());
  }
  for (const auto& [key, o] : found.warmed) remember_offsets(key, o);
  for (size_t k = 0; k < misses.size(); ++k) {
    const PartitionKey& key = partitions[misses[k]];
    if (found.misses[k] && !is_warm(key.topic)) remember_offsets(key, *found.misses[k]);
    out[misses[k]] = found.misses[k];
  }
  co_return out;
}

asio::awaitable<std::vector<std::optional<meta::FetchPlan>>> ReadPath::plan_all(std::vector<PlanRequest> requests) {
  std::vector<std::optional<meta::FetchPlan>> plans(requests.size());
  std::vector<size_t> misses;
  {
    std::lock_guard lock(mu_);
    for (size_t i = 0; i < requests.size(); ++i) {
      plans[i] = plan_from_recent_runs_locked(requests[i]);
      if (!plans[i]) misses.push_back(i);
    }
    plans_from_recent_runs_ += requests.size() - misses.size();
    plans_from_store_ += misses.size();
  }
  if (misses.empty()) co_return plans;
  auto found = co_await run_blocking(blocking_, [&] {
    std::vector<std::optional<meta::FetchPlan>> out;
    out.reserve(misses.size());
    for (size_t i : misses) {
      const PlanRequest& r = requests[i];
      out.push_back(meta_.find_batches(r.partition.topic, r.partition.partition, r.from, r.max_bytes));
    }
    return out;
  });
  for (size_t k = 0; k < misses.size(); ++k) {
    if (found[k]) remember_offsets(requests[misses[k]].partition, found[k]->offsets);
    plans[misses[k]] = std::move(found[k]);
  }
  co_return plans;
}

// The cache charges an object the memory it holds: a WAL object still in its
// pool buffer (ingest/buffer_pool.h) holds the whole buffer.
void ReadPath::cache_put_locked(const std::string& key, std::shared_ptr<const Bytes> data) {
  if (!data || data->capacity() > cache_max_bytes_) return;
  if (cache_.count(key)) return;
  lru_.push_front(key);
  cache_[key] = CacheEntry{data, lru_.begin()};
  cache_bytes_ += data->capacity();
  while (cache_bytes_ > cache_max_bytes_ && !lru_.empty()) {
    auto victim = cache_.find(lru_.back());
    cache_bytes_ -= victim->second.data->capacity();
    cache_.erase(victim);
    lru_.pop_back();
  }
}

std::shared_ptr<const Bytes> ReadPath::cache_get_locked(const std::string& key) {
  auto it = cache_.find(key);
  if (it == cache_.end()) return nullptr;
  ++hits_;
  lru_.splice(lru_.begin(), lru_, it->second.lru);
  return it->second.data;
}

asio::awaitable<std::shared_ptr<const Bytes>> ReadPath::object(const std::string& key) {
  {
    // A hit (the usual case: a fetch reads one object for thousands of
    // partitions) needs nothing more.
    std::lock_guard lock(mu_);
    if (auto data = cache_get_locked(key)) co_return data;
  }
  auto caller = co_await asio::this_coro::executor;
  Completion<ObjectResult> mine(caller);
  bool leader = false;
  {
    std::lock_guard lock(mu_);
    if (auto data = cache_get_locked(key)) co_return data;  // loaded meanwhile
    ++misses_;
    auto& loading = loading_[key];
    if (!loading) {
      loading = std::make_shared<Loading>();
      leader = true;
    }
    loading->waiters.push_back(mine);
  }
  if (leader) {
    ObjectResult result;
    try {
      auto bytes = co_await run_blocking(blocking_, [&] { return objects_.get(key); });
      result.first = std::make_shared<const Bytes>(std::move(bytes));
    } catch (...) {
      result.second = std::current_exception();
    }
    std::shared_ptr<Loading> loading;
    {
      std::lock_guard lock(mu_);
      if (result.first) cache_put_locked(key, result.first);
      loading = std::move(loading_[key]);
      loading_.erase(key);
    }
    for (auto& w : loading->waiters) w.set(result);
  }
  ObjectResult r = co_await mine.wait();
  if (r.second) std::rethrow_exception(r.second);
  co_return r.first;
}

asio::awaitable<bool> ReadPath::append_batches(const meta::BatchLocation& loc, int64_t from, size_t limit, bool first,
                                               protocol::Records& out) {
  auto data = co_await object(loc.object_key);
  co_return append_batches_from(data, loc, from, limit, first, out);
}

bool ReadPath::append_batches_from(const std::shared_ptr<const Bytes>& object, const meta::BatchLocation& loc,
                                   int64_t from, size_t limit, bool first, protocol::Records& out) {
  const auto start = out.mark();
  auto corrupt = [&](const std::string& what) {
    out.rollback(start);
    return std::runtime_error("batch run at " + std::to_string(loc.byte_offset) + "+" +
                              std::to_string(loc.byte_length) + " of object " + loc.object_key + " (offsets " +
                              std::to_string(loc.base_offset) + "-" + std::to_string(loc.last_offset) + "): " + what);
  };
  if (loc.byte_offset > object->size() || loc.byte_length > object->size() - loc.byte_offset) {
    throw corrupt("lies outside the object's " + std::to_string(object->size()) + " bytes");
  }
  const std::span<const uint8_t> run(object->data() + loc.byte_offset, loc.byte_length);
  int64_t base = loc.base_offset;  // the next batch's committed base offset
  size_t pos = 0;
  const size_t start_size = out.size();
  while (pos < run.size()) {
    auto h = protocol::parse_whole_batch_header(run.subspan(pos));
    if (!h || h->last_offset_delta < 0) throw corrupt("no whole batch at byte " + std::to_string(pos));
    const size_t size = h->size();
    const int64_t last = base + h->last_offset_delta;
    if (last >= from) {
      const bool must = first && out.size() == start_size;
      if (!must && out.size() + size > limit) return false;
      // The base offset is assigned at commit and written as the response is
      // encoded; the CRC does not cover it.
      out.append_batch(object, run.subspan(pos, size), base);
    }
    base = last + 1;
    pos += size;
  }
  if (base != loc.last_offset + 1) {
    throw corrupt("its batches end at offset " + std::to_string(base - 1));
  }
  return true;
}

std::unique_ptr<ReadPath::Watch> ReadPath::watch(std::span<const PartitionKey> partitions,
                                                 asio::any_io_executor executor) {
  auto w = std::unique_ptr<Watch>(new Watch());
  w->owner_ = this;
  w->state_ = std::make_shared<Watch::State>(executor);
  // One entry per topic, built outside the lock. A fetch lists a topic's
  // partitions together, so the index is consulted only when the topic changes.
  std::vector<TopicWatch> entries;
  std::unordered_map<protocol::Uuid, size_t, protocol::UuidHash> index;
  size_t current = 0;
  for (const auto& k : partitions) {
    if (k.partition < 0) continue;
    if (entries.empty() || w->state_->topics[current] != k.topic) {
      auto [it, added] = index.try_emplace(k.topic, entries.size());
      if (added) {
        w->state_->topics.push_back(k.topic);
        entries.push_back(TopicWatch{w->state_.get(), w->state_, {}});
      }
      current = it->second;
    }
    auto& bits = entries[current].partitions;
    const auto p = static_cast<size_t>(k.partition);
    if (p >= bits.size()) bits.resize(p + 1);
    bits[p] = true;
  }
  std::lock_guard lock(mu_);
  for (size_t i = 0; i < entries.size(); ++i) watchers_[w->state_->topics[i]].push_back(std::move(entries[i]));
  return w;
}

size_t ReadPath::watch_registrations() const {
  std::lock_guard lock(mu_);
  size_t n = 0;
  for (const auto& [topic, list] : watchers_) n += list.size();
  return n;
}

ReadPath::Watch::~Watch() {
  std::lock_guard lock(owner_->mu_);
  for (const auto& topic : state_->topics) {
    auto it = owner_->watchers_.find(topic);
    if (it == owner_->watchers_.end()) continue;
    auto& list = it->second;
    std::erase_if(list, [&](const TopicWatch& e) { return e.id == state_.get(); });
    if (list.empty()) owner_->watchers_.erase(it);
  }
}

asio::awaitable<bool> ReadPath::Watch::wait_until(std::chrono::steady_clock::time_point deadline) {
  auto s = state_;
  while (!s->notified && std::chrono::steady_clock::now() < deadline) {
    s->timer.expires_at(deadline);
    std::error_code ec;
    co_await s->timer.async_wait(asio::redirect_error(asio::use_awaitable, ec));
  }
  co_return std::exchange(s->notified, false);
}

ReadPath::CacheStats ReadPath::cache_stats() const {
  std::lock_guard lock(mu_);
  return CacheStats{hits_, misses_, cache_bytes_, cache_.size(), plans_from_recent_runs_, plans_from_store_};
}

}  // namespace floe::fetch
