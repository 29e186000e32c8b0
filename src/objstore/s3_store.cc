#include "objstore/s3_store.h"

#include <openssl/evp.h>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstring>
#include <ctime>
#include <thread>

#include "common/clock.h"
#include "common/log.h"
#include "common/text.h"
#include "objstore/backend_util.h"
#include "objstore/sigv4.h"
#include "objstore/xml.h"
#include "protocol/crc32c.h"

namespace floe::objstore {

namespace {

constexpr size_t kDeleteBatch = 1000;  // DeleteObjects' limit

std::string base64(std::span<const uint8_t> data) {
  std::string out(4 * ((data.size() + 2) / 3), '\0');
  int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()), data.data(), static_cast<int>(data.size()));
  out.resize(static_cast<size_t>(n));
  return out;
}

std::string md5_base64(std::span<const uint8_t> data) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  if (EVP_Digest(data.data(), data.size(), digest, &length, EVP_md5(), nullptr) != 1) {
    throw ObjectStoreError(ErrorKind::other, "OpenSSL could not compute an MD5 digest");
  }
  return base64({digest, length});
}

std::string crc32c_base64(std::span<const uint8_t> data) {
  uint32_t crc = protocol::crc32c(data);
  uint8_t be[4] = {static_cast<uint8_t>(crc >> 24), static_cast<uint8_t>(crc >> 16), static_cast<uint8_t>(crc >> 8),
                   static_cast<uint8_t>(crc)};
  return base64(be);
}

std::span<const uint8_t> as_bytes(const std::string& s) {
  return {reinterpret_cast<const uint8_t*>(s.data()), s.size()};
}

// "Thu, 26 Nov 2026 18:00:00 GMT" (Last-Modified, Date); 0 if it does not parse.
int64_t parse_http_date_ms(const std::string& s) {
  static constexpr const char* months[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                           "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
  std::tm tm{};
  char month[4] = {};
  if (std::sscanf(s.c_str(), "%*3s, %d %3s %d %d:%d:%d", &tm.tm_mday, month, &tm.tm_year, &tm.tm_hour, &tm.tm_min,
                  &tm.tm_sec) != 6) {
    return 0;
  }
  auto it = std::find_if(std::begin(months), std::end(months), [&](const char* m) { return std::strcmp(m, month) == 0; });
  if (it == std::end(months)) return 0;
  tm.tm_mon = static_cast<int>(it - std::begin(months));
  tm.tm_year -= 1900;
  return static_cast<int64_t>(timegm(&tm)) * 1000;
}

// S3's error code and message from an error response's XML body ("" for
// HEAD, which has no body, or a body that is not S3's).
struct S3Error {
  std::string code;
  std::string message;
};

S3Error s3_error(const http::Response& response) {
  if (response.body.empty()) return {};
  try {
    xml::Element root = xml::parse(std::string_view(reinterpret_cast<const char*>(response.body.data()),
                                                    response.body.size()));
    if (root.name != "Error") return {};
    return {root.child_text("Code"), root.child_text("Message").substr(0, 200)};
  } catch (const std::exception&) {
    return {};
  }
}

// Worth another attempt: the failure is the store's or the network's, and the
// same request can succeed later.
bool retriable_status(int status, const std::string& code) {
  if ((status >= 500 && status != 501) || status == 429) return true;  // 501: NotImplemented stays so
  return code == "SlowDown" || code == "RequestTimeout" || code == "BadDigest" || code == "InternalError" ||
         code == "RequestTimeTooSkewed" || code == "ExpiredToken" || code == "ConditionalRequestConflict" ||
         code == "OperationAborted";
}

bool throttling(int status, const std::string& code) {
  return status == 429 || status == 503 || code == "SlowDown";
}

ErrorKind kind_of(int status, const std::string& code) {
  if (status == 404) return code.empty() || code == "NoSuchKey" ? ErrorKind::not_found : ErrorKind::other;
  if (status == 401 || status == 403) return ErrorKind::denied;
  if (code == "InvalidAccessKeyId" || code == "SignatureDoesNotMatch" || code == "AccessDenied" ||
      code == "InvalidToken" || code == "AccountProblem" || code == "AllAccessDisabled") {
    return ErrorKind::denied;
  }
  if (retriable_status(status, code)) return ErrorKind::retriable;
  return ErrorKind::other;
}

std::string describe_status(const http::Response& response) {
  S3Error e = s3_error(response);
  std::string out = "HTTP " + std::to_string(response.status);
  if (!e.code.empty()) out += " " + e.code;
  if (!e.message.empty()) out += " (" + e.message + ")";
  return out;
}

ObjectStoreError error_from(const http::Response& response, const std::string& what) {
  S3Error e = s3_error(response);
  std::string detail = describe_status(response);
  if (response.status == 404 && e.code == "NoSuchBucket") detail += ": the bucket does not exist";
  return ObjectStoreError(kind_of(response.status, e.code), what + ": " + detail);
}

// False when the reply carries a whole-object CRC-32C (not a multipart
// upload's checksum of checksums, "...-N") that its body does not have.
bool checksum_matches(const http::Response& response) {
  const std::string* expected = response.header("x-amz-checksum-crc32c");
  if (expected == nullptr || expected->find('-') != std::string::npos) return true;
  const std::string* type = response.header("x-amz-checksum-type");
  if (type != nullptr && *type == "COMPOSITE") return true;
  return crc32c_base64(response.body) == *expected;
}

// Counts a failed call once, whatever number of HTTP requests it took.
template <typename Op>
auto failures_counted(OperationCounter& counter, Op&& op) -> decltype(op()) {
  try {
    return op();
  } catch (...) {
    counter.errors.fetch_add(1, std::memory_order_relaxed);
    throw;
  }
}

xml::Element parse_reply(const http::Response& response, const std::string& what) {
  try {
    return xml::parse(std::string_view(reinterpret_cast<const char*>(response.body.data()), response.body.size()));
  } catch (const std::exception& e) {
    throw ObjectStoreError(ErrorKind::retriable, what + ": unreadable reply: " + e.what());
  }
}

// A conditional multipart upload found the key taken.
struct PreconditionFailed {};

}  // namespace

