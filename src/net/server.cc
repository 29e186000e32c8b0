#include "net/server.h"

#include <asio/co_spawn.hpp>
#include <asio/detached.hpp>
#include <asio/ip/tcp.hpp>
#include <asio/ip/v6_only.hpp>
#include <asio/read.hpp>
#include <asio/redirect_error.hpp>
#include <asio/steady_timer.hpp>
#include <asio/strand.hpp>
#include <asio/use_awaitable.hpp>
#include <asio/write.hpp>
#include <deque>
#include <span>

#include "common/log.h"

namespace floe::net {

using asio::ip::tcp;
using protocol::Bytes;

namespace {

constexpr size_t kReadBufferBytes = 64 * 1024;

std::string format_endpoint(const tcp::endpoint& ep) {
  std::string addr = ep.address().to_string();
  if (ep.address().is_v6()) addr = "[" + addr + "]";
  return addr + ":" + std::to_string(ep.port());
}

}  // namespace

struct Server::Acceptor {
  Endpoint endpoint;
  tcp::acceptor acceptor;
  Acceptor(asio::io_context& io, Endpoint ep) : endpoint(std::move(ep)), acceptor(io) {}
};

// One client connection. All members are touched only on `strand_`.
class Connection : public std::enable_shared_from_this<Connection> {
 public:
  Connection(Server& server, tcp::socket socket, ConnectionInfo info)
      : server_(server),
        socket_(std::move(socket)),
        info_(std::move(info)),
        idle_timer_(socket_.get_executor()),
        space_timer_(socket_.get_executor()),
        drain_timer_(socket_.get_executor()) {}

  void start() {
    auto self = shared_from_this();
    // flush() writes what the socket takes at once, without waiting for a
    // completion handler (async operations still work on a non-blocking
    // socket).
    std::error_code nb;
    socket_.non_blocking(true, nb);
    asio::co_spawn(socket_.get_executor(), read_loop(), [self](std::exception_ptr e) {
      if (e) self->log_exception("read loop", e);
    });
    if (server_.options_.max_idle.count() > 0) {
      asio::co_spawn(socket_.get_executor(), idle_watch(), [self](std::exception_ptr) {});
    }
  }

  // Graceful stop: read nothing more, answer what was read, then close.
  void shutdown() {
    asio::post(socket_.get_executor(), [self = shared_from_this()] {
      if (self->closed_) return;
      self->stop_reading();
      self->drain_timer_.expires_after(self->server_.options_.drain_timeout);
      self->drain_timer_.async_wait([self](std::error_code ec) {
        if (!ec && !self->closed_) {
          FLOE_LOG(warn, "net") << "connection " << self->info_.peer
                                << " still busy after the drain timeout; closing";
          self->close();
        }
      });
      self->flush();
    });
  }

 private:
  struct Slot {
    bool ready = false;
    bool close_after = false;  // the handler asked to close the connection
    std::optional<Bytes> response;
    int16_t api_key = -1;                          // -1: too short to have one
    std::chrono::steady_clock::time_point received;  // when its last byte was read
  };
  // A response being written, for RequestStats once it is.
  struct Written {
    int16_t api_key;
    std::chrono::steady_clock::time_point received;
  };

  asio::awaitable<void> read_loop() {
    const size_t max_frame = server_.options_.max_frame_bytes;
    try {
      for (;;) {
        while (slots_.size() >= server_.options_.max_in_flight && !reading_stopped_) {
          // Backpressure: stop reading until a response goes out.
          space_timer_.expires_at(asio::steady_timer::time_point::max());
          std::error_code ec;
          co_await space_timer_.async_wait(asio::redirect_error(asio::use_awaitable, ec));
        }
        if (reading_stopped_) break;
        uint8_t size_bytes[4];
        if (!co_await read_exact(size_bytes, 4)) break;
        int32_t size = static_cast<int32_t>((uint32_t{size_bytes[0]} << 24) | (uint32_t{size_bytes[1]} << 16) |
                                            (uint32_t{size_bytes[2]} << 8) | uint32_t{size_bytes[3]});
        if (size < 0 || static_cast<size_t>(size) > max_frame) {
          FLOE_LOG(warn, "net") << "closing connection from " << info_.peer << ": request of " << size
                                << " bytes exceeds socket.request.max.bytes (" << max_frame << ")";
          break;
        }
        Bytes frame(static_cast<size_t>(size));
        if (!co_await read_exact(frame.data(), frame.size())) break;
        last_activity_ = std::chrono::steady_clock::now();
        dispatch(std::move(frame));
      }
    } catch (const std::system_error& e) {
      if (!closed_ && e.code() != asio::error::operation_aborted) {
        FLOE_LOG(debug, "net") << "read from " << info_.peer << " failed: " << e.what();
      }
    }
    reading_stopped_ = true;
    flush();
  }

