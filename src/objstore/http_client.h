// The raw HTTP transport under the S3 backend and the AWS credential
// providers: one request in, one response out, on libcurl. It knows nothing of
// S3, signing or retries (s3_store.cc and aws_credentials.cc add those), so a
// failure here is either an HTTP status the caller interprets or a
// TransportError saying what went wrong on the wire.
//
// Connections are reused: finished easy handles go back to a pool and keep
// their keep-alive connection, and at most `max_connections` requests run at
// once (more callers wait for a free handle), which also bounds the memory of
// response bodies in flight to max_connections * max_response_bytes.
//
// send() blocks the calling thread (the broker's blocking pool). The client is
// safe to use from any number of threads.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <optional>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace floe::objstore::http {

using Header = std::pair<std::string, std::string>;

struct Timeouts {
  // To establish the TCP (and TLS) connection.
  std::chrono::milliseconds connect{3000};
  // From the last byte of the request sent to the first byte of the response
  // (a stalled server is noticed long before `total`).
  std::chrono::milliseconds first_byte{10000};
  // The whole exchange.
  std::chrono::milliseconds total{60000};
};

struct ClientOptions {
  size_t max_connections = 64;
  Timeouts timeouts;
  bool verify_tls = true;
  // A response body longer than this fails with TransportError::too_large
  // instead of growing memory without bound.
  size_t max_response_bytes = 64u << 20;
};

struct Request {
  std::string method;  // "GET", "PUT", "POST", "HEAD", "DELETE"
  std::string url;     // absolute and already percent-encoded
  std::vector<Header> headers;
  std::span<const uint8_t> body;  // sent as is; must outlive send()
  std::optional<Timeouts> timeouts;  // instead of the client's
};

struct Response {
  int status = 0;
  std::vector<Header> headers;  // names lower-case, in arrival order
  std::vector<uint8_t> body;

  // The first header named `name` (lower-case), if any.
  const std::string* header(std::string_view name) const;
  std::string body_text() const { return std::string(body.begin(), body.end()); }
};

enum class TransportErrorKind {
  connect,             // refused, unreachable, DNS failure
  timeout,             // connect, first-byte or total timeout
  reset,               // the connection broke mid-exchange
  tls,                 // certificate or handshake failure
  too_large,           // response body over max_response_bytes
  other,               // a bad URL, an option libcurl refuses, ...
};

class TransportError : public std::runtime_error {
 public:
  TransportError(TransportErrorKind kind, const std::string& what) : std::runtime_error(what), kind_(kind) {}
  TransportErrorKind kind() const { return kind_; }
  // Worth another attempt: connect, timeout and reset failures are; a TLS
  // failure, a refused option or a too-large body will fail the same way.
  bool retriable() const {
    return kind_ == TransportErrorKind::connect || kind_ == TransportErrorKind::timeout ||
           kind_ == TransportErrorKind::reset;
  }

 private:
  TransportErrorKind kind_;
};

class Client {
 public:
  explicit Client(ClientOptions options = {});
  ~Client();
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;

  // Sends the request and returns the response, whatever its status. Throws
  // TransportError when no complete response arrived. The error message names
  // the method and host, never the query string or headers (they may carry
  // credentials or tokens).
  Response send(const Request& request);

  const ClientOptions& options() const { return options_; }

 private:
  void* acquire();  // an easy handle; blocks while max_connections are busy
  void release(void* handle);

  const ClientOptions options_;
  std::mutex mu_;
  std::condition_variable free_;
  std::vector<void*> idle_;  // GUARDED_BY(mu_)
  size_t busy_ = 0;          // GUARDED_BY(mu_)
};

// "host[:port]" of an absolute URL, for error messages and the Host header.
std::string url_authority(std::string_view url);

}  // namespace floe::objstore::http
