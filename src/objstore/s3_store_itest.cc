// The S3 backend against real S3-compatible servers, started around this
// binary by tests/s3/s3_servers.py (ctest entry objstore.s3):
//   - s3rver (npm), a third-party implementation of the S3 API: every
//     operation, pagination, ranges, multipart, DeleteObjects, large objects;
//   - tests/s3/fake_s3.py, our strict fake: it checks every signature, payload
//     hash and checksum, does conditional writes, and injects faults on
//     request (POST /__fault), so retries, throttling, lost responses and
//     damaged bodies are tested against a server, not a script.
// Without the servers' environment variables every test fails: this binary
// is only ever run by that wrapper.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include <atomic>
#include <cstdlib>
#include <thread>

#include "objstore/http_client.h"
#include "objstore/s3_store.h"

namespace floe::objstore {
namespace {

std::string env_or_fail(const char* name) {
  const char* v = std::getenv(name);
  if (v == nullptr || *v == '\0') {
    ADD_FAILURE() << name << " is not set: run this binary through tests/s3/s3_servers.py";
    return "http://127.0.0.1:1";
  }
  return v;
}

Bytes pattern(size_t n, uint8_t seed = 0) {
  Bytes b(n);
  for (size_t i = 0; i < n; ++i) b[i] = static_cast<uint8_t>((i * 131 + seed) ^ (i >> 11));
  return b;
}

Bytes bytes_of(std::string_view s) { return Bytes(s.begin(), s.end()); }

std::optional<ErrorKind> error_kind(const std::function<void()>& f) {
  try {
    f();
  } catch (const ObjectStoreError& e) {
    return e.kind();
  }
  return std::nullopt;
}

enum class Server { s3rver, fake };

struct Target {
  std::string endpoint;
  sigv4::Credentials credentials;
};

Target target(Server s) {
  if (s == Server::s3rver) return {env_or_fail("FLOE_TEST_S3RVER_URL"), {"S3RVER", "S3RVER", std::nullopt}};
  return {env_or_fail("FLOE_TEST_FAKE_S3_URL"),
          {env_or_fail("FLOE_TEST_FAKE_S3_ACCESS_KEY"), env_or_fail("FLOE_TEST_FAKE_S3_SECRET_KEY"), std::nullopt}};
}

std::string bucket() {
  const char* b = std::getenv("FLOE_TEST_S3_BUCKET");
  return b != nullptr ? b : "floe-test";
}

// A fresh prefix per test, so tests share the servers without seeing each other.
std::string fresh_prefix() {
  static std::atomic<int> n{0};
  const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
  std::string name = std::string(info->test_suite_name()) + "-" + info->name();
  for (char& c : name) {
    if (!std::isalnum(static_cast<unsigned char>(c))) c = '-';
  }
  return name + "-" + std::to_string(::getpid()) + "-" + std::to_string(n++);
}

std::unique_ptr<S3ObjectStore> open_store(Server s, const std::string& settings = "",
                                          std::optional<sigv4::Credentials> credentials = std::nullopt) {
  Target t = target(s);
  std::string url = "s3://" + bucket() + "/" + fresh_prefix() + "?endpoint=" + t.endpoint +
                    "&retry.backoff.ms=2&retry.backoff.max.ms=20" + settings;
  S3Options options = parse_s3_options(url, {}, aws::Environment());
  sigv4::Credentials c = credentials.value_or(t.credentials);
  return std::make_unique<S3ObjectStore>(options, [c](http::Client&) { return aws::static_credentials(c); });
}

// Talks to fake_s3.py's control endpoints.
class FakeControl {
 public:
  FakeControl() : url_(target(Server::fake).endpoint) { post("/__fault", R"({"clear": true})"); }
  ~FakeControl() {
    try {
      post("/__fault", R"({"clear": true})");
    } catch (const std::exception&) {
      // The next test clears the rules again.
    }
  }
  void fault(const nlohmann::json& rule) { post("/__fault", rule.dump()); }
  nlohmann::json stats() {
    auto r = http_.send({.method = "GET", .url = url_ + "/__stats", .headers = {}, .body = {}, .timeouts = {}});
    return nlohmann::json::parse(r.body_text());
  }

