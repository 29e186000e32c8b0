// AWS credentials for the S3 backend, found the way AWS SDKs find them, in
// this order (the first source that is configured wins, as in the SDKs):
//   1. environment: AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN
//   2. the shared files: AWS_SHARED_CREDENTIALS_FILE (~/.aws/credentials) and
//      AWS_CONFIG_FILE (~/.aws/config), profile AWS_PROFILE (default
//      "default"; "[profile NAME]" sections in the config file)
//   3. web identity (EKS IRSA): AWS_WEB_IDENTITY_TOKEN_FILE + AWS_ROLE_ARN
//      (+ AWS_ROLE_SESSION_NAME), exchanged at STS AssumeRoleWithWebIdentity
//      (endpoint AWS_ENDPOINT_URL_STS or https://sts.REGION.amazonaws.com)
//   4. the ECS container endpoint: AWS_CONTAINER_CREDENTIALS_RELATIVE_URI
//      (on http://169.254.170.2) or AWS_CONTAINER_CREDENTIALS_FULL_URI, with
//      AWS_CONTAINER_AUTHORIZATION_TOKEN(_FILE)
//   5. EC2 instance metadata, IMDSv2 only (a session token first), at
//      AWS_EC2_METADATA_SERVICE_ENDPOINT or http://169.254.169.254; skipped
//      when AWS_EC2_METADATA_DISABLED=true
// Temporary credentials (3-5) are cached and fetched again before they
// expire; keys from the environment or a profile (even with a session token,
// which carries no expiry) are kept until invalidate(), after which a profile
// is read again. Secrets never appear in logs, errors or describe().
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>

#include "objstore/http_client.h"
#include "objstore/sigv4.h"

namespace floe::objstore::aws {

// The environment variables the S3 backend reads, passed in rather than read
// from the process so tests can give their own (no global state).
class Environment {
 public:
  Environment() = default;
  explicit Environment(std::map<std::string, std::string> vars) : vars_(std::move(vars)) {}
  // A snapshot of this process's AWS_* variables and HOME.
  static Environment from_process();
  // The variable's value; nullopt when it is unset or empty (as the SDKs treat it).
  std::optional<std::string> get(const std::string& name) const;

 private:
  std::map<std::string, std::string> vars_;
};

// Credentials with when they stop working (nullopt: never).
struct TimedCredentials {
  sigv4::Credentials credentials;
  std::optional<int64_t> expires_unix_ms;
};

// A failure to find or fetch credentials. `retriable` when a later attempt
// may succeed (the metadata endpoint timed out, STS answered 5xx); not when
// nothing is configured or the configuration is wrong.
class CredentialsError : public std::runtime_error {
 public:
  CredentialsError(bool retriable, const std::string& what) : std::runtime_error(what), retriable_(retriable) {}
  bool retriable() const { return retriable_; }

 private:
  bool retriable_;
};

class CredentialsProvider {
 public:
  virtual ~CredentialsProvider() = default;
  // Credentials valid for at least a few more minutes. Blocks while it
  // fetches; safe from any thread. Throws CredentialsError.
  virtual sigv4::Credentials get() = 0;
  // The server refused the last credentials (ExpiredToken, say): the next
  // get() fetches fresh ones instead of using the cache.
  virtual void invalidate() = 0;
  // Which source is in use ("environment", "profile default", "web identity",
  // "ECS container endpoint", "EC2 instance metadata"), never a secret.
  virtual std::string describe() const = 0;
};

// Provides fixed credentials (tests; a store that needs none).
std::unique_ptr<CredentialsProvider> static_credentials(sigv4::Credentials credentials);

// Wall-clock Unix milliseconds; injectable so tests can step past expiry.
using Clock = std::function<int64_t()>;

// The chain above. Picks its source on the first get() (and again after a
// failure), fetching over `http` for sources 3-5; `region` is the S3
// backend's region, used for the STS endpoint. `http` must outlive it.
// Temporary credentials are refreshed when they have less than 5 minutes left.
std::unique_ptr<CredentialsProvider> default_chain(Environment env, http::Client& http, std::string region,
                                                   Clock clock);

// Exposed for tests.

// One shared credentials or config file, read the way the SDKs read it:
// profile name -> properties (names lower-cased, values trimmed). Comments
// start with '#' or ';' (at the start of a line, or after whitespace); an
// indented line after a property continues it. In a config file the profiles
// are "[profile NAME]" and "[default]", and other sections ("[sso-session
// x]", "[NAME]") are left out; in a credentials file every "[NAME]" is one.
// A profile seen twice merges, the later value winning.
using ProfileFile = std::map<std::string, std::map<std::string, std::string>>;
ProfileFile parse_profile_file(std::string_view text, bool config_file);

// Unix milliseconds of an ISO 8601 time as AWS writes expirations
// ("2026-11-26T19:00:00Z", optionally with fractional seconds or an offset
// like "+00:00"); nullopt when it is not one.
std::optional<int64_t> parse_iso8601_ms(std::string_view text);

}  // namespace floe::objstore::aws
