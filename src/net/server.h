// TCP listeners and Kafka connections: size-prefixed frames in, frames out,
// many requests in flight per connection with responses in request order.
//
// Threads: the server runs on an io_context that several threads run. Each
// connection lives on its own strand, so its state needs no lock; different
// connections proceed in parallel. The FrameHandler is called on the
// connection's strand and may suspend (a produce waiting for its upload, a
// fetch long poll) without blocking anything else on that connection: later
// requests are read and handled meanwhile, and their responses wait for the
// earlier ones.
//
// Never: interprets a request (that is broker/), or writes a response out of
// order.
#pragma once

#include <asio/awaitable.hpp>
#include <asio/io_context.hpp>
#include <chrono>
#include <functional>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <string>
#include <unordered_map>
#include <vector>

#include "net/request_stats.h"
#include "protocol/wire.h"

namespace floe::net {

struct Endpoint {
  std::string listener_name;  // e.g. PLAINTEXT
  std::string host;           // empty: all interfaces
  uint16_t port = 0;          // 0: any free port
};

struct ServerOptions {
  std::vector<Endpoint> listeners;
  size_t max_frame_bytes = 100 * 1024 * 1024;  // socket.request.max.bytes
  size_t max_in_flight = 500;                  // queued.max.requests, per connection
  std::chrono::milliseconds max_idle{600000};  // connections.max.idle.ms; <= 0: never
  // How long a graceful stop waits for requests in flight before closing.
  std::chrono::milliseconds drain_timeout{30000};
};

struct ConnectionInfo {
  uint64_t id = 0;
  std::string listener_name;
  std::string peer;  // "ip:port" of the client, for logs
  // Whatever the FrameHandler keeps per connection; it lives as long as the
  // connection. REQUIRES: the connection's strand (handlers run there).
  mutable std::shared_ptr<void> handler_state;
};

// Thrown by a FrameHandler to close the connection (after the responses to
// earlier requests are written), as Kafka does for requests it cannot parse.
class CloseConnection : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

class FrameHandler {
 public:
  virtual ~FrameHandler() = default;
  // `frame` is one request without its length prefix. Returns the complete
  // response frame, length prefix included, or nullopt when the request
  // takes no response (produce with acks=0).
  virtual asio::awaitable<std::optional<protocol::Bytes>> handle(const ConnectionInfo& conn,
                                                                 protocol::Bytes frame) = 0;

  // Which requests of one connection may run at the same time. Requests
  // start in arrival order; a request starts while others of the connection
  // are still running only if all of them share its class and the class is
  // not 0. Class 0 runs alone, as Kafka runs every request of a connection,
  // so a request sees what the ones before it did.
  virtual int concurrency_class(const protocol::Bytes& frame) const { return 0; }
};

class Connection;

class Server {
 public:
  Server(asio::io_context& io, ServerOptions options, FrameHandler& handler);
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // Binds every listener (throws std::system_error on failure) and starts
  // accepting. Returns the bound endpoints, with real ports for port 0.
  std::vector<Endpoint> start();

  // Stops accepting, lets every connection finish the requests it has read
  // and write their responses, then closes them. Thread-safe; returns at once.
  // `on_drained` runs on the io_context once the last connection has closed.
  void stop(std::function<void()> on_drained = nullptr);

  // How long requests took, per API, from the last byte read to the
  // response handed to the socket (requests without a response, produce
  // with acks=0, are not counted). Thread-safe.
  RequestStats& request_stats() { return stats_; }

 private:
  friend class Connection;
  struct Acceptor;
  asio::awaitable<void> accept_loop(Acceptor& acceptor);
  void remove(uint64_t id);

  asio::io_context& io_;
  ServerOptions options_;
  FrameHandler& handler_;
  std::vector<std::unique_ptr<Acceptor>> acceptors_;
  mutable std::mutex mu_;
  bool stopping_ = false;                                        // REQUIRES: mu_
  std::function<void()> on_drained_;                             // REQUIRES: mu_
  uint64_t next_id_ = 1;                                         // REQUIRES: mu_
  std::unordered_map<uint64_t, std::weak_ptr<Connection>> connections_;  // REQUIRES: mu_
  RequestStats stats_;
};

}  // namespace floe::net