struct S3ObjectStore::Call {
  std::string what = {};        // "put 'key'", for messages
  std::string method = {};
  std::string object_key = {};  // the whole key, prefix included; "" for the bucket
  std::vector<http::Header> query = {};    // not encoded
  std::vector<http::Header> headers = {};  // signed with the rest
  std::span<const uint8_t> body = {};
  bool sign_body = false;  // hash the body into the signature (small bodies), else UNSIGNED-PAYLOAD
  OperationCounter* counter = nullptr;
  int attempts = 0;  // how many requests went out
};

S3ObjectStore::S3ObjectStore(S3Options options, const CredentialsFactory& make_credentials)
    : options_(std::move(options)),
      http_(http::ClientOptions{.max_connections = options_.max_connections,
                                .timeouts = options_.timeouts,
                                .verify_tls = options_.verify_tls,
                                .max_response_bytes = options_.max_response_bytes}),
      credentials_(make_credentials(http_)),
      random_(std::random_device{}()) {
  if (!credentials_) throw ObjectStoreError(ErrorKind::other, "s3:// object store has no credentials provider");
}

S3ObjectStore::~S3ObjectStore() = default;

std::string S3ObjectStore::describe() const {
  return "s3://" + options_.bucket + "/" + options_.prefix + " at " + options_.endpoint + " (" + options_.region +
         (options_.path_style ? ", path-style)" : ", virtual-hosted)");
}

std::string S3ObjectStore::host_for() const {
  std::string authority = http::url_authority(options_.endpoint);
  return options_.path_style ? authority : options_.bucket + "." + authority;
}

std::chrono::milliseconds S3ObjectStore::backoff(int attempt, bool throttled) {
  // Full jitter (a uniform draw below an exponential cap) spreads the
  // retries of many uploads that failed together; throttling backs off harder.
  double cap = static_cast<double>(options_.backoff.count()) * (throttled ? 4 : 1) * std::pow(2.0, attempt - 1);
  cap = std::min(cap, static_cast<double>(options_.backoff_max.count()));
  std::lock_guard lock(random_mu_);
  return std::chrono::milliseconds(static_cast<int64_t>(std::uniform_real_distribution<double>(0, cap)(random_)));
}

