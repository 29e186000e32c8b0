// Start-up and shutdown of one broker process.
#include "broker/run.h"

#include <asio/io_context.hpp>
#include <asio/post.hpp>
#include <asio/signal_set.hpp>
#include <asio/strand.hpp>
#include <csignal>
#include <thread>

#include "broker/broker.h"
#include "broker/cluster_id.h"
#include "broker/dispatch.h"
#include "common/log.h"
#include "net/server.h"

namespace floe::broker {

namespace {

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

}  // namespace

int run_broker(const Config& config) {
  for (const auto& w : config.warnings) FLOE_LOG(warn, "config") << w;

  Broker broker{config, {}};
  try {
    broker.identity.cluster_id = load_or_create_cluster_id(config.data_dir, config.cluster_id);
  } catch (const std::exception& e) {
    FLOE_LOG(error, "broker") << "cannot set up the data directory " << config.data_dir << ": " << e.what();
    return 1;
  }
  broker.identity.node_id = config.node_id;
  broker.identity.rack = config.broker_rack;

  asio::io_context io;
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

  FLOE_LOG(info, "broker") << "floe " << FLOE_VERSION << " node " << broker.identity.node_id << " of cluster "
                           << broker.identity.cluster_id << ", data in " << config.data_dir;
  for (size_t i = 0; i < bound.size(); ++i) {
    Listener l{bound[i].listener_name, bound[i].host, bound[i].port};
    FLOE_LOG(info, "net") << "listening on " << l.to_string() << " (advertised as "
                          << broker.advertised_for(l.name).to_string() << ")";
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
    server.stop([&] {
      asio::post(signal_strand, [&] {
        std::error_code ignored;
        signals.cancel(ignored);
      });
    });
  };
  signals.async_wait(on_signal);

  const int threads = std::max(1, config.num_network_threads);
  std::vector<std::thread> pool;
  for (int i = 1; i < threads; ++i) pool.emplace_back([&io] { io.run(); });
  io.run();
  for (auto& t : pool) t.join();
  FLOE_LOG(info, "broker") << "stopped";
  return 0;
}

}  // namespace floe::broker
