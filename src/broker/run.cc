// Start-up and shutdown of one broker process.
#include "broker/run.h"

#include "common/clock.h"

#include <asio/co_spawn.hpp>
#include <asio/detached.hpp>
#include <asio/io_context.hpp>
#include <asio/post.hpp>
#include <asio/redirect_error.hpp>
#include <asio/signal_set.hpp>
#include <asio/steady_timer.hpp>
#include <asio/strand.hpp>
#include <asio/thread_pool.hpp>
#include <asio/use_awaitable.hpp>
#include <csignal>
#include <random>
#include <thread>

#include "broker/broker.h"
#include "broker/dispatch.h"
#include "broker/topic_cache.h"
#include "common/blocking.h"
#include "common/log.h"
#include "fetch/read_path.h"
#include "groups/coordinator.h"
#include "ingest/wal_writer.h"
#include "maintenance/gc.h"
#include "meta/meta_store.h"
#include "net/server.h"
#include "objstore/fault_injection.h"
#include "objstore/object_store.h"

namespace floe::broker {

namespace {

// Blocking metadata and object store calls run on this many threads. WAL
// uploads overlap (DESIGN §2), so it is wider than the core count.
constexpr int kBlockingThreads = 48;

// How often garbage collection runs, and how old an object nobody references
// must be before it counts as an orphan (another broker may be committing a
// young one right now).
constexpr std::chrono::minutes kGcInterval{5};
constexpr std::chrono::minutes kOrphanGrace{10};

net::ServerOptions server_options(const Config& config) {
  net::ServerOptions o;
  for (const auto& l : config.listeners) o.listeners.push_back({l.name, l.host, l.port});
  o.max_frame_bytes = static_cast<size_t>(config.socket_request_max_bytes);
  o.max_in_flight = static_cast<size_t>(config.queued_max_requests);
  o.max_idle = std::chrono::milliseconds(config.connections_max_idle_ms);
  return o;
}

// Advertised listeners with port 0 take the port their listener was bound to.
std::vector<Listener> resolve_advertised(const Config& config, const std::vector<net::Endpoint>& bound) {
  std::vector<Listener> out = config.advertised_listeners;
  for (auto& a : out) {
    if (a.port != 0) continue;
    for (const auto& b : bound) {
      if (b.listener_name == a.name) a.port = b.port;
    }
  }
  return out;
}

// REQUIRES: runs on the timer's strand; `stopped` is set on that strand too.
asio::awaitable<void> collect_garbage_periodically(asio::steady_timer& timer, const bool& stopped, Broker& broker) {
  while (!stopped) {
    try {
      co_await run_blocking(*broker.blocking, [&] {
        return maintenance::collect_garbage(*broker.objects, *broker.meta, unix_now_ms(), kOrphanGrace);
      });
    } catch (const std::exception& e) {
      FLOE_LOG(warn, "gc") << "garbage collection failed: " << e.what();
    }
    // Shutdown may have come while the collection ran: its cancel found no
    // wait to cancel, so look at the flag before waiting.
    if (stopped) co_return;
    timer.expires_after(kGcInterval);
    std::error_code ec;
    co_await timer.async_wait(asio::redirect_error(asio::use_awaitable, ec));
    if (ec) co_return;  // cancelled: shutting down
  }
}

// Every `interval`, logs how long requests took since the previous line and
// starts the counts again; an idle broker logs nothing.
asio::awaitable<void> log_request_stats_periodically(asio::steady_timer& timer, const bool& stopped,
                                                     net::RequestStats& stats, std::chrono::milliseconds interval) {
  while (!stopped) {
    timer.expires_after(interval);
    std::error_code ec;
    co_await timer.async_wait(asio::redirect_error(asio::use_awaitable, ec));
    if (ec || stopped) co_return;  // cancelled: shutting down
    auto taken = stats.take();
    if (taken.empty()) continue;
    FLOE_LOG(info, "broker") << "requests answered in the last " << interval.count()
                             << " ms (read to written): " << net::RequestStats::describe(taken);
  }
}

}  // namespace

int run_broker(const Config& config) {
  for (const auto& w : config.warnings) FLOE_LOG(warn, "config") << w;

  Broker broker{config, {}};
  std::unique_ptr<objstore::ObjectStore> backend;
  // The backend itself, or a wrapper that adds latency and faults to it.
  std::unique_ptr<objstore::ObjectStore> wrapped;
  objstore::ObjectStore* objects = nullptr;
  std::unique_ptr<meta::MetaStore> meta;
  try {
    std::map<std::string, std::string> s3_settings{{"path.style", config.object_store_s3_path_style},
                                                   {"verify.tls", config.object_store_s3_verify_tls ? "true" : "false"}};
    if (config.object_store_s3_endpoint) s3_settings["endpoint"] = *config.object_store_s3_endpoint;
    if (config.object_store_s3_region) s3_settings["region"] = *config.object_store_s3_region;
    backend = objstore::open_object_store(config.object_store, s3_settings);
    objects = backend.get();
    objstore::FaultRates rates;
    // Both checked by build_config.
    rates.put_fail_before = *parse_probability(config.object_store_fault_put_rate);
    rates.put_fail_after = *parse_probability(config.object_store_fault_put_lost_rate);
    rates.put_timeout = *parse_probability(config.object_store_fault_put_timeout_rate);
    rates.get_fail_before = *parse_probability(config.object_store_fault_get_rate);
    rates.get_timeout = *parse_probability(config.object_store_fault_get_timeout_rate);
    rates.timeout = std::chrono::milliseconds(config.object_store_fault_timeout_ms);
    auto profile = *objstore::latency_profile(config.object_store_latency_profile);
    bool faults = rates.put_fail_before > 0 || rates.put_fail_after > 0 || rates.put_timeout > 0 ||
                  rates.get_fail_before > 0 || rates.get_timeout > 0;
    if (profile.name != "none" || faults) {
      wrapped = std::make_unique<objstore::FaultInjectingStore>(*backend, rates, std::random_device{}(), profile);
      objects = wrapped.get();
      FLOE_LOG(warn, "objstore") << "object store requests get injected latency (" << profile.name
                                 << ") and faults (put " << rates.put_fail_before << ", put lost "
                                 << rates.put_fail_after << ", put timeout " << rates.put_timeout << ", get "
                                 << rates.get_fail_before << ", get timeout " << rates.get_timeout << ")";
    }
    // A missing bucket or refused credentials stop the broker here, rather
    // than failing every produce request later. (The probe's key is never
    // written: HEAD of a missing key, which S3 answers from the bucket's
    // permissions and existence.)
    (void)objects->head("floe-startup-check");
    meta = meta::open_meta_store(config.metastore);
    broker.identity.cluster_id = meta->cluster_id(config.cluster_id);
  } catch (const std::exception& e) {
    FLOE_LOG(error, "broker") << "cannot open the stores: " << e.what();
    return 1;
  }
  broker.identity.node_id = config.node_id;
  broker.identity.rack = config.broker_rack;

  asio::io_context io;
  asio::thread_pool blocking(kBlockingThreads);
  TopicCache topics;
  fetch::ReadPath reader(blocking, *meta, *objects, static_cast<uint64_t>(config.cache_max_bytes));
  ingest::WalOptions wal_options;
  wal_options.linger = std::chrono::milliseconds(config.wal_linger_ms);
  wal_options.object_max_bytes = static_cast<uint64_t>(config.wal_object_max_bytes);
  wal_options.buffer_max_bytes = static_cast<uint64_t>(config.wal_buffer_max_bytes);
  wal_options.node_id = config.node_id;
  wal_options.upload_hedge = std::chrono::milliseconds(config.wal_upload_hedge_ms);
  ingest::WalWriter wal(io, blocking, *objects, *meta, wal_options,
                        [&reader](const ingest::CommittedObject& c) { reader.on_commit(c); });
  broker.meta = meta.get();
  broker.objects = objects;
  broker.blocking = &blocking;
  broker.topics = &topics;
  broker.wal = &wal;
  broker.reader = &reader;

  groups::CoordinatorOptions group_options;
  group_options.min_session_timeout_ms = config.group_min_session_timeout_ms;
  group_options.max_session_timeout_ms = config.group_max_session_timeout_ms;
  group_options.initial_rebalance_delay_ms = config.group_initial_rebalance_delay_ms;
  group_options.max_size = config.group_max_size;
  group_options.offsets_retention_ms = int64_t{config.offsets_retention_minutes} * 60 * 1000;
  group_options.offsets_retention_check_interval_ms = config.offsets_retention_check_interval_ms;
  groups::GroupCoordinator coordinator(io, blocking, *meta, group_options);
  coordinator.start();
  broker.groups = &coordinator;

  Dispatcher dispatcher(broker);
  net::Server server(io, server_options(config), dispatcher);
  std::vector<net::Endpoint> bound;
  try {
    bound = server.start();
  } catch (const std::system_error& e) {
    FLOE_LOG(error, "net") << "cannot listen: " << e.what();
    return 1;
  }
  broker.identity.advertised = resolve_advertised(config, bound);

  auto gc_strand = asio::make_strand(io);
  asio::steady_timer gc_timer(gc_strand);
  bool gc_stopped = false;  // REQUIRES: gc_strand
  asio::co_spawn(gc_strand, collect_garbage_periodically(gc_timer, gc_stopped, broker), asio::detached);
  asio::steady_timer stats_timer(gc_strand);
  if (config.request_stats_interval_ms > 0) {
    asio::co_spawn(gc_strand,
                   log_request_stats_periodically(stats_timer, gc_stopped, server.request_stats(),
                                                  std::chrono::milliseconds(config.request_stats_interval_ms)),
                   asio::detached);
  }

  // The signal set and everything that touches it run on one strand: the
  // drain callback may fire on any io thread, and a signal_set is not safe to
  // use from two threads at once.
  auto signal_strand = asio::make_strand(io);
  asio::signal_set signals(signal_strand, SIGINT, SIGTERM);
  bool stopping = false;  // REQUIRES: signal_strand
  std::function<void(std::error_code, int)> on_signal = [&](std::error_code ec, int sig) {
    if (ec) return;
    if (stopping) {
      FLOE_LOG(warn, "broker") << "second signal " << sig << ": exiting without waiting for requests in flight";
      std::_Exit(1);
    }
    stopping = true;
    FLOE_LOG(info, "broker") << "signal " << sig << ": stopping; finishing requests in flight";
    // Re-arm before stopping, so that the drain callback always finds this
    // wait to cancel; a second signal meanwhile forces the exit.
    signals.async_wait(on_signal);
    // Parked JoinGroup and SyncGroup requests are answered (NOT_COORDINATOR)
    // rather than held until the drain times out.
    coordinator.stop();
    server.stop([&] {
      // Every connection is closed; data of acks=0 producers may still be
      // buffered: commit it before leaving.
      // On a strand: Completion (inside flush) needs a serialized waiter.
      asio::co_spawn(asio::make_strand(io), wal.flush(), [&](std::exception_ptr) {
        asio::post(gc_strand, [&] {
          gc_stopped = true;
          gc_timer.cancel();
          stats_timer.cancel();
        });
        asio::post(signal_strand, [&] {
          std::error_code ignored;
          signals.cancel(ignored);
        });
      });
    });
  };
  signals.async_wait(on_signal);

  // Only now: whoever waits for these lines (scripts, the tests) may send
  // SIGTERM at once, and before the signal set exists that kills the process.
  FLOE_LOG(info, "broker") << "floe " << FLOE_VERSION << " node " << broker.identity.node_id << " of cluster "
                           << broker.identity.cluster_id << "; objects in " << objects->describe();
  for (size_t i = 0; i < bound.size(); ++i) {
    Listener l{bound[i].listener_name, bound[i].host, bound[i].port};
    FLOE_LOG(info, "net") << "listening on " << l.to_string() << " (advertised as "
                          << broker.advertised_for(l.name).to_string() << ")";
  }

  const int threads = std::max(1, config.num_network_threads);
  std::vector<std::thread> pool;
  for (int i = 1; i < threads; ++i) pool.emplace_back([&io] { io.run(); });
  io.run();
  for (auto& t : pool) t.join();
  blocking.join();
  auto ws = wal.stats();
  objstore::Prices prices;  // all checked by build_config
  prices.write_request = *parse_price(config.object_store_price_write_requests) / 1000;
  prices.read_request = *parse_price(config.object_store_price_read_requests) / 1000;
  prices.storage_gb_month = *parse_price(config.object_store_price_storage_gb_month);
  prices.transfer_gb = *parse_price(config.object_store_price_transfer_gb);
  FLOE_LOG(info, "broker") << "requests answered since the last such line (read to written): "
                           << net::RequestStats::describe(server.request_stats().take());
  // The backend's counters: with a fault wrapper, they are the requests that
  // really reached the store.
  FLOE_LOG(info, "broker") << "stopped; " << ws.objects_committed << " objects committed (" << ws.bytes_committed
                           << " bytes, " << ws.written_while_filling << " written as they filled, "
                           << ws.hedged_uploads << " uploads hedged, " << ws.early_commits
                           << " committed beside their upload, " << ws.early_commits_abandoned
                           << " early commits given up); object store: "
                           << objstore::describe_usage(backend->counters(), prices);
  return 0;
}

}  // namespace floe::broker
