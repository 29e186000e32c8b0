// A tiny HTTP/1.1 server for unit tests: it stands in for S3, STS, the ECS
// container endpoint or EC2 instance metadata on 127.0.0.1, on a port picked
// free at run time. Every request goes to one handler, which says what to
// answer and how to misbehave (sleep, drop the connection, cut the body).
//
// One thread accepts and one thread serves each connection, several requests
// per connection (keep-alive) until the client or the reply asks to close.
// Request bodies come with Content-Length (and "Expect: 100-continue" is
// answered); chunked request bodies are not supported. Replies always carry
// Content-Length, except to HEAD, which gets only the handler's headers.
//
// The handler runs on the connection threads, so it must be safe to call
// from several threads at once. The destructor stops everything promptly,
// even a reply sleeping in `delay`.
#pragma once

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

namespace floe::objstore::testing {

struct ReceivedRequest {
  std::string method;
  std::string target;  // path + query as sent
  std::vector<std::pair<std::string, std::string>> headers;  // names lower-cased
  std::string body;

  // The first header named `lower_name`, or nullptr.
  const std::string* header(std::string_view lower_name) const;
};

struct Reply {
  int status = 200;
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
  std::chrono::milliseconds delay{0};  // sleep before answering (timeouts)
  bool drop = false;                   // close the connection without answering (a reset)
  bool partial_body = false;           // send headers with the full Content-Length but only half the body, then close
};

class TestHttpServer {
 public:
  using Handler = std::function<Reply(const ReceivedRequest&)>;

  // Starts listening and serving at once. Throws std::runtime_error when no
  // socket can be opened.
  explicit TestHttpServer(Handler handler);
  // Stops, closes every connection, joins threads.
  ~TestHttpServer();
  TestHttpServer(const TestHttpServer&) = delete;
  TestHttpServer& operator=(const TestHttpServer&) = delete;

  uint16_t port() const { return port_; }
  std::string url() const;  // "http://127.0.0.1:PORT"
  // Every request received so far, in arrival order (a copy).
  std::vector<ReceivedRequest> requests() const;
  // To test keep-alive reuse.
  size_t connections_accepted() const;

 private:
  enum class After { keep_open, close, reset };

  void accept_loop();
  void serve(int fd);
  // Reads, answers and records one request of the connection.
  After serve_one(int fd, std::string& buf);
  // Appends what the peer sends next to `buf`; false on end of stream, an
  // error or stop.
  bool read_more(int fd, std::string& buf) const;
  // Sleeps up to `d` in small slices; false when the server is stopping.
  bool sleep_unless_stopping(std::chrono::milliseconds d) const;

  const Handler handler_;
  int listen_fd_ = -1;
  uint16_t port_ = 0;
  std::atomic<bool> stopping_{false};

  mutable std::mutex mu_;
  std::vector<ReceivedRequest> requests_;  // GUARDED_BY(mu_)
  std::vector<int> open_fds_;              // GUARDED_BY(mu_): connections still being served
  std::vector<std::thread> connections_;   // GUARDED_BY(mu_)
  size_t accepted_ = 0;                    // GUARDED_BY(mu_)

  std::thread acceptor_;
};

}  // namespace floe::objstore::testing
