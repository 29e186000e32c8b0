#include "objstore/sigv4.h"

#include <openssl/evp.h>

#include <algorithm>
#include <array>
#include <ctime>
#include <map>
#include <stdexcept>

#include "common/text.h"

namespace floe::objstore::sigv4 {

namespace {

constexpr std::string_view kAlgorithm = "AWS4-HMAC-SHA256";
constexpr char kHex[] = "0123456789abcdef";

using Digest = std::array<uint8_t, 32>;

std::string hex(std::span<const uint8_t> bytes) {
  std::string out;
  out.reserve(bytes.size() * 2);
  for (uint8_t b : bytes) {
    out.push_back(kHex[b >> 4]);
    out.push_back(kHex[b & 0xf]);
  }
  return out;
}

Digest hmac(std::span<const uint8_t> key, std::string_view data) {
  Digest out{};
  size_t len = 0;
  if (!EVP_Q_mac(nullptr, "HMAC", nullptr, "SHA256", nullptr, key.data(), key.size(),
                 reinterpret_cast<const unsigned char*>(data.data()), data.size(), out.data(), out.size(), &len) ||
      len != out.size()) {
    throw std::runtime_error("HMAC-SHA256 failed (OpenSSL)");
  }
  return out;
}

std::span<const uint8_t> bytes_of(std::string_view s) {
  return {reinterpret_cast<const uint8_t*>(s.data()), s.size()};
}

// Header values are trimmed and inner runs of spaces collapse to one.
std::string canonical_value(std::string_view v) {
  std::string out;
  bool space = false;
  for (char c : v) {
    if (c == ' ' || c == '\t') {
      space = !out.empty();
      continue;
    }
    if (space) out.push_back(' ');
    space = false;
    out.push_back(c);
  }
  return out;
}

const std::string* find_header(const std::vector<Header>& headers, std::string_view lower_name) {
  for (const auto& h : headers)
    if (ascii_lower(h.first) == lower_name) return &h.second;
  return nullptr;
}

// Unreserved in AWS's URI encoding; ASCII only, whatever the locale.
bool unreserved(unsigned char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_' ||
         c == '.' || c == '~';
}

}  // namespace

std::string uri_encode(std::string_view s, bool keep_slash) {
  std::string out;
  out.reserve(s.size());
  for (unsigned char c : s) {
    if (unreserved(c) || (keep_slash && c == '/')) {
      out.push_back(static_cast<char>(c));
    } else {
      out.push_back('%');
      out.push_back("0123456789ABCDEF"[c >> 4]);
      out.push_back("0123456789ABCDEF"[c & 0xf]);
    }
  }
  return out;
}

std::string sha256_hex(std::span<const uint8_t> data) {
  Digest d{};
  unsigned int len = 0;
  if (!EVP_Digest(data.data(), data.size(), d.data(), &len, EVP_sha256(), nullptr) || len != d.size()) {
    throw std::runtime_error("SHA-256 failed (OpenSSL)");
  }
  return hex(d);
}

std::string sha256_hex(std::string_view data) { return sha256_hex(bytes_of(data)); }

std::string amz_date(int64_t unix_seconds) {
  std::time_t t = static_cast<std::time_t>(unix_seconds);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[17];
  std::strftime(buf, sizeof buf, "%Y%m%dT%H%M%SZ", &tm);
  return buf;
}

Signed sign(const Request& request, const Credentials& credentials, std::string_view region,
            std::string_view service, std::string_view date_time) {
  if (date_time.size() != 16 || date_time[8] != 'T' || date_time[15] != 'Z') {
    throw std::invalid_argument("sigv4: timestamp must look like 20130524T000000Z");
  }
  Signed out;
  out.headers = request.headers;
  // A header that disagrees with what is signed would make a signature S3
  // refuses: a caller bug, said at once.
  if (const std::string* d = find_header(out.headers, "x-amz-date")) {
    if (*d != date_time) throw std::invalid_argument("sigv4: X-Amz-Date header differs from the signing time");
  } else {
    out.headers.emplace_back("X-Amz-Date", std::string(date_time));
  }
  if (service == "s3") {
    // S3 wants the payload hash as a header too.
    if (const std::string* h = find_header(out.headers, "x-amz-content-sha256")) {
      if (*h != request.payload_hash) throw std::invalid_argument("sigv4: x-amz-content-sha256 differs from the payload hash");
    } else {
      out.headers.emplace_back("x-amz-content-sha256", request.payload_hash);
    }
  }
  if (credentials.session_token && !find_header(out.headers, "x-amz-security-token")) {
    out.headers.emplace_back("X-Amz-Security-Token", *credentials.session_token);
  }

  // Canonical headers: lower-case names in order; a header given twice has
  // its values joined by commas, in the order given.
  std::map<std::string, std::string> headers;
  std::map<std::string, int> seen;
  for (const auto& [name, value] : out.headers) {
    const std::string key = ascii_lower(name);
    std::string& v = headers[key];
    if (seen[key]++ > 0) v += ',';
    v += canonical_value(value);
  }
  std::string canonical_headers, signed_headers;
  for (const auto& [name, value] : headers) {
    canonical_headers += name + ':' + value + '\n';
    if (!signed_headers.empty()) signed_headers += ';';
    signed_headers += name;
  }

  // Canonical query: encoded names and values, sorted by name then value.
  std::vector<std::pair<std::string, std::string>> query;
  for (const auto& [name, value] : request.query) query.emplace_back(uri_encode(name, false), uri_encode(value, false));
  std::sort(query.begin(), query.end());
  std::string canonical_query;
  for (const auto& [name, value] : query) {
    if (!canonical_query.empty()) canonical_query += '&';
    canonical_query += name + '=' + value;
  }

  out.canonical_request = request.method + '\n' + (request.path.empty() ? "/" : request.path) + '\n' +
                          canonical_query + '\n' + canonical_headers + '\n' + signed_headers + '\n' +
                          request.payload_hash;

  const std::string_view date = date_time.substr(0, 8);
  const std::string scope =
      std::string(date) + '/' + std::string(region) + '/' + std::string(service) + "/aws4_request";
  out.string_to_sign = std::string(kAlgorithm) + '\n' + std::string(date_time) + '\n' + scope + '\n' +
                       sha256_hex(out.canonical_request);

  const std::string secret = "AWS4" + credentials.secret_access_key;
  Digest key = hmac(bytes_of(secret), date);
  key = hmac(key, region);
  key = hmac(key, service);
  key = hmac(key, "aws4_request");
  out.signature = hex(hmac(key, out.string_to_sign));

  out.headers.emplace_back("Authorization", std::string(kAlgorithm) + " Credential=" + credentials.access_key_id +
                                                '/' + scope + ", SignedHeaders=" + signed_headers +
                                                ", Signature=" + out.signature);
  return out;
}

}  // namespace floe::objstore::sigv4