http::Response S3ObjectStore::execute(Call& call) {
  std::string path = options_.path_style ? "/" + options_.bucket : "";
  path += "/" + sigv4::uri_encode(call.object_key, /*keep_slash=*/true);
  std::string query;
  for (const auto& [name, value] : call.query) {
    query += (query.empty() ? "?" : "&") + sigv4::uri_encode(name, false) + "=" + sigv4::uri_encode(value, false);
  }
  std::string scheme = options_.endpoint.substr(0, options_.endpoint.find("://") + 3);
  std::string url = scheme + host_for() + path + query;
  std::string payload_hash = call.sign_body ? sigv4::sha256_hex(call.body) : "UNSIGNED-PAYLOAD";

  std::string last_failure;
  for (int attempt = 1; attempt <= options_.max_attempts; ++attempt) {
    if (attempt > 1) {
      counters_.retries.fetch_add(1, std::memory_order_relaxed);
    }
    call.attempts = attempt;

    sigv4::Credentials credentials;
    try {
      credentials = credentials_->get();
    } catch (const aws::CredentialsError& e) {
      if (!e.retriable()) throw ObjectStoreError(ErrorKind::denied, call.what + ": " + e.what());
      last_failure = e.what();
      if (attempt < options_.max_attempts) std::this_thread::sleep_for(backoff(attempt, false));
      continue;
    }

    sigv4::Request request;
    request.method = call.method;
    request.path = path;
    request.query = call.query;
    request.headers = call.headers;
    request.headers.emplace_back("host", host_for());
    request.payload_hash = payload_hash;
    int64_t now_s = unix_now_ms() / 1000 + clock_skew_s_.load(std::memory_order_relaxed);
    sigv4::Signed signed_request = sigv4::sign(request, credentials, options_.region, "s3", sigv4::amz_date(now_s));

    http::Request out{.method = call.method, .url = url, .headers = std::move(signed_request.headers),
                      .body = call.body, .timeouts = std::nullopt};
    call.counter->requests.fetch_add(1, std::memory_order_relaxed);
    http::Response response;
    try {
      response = http_.send(out);
    } catch (const http::TransportError& e) {
      if (!e.retriable()) throw ObjectStoreError(ErrorKind::other, call.what + ": " + e.what());
      last_failure = e.what();
      FLOE_LOG(debug, "objstore") << call.what << ": attempt " << attempt << " failed: " << e.what();
      if (attempt < options_.max_attempts) std::this_thread::sleep_for(backoff(attempt, false));
      continue;
    }
    if (response.status < 300) return response;
    S3Error error = s3_error(response);
    if (!retriable_status(response.status, error.code)) return response;

    last_failure = describe_status(response);
    FLOE_LOG(debug, "objstore") << call.what << ": attempt " << attempt << " failed: " << last_failure;
    if (error.code == "RequestTimeTooSkewed") {
      // Sign with the server's clock from now on, as AWS SDKs do.
      if (const std::string* date = response.header("date")) {
        int64_t server_ms = parse_http_date_ms(*date);
        if (server_ms > 0) clock_skew_s_.store((server_ms - unix_now_ms()) / 1000, std::memory_order_relaxed);
      }
    } else if (error.code == "ExpiredToken") {
      credentials_->invalidate();
    }
    if (attempt < options_.max_attempts) {
      std::this_thread::sleep_for(backoff(attempt, throttling(response.status, error.code)));
    }
  }
  throw ObjectStoreError(ErrorKind::retriable, call.what + ": gave up after " + std::to_string(options_.max_attempts) +
                                                   " attempts; last: " + last_failure);
}