  // Reads exactly n bytes through the read buffer. Returns false on a clean
  // end of stream before the first byte; throws on other errors.
  asio::awaitable<bool> read_exact(uint8_t* dst, size_t n) {
    size_t got = 0;
    while (got < n) {
      size_t buffered = rend_ - rstart_;
      if (buffered > 0) {
        size_t take = std::min(buffered, n - got);
        std::memcpy(dst + got, rbuf_.data() + rstart_, take);
        rstart_ += take;
        got += take;
        continue;
      }
      std::error_code ec;
      if (n - got >= kReadBufferBytes) {
        // Large frames go straight into their own buffer.
        size_t r = co_await socket_.async_read_some(asio::buffer(dst + got, n - got),
                                                    asio::redirect_error(asio::use_awaitable, ec));
        got += r;
      } else {
        if (rbuf_.empty()) rbuf_.resize(kReadBufferBytes);
        rstart_ = rend_ = 0;
        rend_ = co_await socket_.async_read_some(asio::buffer(rbuf_),
                                                 asio::redirect_error(asio::use_awaitable, ec));
      }
      if (ec == asio::error::eof && got == 0 && rend_ == rstart_) co_return false;
      if (ec == asio::error::eof) {
        FLOE_LOG(debug, "net") << "connection from " << info_.peer << " closed mid-frame";
        co_return false;
      }
      if (ec) throw std::system_error(ec);
    }
    co_return true;
  }

  void dispatch(Bytes frame) {
    uint64_t seq = first_seq_ + slots_.size();
    Slot& slot = slots_.emplace_back();
    slot.received = last_activity_;
    if (frame.size() >= 2) slot.api_key = static_cast<int16_t>((frame[0] << 8) | frame[1]);
    const int cls = server_.handler_.concurrency_class(frame);
    waiting_.push_back({seq, cls, std::move(frame)});
    start_ready();
  }

  // Starts waiting requests, oldest first, while FrameHandler::
  // concurrency_class allows them to run beside those already running.
  void start_ready() {
    while (!waiting_.empty() && !closed_) {
      if (running_ > 0 && (waiting_.front().cls == 0 || waiting_.front().cls != running_class_)) return;
      Waiting w = std::move(waiting_.front());
      waiting_.pop_front();
      ++running_;
      running_class_ = w.cls;
      auto self = shared_from_this();
      asio::co_spawn(socket_.get_executor(), server_.handler_.handle(info_, std::move(w.frame)),
                     [self, seq = w.seq](std::exception_ptr e, std::optional<Bytes> response) {
                       --self->running_;
                       self->complete(seq, e, std::move(response));
                       self->start_ready();
                     });
    }
  }

  void complete(uint64_t seq, std::exception_ptr e, std::optional<Bytes> response) {
    Slot& slot = slots_.at(seq - first_seq_);
    slot.ready = true;
    if (e) {
      log_exception("request", e);
      slot.close_after = true;
      // Nothing after the failed request runs (nobody would see its answer).
      waiting_.clear();
      stop_reading();
    } else {
      slot.response = std::move(response);
    }
    flush_soon();
  }

  // Flushes once the handlers already queued on the strand have run, so
  // requests that complete together (a WAL object answers its producers in
  // steps of 64) go out in one write rather than a system call each: at
  // 10,000 partitions, ~37,000 responses a second had cost as many sendmsg
  // calls on the broker and as many reads on the client.
  void flush_soon() {
    if (flush_posted_) return;
    flush_posted_ = true;
    asio::post(socket_.get_executor(), [self = shared_from_this()] {
      self->flush_posted_ = false;
      self->flush();
    });
  }

