// The connection's write path against a real socket: responses in request
// order whatever order the handlers finish in, and whole when the client
// reads late (the socket fills, the rest is written asynchronously).
#include "net/server.h"

#include <gtest/gtest.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <asio/steady_timer.hpp>
#include <asio/this_coro.hpp>
#include <asio/use_awaitable.hpp>
#include <cstring>
#include <future>
#include <thread>

namespace floe::net {
namespace {

using protocol::Bytes;

// A request is (id, response size, delay ms); the response is the size
// prefix, the id, then filler bytes that depend on the id (none at all for
// size kNoResponse). Every request is in one concurrency class, so later
// ones may finish first. The id's top 16 bits are where a Kafka request has
// its API key.
constexpr uint32_t kNoResponse = UINT32_MAX;
class EchoHandler final : public FrameHandler {
 public:
  asio::awaitable<std::optional<Bytes>> handle(const ConnectionInfo&, Bytes frame) override {
    protocol::Reader r(frame);
    const uint32_t id = r.read_uint32();
    const uint32_t size = r.read_uint32();
    const uint32_t delay_ms = r.read_uint32();
    if (delay_ms > 0) {
      asio::steady_timer t(co_await asio::this_coro::executor, std::chrono::milliseconds(delay_ms));
      co_await t.async_wait(asio::use_awaitable);
    }
    if (size == kNoResponse) co_return std::nullopt;
    Bytes out;
    protocol::Writer w(out);
    w.write_uint32(4 + size);
    w.write_uint32(id);
    out.resize(8 + size, static_cast<uint8_t>(id * 7 + 1));
    co_return out;
  }
  int concurrency_class(const Bytes&) const override { return 1; }
};

class ServerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ServerOptions o;
    o.listeners.push_back(Endpoint{"PLAINTEXT", "127.0.0.1", 0});
    o.max_in_flight = 10000;
    o.drain_timeout = std::chrono::hours(1);  // a stop must never need it here
    server_ = std::make_unique<Server>(io_, o, handler_);
    port_ = server_->start().at(0).port;
    for (int i = 0; i < 2; ++i) threads_.emplace_back([this] { io_.run(); });
  }
  void TearDown() override {
    if (fd_ >= 0) ::close(fd_);
    server_->stop();  // a no-op if the test stopped it; the threads end once the connections are gone
    work_.reset();
    if (HasFailure()) io_.stop();  // a connection that never closes must not hang the suite
    for (auto& t : threads_) t.join();
  }

