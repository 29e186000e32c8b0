// AWS Signature Version 4 for S3 requests (header-based authentication),
// written on OpenSSL's SHA-256 and HMAC. Pure: the time is an argument, so
// tests check it against AWS's published examples and the S3 client (issue
// 5) passes its own clock.
//
// S3's rules, which differ from the generic SigV4 ones: the path is used as
// given (already URI-encoded once, never normalised or encoded twice), and
// the payload hash is the x-amz-content-sha256 value (a hex SHA-256, or
// UNSIGNED-PAYLOAD).
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace floe::objstore::sigv4 {

struct Credentials {
  std::string access_key_id;
  std::string secret_access_key;
  std::optional<std::string> session_token;  // temporary credentials (STS)
};

using Header = std::pair<std::string, std::string>;

struct Request {
  std::string method;  // "GET", "PUT", ...
  // The URI path, URI-encoded once ("/examplebucket/test%24file.text").
  std::string path;
  // Query parameters, not encoded; the signer encodes and sorts them. A
  // parameter without a value ("?lifecycle") has an empty value.
  std::vector<Header> query;
  // Every header that is sent and signed, host included; names in any case.
  std::vector<Header> headers;
  // Hex SHA-256 of the body, or "UNSIGNED-PAYLOAD".
  std::string payload_hash;
};

struct Signed {
  // What to send: the request's headers plus X-Amz-Date (unless given),
  // x-amz-content-sha256 (for S3, unless given), X-Amz-Security-Token (with
  // temporary credentials) and Authorization. A given X-Amz-Date or
  // x-amz-content-sha256 that disagrees with what is signed is
  // std::invalid_argument.
  std::vector<Header> headers;
  // The intermediate values, for tests and debugging (never logged: the
  // string to sign is harmless, but the request may name private objects).
  std::string canonical_request;
  std::string string_to_sign;
  std::string signature;  // hex
};

// Signs `request` for `region` and `service` ("s3") at `amz_date`, an ISO
// 8601 basic timestamp in UTC ("20130524T000000Z").
Signed sign(const Request& request, const Credentials& credentials, std::string_view region,
            std::string_view service, std::string_view amz_date);

// The timestamp format sign() wants, for a Unix time in seconds.
std::string amz_date(int64_t unix_seconds);

// AWS's URI encoding: everything but A-Z a-z 0-9 - _ . ~ as %XX (upper-case
// hex); '/' too unless `keep_slash` (paths).
std::string uri_encode(std::string_view s, bool keep_slash);

// Lower-case hex of SHA-256(data).
std::string sha256_hex(std::span<const uint8_t> data);
std::string sha256_hex(std::string_view data);

}  // namespace floe::objstore::sigv4
