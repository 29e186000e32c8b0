// Where an s3:// store is and how the backend talks to it: the URL
// s3://BUCKET[/PREFIX][?NAME=VALUE&...], the broker's object.store.s3.NAME
// keys and the AWS_* environment variables, merged in that order of
// precedence (the URL, then the keys, then the environment, then defaults).
//
// Settings (in the URL; endpoint, region, path.style and verify.tls are also
// broker keys "object.store.s3.NAME", passed in as `settings`):
//   endpoint                 scheme://host[:port] of the S3 API; default
//                            AWS_ENDPOINT_URL_S3, AWS_ENDPOINT_URL, else
//                            https://s3.REGION.amazonaws.com
//   region                   default AWS_REGION, AWS_DEFAULT_REGION, us-east-1
//   path.style               true, false or auto (default): auto uses
//                            path-style (https://host/bucket/key) for an
//                            endpoint that is an IP address or localhost, or a
//                            bucket that is not a DNS label, and
//                            virtual-hosted (https://bucket.host/key) otherwise
//   verify.tls               true (default) or false (self-signed test stores)
//   max.connections          requests in flight at once (default 64)
//   connect.timeout.ms       default 3000
//   first.byte.timeout.ms    request sent to first response byte, default 10000
//   request.timeout.ms       a whole request, default 120000
//   max.attempts             tries per request, retries included (default 6)
//   retry.backoff.ms         first backoff, doubled per retry with full
//                            jitter, capped at retry.backoff.max.ms (default
//                            50 and 5000)
//   multipart.threshold.bytes  objects larger than this go up in parts
//                            (default 64 MiB)
//   multipart.part.bytes     part size, at least 5 MiB (default 16 MiB)
//   checksum                 crc32c (default: x-amz-checksum-crc32c), md5
//                            (Content-MD5, for stores without the newer
//                            header) or none
//   conditional.create       true (default): create() sends If-None-Match: *;
//                            false for stores that ignore it, and create()
//                            then refuses to run rather than overwrite
//   max.response.bytes       largest response body accepted (default 256 MiB)
// Credentials are never settings: they come from the chain in
// aws_credentials.h.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>

#include "objstore/aws_credentials.h"
#include "objstore/http_client.h"

namespace floe::objstore {

struct S3Options {
  std::string bucket;
  std::string prefix;    // "" or ending in '/': prepended to every key
  std::string endpoint;  // scheme://host[:port], no trailing '/'
  std::string region;
  bool path_style = false;
  bool verify_tls = true;
  size_t max_connections = 64;
  http::Timeouts timeouts{std::chrono::milliseconds(3000), std::chrono::milliseconds(10000),
                          std::chrono::milliseconds(120000)};
  int max_attempts = 6;
  std::chrono::milliseconds backoff{50};
  std::chrono::milliseconds backoff_max{5000};
  uint64_t multipart_threshold = 64u << 20;
  uint64_t part_size = 16u << 20;
  enum class Checksum { crc32c, md5, none } checksum = Checksum::crc32c;
  bool conditional_create = true;
  size_t max_response_bytes = 256u << 20;
};

// The setting names above, for the broker's key table.
const std::vector<std::string_view>& s3_setting_names();

// Why `value` is not valid for setting `name` ("" when it is).
std::string s3_setting_problem(std::string_view name, std::string_view value);

// Builds the options. Throws ObjectStoreError(other) for a malformed URL, an
// unknown setting or a bad value; the message never repeats the URL (it is
// the one place a careless user might paste a secret).
S3Options parse_s3_options(std::string_view url, const std::map<std::string, std::string>& settings,
                           const aws::Environment& env);

}  // namespace floe::objstore