  // Writes the responses that are ready, in request order, as one gather
  // write: first straight away, as much as the socket takes (usually all),
  // then the rest asynchronously. Writing at once matters when thousands of
  // produce requests complete together (one WAL object): an asynchronous
  // write's completion queues behind all of them on the strand, so every
  // response after the first write would wait for the whole lot.
  void flush() {
    if (writing_ || closed_) return;
    std::vector<Bytes> batch;
    std::vector<Written> written_info;
    bool close_after = false;
    while (!slots_.empty() && slots_.front().ready) {
      Slot& s = slots_.front();
      if (s.response) {
        batch.push_back(std::move(*s.response));
        written_info.push_back({s.api_key, s.received});
      }
      close_after = s.close_after;
      slots_.pop_front();
      ++first_seq_;
      if (close_after) break;
    }
    if (!batch.empty()) space_timer_.cancel();
    if (batch.empty()) {
      if (close_after || (reading_stopped_ && slots_.empty())) close();
      return;
    }
    std::vector<asio::const_buffer> views;
    views.reserve(batch.size());
    size_t total = 0;
    for (const auto& b : batch) {
      views.emplace_back(asio::buffer(b));
      total += b.size();
    }
    // write_some takes a bounded number of buffers (an iovec's worth) per
    // call: go on until everything is written or the socket is full.
    size_t first = 0;  // views[first..] are still to write
    for (size_t written = 0; written < total && socket_.non_blocking();) {
      std::error_code ec;
      size_t n = socket_.write_some(std::span<const asio::const_buffer>(views).subspan(first), ec);
      if (ec == asio::error::would_block || ec == asio::error::try_again) break;
      if (ec) {
        FLOE_LOG(debug, "net") << "write to " << info_.peer << " failed: " << ec.message();
        close();
        return;
      }
      written += n;
      while (first < views.size() && n >= views[first].size()) n -= views[first++].size();
      if (first < views.size()) views[first] += n;
    }
    record_written(written_info, 0, first);
    if (first == views.size()) {
      last_activity_ = std::chrono::steady_clock::now();
      if (close_after) {
        close();
      } else {
        flush();  // nothing more is ready; closes a drained connection that stopped reading
      }
      return;
    }
    // The rest, from where the socket stopped taking bytes.
    std::vector<asio::const_buffer> rest(views.begin() + static_cast<std::ptrdiff_t>(first), views.end());
    writing_ = true;
    auto bufs = std::make_shared<std::vector<Bytes>>(std::move(batch));
    auto infos = std::make_shared<std::vector<Written>>(std::move(written_info));
    asio::async_write(socket_, rest,
                      [self = shared_from_this(), bufs, infos, first, close_after](std::error_code ec, size_t) {
                        self->writing_ = false;
                        self->last_activity_ = std::chrono::steady_clock::now();
                        if (!ec) self->record_written(*infos, first, infos->size());
                        if (ec) {
                          FLOE_LOG(debug, "net") << "write to " << self->info_.peer << " failed: " << ec.message();
                          self->close();
                          return;
                        }
                        if (close_after) {
                          self->close();
                          return;
                        }
                        self->flush();
                      });
  }

  // Counts responses [from, to) of a flush as written now. A response cut in
  // two by a full socket counts when its last byte is taken.
  void record_written(const std::vector<Written>& infos, size_t from, size_t to) {
    if (from >= to) return;
    const auto now = std::chrono::steady_clock::now();
    for (size_t i = from; i < to; ++i) {
      server_.stats_.record(infos[i].api_key,
                            std::chrono::duration_cast<std::chrono::microseconds>(now - infos[i].received));
    }
  }

  asio::awaitable<void> idle_watch() {
    const auto max_idle = server_.options_.max_idle;
    while (!closed_) {
      idle_timer_.expires_at(last_activity_ + max_idle);
      std::error_code ec;
      co_await idle_timer_.async_wait(asio::redirect_error(asio::use_awaitable, ec));
      if (closed_ || ec == asio::error::operation_aborted) co_return;
      if (slots_.empty() && std::chrono::steady_clock::now() - last_activity_ >= max_idle) {
        FLOE_LOG(debug, "net") << "closing connection from " << info_.peer << ": idle for "
                               << max_idle.count() << " ms";
        close();
        co_return;
      }
    }
  }

  void stop_reading() {
    if (reading_stopped_) return;
    reading_stopped_ = true;
    space_timer_.cancel();
    // Shutting down the receive side wakes the pending read with end of
    // stream while writes of pending responses carry on.
    std::error_code ec;
    socket_.shutdown(tcp::socket::shutdown_receive, ec);
  }

  void close() {
    if (closed_) return;
    closed_ = true;
    reading_stopped_ = true;
    std::error_code ec;
    socket_.shutdown(tcp::socket::shutdown_both, ec);
    socket_.close(ec);
    idle_timer_.cancel();
    space_timer_.cancel();
    drain_timer_.cancel();
    server_.remove(info_.id);
  }

  void log_exception(const char* what, std::exception_ptr e) {
    try {
      std::rethrow_exception(e);
    } catch (const CloseConnection& c) {
      FLOE_LOG(info, "net") << "closing connection from " << info_.peer << ": " << c.what();
    } catch (const std::exception& x) {
      FLOE_LOG(error, "net") << what << " on connection from " << info_.peer << " failed: " << x.what();
    }
  }

