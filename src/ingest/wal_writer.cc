#include "ingest/wal_writer.h"

#include "common/clock.h"

#include <asio/bind_executor.hpp>
#include <asio/co_spawn.hpp>
#include <asio/detached.hpp>
#include <asio/post.hpp>
#include <asio/redirect_error.hpp>
#include <asio/use_awaitable.hpp>
#include <algorithm>
#include <condition_variable>
#include <cstdio>
#include <numeric>
#include <random>

#include "common/blocking.h"
#include "common/completion.h"
#include "common/log.h"

namespace floe::ingest {

using meta::CommitResult;
using protocol::ErrorCode;

struct WalWriter::Request {
  std::vector<AppendItem> items;
  uint64_t bytes = 0;
  Completion<std::vector<CommitResult>> done;
  size_t first_batch = 0;  // index of its first batch in the object
};

struct WalWriter::Object {
  uint64_t seq = 0;
  std::string key;
  protocol::Bytes data;  // while open
  // From seal on: shared, so a hedged PUT still running after another won
  // keeps the bytes alive while the cache holds them too.
  std::shared_ptr<const protocol::Bytes> sealed_data;
  std::vector<meta::PendingBatch> batches;
  std::vector<std::shared_ptr<Request>> requests;
  bool upload_started = false;
  bool uploaded = false;
  bool failed = false;
  // The commit may start while the PUT runs (WalOptions::early_commit_max_put).
  bool put_started = false;    // the bytes and batch offsets are final
  bool early_commit_tried = false;
  std::shared_ptr<UploadOutcome> put_outcome = std::make_shared<UploadOutcome>();
  std::chrono::steady_clock::time_point opened, sealed;
  // Set once, under intake_mu_, before the seal; read on the strand after it.
  std::shared_ptr<Stream> stream;
  bool stream_tried = false;  // its finish was the first PUT (strand_)
};

// An object written while it fills (objstore::ObjectWriter): one job at a
// time on the blocking pool writes the bytes that have arrived; the seal
// gives the final size, and the job after it finishes the object. At 10,000
// partitions and 20 MiB/s, the PUT after the seal had been the whole ~5 MiB
// object, 6-10 ms of O_DIRECT write and fsync; now it is the tail and the
// fsync.
struct WalWriter::Stream {
  Stream(asio::any_io_executor strand, std::unique_ptr<objstore::ObjectWriter> w)
      : writer(std::move(w)), stored(strand) {}

  std::unique_ptr<objstore::ObjectWriter> writer;  // used by the running job only
  std::mutex mu;
  const uint8_t* base = nullptr;  // GUARDED_BY(mu): the object's buffer
  uint64_t arrived = 0;           // GUARDED_BY(mu): bytes in it
  uint64_t handed = 0;            // GUARDED_BY(mu): bytes given to the writer so far
  bool running = false;           // GUARDED_BY(mu): a job is queued or running
  bool sealed = false;            // GUARDED_BY(mu)
  bool broken = false;            // GUARDED_BY(mu): a write failed; the object is put the usual way
  // nullptr once the object is stored; the error when the writer failed.
  Completion<std::exception_ptr> stored;
};

// Whether the object's upload succeeded, for a commit that started before it
// ended and waits for it in the metadata store's gate (on a blocking thread).
struct WalWriter::UploadOutcome {
  // Any thread; the first outcome counts.
  void set(bool durable) {
    {
      std::lock_guard lock(mu);
      if (outcome) return;
      outcome = durable;
      at = std::chrono::steady_clock::now();
    }
    cv.notify_all();
  }
  // True once the object is durable; false when the upload failed or has
  // not ended within `limit`.
  bool wait_durable(std::chrono::steady_clock::duration limit) {
    std::unique_lock lock(mu);
    cv.wait_for(lock, limit, [&] { return outcome.has_value(); });
    return outcome.value_or(false);
  }
  std::optional<std::chrono::steady_clock::time_point> ended() {
    std::lock_guard lock(mu);
    if (!outcome) return std::nullopt;
    return at;
  }