  void connect_client() {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    ASSERT_GE(fd_, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(port_);
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ASSERT_EQ(::connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  }
  void send_request(uint32_t id, uint32_t size, uint32_t delay_ms) {
    Bytes buf;
    protocol::Writer w(buf);
    for (uint32_t v : {12u, id, size, delay_ms}) w.write_uint32(v);
    ASSERT_EQ(::send(fd_, buf.data(), buf.size(), 0), static_cast<ssize_t>(buf.size()));
  }
  bool read_exact(uint8_t* p, size_t n) {
    while (n > 0) {
      ssize_t r = ::recv(fd_, p, n, 0);
      if (r <= 0) return false;
      p += r;
      n -= static_cast<size_t>(r);
    }
    return true;
  }
  // Reads one response and checks it is request `id`'s, of `size` bytes.
  void expect_response(uint32_t id, uint32_t size) {
    Bytes head(8);
    ASSERT_TRUE(read_exact(head.data(), head.size())) << "response " << id;
    protocol::Reader r(head);
    ASSERT_EQ(r.read_uint32(), 4 + size) << "response " << id;
    ASSERT_EQ(r.read_uint32(), id) << "responses out of order";
    Bytes body(size);
    ASSERT_TRUE(read_exact(body.data(), body.size()));
    EXPECT_EQ(body, Bytes(size, static_cast<uint8_t>(id * 7 + 1))) << "response " << id;
  }

  asio::io_context io_;
  asio::executor_work_guard<asio::io_context::executor_type> work_ = asio::make_work_guard(io_);
  EchoHandler handler_;
  std::unique_ptr<Server> server_;
  uint16_t port_ = 0;
  std::vector<std::thread> threads_;
  int fd_ = -1;
};

TEST_F(ServerTest, ResponsesOfHandlersFinishingOutOfOrderAreWrittenInOrder) {
  connect_client();
  constexpr uint32_t kRequests = 3000;
  // Delays of 0-3 ms: neighbours finish in any order.
  for (uint32_t id = 0; id < kRequests; ++id) send_request(id, 20 + id % 50, (id * 7919) % 4);
  for (uint32_t id = 0; id < kRequests; ++id) expect_response(id, 20 + id % 50);
}

TEST_F(ServerTest, ResponsesToAClientThatReadsLateArriveWhole) {
  connect_client();
  // Far more than the socket buffers hold: writes stop part-way through a
  // response and carry on once the client reads.
  constexpr uint32_t kRequests = 24;
  constexpr uint32_t kSize = 1 << 20;
  for (uint32_t id = 0; id < kRequests; ++id) send_request(id, kSize + id, 0);
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  for (uint32_t id = 0; id < kRequests; ++id) expect_response(id, kSize + id);
}

// Every written response is counted once under its API key, including those
// a full socket split across an asynchronous write; a request without a
// response is not counted. A response cannot go out before its handler's
// timer fired, so every latency is at least that delay.
TEST_F(ServerTest, RequestLatencyIsRecordedPerApiOncePerWrittenResponse) {
  connect_client();
  constexpr uint32_t kProduce = 0, kFetch = 1;
  constexpr uint32_t kSmall = 40, kLarge = 12;
  for (uint32_t i = 0; i < kSmall; ++i) send_request(kProduce << 16 | i, 30, 20);
  send_request(kProduce << 16 | kSmall, kNoResponse, 0);
  // Far more than the socket buffers hold, read late: most are written by
  // the asynchronous write.
  for (uint32_t i = 0; i < kLarge; ++i) send_request(kFetch << 16 | i, 1 << 20, 0);
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  for (uint32_t i = 0; i < kSmall; ++i) expect_response(kProduce << 16 | i, 30);
  for (uint32_t i = 0; i < kLarge; ++i) expect_response(kFetch << 16 | i, 1 << 20);
  // The last response's bytes can reach the client just before its write's
  // completion runs: wait for it to be counted (a hang guard, not a timing).
  std::vector<RequestStats::Entry> snap;
  for (int i = 0; i < 1000; ++i) {
    snap = server_->request_stats().snapshot();
    if (snap.size() == 2 && snap[1].latency.count == kLarge) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  ASSERT_EQ(snap.size(), 2u);
  EXPECT_EQ(snap[0].api_key, 0);
  EXPECT_EQ(snap[0].latency.count, kSmall) << "the request without a response is not counted";
  EXPECT_GE(snap[0].latency.quantile_us(0.01), 20000 * 0.99) << "at least the handler's 20 ms";
  EXPECT_EQ(snap[1].api_key, 1);
  EXPECT_EQ(snap[1].latency.count, kLarge);
  // The client read nothing for 200 ms, and the last large responses could
  // not be written before it did.
  EXPECT_GE(snap[1].latency.max_us, 200000u * 0.99);
}

TEST_F(ServerTest, AStopAnswersWhatWasReadThenClosesAndDrains) {
  connect_client();
  constexpr uint32_t kRequests = 50;
  for (uint32_t id = 0; id < kRequests; ++id) send_request(id, 100, 20 + id % 3);
  std::this_thread::sleep_for(std::chrono::milliseconds(5));  // read, not answered yet
  std::promise<void> drained;
  server_->stop([&] { drained.set_value(); });
  for (uint32_t id = 0; id < kRequests; ++id) expect_response(id, 100);
  // A hang guard, not a speed check: without the close this would wait for
  // the hour-long drain timeout.
  timeval guard{10, 0};
  ASSERT_EQ(::setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &guard, sizeof guard), 0);
  uint8_t byte;
  ASSERT_EQ(::recv(fd_, &byte, 1, 0), 0) << "the connection closes once everything is answered";
  drained.get_future().wait();
}

}  // namespace
}  // namespace floe::net