  Server& server_;
  tcp::socket socket_;
  ConnectionInfo info_;
  asio::steady_timer idle_timer_;
  asio::steady_timer space_timer_;  // wakes the reader when in-flight slots free up
  asio::steady_timer drain_timer_;
  std::chrono::steady_clock::time_point last_activity_ = std::chrono::steady_clock::now();
  std::vector<uint8_t> rbuf_;
  size_t rstart_ = 0, rend_ = 0;
  struct Waiting {
    uint64_t seq;
    int cls;
    Bytes frame;
  };
  std::deque<Slot> slots_;  // requests in flight, oldest first
  std::deque<Waiting> waiting_;  // read but not started yet (see start_ready)
  size_t running_ = 0;           // started and not finished
  int running_class_ = 0;        // their concurrency class
  uint64_t first_seq_ = 0;  // sequence number of slots_.front()
  bool writing_ = false;
  bool flush_posted_ = false;
  bool reading_stopped_ = false;
  bool closed_ = false;
};

Server::Server(asio::io_context& io, ServerOptions options, FrameHandler& handler)
    : io_(io), options_(std::move(options)), handler_(handler) {}

Server::~Server() = default;

std::vector<Endpoint> Server::start() {
  std::vector<Endpoint> bound;
  tcp::resolver resolver(io_);
  for (const auto& ep : options_.listeners) {
    auto acc = std::make_unique<Acceptor>(io_, ep);
    tcp::endpoint addr;
    if (ep.host.empty()) {
      addr = tcp::endpoint(tcp::v6(), ep.port);
    } else {
      auto results = resolver.resolve(ep.host, std::to_string(ep.port), tcp::resolver::passive);
      addr = results.begin()->endpoint();
    }
    acc->acceptor.open(addr.protocol());
    acc->acceptor.set_option(tcp::acceptor::reuse_address(true));
    if (ep.host.empty()) acc->acceptor.set_option(asio::ip::v6_only(false));
    acc->acceptor.bind(addr);
    acc->acceptor.listen(asio::socket_base::max_listen_connections);
    Endpoint actual = ep;
    actual.port = acc->acceptor.local_endpoint().port();
    acc->endpoint = actual;
    bound.push_back(actual);
    acceptors_.push_back(std::move(acc));
  }
  for (auto& acc : acceptors_) {
    asio::co_spawn(io_, accept_loop(*acc), asio::detached);
  }
  return bound;
}

asio::awaitable<void> Server::accept_loop(Acceptor& acc) {
  for (;;) {
    std::error_code ec;
    tcp::socket socket = co_await acc.acceptor.async_accept(asio::make_strand(io_),
                                                            asio::redirect_error(asio::use_awaitable, ec));
    if (ec) {
      if (ec == asio::error::operation_aborted || !acc.acceptor.is_open()) co_return;
      // Running out of descriptors and the like: wait a little and go on.
      FLOE_LOG(warn, "net") << "accept on " << acc.endpoint.listener_name << " failed: " << ec.message();
      asio::steady_timer t(io_, std::chrono::milliseconds(100));
      co_await t.async_wait(asio::redirect_error(asio::use_awaitable, ec));
      continue;
    }
    socket.set_option(tcp::no_delay(true), ec);
    ConnectionInfo info;
    info.listener_name = acc.endpoint.listener_name;
    std::error_code peer_ec;
    auto peer = socket.remote_endpoint(peer_ec);
    info.peer = peer_ec ? "?" : format_endpoint(peer);
    std::shared_ptr<Connection> conn;
    {
      std::lock_guard lock(mu_);
      if (stopping_) co_return;
      info.id = next_id_++;
      conn = std::make_shared<Connection>(*this, std::move(socket), info);
      connections_[info.id] = conn;
    }
    FLOE_LOG(debug, "net") << "connection " << info.id << " from " << info.peer << " on "
                           << info.listener_name;
    conn->start();
  }
}

void Server::stop(std::function<void()> on_drained) {
  std::vector<std::shared_ptr<Connection>> conns;
  {
    std::lock_guard lock(mu_);
    if (stopping_) return;
    stopping_ = true;
    on_drained_ = std::move(on_drained);
    for (auto& [id, weak] : connections_) {
      if (auto c = weak.lock()) conns.push_back(std::move(c));
    }
    if (connections_.empty() && on_drained_) asio::post(io_, std::exchange(on_drained_, nullptr));
  }
  for (auto& acc : acceptors_) {
    asio::post(io_, [a = acc.get()] {
      std::error_code ec;
      a->acceptor.close(ec);
    });
  }
  for (auto& c : conns) c->shutdown();
}

void Server::remove(uint64_t id) {
  std::lock_guard lock(mu_);
  connections_.erase(id);
  if (stopping_ && connections_.empty() && on_drained_) asio::post(io_, std::exchange(on_drained_, nullptr));
}


}  // namespace floe::net
