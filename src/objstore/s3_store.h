// The s3:// backend: AWS S3 and S3-compatible stores (MinIO, R2, Ceph RGW,
// GCS's XML API) over HTTP, in the layers of CONVENTIONS.md: the raw
// transport (http_client.h), the signer (sigv4.h) with credentials
// (aws_credentials.h), the retrying request below, and the operations of the
// ObjectStore interface on top.
//
// Each HTTP request is retried, up to max.attempts, with exponential backoff
// and full jitter, when it failed transiently: a reset or timeout, 5xx, 429,
// SlowDown, RequestTimeout, BadDigest (the body was damaged on the way),
// RequestTimeTooSkewed (after adopting the server's clock) and an expired
// token (after fetching new credentials). Never for other 4xx. What is left
// reaches the caller as ObjectStoreError: `retriable` (retries ran out),
// `not_found` (NoSuchKey), `denied` (AccessDenied, bad signature or key, no
// credentials) or `other` (a missing bucket, a bad range, anything else).
//
// Operations: put (PutObject with an x-amz-checksum-crc32c or Content-MD5
// check; multipart above multipart.threshold.bytes, aborted if a part fails),
// create (If-None-Match: *), get (GetObject, Range), head (HeadObject),
// remove (DeleteObjects in batches of 1,000; single DELETEs on stores without
// it), list (ListObjectsV2, every page). Counters count HTTP requests, so the
// cost estimate follows what S3 bills.
#pragma once

#include <atomic>
#include <functional>
#include <memory>
#include <mutex>
#include <random>

#include "objstore/aws_credentials.h"
#include "objstore/http_client.h"
#include "objstore/object_store.h"
#include "objstore/s3_options.h"

namespace floe::objstore {

class S3ObjectStore final : public ObjectStore {
 public:
  // Makes the credentials provider; it may fetch over the store's HTTP
  // client (instance metadata, STS), which outlives it.
  using CredentialsFactory = std::function<std::unique_ptr<aws::CredentialsProvider>(http::Client&)>;

  S3ObjectStore(S3Options options, const CredentialsFactory& make_credentials);
  ~S3ObjectStore() override;

  void put(const std::string& key, std::span<const uint8_t> data) override;
  bool create(const std::string& key, std::span<const uint8_t> data) override;
  Bytes get(const std::string& key, std::optional<ByteRange> range = std::nullopt) override;
  std::optional<ObjectInfo> head(const std::string& key) override;
  void remove(std::span<const std::string> keys) override;
  std::vector<ObjectInfo> list(const std::string& prefix) override;
  std::string describe() const override;

  const S3Options& options() const { return options_; }

 private:
  struct Call;
  http::Response execute(Call& call);
  std::string url_for(const std::string& object_key, const std::string& query) const;
  std::string host_for() const;
  void put_multipart(const std::string& key, std::span<const uint8_t> data, bool if_absent, bool& created);
  std::optional<ObjectInfo> head_by_get(const std::string& key);
  // Whether the object at `key` has exactly these bytes (false if absent).
  bool holds(const std::string& key, std::span<const uint8_t> data);
  void abort_upload(const std::string& full_key, const std::string& upload_id, const std::string& what);
  bool put_once(const std::string& key, std::span<const uint8_t> data, bool if_absent);
  void remove_batch(std::span<const std::string> keys);
  std::chrono::milliseconds backoff(int attempt, bool throttled);

  const S3Options options_;
  http::Client http_;  // before credentials_: the provider may use it
  std::unique_ptr<aws::CredentialsProvider> credentials_;
  // Seconds to add to our clock when signing, learnt from a server that said
  // RequestTimeTooSkewed.
  std::atomic<int64_t> clock_skew_s_{0};
  // Cleared when the store answers DeleteObjects with NotImplemented.
  std::atomic<bool> multi_delete_{true};
  std::mutex random_mu_;
  std::mt19937_64 random_;  // GUARDED_BY(random_mu_)
};

// Opens an s3:// URL with credentials from the default chain over the
// store's own HTTP client settings.
std::unique_ptr<ObjectStore> open_s3_store(std::string_view url, const std::map<std::string, std::string>& settings,
                                           const aws::Environment& env);

}  // namespace floe::objstore