bool S3ObjectStore::put_once(const std::string& key, std::span<const uint8_t> data, bool if_absent) {
  Call call{.what = (if_absent ? "create '" : "put '") + key + "'", .method = "PUT", .object_key = options_.prefix + key,
            .body = data, .counter = &counters_.put};
  switch (options_.checksum) {
    case S3Options::Checksum::crc32c:
      call.headers.emplace_back("x-amz-checksum-crc32c", crc32c_base64(data));
      break;
    case S3Options::Checksum::md5:
      call.headers.emplace_back("content-md5", md5_base64(data));
      break;
    case S3Options::Checksum::none:
      break;
  }
  if (if_absent) call.headers.emplace_back("if-none-match", "*");
  http::Response response = execute(call);
  if (response.status / 100 == 2) return true;
  if (if_absent && response.status == 412) {
    // After a retry, the object in the way may be our own first attempt,
    // whose answer was lost: it is ours if it holds exactly our bytes.
    return call.attempts > 1 && holds(key, data);
  }
  throw error_from(response, call.what);
}

void S3ObjectStore::put_multipart(const std::string& key, std::span<const uint8_t> data, bool if_absent,
                                  bool& created) {
  const std::string full_key = options_.prefix + key;
  const std::string what = "multipart put '" + key + "'";
  Call start{.what = what + " (create)", .method = "POST", .object_key = full_key, .query = {{"uploads", ""}},
             .sign_body = true, .counter = &counters_.put};
  http::Response started = execute(start);
  if (started.status / 100 != 2) throw error_from(started, start.what);
  std::string upload_id = parse_reply(started, start.what).child_text("UploadId");
  if (upload_id.empty()) throw ObjectStoreError(ErrorKind::other, start.what + ": the reply has no UploadId");

  try {
    std::string manifest = "<CompleteMultipartUpload xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">";
    int part = 0;
    for (uint64_t offset = 0; offset < data.size(); offset += options_.part_size) {
      ++part;
      auto bytes = data.subspan(offset, std::min<uint64_t>(options_.part_size, data.size() - offset));
      Call upload{.what = what + " (part " + std::to_string(part) + ")", .method = "PUT", .object_key = full_key,
                  .query = {{"partNumber", std::to_string(part)}, {"uploadId", upload_id}}, .body = bytes,
                  .counter = &counters_.put};
      // Content-MD5 rather than a CRC-32C header: the newer checksums must be
      // declared when the upload starts and repeated in the manifest.
      if (options_.checksum != S3Options::Checksum::none) upload.headers.emplace_back("content-md5", md5_base64(bytes));
      http::Response uploaded = execute(upload);
      if (uploaded.status / 100 != 2) throw error_from(uploaded, upload.what);
      const std::string* etag = uploaded.header("etag");
      if (etag == nullptr || etag->empty()) throw ObjectStoreError(ErrorKind::other, upload.what + ": no ETag in the reply");
      manifest += "<Part><PartNumber>" + std::to_string(part) + "</PartNumber><ETag>" + xml::escape(*etag) +
                  "</ETag></Part>";
    }
    manifest += "</CompleteMultipartUpload>";

    Call complete{.what = what + " (complete)", .method = "POST", .object_key = full_key,
                  .query = {{"uploadId", upload_id}}, .body = as_bytes(manifest), .sign_body = true,
                  .counter = &counters_.put};
    if (if_absent) complete.headers.emplace_back("if-none-match", "*");
    http::Response done = execute(complete);
    // After a retry, a 412 or NoSuchUpload may be our own earlier attempt,
    // which completed and whose answer was lost: the object is ours if it
    // holds exactly our bytes.
    bool maybe_ours = complete.attempts > 1 &&
                      ((done.status == 412 && if_absent) || (done.status == 404 && s3_error(done).code == "NoSuchUpload"));
    if (maybe_ours && holds(key, data)) {
      created = true;
    } else if (done.status == 412 && if_absent) {
      // The parts stay stored (and billed) until the upload is aborted.
      throw PreconditionFailed{};
    } else if (done.status / 100 != 2) {
      throw error_from(done, complete.what);
    } else {
      // S3 may answer 200 and still fail, with an Error document as the body.
      xml::Element root = parse_reply(done, complete.what);
      if (root.name == "Error") {
        throw ObjectStoreError(ErrorKind::retriable, complete.what + ": " + root.child_text("Code") + " (" +
                                                         root.child_text("Message").substr(0, 200) + ")");
      }
      created = true;
    }
  } catch (const PreconditionFailed&) {
    abort_upload(full_key, upload_id, what);
    created = false;
  } catch (...) {
    abort_upload(full_key, upload_id, what);
    throw;
  }
}