  std::mutex mu;
  std::condition_variable cv;
  std::optional<bool> outcome;  // GUARDED_BY(mu)
  std::chrono::steady_clock::time_point at;  // GUARDED_BY(mu)
};

namespace {

// The batches' indexes partition by partition, each partition's in arrival
// order.
std::vector<uint32_t> by_partition(const std::vector<meta::PendingBatch>& batches) {
  std::vector<uint32_t> order(batches.size());
  std::iota(order.begin(), order.end(), 0u);
  std::stable_sort(order.begin(), order.end(), [&](uint32_t a, uint32_t b) {
    return std::tie(batches[a].topic_id.bytes, batches[a].partition) <
           std::tie(batches[b].topic_id.bytes, batches[b].partition);
  });
  return order;
}

bool same_partition(const meta::PendingBatch& a, const meta::PendingBatch& b) {
  return a.topic_id == b.topic_id && a.partition == b.partition;
}

// Whether an object is best written as it arrived: laid out partition by
// partition it would take at least 3/4 of the batch-index rows it takes as
// it arrived (a row per run of one partition's batches back to back). At
// 10,000 partitions, with an object holding about one batch of each of
// ~5,000, grouping saves few rows (none, or ~20% when the producer picks
// partitions at random); at 100 it turns ~2,600 rows into 100.
bool best_as_arrived(const std::vector<meta::PendingBatch>& batches, const std::vector<uint32_t>& order) {
  size_t as_arrived = 0;
  size_t grouped = 0;
  for (size_t i = 0; i < batches.size(); ++i) {
    if (i == 0 || !same_partition(batches[i], batches[i - 1])) ++as_arrived;
    if (i == 0 || !same_partition(batches[order[i]], batches[order[i - 1]])) ++grouped;
  }
  return grouped * 4 >= as_arrived * 3;
}

// The object's bytes laid out partition by partition (`order`), each
// partition's batches in arrival order, with the batches' byte offsets moved
// to match (the batch list itself keeps arrival order: results map to
// requests by index). Back to back, a partition's batches become one row of
// the batch index (meta::BatchLocation) instead of one row each; nullopt
// when the object is already laid out so (one partition), or when no
// partition has two batches in it: then every batch is a row of its own in
// any layout, and the copy is for nothing (at 10,000 partitions an object
// holds about one batch of each of ~5,000: flat out, 8 MiB ~25 times a
// second).
std::optional<protocol::Bytes> group_by_partition(const protocol::Bytes& data, std::vector<meta::PendingBatch>& batches,
                                                  const std::vector<uint32_t>& order, BufferPool& buffers) {
  bool shared = false;  // some partition has two batches or more
  for (size_t i = 1; i < order.size() && !shared; ++i) shared = same_partition(batches[order[i]], batches[order[i - 1]]);
  if (!shared) return std::nullopt;
  bool moved = false;
  for (size_t i = 0; i < order.size() && !moved; ++i) moved = order[i] != i;
  if (!moved) return std::nullopt;
  protocol::Bytes out = buffers.worth_a_buffer(data.size()) ? buffers.take() : protocol::Bytes{};
  out.reserve(data.size());  // no-op in a pool buffer, unless the object outgrew it
  for (uint32_t i : order) {
    meta::PendingBatch& b = batches[i];
    auto first = data.begin() + static_cast<std::ptrdiff_t>(b.byte_offset);
    b.byte_offset = out.size();
    out.insert(out.end(), first, first + b.byte_length);
  }
  return out;
}

// Object buffers kept for reuse (BufferPool): the cache hands one back for
// each object it drops, so a few cover the steady state. Up to 4, and no
// more than 32 MiB of them idle unless one object is larger.
size_t buffers_kept(uint64_t object_max_bytes) {
  constexpr uint64_t kIdleBytes = 32 << 20;
  return static_cast<size_t>(std::clamp<uint64_t>(kIdleBytes / std::max<uint64_t>(1, object_max_bytes), 1, 4));
}

std::vector<CommitResult> failed_results(size_t n, ErrorCode code) {
  std::vector<CommitResult> r(n);
  for (auto& x : r) x.error = code;
  return r;
}

}  // namespace

WalWriter::WalWriter(asio::io_context& io, asio::thread_pool& blocking, objstore::ObjectStore& objects,
                     meta::MetaStore& meta, WalOptions options, CommitListener on_commit)
    : strand_(asio::make_strand(io)),
      blocking_(blocking),
      objects_(objects),
      meta_(meta),
      options_(options),
      on_commit_(std::move(on_commit)),
      buffers_(BufferPool::create(options_.object_max_bytes, buffers_kept(options_.object_max_bytes))),
      linger_timer_(strand_) {}

WalWriter::~WalWriter() = default;

asio::awaitable<std::vector<CommitResult>> WalWriter::append(std::vector<AppendItem> items) {
  if (items.empty()) co_return std::vector<CommitResult>{};
  auto caller = co_await asio::this_coro::executor;
  Completion<std::vector<CommitResult>> done(caller);
  submit(std::move(items), done);
  co_return co_await done.wait();
}

void WalWriter::submit(std::vector<AppendItem> items, Completion<std::vector<CommitResult>> done) {
  if (items.empty()) {
    done.set({});
    return;
  }
  auto req = std::make_shared<Request>(Request{std::move(items), 0, std::move(done), 0});
  for (const auto& i : req->items) req->bytes += i.bytes.size();
  // On the caller's thread, under the intake lock: no hop to the strand, so a
  // produce request wakes no other thread.
  std::lock_guard lock(intake_mu_);
  // Backpressure: past wal.buffer.max.bytes a request waits for earlier ones
  // to be acknowledged. A request alone larger than the limit still goes
  // through once nothing else is pending, so nothing waits forever.
  bool fits = unacknowledged_bytes_ == 0 || unacknowledged_bytes_ + req->bytes <= options_.buffer_max_bytes;
  if (fits && admission_waiters_.empty()) {
    admit_locked(std::move(req));
  } else {
    admission_waiters_.push_back(std::move(req));
  }
}

// REQUIRES: intake_mu_
void WalWriter::admit_locked(std::shared_ptr<Request> req) {
  unacknowledged_bytes_ += req->bytes;
  if (open_ && !open_->batches.empty() && open_->data.size() + req->bytes > options_.object_max_bytes) seal_locked();
  if (!open_) {
    open_ = std::make_shared<Object>();
    open_->seq = next_object_seq_++;
    open_->opened = std::chrono::steady_clock::now();
    open_->key = new_key();
    open_->data = buffers_->take();
    // Posted under the lock, so the strand arms the timers in opening order.
    asio::post(strand_, [this, seq = open_->seq, deadline = open_->opened + options_.linger] {
      arm_linger(seq, deadline);
    });
  }
  Object& obj = *open_;
  req->first_batch = obj.batches.size();
  if (obj.data.capacity() < obj.data.size() + req->bytes) {
    // Once, for the whole object (pages are only touched as they fill), then
    // geometric growth for an oversized request: appends never copy the
    // buffer again and again. Only ever into an empty object (a request that
    // does not fit sealed the one before), so never under a stream's job,
    // which reads the buffer where it is.
    obj.data.reserve(std::max<size_t>({options_.object_max_bytes, obj.data.size() + req->bytes, obj.data.capacity() * 2}));
  }
  for (auto& item : req->items) {
    item.batch.byte_offset = obj.data.size();
    item.batch.byte_length = static_cast<uint32_t>(item.bytes.size());
    obj.data.insert(obj.data.end(), item.bytes.begin(), item.bytes.end());
    obj.batches.push_back(item.batch);
    protocol::Bytes().swap(item.bytes);  // the object holds the bytes now
  }
  obj.requests.push_back(std::move(req));
  if (obj.data.size() >= options_.object_max_bytes) {
    seal_locked();
  } else {
    feed_locked(open_);
  }
}

// Bytes written while an object fills go in steps of this much, or more:
// small enough that little is left for after the seal, large enough that
// the writes stay few (at 20 MiB/s, one every 25 ms).
constexpr uint64_t kStreamStep = 512 << 10;

// Starts writing the object as it fills, once there is a step's worth, and
// hands its writer what has arrived since.
// REQUIRES: intake_mu_
void WalWriter::feed_locked(const std::shared_ptr<Object>& obj) {
  if (!obj->stream) {
    if (obj->data.size() < kStreamStep || !store_writes_early_ || !layout_as_arrived_) return;
    auto writer = objects_.start_put(obj->key);
    if (!writer) {
      store_writes_early_ = false;  // the store takes whole objects only
      return;
    }
    obj->stream = std::make_shared<Stream>(strand_, std::move(writer));
  }
  Stream& s = *obj->stream;
  std::lock_guard lock(s.mu);
  s.base = obj->data.data();
  s.arrived = obj->data.size();
  if (!s.running && !s.broken && s.arrived - s.handed >= kStreamStep) {
    s.running = true;
    asio::post(blocking_, [this, obj] { pump(obj); });
  }
}

// Writes what has arrived of the object, then, once it is sealed, finishes
// it; the only job of its stream running. Holds the object, and so its
// buffer.
// On the blocking pool.
void WalWriter::pump(std::shared_ptr<Object> obj) {
  Stream& s = *obj->stream;
  for (;;) {
    std::unique_lock lock(s.mu);
    const bool last = s.sealed;
    if (!last && s.arrived - s.handed < kStreamStep) {
      s.running = false;
      return;
    }
    const std::span<const uint8_t> bytes(s.base, s.arrived);
    s.handed = s.arrived;
    lock.unlock();
    try {
      if (!last) {
        s.writer->write(bytes);
        continue;
      }
      s.writer->finish(bytes);
    } catch (...) {
      auto error = std::current_exception();
      s.writer.reset();  // leaves nothing behind
      lock.lock();
      s.broken = true;
      s.running = false;
      // Sealed by now: nobody else will say so (see seal_locked).
      if (s.sealed) s.stored.set(error);
      return;
    }
    // Like a PUT that ended: what an early commit waits for, and what it
    // judges PUT times by (the time after the seal; obj->sealed was set
    // before `sealed`, under the lock this job took).
    record_put(std::chrono::steady_clock::now() - obj->sealed);
    obj->put_outcome->set(true);
    stats_.written_while_filling.fetch_add(1, std::memory_order_relaxed);
    s.stored.set(nullptr);
    return;
  }
}

// REQUIRES: strand_
void WalWriter::arm_linger(uint64_t seq, std::chrono::steady_clock::time_point deadline) {
  // One timer: arming it for a newer object cancels the wait for an older
  // one, which has been sealed by size already.
  linger_timer_.expires_at(deadline);
  linger_timer_.async_wait(asio::bind_executor(strand_, [this, seq](std::error_code ec) {
    if (ec) return;
    {
      std::lock_guard lock(intake_mu_);
      if (!open_ || open_->seq != seq) return;
      seal_locked();
    }
    take_sealed();
  }));
}

// REQUIRES: intake_mu_
void WalWriter::seal_locked() {
  if (!open_) return;
  auto obj = std::move(open_);
  open_.reset();
  obj->sealed = std::chrono::steady_clock::now();
  if (obj->stream) {
    Stream& s = *obj->stream;
    std::lock_guard lock(s.mu);
    s.base = obj->data.data();
    s.arrived = obj->data.size();
    s.sealed = true;
    if (s.broken) {
      s.stored.set(std::make_exception_ptr(objstore::ObjectStoreError(objstore::ErrorKind::retriable,
                                                                      "writing " + obj->key + " as it filled failed")));
    } else if (!s.running) {
      s.running = true;
      asio::post(blocking_, [this, obj] { pump(obj); });
    }
  }
  bool first = just_sealed_.empty();
  just_sealed_.push_back(std::move(obj));
  // One pending hand-over takes all the objects sealed meanwhile, in order.
  if (first) asio::post(strand_, [this] { take_sealed(); });
}

// Moves the objects sealed by the intake into the upload queue, in seal order.
// REQUIRES: strand_
void WalWriter::take_sealed() {
  std::deque<std::shared_ptr<Object>> taken;
  {
    std::lock_guard lock(intake_mu_);
    taken.swap(just_sealed_);
  }
  if (taken.empty()) return;
  for (auto& obj : taken) {
    // A stream's job may still read the bytes where they are.
    obj->sealed_data = buffers_->share(std::move(obj->data), /*in_place=*/obj->stream != nullptr);
    obj->data = {};
    sealed_.push_back(std::move(obj));
  }
  start_uploads();
}

// REQUIRES: strand_
void WalWriter::start_uploads() {
  for (auto& obj : sealed_) {
    if (uploads_in_flight_ >= options_.max_parallel_uploads) break;
    if (obj->upload_started) continue;
    obj->upload_started = true;
    ++uploads_in_flight_;
    asio::co_spawn(strand_, upload(obj), asio::detached);
  }
}

asio::awaitable<void> WalWriter::upload(std::shared_ptr<Object> obj) {
  if (!obj->stream) {
    // Off the strand (a copy of the object), and before anything else sees
    // the sealed bytes or the batches' offsets.
    auto [grouped, as_arrived] = co_await run_blocking(blocking_, [&] {
      auto order = by_partition(obj->batches);
      bool as_arrived = best_as_arrived(obj->batches, order);
      return std::make_pair(group_by_partition(*obj->sealed_data, obj->batches, order, *buffers_), as_arrived);
    });
    note_layout(as_arrived);
    if (grouped) obj->sealed_data = buffers_->share(std::move(*grouped));
  }
  obj->put_started = true;
  commit_ready();  // the front object may commit beside its PUT
  if (obj->stream) {
    // Laid out as it arrived, and mostly stored already. Judged before its
    // commit can end, so that the objects opened after it follow its lesson
    // (~0.3 ms at 10,000 partitions).
    note_layout(best_as_arrived(obj->batches, by_partition(obj->batches)));
  }
  std::chrono::milliseconds backoff{100};
  for (int attempt = 1;; ++attempt) {
    try {
      co_await put_hedged(obj);
      obj->uploaded = true;
      break;
    } catch (const objstore::ObjectStoreError& e) {
      ++stats_.upload_failures;
      bool retry = e.kind() == objstore::ErrorKind::retriable && attempt < options_.upload_attempts;
      FLOE_LOG(warn, "ingest") << "upload of " << obj->key << " (" << obj->sealed_data->size() << " bytes) failed, attempt "
                               << attempt << ": " << e.what() << (retry ? "; retrying" : "");
      if (!retry) break;
    } catch (const std::exception& e) {
      ++stats_.upload_failures;
      FLOE_LOG(error, "ingest") << "upload of " << obj->key << " failed: " << e.what();
      break;
    }
    // Exponential backoff with jitter, so many brokers do not retry in step.
    asio::steady_timer t(strand_);
    std::uniform_int_distribution<int> jitter(0, static_cast<int>(backoff.count()));
    t.expires_after(backoff + std::chrono::milliseconds(jitter(rng_)));
    std::error_code ec;
    co_await t.async_wait(asio::redirect_error(asio::use_awaitable, ec));
    backoff *= 4;
  }
  if (!obj->uploaded) obj->failed = true;
  obj->put_outcome->set(obj->uploaded);
  --uploads_in_flight_;
  start_uploads();
  commit_ready();
}

// Whether the objects to come are written as they fill (Stream): only while
// the last ones would gain little from being laid out by partition.
// Any thread.
void WalWriter::note_layout(bool as_arrived) {
  std::lock_guard lock(intake_mu_);
  layout_as_arrived_ = as_arrived;
}

std::chrono::steady_clock::duration WalWriter::hedge_delay() {
  // Too few samples for a percentile: the floor alone.
  auto p95 = recent_put_percentile(95, 20);
  return std::max<std::chrono::steady_clock::duration>(options_.upload_hedge, p95.value_or(options_.upload_hedge));
}

// The `percent`th percentile of recent successful PUTs; nullopt with fewer
// than `min_samples`.
std::optional<std::chrono::steady_clock::duration> WalWriter::recent_put_percentile(size_t percent,
                                                                                    size_t min_samples) {
  std::lock_guard lock(put_times_mu_);
  if (put_times_.size() < min_samples || put_times_.empty()) return std::nullopt;
  std::vector<std::chrono::steady_clock::duration> times = put_times_;
  auto at = times.begin() + static_cast<std::ptrdiff_t>(times.size() * percent / 100);
  std::nth_element(times.begin(), at, times.end());
  return *at;
}

void WalWriter::record_put(std::chrono::steady_clock::duration took) {
  constexpr size_t kSamples = 128;
  std::lock_guard lock(put_times_mu_);
  if (put_times_.size() < kSamples) {
    put_times_.push_back(took);
  } else {
    put_times_[put_times_next_] = took;
  }
  put_times_next_ = (put_times_next_ + 1) % kSamples;
}

// One upload attempt. The PUT goes to the blocking pool; if it has not
// finished after hedge_delay(), a second PUT of the same bytes under the same
// key goes beside it (PUTs of one key with the same bytes are idempotent, and
// nothing references the key until the commit). The first success ends the
// attempt; it fails only when every PUT sent has failed. A losing PUT runs on
// in the background and keeps only the shared bytes alive.
asio::awaitable<void> WalWriter::put_hedged(std::shared_ptr<Object> obj) {
  struct Race {
    std::atomic<int> running{0};
  };
  auto race = std::make_shared<Race>();
  Completion<std::exception_ptr> done(strand_);  // nullptr: a PUT succeeded
  auto launch = [this, race, done, data = obj->sealed_data, key = obj->key, outcome = obj->put_outcome] {
    race->running.fetch_add(1);
    asio::post(blocking_, [this, race, done, data, key, outcome] {
      auto started = std::chrono::steady_clock::now();
      std::exception_ptr error;
      try {
        objects_.put(key, *data);
      } catch (...) {
        error = std::current_exception();
      }
      if (!error) {
        record_put(std::chrono::steady_clock::now() - started);
        outcome->set(true);  // straight from here: a commit may be waiting for it
        done.set(nullptr);
      } else if (race->running.fetch_sub(1) == 1) {
        done.set(error);  // the last PUT running has failed too
      }
    });
  };
  // The first attempt of an object written as it filled is its writer's
  // finish: it runs already (pump), and counts here as one PUT of the race.
  // A writer that failed hands over to an ordinary PUT at once, not after a
  // retry's backoff.
  if (obj->stream && !obj->stream_tried) {
    obj->stream_tried = true;
    race->running.fetch_add(1);
    asio::co_spawn(
        strand_,
        [stream = obj->stream, race, done, launch, key = obj->key]() -> asio::awaitable<void> {
          std::exception_ptr error = co_await stream->stored.wait();
          if (!error) {
            done.set(nullptr);
            co_return;
          }
          try {
            std::rethrow_exception(error);
          } catch (const std::exception& e) {
            FLOE_LOG(info, "ingest") << "writing " << key << " as it filled failed (" << e.what() << "); putting it whole";
          }
          launch();
          race->running.fetch_sub(1);
        },
        asio::detached);
  } else {
    launch();
  }
  std::exception_ptr outcome;
  if (options_.upload_hedge.count() < 0) {
    outcome = co_await done.wait();
  } else {
    auto first = co_await done.wait_until(std::chrono::steady_clock::now() + hedge_delay());
    if (first) {
      outcome = *first;
    } else {
      stats_.hedged_uploads.fetch_add(1, std::memory_order_relaxed);
      FLOE_LOG(debug, "ingest") << "upload of " << obj->key << " is slow; sending a second PUT";
      launch();
      outcome = co_await done.wait();
    }
  }
  if (outcome) std::rethrow_exception(outcome);
}

// REQUIRES: strand_
void WalWriter::commit_ready() {
  while (!committing_ && !sealed_.empty()) {
    auto front = sealed_.front();
    if (front->failed) {
      sealed_.pop_front();
      // The object may exist anyway (a lost response); nothing references it,
      // so garbage collection removes it.
      finish(*front, failed_results(front->batches.size(), ErrorCode::kafka_storage_error));
      continue;
    }
    if (!front->uploaded && !may_commit_early(*front)) return;
    if (!front->uploaded) front->early_commit_tried = true;
    committing_ = true;
    asio::co_spawn(strand_, commit(front), asio::detached);
  }
  bool idle = sealed_.empty();
  if (idle) {
    std::lock_guard lock(intake_mu_);
    idle = !open_ && just_sealed_.empty();
  }
  if (idle) {
    for (auto& w : std::exchange(flush_waiters_, {})) w();
  }
}

// Whether the front object, still uploading, may be committed now: its PUT
// has started, it has not been tried early before, and recent PUTs were
// quick. The commit then holds the store's write lock until the PUT ends,
// which is cheap only when PUTs are short.
// REQUIRES: strand_
bool WalWriter::may_commit_early(const Object& obj) {
  if (options_.early_commit_max_put.count() < 0 || !obj.put_started || obj.early_commit_tried || obj.failed) {
    return false;
  }
  auto p90 = recent_put_percentile(90, 8);
  return p90 && *p90 <= options_.early_commit_max_put;
}

asio::awaitable<void> WalWriter::commit(std::shared_ptr<Object> obj) {
  meta::ObjectCommit oc{obj->key, obj->sealed_data->size(), unix_now_ms()};
  std::vector<CommitResult> results;
  std::vector<meta::StoredRun> runs;
  bool recorded = false;
  bool outcome_known = false;
  const auto commit_started = std::chrono::steady_clock::now();
  // Committed beside its PUT: the transaction does its work while the PUT
  // runs, then waits in the gate until the object is durable. It waits at
  // most twice early_commit_max_put (other writers of the store wait too);
  // past that, or when the upload failed, the commit is abandoned and made
  // again, the usual way, once the upload has ended.
  meta::CommitGate gate;
  if (!obj->uploaded) {
    const auto limit = 2 * std::chrono::steady_clock::duration(options_.early_commit_max_put);
    gate = [outcome = obj->put_outcome, limit] { return outcome->wait_durable(limit); };
  }
  try {
    auto outcome = co_await run_blocking(blocking_, [&] { return meta_.commit_object(oc, obj->batches, gate); });
    if (outcome.abandoned) {
      ++stats_.early_commits_abandoned;
      FLOE_LOG(debug, "ingest") << "commit of " << obj->key << " beside its upload abandoned; committing after it";
      committing_ = false;
      commit_ready();
      co_return;
    }
    if (gate) ++stats_.early_commits;
    results = std::move(outcome.results);
    runs = std::move(outcome.runs);
    recorded = outcome.object_recorded;
    outcome_known = true;
  } catch (const std::exception& e) {
    // Whether the transaction landed is unknown; the producer retries and an
    // idempotent retry is recognised as a duplicate if it did.
    FLOE_LOG(error, "ingest") << "commit of " << obj->key << " failed: " << e.what();
    results = failed_results(obj->batches.size(), ErrorCode::kafka_storage_error);
  }
  if (results.size() != obj->batches.size()) {
    FLOE_LOG(error, "ingest") << "commit of " << obj->key << " returned " << results.size() << " results for "
                              << obj->batches.size() << " batches";
    results = failed_results(obj->batches.size(), ErrorCode::unknown_server_error);
  }
  {
    using std::chrono::duration_cast;
    using ms = std::chrono::milliseconds;
    // With an early commit, "commit" is what it added after the upload.
    auto now = std::chrono::steady_clock::now();
    auto uploaded = obj->put_outcome->ended().value_or(now);
    FLOE_LOG(debug, "ingest") << obj->key << ": " << obj->sealed_data->size() << " bytes, " << obj->batches.size()
                              << " batches; open " << duration_cast<ms>(obj->sealed - obj->opened).count()
                              << " ms, upload " << duration_cast<ms>(uploaded - obj->sealed).count()
                              << " ms, commit " << duration_cast<ms>(now - std::max(uploaded, commit_started)).count()
                              << " ms" << (gate ? " (begun beside the upload)" : "");
  }
  if (recorded) {
    ++stats_.objects_committed;
    stats_.bytes_committed += obj->sealed_data->size();
    if (on_commit_) {
      CommittedObject c{obj->key, obj->sealed_data, obj->batches, results, std::move(runs)};
      on_commit_(c);
    }
  } else if (outcome_known) {
    // Every batch was rejected or a duplicate: nothing will ever read it. When
    // the commit failed instead, it may still have landed (a lost answer from
    // the store), so the object is left to garbage collection, which deletes
    // it only if the metadata store does not reference it.
    std::vector<std::string> keys{obj->key};
    try {
      co_await run_blocking(blocking_, [&] { objects_.remove(keys); });
    } catch (const std::exception& e) {
      FLOE_LOG(warn, "ingest") << "could not delete unused object " << obj->key << ": " << e.what();
    }
  }
  sealed_.pop_front();
  committing_ = false;
  finish(*obj, std::move(results));
  commit_ready();
}

// The requests of one object, answered a few at a time.
struct WalWriter::Answers {
  std::vector<std::shared_ptr<Request>> requests;
  std::vector<CommitResult> results;
  size_t next = 0;
};

// REQUIRES: strand_
void WalWriter::finish(Object& obj, std::vector<CommitResult> results) {
  auto answers = std::make_shared<Answers>();
  answers->requests = std::move(obj.requests);
  answers->results = std::move(results);
  obj.requests.clear();
  answer_some(std::move(answers));
}

// Answers the next few requests, oldest first, then yields the strand and
// goes on. An object holds thousands of requests (librdkafka sends one per
// partition batch), and answering them all at once would queue every
// connection's responses behind all of them: the oldest requests, which have
// waited longest, would wait for the youngest. In small steps the first
// responses are on the wire while later ones are still being answered.
// REQUIRES: strand_
void WalWriter::answer_some(std::shared_ptr<Answers> answers) {
  constexpr size_t kStep = 64;
  const size_t end = std::min(answers->requests.size(), answers->next + kStep);
  uint64_t bytes = 0;
  for (; answers->next < end; ++answers->next) {
    auto& req = answers->requests[answers->next];
    auto first = answers->results.begin() + static_cast<std::ptrdiff_t>(req->first_batch);
    req->done.set(std::vector<CommitResult>(first, first + static_cast<std::ptrdiff_t>(req->items.size())));
    bytes += req->bytes;
    req.reset();
  }
  release(bytes);
  if (answers->next < answers->requests.size()) {
    asio::post(strand_, [this, answers = std::move(answers)]() mutable { answer_some(std::move(answers)); });
  }
}

// REQUIRES: strand_
void WalWriter::release(uint64_t bytes) {
  std::lock_guard lock(intake_mu_);
  unacknowledged_bytes_ -= std::min(bytes, unacknowledged_bytes_);
  while (!admission_waiters_.empty()) {
    // Admit waiters in order while under the limit, and always when nothing
    // is pending.
    if (unacknowledged_bytes_ != 0 && unacknowledged_bytes_ >= options_.buffer_max_bytes) break;
    auto req = std::move(admission_waiters_.front());
    admission_waiters_.pop_front();
    admit_locked(std::move(req));
  }
}

asio::awaitable<void> WalWriter::flush() {
  auto caller = co_await asio::this_coro::executor;
  Completion<bool> done(caller);
  asio::post(strand_, [this, done] {
    {
      std::lock_guard lock(intake_mu_);
      seal_locked();
    }
    take_sealed();
    linger_timer_.cancel();  // nothing open: a pending wait would only delay the end of io.run()
    if (sealed_.empty()) {
      done.set(true);
    } else {
      flush_waiters_.push_back([done] { done.set(true); });
    }
  });
  co_await done.wait();
}

WalWriter::Stats WalWriter::stats() const {
  return Stats{stats_.objects_committed.load(), stats_.bytes_committed.load(), stats_.upload_failures.load(),
               stats_.hedged_uploads.load(), stats_.early_commits.load(), stats_.early_commits_abandoned.load(),
               stats_.written_while_filling.load()};
}

// REQUIRES: intake_mu_
std::string WalWriter::new_key() {
  // A random first folder spreads keys over S3 prefixes; time and node make
  // keys readable; the random tail makes a collision (an overwrite) impossible
  // in practice even across brokers with the same node id.
  char buf[96];
  std::snprintf(buf, sizeof(buf), "wal/%04x/%013lld-%d-%llu-%016llx", static_cast<unsigned>(key_rng_() & 0xffff),
                static_cast<long long>(unix_now_ms()), options_.node_id, static_cast<unsigned long long>(next_key_seq_++),
                static_cast<unsigned long long>(key_rng_()));
  return buf;
}

}  // namespace floe::ingest
