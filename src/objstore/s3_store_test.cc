// The S3 backend's own decisions (what it retries, how it reads odd replies,
// how it signs after a clock-skew error) against a scripted HTTP server. The
// operations themselves are tested against real S3-compatible servers in
// s3_store_itest.cc.
#include "objstore/s3_store.h"

#include <gtest/gtest.h>

#include <atomic>
#include <mutex>
#include <thread>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common/clock.h"
#include "objstore/sigv4.h"
#include "objstore/test_http_server_test_support.h"

namespace floe::objstore {
namespace {

using testing::ReceivedRequest;
using testing::Reply;
using testing::TestHttpServer;

std::span<const uint8_t> bytes_of(const std::string& s) { return {reinterpret_cast<const uint8_t*>(s.data()), s.size()}; }

Reply s3_error_reply(int status, const std::string& code) {
  Reply r;
  r.status = status;
  r.headers = {{"Content-Type", "application/xml"}};
  r.body = "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Error><Code>" + code + "</Code><Message>m</Message></Error>";
  return r;
}

// Counts get() and invalidate() calls.
class CountingCredentials final : public aws::CredentialsProvider {
 public:
  sigv4::Credentials get() override {
    ++gets;
    return {"AKIDTEST", "secret-" + std::to_string(invalidations.load()), std::nullopt};
  }
  void invalidate() override { ++invalidations; }
  std::string describe() const override { return "test"; }
  std::atomic<int> gets{0};
  std::atomic<int> invalidations{0};
};

struct Fixture {
  explicit Fixture(TestHttpServer::Handler handler, std::string extra = "")
      : server(std::move(handler)) {
    S3Options o = parse_s3_options("s3://bucket/pre?endpoint=" + server.url() +
                                       "&retry.backoff.ms=1&retry.backoff.max.ms=5&max.attempts=4" + extra,
                                   {}, aws::Environment());
    store = std::make_unique<S3ObjectStore>(o, [this](http::Client&) {
      auto c = std::make_unique<CountingCredentials>();
      credentials = c.get();
      return c;
    });
  }
  TestHttpServer server;
  CountingCredentials* credentials = nullptr;
  std::unique_ptr<S3ObjectStore> store;
};

ErrorKind kind_of_failure(const std::function<void()>& f) {
  try {
    f();
  } catch (const ObjectStoreError& e) {
    return e.kind();
  }
  ADD_FAILURE() << "no ObjectStoreError";
  return ErrorKind::other;
}

TEST(S3Store, PutSendsASignedPathStyleRequestWithACrc32cChecksum) {
  Fixture f([](const ReceivedRequest&) { return Reply{}; });
  f.store->put("wal/a b", bytes_of("hello"));
  auto requests = f.server.requests();
  ASSERT_EQ(requests.size(), 1u);
  const auto& r = requests[0];
  EXPECT_EQ(r.method, "PUT");
  EXPECT_EQ(r.target, "/bucket/pre/wal/a%20b");
  EXPECT_EQ(r.body, "hello");
  ASSERT_NE(r.header("x-amz-checksum-crc32c"), nullptr);
  // CRC-32C("hello") = 0x9a71bb4c, big-endian, base64.
  EXPECT_EQ(*r.header("x-amz-checksum-crc32c"), "mnG7TA==");
  ASSERT_NE(r.header("authorization"), nullptr);
  EXPECT_TRUE(r.header("authorization")->starts_with("AWS4-HMAC-SHA256 Credential=AKIDTEST/"));
  EXPECT_NE(r.header("authorization")->find("x-amz-checksum-crc32c"), std::string::npos);
  EXPECT_EQ(*r.header("x-amz-content-sha256"), "UNSIGNED-PAYLOAD");
  EXPECT_EQ(f.store->counters().put.requests, 1u);
  EXPECT_EQ(f.store->counters().put.bytes, 5u);
}

TEST(S3Store, Md5ChecksumWhenConfigured) {
  Fixture f([](const ReceivedRequest&) { return Reply{}; }, "&checksum=md5");
  f.store->put("k", bytes_of("hello"));
  auto r = f.server.requests().at(0);
  EXPECT_EQ(r.header("x-amz-checksum-crc32c"), nullptr);
  ASSERT_NE(r.header("content-md5"), nullptr);
  EXPECT_EQ(*r.header("content-md5"), "XUFAKrxLKna5cZ2REBfFkg==");
}

TEST(S3Store, RetriesServerErrorsThrottlingAndResetsThenSucceeds) {
  std::atomic<int> n{0};
  Fixture f([&](const ReceivedRequest&) {
    switch (n++) {
      case 0: return s3_error_reply(503, "SlowDown");
      case 1: return s3_error_reply(500, "InternalError");
      case 2: {
        Reply drop;
        drop.drop = true;
        return drop;
      }
      default: return Reply{};
    }
  });
  f.store->put("k", bytes_of("v"));
  EXPECT_EQ(n.load(), 4);
  // libcurl resends a request itself when a reused connection dies before
  // any answer, so the reset need not reach our retry loop.
  EXPECT_GE(f.store->counters().retries, 2u);
  EXPECT_EQ(f.store->counters().put.errors, 0u);
}

TEST(S3Store, GivesUpAfterMaxAttemptsWithARetriableError) {
  Fixture f([](const ReceivedRequest&) { return s3_error_reply(503, "ServiceUnavailable"); });
  EXPECT_EQ(kind_of_failure([&] { f.store->put("k", bytes_of("v")); }), ErrorKind::retriable);
  EXPECT_EQ(f.server.requests().size(), 4u);
  EXPECT_EQ(f.store->counters().put.errors, 1u);
}

TEST(S3Store, ClientErrorsAreNotRetried) {
  Fixture f([](const ReceivedRequest& r) {
    if (r.target.find("denied") != std::string::npos) return s3_error_reply(403, "AccessDenied");
    if (r.target.find("nobucket") != std::string::npos) return s3_error_reply(404, "NoSuchBucket");
    if (r.target.find("missing") != std::string::npos) return s3_error_reply(404, "NoSuchKey");
    return s3_error_reply(400, "InvalidArgument");
  });
  EXPECT_EQ(kind_of_failure([&] { f.store->put("denied", bytes_of("v")); }), ErrorKind::denied);
  EXPECT_EQ(kind_of_failure([&] { f.store->get("nobucket"); }), ErrorKind::other);
  EXPECT_EQ(kind_of_failure([&] { f.store->get("missing"); }), ErrorKind::not_found);
  EXPECT_EQ(kind_of_failure([&] { f.store->put("bad", bytes_of("v")); }), ErrorKind::other);
  EXPECT_EQ(f.server.requests().size(), 4u);
  EXPECT_EQ(f.store->counters().retries, 0u);
}

TEST(S3Store, AnExpiredTokenFetchesNewCredentialsAndRetries) {
  std::atomic<int> n{0};
  Fixture f([&](const ReceivedRequest&) { return n++ == 0 ? s3_error_reply(400, "ExpiredToken") : Reply{}; });
  f.store->put("k", bytes_of("v"));
  EXPECT_EQ(f.credentials->invalidations.load(), 1);
  EXPECT_EQ(f.credentials->gets.load(), 2);
}

TEST(S3Store, ClockSkewIsLearntFromTheServersDate) {
  std::atomic<int> n{0};
  // The server's clock is a day ahead.
  int64_t server_s = unix_now_ms() / 1000 + 86400;
  std::string server_date;
  {
    std::time_t t = server_s;
    std::tm tm{};
    gmtime_r(&t, &tm);
    char buf[64];
    std::strftime(buf, sizeof buf, "%a, %d %b %Y %H:%M:%S GMT", &tm);
    server_date = buf;
  }
  Fixture f([&](const ReceivedRequest&) {
    if (n++ > 0) return Reply{};
    Reply r = s3_error_reply(403, "RequestTimeTooSkewed");
    r.headers.emplace_back("Date", server_date);
    return r;
  });
  f.store->put("k", bytes_of("v"));
  auto requests = f.server.requests();
  ASSERT_EQ(requests.size(), 2u);
  std::string first = *requests[0].header("x-amz-date");
  std::string second = *requests[1].header("x-amz-date");
  EXPECT_EQ(second.substr(0, 8), sigv4::amz_date(server_s).substr(0, 8));
  EXPECT_NE(first.substr(0, 8), second.substr(0, 8));
}

TEST(S3Store, AStalledServerIsAFirstByteTimeoutAndRetried) {
  std::atomic<int> n{0};
  Fixture f(
      [&](const ReceivedRequest&) {
        Reply r;
        if (n++ == 0) r.delay = std::chrono::milliseconds(3000);
        return r;
      },
      "&first.byte.timeout.ms=200");
  f.store->put("k", bytes_of("v"));
  EXPECT_EQ(n.load(), 2);
  EXPECT_EQ(f.store->counters().retries, 1u);
}

TEST(S3Store, ATruncatedBodyIsRetried) {
  std::atomic<int> n{0};
  Fixture f([&](const ReceivedRequest&) {
    Reply r;
    r.body = "0123456789";
    r.partial_body = n++ == 0;
    return r;
  });
  Bytes got = f.store->get("k");
  EXPECT_EQ(std::string(got.begin(), got.end()), "0123456789");
  EXPECT_EQ(n.load(), 2);
}

TEST(S3Store, RangesAreCheckedAgainstContentRange) {
  Fixture f([](const ReceivedRequest& r) {
    Reply reply;
    const std::string* range = r.header("range");
    if (r.target.find("ignores") != std::string::npos) {
      reply.body = "0123456789";  // a store that ignores Range
      return reply;
    }
    if (r.target.find("past") != std::string::npos) return s3_error_reply(416, "InvalidRange");
    EXPECT_NE(range, nullptr);
    reply.status = 206;
    if (r.target.find("wrong") != std::string::npos) {
      reply.headers = {{"Content-Range", "bytes 0-1/10"}};
      reply.body = "01";
    } else {
      EXPECT_EQ(*range, "bytes=2-5");
      reply.headers = {{"Content-Range", "bytes 2-5/10"}};
      reply.body = "2345";
    }
    return reply;
  });
  Bytes got = f.store->get("ok", ByteRange{2, 4});
  EXPECT_EQ(std::string(got.begin(), got.end()), "2345");
  got = f.store->get("ignores", ByteRange{8, 5});
  EXPECT_EQ(std::string(got.begin(), got.end()), "89");
  EXPECT_EQ(kind_of_failure([&] { f.store->get("wrong", ByteRange{2, 4}); }), ErrorKind::retriable);
  EXPECT_EQ(kind_of_failure([&] { f.store->get("past", ByteRange{20, 4}); }), ErrorKind::other);
  EXPECT_EQ(kind_of_failure([&] { f.store->get("ok", ByteRange{2, 0}); }), ErrorKind::other);
}

TEST(S3Store, HeadReadsSizeAndDate) {
  Fixture f([](const ReceivedRequest& r) {
    if (r.target.find("missing") != std::string::npos) return Reply{.status = 404, .headers = {}, .body = ""};
    return Reply{.status = 200,
                 .headers = {{"Content-Length", "1234"}, {"Last-Modified", "Thu, 26 Nov 2026 18:00:00 GMT"}},
                 .body = ""};
  });
  auto info = f.store->head("k");
  ASSERT_TRUE(info);
  EXPECT_EQ(info->size, 1234u);
  EXPECT_EQ(info->modified_ms, 1795716000000);
  EXPECT_FALSE(f.store->head("missing"));
  // A bodiless 404 is confirmed with a one-byte GET, which carries an error code.
  EXPECT_EQ(f.store->counters().head.requests, 3u);
  EXPECT_EQ(f.server.requests().back().method, "GET");
}

TEST(S3Store, HeadTellsAMissingBucketFromAMissingObject) {
  Fixture f([](const ReceivedRequest& r) {
    if (r.method == "HEAD") return Reply{.status = 404, .headers = {}, .body = ""};
    return s3_error_reply(404, "NoSuchBucket");
  });
  EXPECT_EQ(kind_of_failure([&] { f.store->head("k"); }), ErrorKind::other);
}

TEST(S3Store, HeadOfAnExpiredTokenIsRetriedThroughTheGet) {
  std::atomic<int> gets{0};
  Fixture f([&](const ReceivedRequest& r) {
    if (r.method == "HEAD") return Reply{.status = 400, .headers = {}, .body = ""};
    if (gets++ == 0) return s3_error_reply(400, "ExpiredToken");
    return Reply{.status = 206, .headers = {{"Content-Range", "bytes 0-0/77"}}, .body = "x"};
  });
  auto info = f.store->head("k");
  ASSERT_TRUE(info);
  EXPECT_EQ(info->size, 77u);
  EXPECT_EQ(f.credentials->invalidations.load(), 1);
}

TEST(S3Store, WhitespaceBeforeAMultipartCompletionIsFine) {
  Fixture f(
      [&](const ReceivedRequest& r) {
        Reply reply;
        if (r.method == "POST" && r.target.find("uploads") != std::string::npos) {
          reply.body = "<InitiateMultipartUploadResult><UploadId>U1</UploadId></InitiateMultipartUploadResult>";
        } else if (r.method == "PUT") {
          reply.headers = {{"ETag", "\"e\""}};
        } else if (r.method == "POST") {
          reply.body = "   \n  <?xml version=\"1.0\" encoding=\"UTF-8\"?><CompleteMultipartUploadResult>"
                       "<ETag>x</ETag></CompleteMultipartUploadResult>";
        }
        return reply;
      },
      "&multipart.threshold.bytes=6000000&multipart.part.bytes=5242880");
  std::string data(6000001, 'x');
  f.store->put("big", bytes_of(data));
}

TEST(S3Store, AnUnreadableReplyIsARetriableStoreError) {
  Fixture f([](const ReceivedRequest&) { return Reply{.status = 200, .headers = {}, .body = "not xml"}; });
  std::vector<std::string> keys = {"a", "b"};
  EXPECT_EQ(kind_of_failure([&] { f.store->remove(keys); }), ErrorKind::retriable);
  EXPECT_EQ(kind_of_failure([&] { f.store->list(""); }), ErrorKind::retriable);
}

// A server that reads a request's body slowly, then answers 200.
class SlowReader {
 public:
  SlowReader() {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    int small = 16 * 1024;
    ::setsockopt(fd_, SOL_SOCKET, SO_RCVBUF, &small, sizeof small);
    EXPECT_EQ(::bind(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
    EXPECT_EQ(::listen(fd_, 4), 0);
    socklen_t len = sizeof a;
    ::getsockname(fd_, reinterpret_cast<sockaddr*>(&a), &len);
    port_ = ntohs(a.sin_port);
    thread_ = std::thread([this] {
      int c = ::accept(fd_, nullptr, nullptr);
      if (c < 0) return;
      std::string got;
      char buf[16 * 1024];
      // Until the headers and the whole body (Content-Length) are in.
      while (true) {
        ssize_t n = ::recv(c, buf, sizeof buf, 0);
        if (n <= 0) break;
        got.append(buf, static_cast<size_t>(n));
        size_t end = got.find("\r\n\r\n");
        if (end != std::string::npos) {
          size_t cl = got.find("Content-Length: ");
          size_t length = std::stoul(got.substr(cl + 16));
          if (got.size() >= end + 4 + length) break;
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
      }
      std::string reply = "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n";
      ::send(c, reply.data(), reply.size(), MSG_NOSIGNAL);
      ::shutdown(c, SHUT_RDWR);
      ::close(c);
    });
  }
  ~SlowReader() {
    ::shutdown(fd_, SHUT_RDWR);
    ::close(fd_);
    thread_.join();
  }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(port_); }

 private:
  int fd_ = -1;
  uint16_t port_ = 0;
  std::thread thread_;
};

// The first-byte clock starts when the body is out, not when the request
// starts. (libcurl calls the progress callback about once a second when
// nothing moves, and the kernel's send buffer absorbs the body's tail, so this
// shows that a slow upload succeeds rather than pinning the exact moment.)
TEST(S3Store, AFirstByteTimeoutDoesNotCountTheUpload) {
  SlowReader server;
  http::ClientOptions options;
  options.timeouts.first_byte = std::chrono::milliseconds(300);
  http::Client client(options);
  // 2 MiB at 16 KiB per 5 ms takes well over the 300 ms first-byte timeout.
  std::string body(2u << 20, 'x');
  auto started = std::chrono::steady_clock::now();
  http::Response r = client.send({.method = "PUT", .url = server.url() + "/k", .headers = {},
                                  .body = bytes_of(body), .timeouts = std::nullopt});
  EXPECT_EQ(r.status, 200);
  EXPECT_GT(std::chrono::steady_clock::now() - started, std::chrono::milliseconds(300))
      << "the upload was not slow, so this tested nothing";
}

TEST(S3Store, DeleteObjectsFallsBackToSingleDeletesWhereNotImplemented) {
  Fixture f([](const ReceivedRequest& r) {
    if (r.method == "POST") return s3_error_reply(501, "NotImplemented");
    return Reply{.status = 204, .headers = {}, .body = ""};
  });
  std::vector<std::string> keys = {"a", "b", "c"};
  f.store->remove(keys);
  f.store->remove(keys);
  auto requests = f.server.requests();
  // One refused DeleteObjects, then single DELETEs only.
  ASSERT_EQ(requests.size(), 7u);
  EXPECT_EQ(requests[0].method, "POST");
  for (size_t i = 1; i < requests.size(); ++i) EXPECT_EQ(requests[i].method, "DELETE");
}

TEST(S3Store, DeleteObjectsReportsFailedKeysButNotMissingOnes) {
  Fixture f([](const ReceivedRequest& r) {
    EXPECT_NE(r.header("content-md5"), nullptr);
    EXPECT_NE(r.body.find("<Key>pre/a</Key>"), std::string::npos);
    Reply reply;
    if (r.body.find("<Key>pre/denied</Key>") != std::string::npos) {
      reply.body = "<DeleteResult><Error><Key>pre/denied</Key><Code>AccessDenied</Code><Message>no</Message>"
                   "</Error></DeleteResult>";
    } else {
      reply.body = "<DeleteResult><Error><Key>pre/b</Key><Code>NoSuchKey</Code></Error></DeleteResult>";
    }
    return reply;
  });
  std::vector<std::string> ok = {"a", "b"};
  f.store->remove(ok);
  std::vector<std::string> denied = {"a", "denied"};
  EXPECT_EQ(kind_of_failure([&] { f.store->remove(denied); }), ErrorKind::denied);
}

TEST(S3Store, MultipartUploadIsAbortedWhenCompleteFailsInsideA200) {
  std::mutex mu;
  std::vector<std::string> calls;
  Fixture f(
      [&](const ReceivedRequest& r) {
        {
          std::lock_guard lock(mu);
          calls.push_back(r.method + " " + r.target.substr(r.target.find('?') + 1));
        }
        Reply reply;
        if (r.method == "POST" && r.target.find("uploads") != std::string::npos) {
          reply.body = "<InitiateMultipartUploadResult><UploadId>U1</UploadId></InitiateMultipartUploadResult>";
        } else if (r.method == "PUT") {
          reply.headers = {{"ETag", "\"e" + std::to_string(r.body.size()) + "\""}};
        } else if (r.method == "POST") {
          EXPECT_NE(r.body.find("<PartNumber>2</PartNumber><ETag>&quot;e1048576&quot;</ETag>"), std::string::npos);
          reply.body = "<Error><Code>InternalError</Code><Message>x</Message></Error>";
        } else if (r.method == "DELETE") {
          reply.status = 204;
        }
        return reply;
      },
      "&multipart.threshold.bytes=6000000&multipart.part.bytes=5242880");
  std::string data(5242880 + 1048576, 'x');
  EXPECT_EQ(kind_of_failure([&] { f.store->put("big", bytes_of(data)); }), ErrorKind::retriable);
  ASSERT_EQ(calls.size(), 5u);
  EXPECT_EQ(calls[0], "POST uploads=");
  EXPECT_EQ(calls[1], "PUT partNumber=1&uploadId=U1");
  EXPECT_EQ(calls[2], "PUT partNumber=2&uploadId=U1");
  EXPECT_EQ(calls[3], "POST uploadId=U1");
  EXPECT_EQ(calls[4], "DELETE uploadId=U1");
}

TEST(S3Store, ListFollowsContinuationTokensAndRefusesALoop) {
  Fixture f([](const ReceivedRequest& r) {
    Reply reply;
    if (r.target.find("prefix=pre%2Floop") != std::string::npos) {
      reply.body = "<ListBucketResult><IsTruncated>true</IsTruncated></ListBucketResult>";
    } else if (r.target.find("continuation-token=t%2B1") == std::string::npos) {
      reply.body =
          "<ListBucketResult><IsTruncated>true</IsTruncated><NextContinuationToken>t+1</NextContinuationToken>"
          "<Contents><Key>pre/b</Key><Size>2</Size><LastModified>2026-11-26T18:00:00.250Z</LastModified></Contents>"
          "<Contents><Key>pre/.tmp-x</Key><Size>2</Size></Contents>"
          "</ListBucketResult>";
    } else {
      reply.body = "<ListBucketResult><IsTruncated>false</IsTruncated>"
                   "<Contents><Key>pre/a</Key><Size>1</Size></Contents></ListBucketResult>";
    }
    return reply;
  });
  auto listed = f.store->list("");
  ASSERT_EQ(listed.size(), 2u);
  EXPECT_EQ(listed[0].key, "a");
  EXPECT_EQ(listed[1].key, "b");
  EXPECT_EQ(listed[1].size, 2u);
  EXPECT_EQ(listed[1].modified_ms, 1795716000250);
  EXPECT_EQ(f.store->counters().list.requests, 2u);
  EXPECT_EQ(kind_of_failure([&] { f.store->list("loop"); }), ErrorKind::other);
}

TEST(S3Store, CreateSendsIfNoneMatchAndReadsPreconditionFailedAsExists) {
  Fixture f([](const ReceivedRequest& r) {
    EXPECT_EQ(*r.header("if-none-match"), "*");
    return r.target.find("taken") != std::string::npos ? s3_error_reply(412, "PreconditionFailed") : Reply{};
  });
  EXPECT_TRUE(f.store->create("free", bytes_of("v")));
  EXPECT_FALSE(f.store->create("taken", bytes_of("v")));
}

TEST(S3Store, ACreateWhoseFirstAnswerWasLostRecognisesItsOwnObject) {
  std::atomic<int> puts{0};
  Fixture f([&](const ReceivedRequest& r) {
    if (r.method == "GET") {
      return Reply{.status = 200, .headers = {}, .body = r.target.find("mine") != std::string::npos ? "v" : "other"};
    }
    if (puts++ % 2 == 0) return s3_error_reply(503, "SlowDown");  // as if the write landed and the answer was lost
    return s3_error_reply(412, "PreconditionFailed");
  });
  EXPECT_TRUE(f.store->create("mine", bytes_of("v")));
  EXPECT_FALSE(f.store->create("theirs", bytes_of("v")));
}

TEST(S3Store, CreateRefusesWithoutConditionalWrites) {
  Fixture f([](const ReceivedRequest&) { return Reply{}; }, "&conditional.create=false");
  EXPECT_EQ(kind_of_failure([&] { f.store->create("k", bytes_of("v")); }), ErrorKind::other);
  EXPECT_TRUE(f.server.requests().empty());
}

TEST(S3Store, InvalidKeysNeverReachTheServer) {
  Fixture f([](const ReceivedRequest&) { return Reply{}; });
  EXPECT_EQ(kind_of_failure([&] { f.store->put("../x", bytes_of("v")); }), ErrorKind::other);
  EXPECT_EQ(kind_of_failure([&] { f.store->get("/abs"); }), ErrorKind::other);
  EXPECT_TRUE(f.server.requests().empty());
}

TEST(S3Store, ConnectionsAreReused) {
  Fixture f([](const ReceivedRequest&) { return Reply{}; });
  for (int i = 0; i < 20; ++i) f.store->put("k" + std::to_string(i), bytes_of("v"));
  EXPECT_EQ(f.server.connections_accepted(), 1u);
}

TEST(S3Store, DescribeNamesTheStoreAndNoSecret) {
  Fixture f([](const ReceivedRequest&) { return Reply{}; });
  std::string d = f.store->describe();
  EXPECT_NE(d.find("s3://bucket/pre/"), std::string::npos);
  EXPECT_NE(d.find("path-style"), std::string::npos);
  EXPECT_EQ(d.find("secret"), std::string::npos);
}

TEST(S3Store, CostEstimateUsesRequestClasses) {
  Counters c;
  c.put.requests = 1000;
  c.list.requests = 1000;
  c.get.requests = 10000;
  c.head.requests = 0;
  c.remove.requests = 5000;  // free
  c.put.bytes = 1ull << 30;
  CostEstimate e = estimate_cost(c, Prices{});
  EXPECT_NEAR(e.requests, 0.005 * 2 + 0.0004 * 10, 1e-12);
  EXPECT_NEAR(e.storage_per_month, 0.023, 1e-12);
  EXPECT_EQ(e.transfer, 0);
  EXPECT_NE(describe_usage(c, Prices{}).find("estimated cost $0.014000 for requests"), std::string::npos);
}

}  // namespace
}  // namespace floe::objstore