// Best effort: a failure is logged, never thrown over the error that led here.
void S3ObjectStore::abort_upload(const std::string& full_key, const std::string& upload_id, const std::string& what) {
  Call abort{.what = what + " (abort)", .method = "DELETE", .object_key = full_key,
             .query = {{"uploadId", upload_id}}, .counter = &counters_.remove};
  try {
    http::Response aborted = execute(abort);
    if (aborted.status / 100 != 2 && aborted.status != 404) {
      FLOE_LOG(warn, "objstore") << abort.what << " failed: " << describe_status(aborted)
                                 << "; the bucket's lifecycle rule for incomplete uploads will remove the parts";
    }
  } catch (const std::exception& e) {
    FLOE_LOG(warn, "objstore") << abort.what << " failed: " << e.what()
                               << "; the bucket's lifecycle rule for incomplete uploads will remove the parts";
  }
}

bool S3ObjectStore::holds(const std::string& key, std::span<const uint8_t> data) {
  try {
    Bytes stored = get(key);
    return std::equal(stored.begin(), stored.end(), data.begin(), data.end());
  } catch (const ObjectStoreError& e) {
    if (e.kind() != ErrorKind::not_found) throw;
    return false;
  }
}

void S3ObjectStore::put(const std::string& key, std::span<const uint8_t> data) {
  failures_counted(counters_.put, [&] {
    validate_key(key);
    if (data.size() > options_.multipart_threshold) {
      bool created = false;
      put_multipart(key, data, /*if_absent=*/false, created);
    } else {
      put_once(key, data, /*if_absent=*/false);
    }
    counters_.put.bytes.fetch_add(data.size(), std::memory_order_relaxed);
  });
}

bool S3ObjectStore::create(const std::string& key, std::span<const uint8_t> data) {
  return failures_counted(counters_.put, [&] {
    validate_key(key);
    if (!options_.conditional_create) {
      // A HEAD-then-PUT would not be atomic; refuse rather than overwrite.
      throw ObjectStoreError(ErrorKind::other, "create '" + key + "': this store is configured without conditional "
                                                   "writes (conditional.create=false)");
    }
    bool created = false;
    if (data.size() > options_.multipart_threshold) {
      put_multipart(key, data, /*if_absent=*/true, created);
    } else {
      created = put_once(key, data, /*if_absent=*/true);
    }
    if (created) counters_.put.bytes.fetch_add(data.size(), std::memory_order_relaxed);
    return created;
  });
}

Bytes S3ObjectStore::get(const std::string& key, std::optional<ByteRange> range) {
  return failures_counted(counters_.get, [&] {
    validate_key(key);
    Call call{.what = "get '" + key + "'", .method = "GET", .object_key = options_.prefix + key,
              .counter = &counters_.get};
    if (range) {
      if (range->length == 0 || range->offset > UINT64_MAX - range->length) {
        throw ObjectStoreError(ErrorKind::other, call.what + ": empty or overflowing range");
      }
      call.headers.emplace_back("range", "bytes=" + std::to_string(range->offset) + "-" +
                                             std::to_string(range->offset + range->length - 1));
    }
    if (!range) {
      // Asks for the checksum the object was stored with, to check the bytes
      // that arrive (a range has no checksum of its own).
      call.headers.emplace_back("x-amz-checksum-mode", "ENABLED");
    }
    http::Response response = execute(call);
    // A damaged body is fetched again, once: it is the network's fault.
    if (response.status == 200 && !range && !checksum_matches(response)) {
      counters_.retries.fetch_add(1, std::memory_order_relaxed);
      response = execute(call);
      if (response.status == 200 && !checksum_matches(response)) {
        throw ObjectStoreError(ErrorKind::retriable, call.what + ": the body does not match its CRC-32C checksum");
      }
    }
    Bytes out;
    if (response.status == 206 && range) {
      // "bytes FIRST-LAST/TOTAL": the part must be the one asked for, whole.
      const std::string* content_range = response.header("content-range");
      uint64_t first = 0, last = 0;
      unsigned long long total = 0;
      if (content_range == nullptr ||
          std::sscanf(content_range->c_str(), "bytes %lu-%lu/%llu", &first, &last, &total) != 3 ||
          first != range->offset || last < first || response.body.size() != last - first + 1 ||
          last != std::min<uint64_t>(range->offset + range->length, total) - 1) {
        throw ObjectStoreError(ErrorKind::retriable, call.what + ": the store returned a different range than asked");
      }
      out = std::move(response.body);
    } else if (response.status == 200) {
      out = std::move(response.body);
      if (range) {
        // A store that ignores Range sends the whole object.
        Slice slice = resolve_range(key, out.size(), range);
        out = Bytes(out.begin() + static_cast<std::ptrdiff_t>(slice.offset),
                    out.begin() + static_cast<std::ptrdiff_t>(slice.offset + slice.length));
      }
    } else if (response.status == 416) {
      throw ObjectStoreError(ErrorKind::other, call.what + ": the range starts at or past the end of the object");
    } else {
      throw error_from(response, call.what);
    }
    counters_.get.bytes.fetch_add(out.size(), std::memory_order_relaxed);
    return out;
  });
}