 private:
  void post(const std::string& path, const std::string& body) {
    auto r = http_.send({.method = "POST", .url = url_ + path, .headers = {{"Content-Type", "application/json"}},
                         .body = std::span(reinterpret_cast<const uint8_t*>(body.data()), body.size()),
                         .timeouts = {}});
    if (r.status != 200) throw std::runtime_error("fake_s3 refused " + path + ": " + r.body_text());
  }
  std::string url_;
  http::Client http_;
};

class S3Servers : public ::testing::TestWithParam<Server> {};

INSTANTIATE_TEST_SUITE_P(Both, S3Servers, ::testing::Values(Server::s3rver, Server::fake),
                         [](const auto& info) { return info.param == Server::s3rver ? "s3rver" : "fake"; });

TEST_P(S3Servers, PutGetHeadOverwriteRemove) {
  auto store = open_store(GetParam());
  Bytes binary = pattern(100'000);
  store->put("wal/3fa2/1732600000000-1-9c1e", binary);
  store->put("empty", {});
  EXPECT_EQ(store->get("wal/3fa2/1732600000000-1-9c1e"), binary);
  EXPECT_EQ(store->get("empty"), Bytes{});
  auto info = store->head("wal/3fa2/1732600000000-1-9c1e");
  ASSERT_TRUE(info);
  EXPECT_EQ(info->size, binary.size());
  EXPECT_GT(info->modified_ms, 1'700'000'000'000);
  store->put("empty", bytes_of("now full"));
  EXPECT_EQ(store->get("empty"), bytes_of("now full"));
  std::vector<std::string> keys = {"empty"};
  store->remove(keys);
  EXPECT_EQ(error_kind([&] { store->get("empty"); }), ErrorKind::not_found);
  EXPECT_FALSE(store->head("empty"));
  EXPECT_EQ(store->counters().retries, 0u);
}

TEST_P(S3Servers, KeysThatNeedEncoding) {
  auto store = open_store(GetParam());
  const std::vector<std::string> keys = {"dir/a b+c=d&e~f(1)!.txt", "dir/caf\xc3\xa9-\xe2\x82\xac", "dir/50%/x*y'z",
                                         "dir/semi;colon,comma:colon@at$dollar"};
  for (const auto& k : keys) store->put(k, bytes_of(k));
  for (const auto& k : keys) EXPECT_EQ(store->get(k), bytes_of(k)) << k;
  auto listed = store->list("dir/");
  ASSERT_EQ(listed.size(), keys.size());
  std::vector<std::string> sorted = keys;
  std::sort(sorted.begin(), sorted.end());
  for (size_t i = 0; i < keys.size(); ++i) EXPECT_EQ(listed[i].key, sorted[i]);
  store->remove(keys);
  EXPECT_TRUE(store->list("dir/").empty());
}

TEST_P(S3Servers, Ranges) {
  auto store = open_store(GetParam());
  Bytes object = pattern(1000);
  store->put("obj", object);
  auto slice = [&](size_t o, size_t n) { return Bytes(object.begin() + o, object.begin() + o + n); };
  EXPECT_EQ(store->get("obj", ByteRange{0, 1000}), object);
  EXPECT_EQ(store->get("obj", ByteRange{123, 456}), slice(123, 456));
  EXPECT_EQ(store->get("obj", ByteRange{999, 1}), slice(999, 1));
  EXPECT_EQ(store->get("obj", ByteRange{900, 500}), slice(900, 100));
  EXPECT_EQ(error_kind([&] { store->get("obj", ByteRange{1000, 1}); }), ErrorKind::other);
  EXPECT_EQ(error_kind([&] { store->get("missing", ByteRange{0, 1}); }), ErrorKind::not_found);
}

TEST_P(S3Servers, LargeObjectInOnePut) {
  auto store = open_store(GetParam());
  Bytes big = pattern(24u << 20, 7);
  store->put("big", big);
  EXPECT_EQ(store->counters().put.requests, 1u);
  EXPECT_EQ(store->get("big"), big);
  EXPECT_EQ(store->get("big", ByteRange{10u << 20, 1u << 20}),
            Bytes(big.begin() + (10 << 20), big.begin() + (11 << 20)));
}

TEST_P(S3Servers, MultipartUpload) {
  auto store = open_store(GetParam(), "&multipart.threshold.bytes=6000000&multipart.part.bytes=5242880");
  Bytes big = pattern((13u << 20) + 12345, 3);
  store->put("multi", big);
  // Create, three parts, complete.
  EXPECT_EQ(store->counters().put.requests, 5u);
  EXPECT_EQ(store->counters().put.bytes, big.size());
  EXPECT_EQ(store->get("multi"), big);
  EXPECT_EQ(store->head("multi")->size, big.size());
  // A small object under the threshold is still one request.
  store->put("small", pattern(100));
  EXPECT_EQ(store->counters().put.requests, 6u);
}

TEST_P(S3Servers, ListPagesAndDeleteObjectsBatches) {
  auto store = open_store(GetParam());
  constexpr int kObjects = 1100;
  std::vector<std::string> keys;
  for (int i = 0; i < kObjects; ++i) {
    char name[32];
    std::snprintf(name, sizeof name, "page/%05d", i);
    keys.emplace_back(name);
  }
  std::vector<std::thread> threads;
  std::atomic<size_t> next{0};
  for (int t = 0; t < 16; ++t) {
    threads.emplace_back([&] {
      for (size_t i = next++; i < keys.size(); i = next++) store->put(keys[i], bytes_of(keys[i]));
    });
  }
  for (auto& t : threads) t.join();
  store->put("other/x", bytes_of("x"));

  auto listed = store->list("page/");
  ASSERT_EQ(listed.size(), keys.size());
  for (size_t i = 0; i < keys.size(); ++i) {
    EXPECT_EQ(listed[i].key, keys[i]);
    EXPECT_EQ(listed[i].size, keys[i].size());
  }
  EXPECT_EQ(store->counters().list.requests, 2u) << "two pages of at most 1,000";
  EXPECT_EQ(store->list("page/005").size(), 100u);
  EXPECT_EQ(store->list("").size(), keys.size() + 1);

  store->remove(keys);
  // s3rver sometimes answers a DeleteObjects with 500 InternalError (its
  // directory clean-up races); the retry is then a third request.
  EXPECT_EQ(store->counters().remove.requests - store->counters().retries, 2u)
      << "two DeleteObjects batches of at most 1,000";
  auto left = store->list("");
  ASSERT_EQ(left.size(), 1u);
  EXPECT_EQ(left[0].key, "other/x");
  // Deleting what is gone is not an error.
  store->remove(keys);
}

TEST_P(S3Servers, AMissingBucketIsNotAMissingObject) {
  Target t = target(GetParam());
  S3Options options =
      parse_s3_options("s3://no-such-bucket-here?endpoint=" + t.endpoint + "&max.attempts=1", {}, aws::Environment());
  S3ObjectStore store(options, [&](http::Client&) { return aws::static_credentials(t.credentials); });
  EXPECT_EQ(error_kind([&] { store.put("k", bytes_of("v")); }), ErrorKind::other);
  EXPECT_EQ(error_kind([&] { store.get("k"); }), ErrorKind::other);
  EXPECT_EQ(error_kind([&] { store.list(""); }), ErrorKind::other);
}

TEST_P(S3Servers, ChecksumsAcceptedWithEveryKind) {
  for (std::string checksum : {"crc32c", "md5", "none"}) {
    auto store = open_store(GetParam(), "&checksum=" + checksum);
    store->put("k", pattern(5000));
    EXPECT_EQ(store->get("k"), pattern(5000)) << checksum;
  }
}

// --- the strict fake only ------------------------------------------------------

TEST(S3Fake, ConditionalCreate) {
  FakeControl fake;
  auto store = open_store(Server::fake);
  EXPECT_TRUE(store->create("c", bytes_of("first")));
  EXPECT_FALSE(store->create("c", bytes_of("second")));
  EXPECT_EQ(store->get("c"), bytes_of("first"));
  std::atomic<int> winners{0};
  std::vector<std::thread> threads;
  for (int i = 0; i < 8; ++i) {
    threads.emplace_back([&, i] {
      if (store->create("race", pattern(1000, static_cast<uint8_t>(i)))) ++winners;
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(winners.load(), 1);
  auto big = open_store(Server::fake, "&multipart.threshold.bytes=6000000&multipart.part.bytes=5242880");
  EXPECT_TRUE(big->create("m", pattern(7u << 20)));
  EXPECT_FALSE(big->create("m", pattern(7u << 20, 1)));
  EXPECT_EQ(big->get("m"), pattern(7u << 20));
  EXPECT_EQ(fake.stats()["uploads"], 0) << "the refused multipart create was aborted";
}

TEST(S3Fake, WrongCredentialsAreDeniedWithoutRetrying) {
  FakeControl fake;
  auto store = open_store(Server::fake, "", sigv4::Credentials{"AKIDFLOETEST", "wrong-secret", std::nullopt});
  EXPECT_EQ(error_kind([&] { store->put("k", bytes_of("v")); }), ErrorKind::denied);
  EXPECT_EQ(store->counters().put.requests, 1u);
  auto stranger = open_store(Server::fake, "", sigv4::Credentials{"AKIDUNKNOWN", "x", std::nullopt});
  EXPECT_EQ(error_kind([&] { stranger->get("k"); }), ErrorKind::denied);
}

TEST(S3Fake, ThrottlingAndServerErrorsAreRetried) {
  FakeControl fake;
  auto store = open_store(Server::fake);
  fake.fault({{"operations", {"PutObject"}}, {"status", 503}, {"code", "SlowDown"}, {"count", 2}});
  store->put("k", bytes_of("v"));
  EXPECT_EQ(store->counters().retries, 2u);
  fake.fault({{"operations", {"GetObject"}}, {"status", 500}, {"count", 1}});
  fake.fault({{"operations", {"GetObject"}}, {"reset", true}, {"count", 1}});
  EXPECT_EQ(store->get("k"), bytes_of("v"));
  // libcurl itself resends a request whose reused connection died before any
  // answer, so the reset may not reach our retry loop.
  EXPECT_GE(store->counters().retries, 3u);
  // Under steady throttling of a third of the requests, every put lands.
  fake.fault({{"operations", {"PutObject"}}, {"status", 503}, {"code", "SlowDown"}, {"rate", 0.3}, {"seed", 5}});
  for (int i = 0; i < 60; ++i) store->put("t/" + std::to_string(i), pattern(100, static_cast<uint8_t>(i)));
  EXPECT_GT(store->counters().retries, 4u);
  EXPECT_EQ(store->list("t/").size(), 60u);
}

TEST(S3Fake, GivingUpIsARetriableError) {
  FakeControl fake;
  auto store = open_store(Server::fake, "&max.attempts=3");
  fake.fault({{"operations", {"PutObject"}}, {"status", 500}, {"count", 3}});
  EXPECT_EQ(error_kind([&] { store->put("k", bytes_of("v")); }), ErrorKind::retriable);
  EXPECT_EQ(store->counters().put.requests, 3u);
  EXPECT_EQ(store->counters().put.errors, 1u);
}

TEST(S3Fake, ALostResponseIsRetriedAndTheObjectIsWhole) {
  FakeControl fake;
  auto store = open_store(Server::fake);
  fake.fault({{"operations", {"PutObject"}}, {"after_write", true}, {"reset", true}, {"count", 1}});
  store->put("k", pattern(300'000));
  EXPECT_EQ(store->get("k"), pattern(300'000));
  EXPECT_EQ(store->counters().retries, 1u);
  // A create whose success was lost finds its own object on the retry.
  fake.fault({{"operations", {"PutObject"}}, {"after_write", true}, {"status", 500}, {"count", 1}});
  EXPECT_TRUE(store->create("c", pattern(1000)));
  fake.fault({{"operations", {"PutObject"}}, {"after_write", true}, {"status", 500}, {"count", 1}});
  EXPECT_FALSE(store->create("c", pattern(1000, 9)));
}

TEST(S3Fake, DamagedAndCutBodiesAreFetchedAgain) {
  FakeControl fake;
  auto store = open_store(Server::fake);
  store->put("k", pattern(200'000));
  fake.fault({{"operations", {"GetObject"}}, {"corrupt", true}, {"count", 1}});
  EXPECT_EQ(store->get("k"), pattern(200'000));
  fake.fault({{"operations", {"GetObject"}}, {"truncate", true}, {"count", 1}});
  EXPECT_EQ(store->get("k"), pattern(200'000));
  EXPECT_GE(store->counters().retries, 1u);
}

TEST(S3Fake, AStalledServerTimesOutAndIsRetried) {
  FakeControl fake;
  auto store = open_store(Server::fake, "&first.byte.timeout.ms=300");
  store->put("k", bytes_of("v"));
  fake.fault({{"operations", {"GetObject"}}, {"delay_ms", 2500}, {"count", 1}});
  EXPECT_EQ(store->get("k"), bytes_of("v"));
  EXPECT_EQ(store->counters().retries, 1u);
}

TEST(S3Fake, AFailedPartAbortsTheUpload) {
  FakeControl fake;
  auto store = open_store(Server::fake, "&multipart.threshold.bytes=6000000&multipart.part.bytes=5242880");
  fake.fault({{"operations", {"UploadPart"}}, {"status", 400}, {"code", "InvalidArgument"}, {"count", 1}});
  EXPECT_EQ(error_kind([&] { store->put("m", pattern(12u << 20)); }), ErrorKind::other);
  EXPECT_EQ(fake.stats()["uploads"], 0) << "the upload was aborted";
  EXPECT_FALSE(store->head("m"));
  // Retriable part failures are retried inside the upload.
  fake.fault({{"operations", {"UploadPart"}}, {"status", 503}, {"count", 2}});
  store->put("m", pattern(12u << 20));
  EXPECT_EQ(store->get("m"), pattern(12u << 20));
}

TEST(S3Fake, DeleteObjectsOfMoreThanAThousandKeys) {
  FakeControl fake;
  auto store = open_store(Server::fake);
  std::vector<std::string> keys;
  for (int i = 0; i < 2001; ++i) keys.push_back("d/" + std::to_string(i));
  store->remove(keys);  // all missing: still three valid requests
  EXPECT_EQ(store->counters().remove.requests, 3u);
  EXPECT_EQ(store->counters().remove.errors, 0u);
}

}  // namespace
}  // namespace floe::objstore
