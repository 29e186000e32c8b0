#include "objstore/s3_options.h"

#include <gtest/gtest.h>

#include "objstore/object_store.h"

namespace floe::objstore {
namespace {

S3Options parse(std::string_view url, std::map<std::string, std::string> settings = {},
                std::map<std::string, std::string> env = {}) {
  return parse_s3_options(url, settings, aws::Environment(std::move(env)));
}

std::string error_of(std::string_view url, std::map<std::string, std::string> settings = {},
                     std::map<std::string, std::string> env = {}) {
  try {
    parse(url, std::move(settings), std::move(env));
  } catch (const ObjectStoreError& e) {
    EXPECT_EQ(e.kind(), ErrorKind::other);
    return e.what();
  }
  return "";
}

TEST(S3Options, DefaultsAreAwsInUsEast1VirtualHosted) {
  S3Options o = parse("s3://my-bucket");
  EXPECT_EQ(o.bucket, "my-bucket");
  EXPECT_EQ(o.prefix, "");
  EXPECT_EQ(o.region, "us-east-1");
  EXPECT_EQ(o.endpoint, "https://s3.us-east-1.amazonaws.com");
  EXPECT_FALSE(o.path_style);
  EXPECT_TRUE(o.verify_tls);
  EXPECT_EQ(o.checksum, S3Options::Checksum::crc32c);
}

TEST(S3Options, PrefixGetsOneTrailingSlash) {
  EXPECT_EQ(parse("s3://b-1/floe/prod").prefix, "floe/prod/");
  EXPECT_EQ(parse("s3://b-1/floe/prod///").prefix, "floe/prod/");
  EXPECT_EQ(parse("s3://b-1/").prefix, "");
  EXPECT_NE(error_of("s3://b-1/a//b"), "");
}

TEST(S3Options, RegionFromTheEnvironmentBuildsTheAwsEndpoint) {
  S3Options o = parse("s3://bkt", {}, {{"AWS_DEFAULT_REGION", "eu-west-1"}});
  EXPECT_EQ(o.region, "eu-west-1");
  EXPECT_EQ(o.endpoint, "https://s3.eu-west-1.amazonaws.com");
  // AWS_REGION wins over AWS_DEFAULT_REGION, as in the SDKs.
  EXPECT_EQ(parse("s3://bkt", {}, {{"AWS_DEFAULT_REGION", "eu-west-1"}, {"AWS_REGION", "ap-south-1"}}).region,
            "ap-south-1");
}

TEST(S3Options, EndpointPrecedenceIsUrlThenKeysThenS3VariableThenGeneralVariable) {
  std::map<std::string, std::string> env = {{"AWS_ENDPOINT_URL", "http://general:1"},
                                            {"AWS_ENDPOINT_URL_S3", "http://s3specific:2"}};
  EXPECT_EQ(parse("s3://bkt", {}, {{"AWS_ENDPOINT_URL", "http://general:1"}}).endpoint, "http://general:1");
  EXPECT_EQ(parse("s3://bkt", {}, env).endpoint, "http://s3specific:2");
  EXPECT_EQ(parse("s3://bkt", {{"endpoint", "http://key:3"}}, env).endpoint, "http://key:3");
  EXPECT_EQ(parse("s3://bkt?endpoint=http://url:4", {{"endpoint", "http://key:3"}}, env).endpoint, "http://url:4");
}

TEST(S3Options, IpAndLocalhostEndpointsUsePathStyle) {
  EXPECT_TRUE(parse("s3://bkt?endpoint=http://127.0.0.1:9000").path_style);
  EXPECT_TRUE(parse("s3://bkt?endpoint=http://localhost:9000").path_style);
  EXPECT_TRUE(parse("s3://bkt?endpoint=http://[::1]:9000").path_style);
  EXPECT_FALSE(parse("s3://bkt?endpoint=https://minio.example.com").path_style);
  EXPECT_FALSE(parse("s3://bkt?endpoint=http://127.0.0.1:9000&path.style=false").path_style);
  EXPECT_TRUE(parse("s3://bkt?endpoint=https://minio.example.com&path.style=true").path_style);
}

TEST(S3Options, BucketsThatAreNotDnsLabelsUsePathStyleOrFail) {
  EXPECT_TRUE(parse("s3://my.bucket").path_style);
  EXPECT_NE(error_of("s3://my.bucket?path.style=false").find("path.style=true"), std::string::npos);
}

TEST(S3Options, EverySettingParsesFromTheUrlAndFromKeys) {
  S3Options o = parse(
      "s3://bkt/p?verify.tls=false&max.connections=8&connect.timeout.ms=100&first.byte.timeout.ms=200"
      "&request.timeout.ms=300&max.attempts=3&retry.backoff.ms=5&retry.backoff.max.ms=50"
      "&multipart.threshold.bytes=10000000&multipart.part.bytes=5242880&checksum=md5&conditional.create=false"
      "&max.response.bytes=65536");
  EXPECT_FALSE(o.verify_tls);
  EXPECT_EQ(o.max_connections, 8u);
  EXPECT_EQ(o.timeouts.connect.count(), 100);
  EXPECT_EQ(o.timeouts.first_byte.count(), 200);
  EXPECT_EQ(o.timeouts.total.count(), 300);
  EXPECT_EQ(o.max_attempts, 3);
  EXPECT_EQ(o.backoff.count(), 5);
  EXPECT_EQ(o.backoff_max.count(), 50);
  EXPECT_EQ(o.multipart_threshold, 10000000u);
  EXPECT_EQ(o.part_size, 5242880u);
  EXPECT_EQ(o.checksum, S3Options::Checksum::md5);
  EXPECT_FALSE(o.conditional_create);
  EXPECT_EQ(o.max_response_bytes, 65536u);
  EXPECT_EQ(parse("s3://bkt", {{"checksum", "none"}}).checksum, S3Options::Checksum::none);
  EXPECT_EQ(s3_setting_names().size(), 16u);
}

TEST(S3Options, BadInputIsRefusedWithoutEchoingTheUrl) {
  EXPECT_NE(error_of("s3://"), "");
  EXPECT_NE(error_of("s3://UPPER"), "");
  EXPECT_NE(error_of("s3://ab"), "");
  EXPECT_NE(error_of("s3://bkt?regoin=eu-west-1").find("unknown setting 'regoin'"), std::string::npos);
  EXPECT_NE(error_of("s3://bkt", {{"nope", "1"}}).find("object.store.s3.nope"), std::string::npos);
  EXPECT_NE(error_of("s3://bkt?max.connections=0"), "");
  EXPECT_NE(error_of("s3://bkt?multipart.part.bytes=1000"), "");
  EXPECT_NE(error_of("s3://bkt?endpoint=ftp://x"), "");
  EXPECT_NE(error_of("s3://bkt?endpoint=http://h/path"), "");
  EXPECT_NE(error_of("s3://bkt?checksum=sha1"), "");
  EXPECT_NE(error_of("s3://bkt?retry.backoff.ms=100&retry.backoff.max.ms=10"), "");
  EXPECT_NE(error_of("s3://bkt?region=%zz"), "");
  std::string secret_bearing = error_of("s3://bkt?secret=hunter2hunter2");
  EXPECT_EQ(secret_bearing.find("hunter2"), std::string::npos);
  EXPECT_EQ(s3_setting_problem("region", "eu-west-1"), "");
  EXPECT_NE(s3_setting_problem("region", "eu west"), "");
  EXPECT_NE(s3_setting_problem("unknown", "x"), "");
}

}  // namespace
}  // namespace floe::objstore