std::optional<ObjectInfo> S3ObjectStore::head(const std::string& key) {
  return failures_counted(counters_.head, [&]() -> std::optional<ObjectInfo> {
    validate_key(key);
    Call call{.what = "head '" + key + "'", .method = "HEAD", .object_key = options_.prefix + key,
              .counter = &counters_.head};
    http::Response response = execute(call);
    if (response.status == 200) {
      const std::string* length = response.header("content-length");
      auto size = length ? parse_u64(*length) : std::nullopt;
      if (!size) throw ObjectStoreError(ErrorKind::other, call.what + ": the reply has no Content-Length");
      const std::string* modified = response.header("last-modified");
      return ObjectInfo{key, *size, modified ? parse_http_date_ms(*modified) : 0};
    }
    // A HEAD reply has no body, so no error code: a missing bucket, an
    // expired token or a skewed clock all look like a bare 404, 400 or 403.
    // One byte of the object tells them apart, and goes through the retries.
    return head_by_get(key);
  });
}

std::optional<ObjectInfo> S3ObjectStore::head_by_get(const std::string& key) {
  Call call{.what = "head '" + key + "'", .method = "GET", .object_key = options_.prefix + key,
            .headers = {{"range", "bytes=0-0"}}, .counter = &counters_.head};
  http::Response response = execute(call);
  const std::string* modified = response.header("last-modified");
  int64_t modified_ms = modified ? parse_http_date_ms(*modified) : 0;
  if (response.status == 206) {
    const std::string* content_range = response.header("content-range");
    size_t slash = content_range ? content_range->rfind('/') : std::string::npos;
    auto size = slash != std::string::npos ? parse_u64(std::string_view(*content_range).substr(slash + 1)) : std::nullopt;
    if (!size) throw ObjectStoreError(ErrorKind::other, call.what + ": the reply has no usable Content-Range");
    return ObjectInfo{key, *size, modified_ms};
  }
  // An empty object: S3 answers a range of it with 416 (or ignores the range).
  if (response.status == 416) return ObjectInfo{key, 0, modified_ms};
  if (response.status == 200) return ObjectInfo{key, response.body.size(), modified_ms};
  ObjectStoreError error = error_from(response, call.what);
  if (error.kind() == ErrorKind::not_found) return std::nullopt;
  throw error;
}

void S3ObjectStore::remove_batch(std::span<const std::string> keys) {
  std::string body = "<Delete xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\"><Quiet>true</Quiet>";
  for (const auto& key : keys) body += "<Object><Key>" + xml::escape(options_.prefix + key) + "</Key></Object>";
  body += "</Delete>";
  Call call{.what = "delete " + std::to_string(keys.size()) + " objects", .method = "POST", .object_key = "",
            .query = {{"delete", ""}}, .body = as_bytes(body), .sign_body = true, .counter = &counters_.remove};
  // S3 requires an integrity check on DeleteObjects.
  call.headers.emplace_back("content-md5", md5_base64(call.body));
  call.headers.emplace_back("content-type", "application/xml");
  http::Response response = execute(call);
  if (response.status == 501) {
    FLOE_LOG(info, "objstore") << describe() << " does not support DeleteObjects; deleting one object per request";
    multi_delete_.store(false, std::memory_order_relaxed);
    for (const auto& key : keys) remove(std::span<const std::string>(&key, 1));
    return;
  }
  if (response.status / 100 != 2) throw error_from(response, call.what);
  xml::Element root = parse_reply(response, call.what);
  if (root.name == "Error") {
    throw ObjectStoreError(ErrorKind::retriable, call.what + ": " + root.child_text("Code"));
  }
  // Quiet mode lists only the keys that failed; a key already gone is not one.
  for (const xml::Element* error : root.all("Error")) {
    std::string code = error->child_text("Code");
    if (code == "NoSuchKey") continue;
    throw ObjectStoreError(kind_of(code == "AccessDenied" ? 403 : 500, code),
                           call.what + ": '" + error->child_text("Key") + "': " + code + " (" +
                               error->child_text("Message").substr(0, 200) + ")");
  }
}

void S3ObjectStore::remove(std::span<const std::string> keys) {
  failures_counted(counters_.remove, [&] {
    for (const std::string& key : keys) validate_key(key);
    for (size_t start = 0; start < keys.size(); start += kDeleteBatch) {
      auto batch = keys.subspan(start, std::min(kDeleteBatch, keys.size() - start));
      if (batch.size() > 1 && multi_delete_.load(std::memory_order_relaxed)) {
        remove_batch(batch);
        continue;
      }
      for (const std::string& key : batch) {
        Call call{.what = "delete '" + key + "'", .method = "DELETE", .object_key = options_.prefix + key,
                  .counter = &counters_.remove};
        http::Response response = execute(call);
        if (response.status / 100 != 2 && response.status != 404) throw error_from(response, call.what);
      }
    }
  });
}

std::vector<ObjectInfo> S3ObjectStore::list(const std::string& prefix) {
  return failures_counted(counters_.list, [&] {
    std::vector<ObjectInfo> out;
    std::string token;
    while (true) {
      Call call{.what = "list '" + prefix + "'", .method = "GET", .object_key = "",
                .query = {{"list-type", "2"}, {"prefix", options_.prefix + prefix}}, .sign_body = true,
                .counter = &counters_.list};
      if (!token.empty()) call.query.emplace_back("continuation-token", token);
      // The bucket itself: path-style "/bucket", virtual-hosted "/".
      http::Response response = execute(call);
      if (response.status != 200) throw error_from(response, call.what);
      xml::Element root = parse_reply(response, call.what);
      for (const xml::Element* item : root.all("Contents")) {
        std::string key = item->child_text("Key");
        if (!key.starts_with(options_.prefix)) continue;
        key.erase(0, options_.prefix.size());
        // Objects floe could not have written (another tool's, in the same
        // prefix) are not listed, as the other backends do.
        if (!key_problem(key).empty()) continue;
        out.push_back({std::move(key), parse_u64(item->child_text("Size")).value_or(0),
                       aws::parse_iso8601_ms(item->child_text("LastModified")).value_or(0)});
      }
      if (root.child_text("IsTruncated") != "true") break;
      std::string next = root.child_text("NextContinuationToken");
      if (next.empty() || next == token) {
        throw ObjectStoreError(ErrorKind::other, call.what + ": a truncated page without a new continuation token");
      }
      token = std::move(next);
    }
    std::sort(out.begin(), out.end(), [](const ObjectInfo& a, const ObjectInfo& b) { return a.key < b.key; });
    return out;
  });
}

std::unique_ptr<ObjectStore> open_s3_store(std::string_view url, const std::map<std::string, std::string>& settings,
                                           const aws::Environment& env) {
  S3Options options = parse_s3_options(url, settings, env);
  std::string region = options.region;
  auto store = std::make_unique<S3ObjectStore>(std::move(options), [&](http::Client& http) {
    return aws::default_chain(env, http, region, [] { return unix_now_ms(); });
  });
  return store;
}

}  // namespace floe::objstore
