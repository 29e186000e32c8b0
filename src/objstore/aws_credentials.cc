#include "objstore/aws_credentials.h"
#include "common/text.h"

#include <arpa/inet.h>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <utility>
#include <vector>

#include "common/clock.h"
#include "common/log.h"
#include "objstore/xml.h"

extern char** environ;

namespace floe::objstore::aws {

namespace {

using namespace std::chrono_literals;

// Temporary credentials are fetched again when they have this little left,
// so a request signed with them cannot meet their expiry on the way.
constexpr int64_t kRefreshMarginMs = 5 * 60 * 1000;
// Inside that margin, after a refresh (failed, or one that brought credentials
// as short-lived as the old), the next attempt waits this long: the cached
// credentials still work, and a source that is down should not cost every
// request a timeout.
constexpr int64_t kRetryIntervalMs = 10 * 1000;

// A machine without instance metadata must fail fast (the SDKs use 1 s).
const http::Timeouts kImdsTimeouts{1000ms, 2000ms, 2000ms};
const http::Timeouts kContainerTimeouts{2000ms, 5000ms, 10000ms};
const http::Timeouts kStsTimeouts{3000ms, 10000ms, 30000ms};

constexpr const char* kEcsHost = "http://169.254.170.2";


// A server's own words in an error message, kept short and on one line.
std::string excerpt(std::string_view s) {
  std::string out(trim_whitespace(s).substr(0, 200));
  std::replace_if(
      out.begin(), out.end(), [](char c) { return c == '\n' || c == '\r'; }, ' ');
  return out;
}

// A failure that means "this source is not here" (no instance metadata
// service, no role attached) rather than "it broke": while the chain looks
// for a source it moves on to the next; once the source is chosen it is an
// ordinary CredentialsError.
class SourceUnavailable : public CredentialsError {
 public:
  using CredentialsError::CredentialsError;
};

CredentialsError transport_failure(const std::string& what, const http::TransportError& e) {
  // The transport's message names the method and host only.
  return CredentialsError(e.retriable(), what + " failed: " + e.what());
}

std::optional<std::string> read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return std::nullopt;
  std::ostringstream out;
  out << in.rdbuf();
  if (in.bad()) return std::nullopt;
  return std::move(out).str();
}

// "~/x" with HOME; nullopt when it needs HOME and there is none.
std::optional<std::string> expand_home(const Environment& env, const std::string& path) {
  if (path != "~" && !path.starts_with("~/")) return path;
  std::optional<std::string> home = env.get("HOME");
  if (!home) return std::nullopt;
  return *home + path.substr(1);
}

// A token read from a file on every use (they are rotated on disk). Trailing
// whitespace is dropped: an editor's final newline is not part of a token.
std::string read_token_file(const std::string& path, const std::string& what) {
  std::optional<std::string> text = read_file(path);
  if (!text) throw CredentialsError(false, "cannot read the " + what + " file " + path);
  std::string token(trim_whitespace(*text));
  if (token.empty()) throw CredentialsError(false, "the " + what + " file " + path + " is empty");
  return token;
}

// The retriable statuses of every endpoint below: throttling and server errors.
bool retriable_status(int status) { return status == 429 || status >= 500; }

// ---------------------------------------------------------------------------
// Sources

class Source {
 public:
  virtual ~Source() = default;
  // Throws CredentialsError.
  virtual TimedCredentials fetch() = 0;
  virtual std::string describe() const = 0;
};

class FixedSource : public Source {
 public:
  FixedSource(sigv4::Credentials credentials, std::string label)
      : credentials_(std::move(credentials)), label_(std::move(label)) {}
  TimedCredentials fetch() override { return {credentials_, std::nullopt}; }
  std::string describe() const override { return label_; }

 private:
  const sigv4::Credentials credentials_;
  const std::string label_;
};

// The two shared files, by path, parsed.
struct SharedFiles {
  std::string credentials_path;  // "" when it cannot be located (no HOME)
  std::string config_path;
  ProfileFile credentials;
  ProfileFile config;

  std::string paths() const {
    return (credentials_path.empty() ? "~/.aws/credentials" : credentials_path) + " and " +
           (config_path.empty() ? "~/.aws/config" : config_path);
  }
};

ProfileFile load_profile_file(const std::string& path, bool config_file) {
  if (path.empty()) return {};
  std::error_code ec;
  if (!std::filesystem::exists(path, ec)) return {};
  std::optional<std::string> text = read_file(path);
  if (!text) {
    throw CredentialsError(
        false, "cannot read the AWS " + std::string(config_file ? "config" : "credentials") + " file " + path);
  }
  return parse_profile_file(*text, config_file);
}

SharedFiles load_shared_files(const Environment& env) {
  SharedFiles f;
  f.credentials_path =
      expand_home(env, env.get("AWS_SHARED_CREDENTIALS_FILE").value_or("~/.aws/credentials")).value_or("");
  f.config_path = expand_home(env, env.get("AWS_CONFIG_FILE").value_or("~/.aws/config")).value_or("");
  f.credentials = load_profile_file(f.credentials_path, false);
  f.config = load_profile_file(f.config_path, true);
  return f;
}

// The profile's properties from both files, the credentials file's winning;
// nullopt when neither file has the profile.
std::optional<std::map<std::string, std::string>> merged_profile(const SharedFiles& f, const std::string& name) {
  auto in_config = f.config.find(name);
  auto in_credentials = f.credentials.find(name);
  if (in_config == f.config.end() && in_credentials == f.credentials.end()) return std::nullopt;
  std::map<std::string, std::string> merged;
  if (in_config != f.config.end()) merged = in_config->second;
  if (in_credentials != f.credentials.end()) {
    for (const auto& [k, v] : in_credentials->second) merged[k] = v;
  }
  return merged;
}

std::optional<std::string> property(const std::map<std::string, std::string>& p, const std::string& key) {
  auto it = p.find(key);
  if (it == p.end() || it->second.empty()) return std::nullopt;
  return it->second;
}

// Static keys of a profile; throws when they are incomplete.
sigv4::Credentials profile_keys(const std::map<std::string, std::string>& p, const std::string& name,
                                const SharedFiles& f) {
  std::optional<std::string> id = property(p, "aws_access_key_id");
  std::optional<std::string> secret = property(p, "aws_secret_access_key");
  if (!id || !secret) {
    throw CredentialsError(false, "AWS profile " + name + " in " + f.paths() + " has " +
                                      (id ? "aws_access_key_id but no aws_secret_access_key"
                                          : "aws_secret_access_key but no aws_access_key_id"));
  }
  return {*id, *secret, property(p, "aws_session_token")};
}

// Static keys from a profile. The files are read again on every fetch, which
// happens only after invalidate() (the server refused the keys): someone may
// have written new ones.
class ProfileSource : public Source {
 public:
  ProfileSource(Environment env, std::string name) : env_(std::move(env)), name_(std::move(name)) {}

  TimedCredentials fetch() override {
    SharedFiles f = load_shared_files(env_);
    std::optional<std::map<std::string, std::string>> p = merged_profile(f, name_);
    if (!p) throw CredentialsError(false, "AWS profile " + name_ + " is no longer in " + f.paths());
    return {profile_keys(*p, name_, f), std::nullopt};
  }
  std::string describe() const override { return "profile " + name_; }

 private:
  const Environment env_;
  const std::string name_;
};

// STS AssumeRoleWithWebIdentity (EKS IRSA): the token file is read again on
// every fetch, since the kubelet rotates it.
class WebIdentitySource : public Source {
 public:
  WebIdentitySource(http::Client& http, std::string endpoint, std::string token_file, std::string role_arn,
                    std::string session_name, std::string label)
      : http_(http),
        endpoint_(std::move(endpoint)),
        token_file_(std::move(token_file)),
        role_arn_(std::move(role_arn)),
        session_name_(std::move(session_name)),
        label_(std::move(label)) {}

  TimedCredentials fetch() override {
    const std::string token = read_token_file(token_file_, "web identity token");
    const std::string form =
        "Action=AssumeRoleWithWebIdentity&Version=2011-06-15&RoleArn=" + sigv4::uri_encode(role_arn_, false) +
        "&RoleSessionName=" + sigv4::uri_encode(session_name_, false) +
        "&WebIdentityToken=" + sigv4::uri_encode(token, false);
    http::Request request;
    request.method = "POST";
    request.url = endpoint_;
    request.headers = {{"Content-Type", "application/x-www-form-urlencoded; charset=utf-8"}};
    request.body = std::span(reinterpret_cast<const uint8_t*>(form.data()), form.size());
    request.timeouts = kStsTimeouts;
    const std::string what = "STS AssumeRoleWithWebIdentity for " + role_arn_ + " at " + http::url_authority(endpoint_);

    http::Response response;
    try {
      response = http_.send(request);
    } catch (const http::TransportError& e) {
      throw transport_failure(what, e);
    }
    if (response.status != 200) throw error_response(what, response, token);

    xml::Element root;
    try {
      root = xml::parse(response.body_text());
    } catch (const std::runtime_error&) {
      throw CredentialsError(false, what + ": the answer is not XML");
    }
    const xml::Element* result = root.child("AssumeRoleWithWebIdentityResult");
    const xml::Element* c = result == nullptr ? nullptr : result->child("Credentials");
    if (c == nullptr) throw CredentialsError(false, what + ": the answer has no Credentials");
    TimedCredentials out;
    out.credentials.access_key_id = std::string(trim_whitespace(c->child_text("AccessKeyId")));
    out.credentials.secret_access_key = std::string(trim_whitespace(c->child_text("SecretAccessKey")));
    std::string session = std::string(trim_whitespace(c->child_text("SessionToken")));
    if (out.credentials.access_key_id.empty() || out.credentials.secret_access_key.empty() || session.empty()) {
      throw CredentialsError(false, what + ": the answer lacks AccessKeyId, SecretAccessKey or SessionToken");
    }
    out.credentials.session_token = std::move(session);
    std::string expiration(trim_whitespace(c->child_text("Expiration")));
    out.expires_unix_ms = parse_iso8601_ms(expiration);
    if (!out.expires_unix_ms) throw CredentialsError(false, what + ": the answer has no readable Expiration");
    return out;
  }

  std::string describe() const override { return label_; }

 private:
  // STS's <ErrorResponse><Error><Code>: throttling, a failing identity
  // provider and an expired token (the kubelet writes a new one) may pass.
  static CredentialsError error_response(const std::string& what, const http::Response& response,
                                         const std::string& token) {
    std::string code, message;
    try {
      xml::Element root = xml::parse(response.body_text());
      if (const xml::Element* error = root.child("Error")) {
        code = std::string(trim_whitespace(error->child_text("Code")));
        message = excerpt(error->child_text("Message"));
      }
    } catch (const std::runtime_error&) {
      // Not STS's XML (a proxy's page, say): the status says enough.
    }
    // STS does not echo the token, but this message must never carry it.
    if (!token.empty() && message.find(token) != std::string::npos) message.clear();
    bool retriable = retriable_status(response.status) || code == "Throttling" || code == "ThrottlingException" ||
                     code == "RequestLimitExceeded" || code == "IDPCommunicationError" ||
                     code == "ExpiredTokenException";
    std::string text = what + ": HTTP " + std::to_string(response.status);
    if (!code.empty()) text += " " + code;
    if (!message.empty()) text += ": " + message;
    return CredentialsError(retriable, text);
  }

  http::Client& http_;
  const std::string endpoint_;
  const std::string token_file_;
  const std::string role_arn_;
  const std::string session_name_;
  const std::string label_;
};

// The JSON of the ECS container endpoint and of instance metadata.
TimedCredentials parse_json_credentials(const std::string& what, const std::string& body) {
  nlohmann::json j = nlohmann::json::parse(body, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded() || !j.is_object()) throw CredentialsError(false, what + ": the answer is not a JSON object");
  auto text = [&](const char* key) -> std::optional<std::string> {
    auto it = j.find(key);
    if (it == j.end() || !it->is_string() || it->get_ref<const std::string&>().empty()) return std::nullopt;
    return it->get<std::string>();
  };
  if (std::optional<std::string> code = text("Code"); code && *code != "Success") {
    throw CredentialsError(false, what + ": the answer's Code is " + excerpt(*code));
  }
  std::optional<std::string> id = text("AccessKeyId");
  std::optional<std::string> secret = text("SecretAccessKey");
  if (!id || !secret) throw CredentialsError(false, what + ": the answer lacks AccessKeyId or SecretAccessKey");
  TimedCredentials out{{*id, *secret, text("Token")}, std::nullopt};
  if (std::optional<std::string> expiration = text("Expiration")) {
    out.expires_unix_ms = parse_iso8601_ms(*expiration);
    if (!out.expires_unix_ms) throw CredentialsError(false, what + ": the answer's Expiration is unreadable");
  }
  return out;
}

// The scheme and host of a URL: {"http", "127.0.0.1"}; an IPv6 host keeps
// its brackets.
std::pair<std::string, std::string> scheme_and_host(const std::string& url) {
  size_t sep = url.find("://");
  if (sep == std::string::npos) return {"", ""};
  std::string authority = http::url_authority(url);
  if (size_t at = authority.rfind('@'); at != std::string::npos) authority = authority.substr(at + 1);
  std::string host = authority;
  if (authority.starts_with("[")) {
    host = authority.substr(0, authority.find(']') + 1);
  } else if (size_t colon = authority.find(':'); colon != std::string::npos) {
    host = authority.substr(0, colon);
  }
  return {ascii_lower(url.substr(0, sep)), ascii_lower(host)};
}

// Plain http is allowed only to this machine and to the addresses of the
// ECS and EKS Pod Identity agents, as the SDKs allow it: anywhere else the
// credentials would cross the network in clear.
bool http_allowed_host(const std::string& host) {
  if (host == "localhost" || host == "169.254.170.2" || host == "169.254.170.23" || host == "[::1]" ||
      host == "[fd00:ec2::23]") {
    return true;
  }
  in_addr v4{};
  if (inet_pton(AF_INET, host.c_str(), &v4) == 1) return (ntohl(v4.s_addr) >> 24) == 127;
  return false;
}

class ContainerSource : public Source {
 public:
  ContainerSource(http::Client& http, std::string url, std::optional<std::string> token,
                  std::optional<std::string> token_file)
      : http_(http), url_(std::move(url)), token_(std::move(token)), token_file_(std::move(token_file)) {}

  TimedCredentials fetch() override {
    const std::string what = "the ECS container credentials endpoint at " + http::url_authority(url_);
    http::Request request;
    request.method = "GET";
    request.url = url_;
    request.timeouts = kContainerTimeouts;
    std::optional<std::string> token =
        token_file_ ? std::optional(read_token_file(*token_file_, "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE")) : token_;
    if (token) {
      if (token->find_first_of("\r\n") != std::string::npos) {
        throw CredentialsError(false, "the ECS container authorization token contains a line break");
      }
      request.headers.emplace_back("Authorization", *token);
    }
    http::Response response;
    try {
      response = http_.send(request);
    } catch (const http::TransportError& e) {
      throw transport_failure(what, e);
    }
    if (response.status != 200) {
      throw CredentialsError(retriable_status(response.status),
                             what + " answered HTTP " + std::to_string(response.status));
    }
    return parse_json_credentials(what, response.body_text());
  }

  std::string describe() const override { return "ECS container endpoint"; }

 private:
  http::Client& http_;
  const std::string url_;
  const std::optional<std::string> token_;
  const std::optional<std::string> token_file_;
};

// IMDSv2: a session token, the role's name, the role's credentials. Failures
// that mean "no metadata service here" or "no role attached" are
// SourceUnavailable.
class InstanceMetadataSource : public Source {
 public:
  InstanceMetadataSource(http::Client& http, std::string endpoint) : http_(http), endpoint_(std::move(endpoint)) {}

  TimedCredentials fetch() override {
    const std::string what = "EC2 instance metadata at " + http::url_authority(endpoint_);

    http::Response token = send("PUT", "/latest/api/token", {{"X-aws-ec2-metadata-token-ttl-seconds", "21600"}},
                                what + " (session token)", /*unreachable_means_absent=*/true);
    if (token.status != 200) {
      // 403: IMDS is turned off for this instance; 404/405: not IMDSv2.
      if (!retriable_status(token.status)) {
        throw SourceUnavailable(false, what + " refused a session token: HTTP " + std::to_string(token.status));
      }
      throw CredentialsError(true,
                             what + " answered HTTP " + std::to_string(token.status) + " to a session token request");
    }
    const http::Header token_header{"X-aws-ec2-metadata-token", std::string(trim_whitespace(token.body_text()))};

    const std::string base = "/latest/meta-data/iam/security-credentials/";
    http::Response roles = send("GET", base, {token_header}, what + " (role name)", false);
    if (roles.status == 404) throw SourceUnavailable(false, what + ": no IAM role is attached to this instance");
    if (roles.status != 200) {
      throw CredentialsError(retriable_status(roles.status) || roles.status == 401,
                             what + " answered HTTP " + std::to_string(roles.status) + " to the role name request");
    }
    std::string listing = roles.body_text();
    std::string role(trim_whitespace(std::string_view(listing).substr(0, listing.find('\n'))));
    if (role.empty()) throw SourceUnavailable(false, what + ": no IAM role is attached to this instance");

    http::Response creds = send("GET", base + role, {token_header}, what + " (role credentials)", false);
    if (creds.status != 200) {
      throw CredentialsError(retriable_status(creds.status) || creds.status == 401 || creds.status == 404,
                             what + " answered HTTP " + std::to_string(creds.status) + " for role " + role);
    }
    return parse_json_credentials(what + " for role " + role, creds.body_text());
  }

  std::string describe() const override { return "EC2 instance metadata"; }

 private:
  http::Response send(const std::string& method, const std::string& path, std::vector<http::Header> headers,
                      const std::string& what, bool unreachable_means_absent) {
    http::Request request;
    request.method = method;
    request.url = endpoint_ + path;
    request.headers = std::move(headers);
    request.timeouts = kImdsTimeouts;
    try {
      return http_.send(request);
    } catch (const http::TransportError& e) {
      if (unreachable_means_absent &&
          (e.kind() == http::TransportErrorKind::connect || e.kind() == http::TransportErrorKind::timeout)) {
        throw SourceUnavailable(true, what + " is not reachable: " + e.what());
      }
      throw transport_failure(what, e);
    }
  }

  http::Client& http_;
  const std::string endpoint_;
};

// ---------------------------------------------------------------------------
// The chain

class StaticProvider : public CredentialsProvider {
 public:
  explicit StaticProvider(sigv4::Credentials credentials) : credentials_(std::move(credentials)) {}
  sigv4::Credentials get() override { return credentials_; }
  void invalidate() override {}
  std::string describe() const override { return "static credentials"; }

 private:
  const sigv4::Credentials credentials_;
};

std::string sts_endpoint(const Environment& env, const std::string& region) {
  std::optional<std::string> endpoint = env.get("AWS_ENDPOINT_URL_STS");
  if (!endpoint) endpoint = env.get("AWS_ENDPOINT_URL");
  if (endpoint) {
    // STS takes its form at the root; an endpoint with a path keeps it.
    size_t sep = endpoint->find("://");
    size_t path = endpoint->find('/', sep == std::string::npos ? 0 : sep + 3);
    return path == std::string::npos ? *endpoint + "/" : *endpoint;
  }
  std::string r = region;
  if (r.empty()) r = env.get("AWS_REGION").value_or(env.get("AWS_DEFAULT_REGION").value_or(""));
  if (r.empty() || r == "aws-global") return "https://sts.amazonaws.com/";
  return "https://sts." + r + (r.starts_with("cn-") ? ".amazonaws.com.cn/" : ".amazonaws.com/");
}

class ChainProvider : public CredentialsProvider {
 public:
  ChainProvider(Environment env, http::Client& http, std::string region, Clock clock)
      : env_(std::move(env)), http_(http), region_(std::move(region)), clock_(std::move(clock)) {
    if (!clock_) clock_ = [] { return unix_now_ms(); };
  }

  sigv4::Credentials get() override {
    std::lock_guard lock(mu_);
    const int64_t now = clock_();
    if (cached_ && !invalidated_ && !due(now)) return cached_->credentials;
    try {
      TimedCredentials fresh;
      if (source_) {
        fresh = source_->fetch();
      } else {
        auto [source, credentials] = choose_source();
        FLOE_LOG(info, "objstore") << "AWS credentials from " << source->describe();
        source_ = std::move(source);
        fresh = std::move(credentials);
        set_description(source_->describe());
      }
      cached_ = std::move(fresh);
      invalidated_ = false;
      next_attempt_ms_ = now + kRetryIntervalMs;
      return cached_->credentials;
    } catch (const CredentialsError& e) {
      if (cached_ && !invalidated_ && cached_->expires_unix_ms && now < *cached_->expires_unix_ms) {
        FLOE_LOG(warn, "objstore") << "refreshing AWS credentials from " << source_->describe()
                                   << " failed; using the cached ones, which expire in "
                                   << (*cached_->expires_unix_ms - now) / 1000 << " s: " << e.what();
        next_attempt_ms_ = now + kRetryIntervalMs;
        return cached_->credentials;
      }
      cached_.reset();
      source_.reset();
      set_description(kUnresolved);
      throw;
    }
  }

  void invalidate() override {
    std::lock_guard lock(mu_);
    invalidated_ = true;
  }

  std::string describe() const override {
    std::lock_guard lock(description_mu_);
    return description_;
  }

 private:
  static constexpr const char* kUnresolved = "AWS default credentials chain (no source chosen yet)";

  // Whether the cached credentials should be fetched again.
  // REQUIRES: mu_ held, cached_ set.
  bool due(int64_t now) const {
    if (!cached_->expires_unix_ms) return false;
    const int64_t expires = *cached_->expires_unix_ms;
    if (now >= expires) return true;
    if (now < expires - kRefreshMarginMs) return false;
    return now >= next_attempt_ms_;
  }

  void set_description(std::string d) {
    std::lock_guard lock(description_mu_);
    description_ = std::move(d);
  }

  // The first configured source, with its first credentials.
  // REQUIRES: mu_ held.
  std::pair<std::unique_ptr<Source>, TimedCredentials> choose_source() {
    std::vector<std::string> tried;
    auto first = [](std::unique_ptr<Source> s) {
      TimedCredentials c = s->fetch();
      return std::make_pair(std::move(s), std::move(c));
    };

    // 1. Environment.
    std::optional<std::string> id = env_.get("AWS_ACCESS_KEY_ID");
    std::optional<std::string> secret = env_.get("AWS_SECRET_ACCESS_KEY");
    if (id || secret) {
      if (!id) throw CredentialsError(false, "AWS_SECRET_ACCESS_KEY is set but AWS_ACCESS_KEY_ID is not");
      if (!secret) throw CredentialsError(false, "AWS_ACCESS_KEY_ID is set but AWS_SECRET_ACCESS_KEY is not");
      return first(std::make_unique<FixedSource>(sigv4::Credentials{*id, *secret, env_.get("AWS_SESSION_TOKEN")},
                                                 "environment"));
    }
    tried.push_back("environment (AWS_ACCESS_KEY_ID)");

    // 2. The shared files.
    if (std::unique_ptr<Source> s = profile_source(tried)) return first(std::move(s));

    // 3. Web identity.
    std::optional<std::string> token_file = env_.get("AWS_WEB_IDENTITY_TOKEN_FILE");
    std::optional<std::string> role_arn = env_.get("AWS_ROLE_ARN");
    if (token_file || role_arn) {
      if (!token_file) throw CredentialsError(false, "AWS_ROLE_ARN is set but AWS_WEB_IDENTITY_TOKEN_FILE is not");
      if (!role_arn) throw CredentialsError(false, "AWS_WEB_IDENTITY_TOKEN_FILE is set but AWS_ROLE_ARN is not");
      return first(web_identity(*token_file, *role_arn, env_.get("AWS_ROLE_SESSION_NAME"), "web identity"));
    }
    tried.push_back("web identity (AWS_WEB_IDENTITY_TOKEN_FILE)");

    // 4. The ECS container endpoint.
    if (std::unique_ptr<Source> s = container_source()) return first(std::move(s));
    tried.push_back("ECS container endpoint (AWS_CONTAINER_CREDENTIALS_RELATIVE_URI/FULL_URI)");

    // 5. Instance metadata.
    if (ascii_lower(env_.get("AWS_EC2_METADATA_DISABLED").value_or("")) == "true") {
      tried.push_back("EC2 instance metadata (disabled by AWS_EC2_METADATA_DISABLED)");
    } else {
      try {
        return first(std::make_unique<InstanceMetadataSource>(http_, imds_endpoint()));
      } catch (const SourceUnavailable& e) {
        tried.push_back(e.what());  // "EC2 instance metadata at ...: why"
      }
    }

    std::string text =
        "no AWS credentials found: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, configure a profile in "
        "~/.aws/credentials or ~/.aws/config (AWS_PROFILE), use web identity (AWS_WEB_IDENTITY_TOKEN_FILE and "
        "AWS_ROLE_ARN) or the ECS container endpoint, or run on EC2 with an instance role. Tried: ";
    for (size_t i = 0; i < tried.size(); ++i) text += (i == 0 ? "" : "; ") + tried[i];
    throw CredentialsError(false, text);
  }

  // REQUIRES: mu_ held.
  std::unique_ptr<Source> profile_source(std::vector<std::string>& tried) {
    std::optional<std::string> named = env_.get("AWS_PROFILE");
    const std::string name = named.value_or("default");
    SharedFiles f = load_shared_files(env_);
    std::optional<std::map<std::string, std::string>> p = merged_profile(f, name);
    if (!p) {
      // Naming a profile that is not there is a mistake to report, not a
      // reason to pick up other credentials.
      if (named) {
        throw CredentialsError(false, "AWS_PROFILE names profile " + name + ", which is in neither " + f.paths());
      }
      tried.push_back("profile default (not in " + f.paths() + ")");
      return nullptr;
    }
    // Web identity first, as the SDKs resolve a profile's role before its keys.
    std::optional<std::string> role_arn = property(*p, "role_arn");
    std::optional<std::string> token_file = property(*p, "web_identity_token_file");
    if (role_arn && token_file) {
      std::optional<std::string> path = expand_home(env_, *token_file);
      if (!path) throw CredentialsError(false, "AWS profile " + name + ": web_identity_token_file needs HOME");
      return web_identity(*path, *role_arn, property(*p, "role_session_name"), "web identity (profile " + name + ")");
    }
    if (role_arn) {
      throw CredentialsError(false, "AWS profile " + name +
                                        " assumes a role through source_profile or credential_source, which floe "
                                        "does not support (only static keys and web_identity_token_file)");
    }
    if (property(*p, "aws_access_key_id") || property(*p, "aws_secret_access_key")) {
      profile_keys(*p, name, f);  // throws when incomplete
      return std::make_unique<ProfileSource>(env_, name);
    }
    for (const char* unsupported : {"credential_process", "sso_session", "sso_start_url"}) {
      if (property(*p, unsupported)) {
        throw CredentialsError(false, "AWS profile " + name + " uses " + unsupported +
                                          ", which floe does not support (only static keys and "
                                          "web_identity_token_file)");
      }
    }
    tried.push_back("profile " + name + " (no credentials in it)");
    return nullptr;
  }

  std::unique_ptr<Source> web_identity(const std::string& token_file, const std::string& role_arn,
                                       std::optional<std::string> session_name, std::string label) {
    return std::make_unique<WebIdentitySource>(http_, sts_endpoint(env_, region_), token_file, role_arn,
                                               session_name.value_or("floe-" + std::to_string(clock_())),
                                               std::move(label));
  }

  std::unique_ptr<Source> container_source() {
    std::string url;
    if (std::optional<std::string> relative = env_.get("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI")) {
      url = kEcsHost + (relative->starts_with("/") ? *relative : "/" + *relative);
    } else if (std::optional<std::string> full = env_.get("AWS_CONTAINER_CREDENTIALS_FULL_URI")) {
      auto [scheme, host] = scheme_and_host(*full);
      if (scheme != "https" && !(scheme == "http" && http_allowed_host(host))) {
        throw CredentialsError(false,
                               "AWS_CONTAINER_CREDENTIALS_FULL_URI must be https, or http to a loopback "
                               "address or the ECS/EKS agent; host " +
                                   http::url_authority(*full) + " is not allowed");
      }
      url = *full;
    } else {
      return nullptr;
    }
    std::optional<std::string> token_file = env_.get("AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE");
    return std::make_unique<ContainerSource>(
        http_, url, token_file ? std::nullopt : env_.get("AWS_CONTAINER_AUTHORIZATION_TOKEN"), token_file);
  }

  std::string imds_endpoint() const {
    std::string endpoint;
    if (std::optional<std::string> e = env_.get("AWS_EC2_METADATA_SERVICE_ENDPOINT")) {
      endpoint = *e;
    } else if (ascii_lower(env_.get("AWS_EC2_METADATA_SERVICE_ENDPOINT_MODE").value_or("")) == "ipv6") {
      endpoint = "http://[fd00:ec2::254]";
    } else {
      endpoint = "http://169.254.169.254";
    }
    while (endpoint.ends_with("/")) endpoint.pop_back();
    return endpoint;
  }

  const Environment env_;
  http::Client& http_;
  const std::string region_;
  Clock clock_;

  std::mutex mu_;                           // held through a fetch, so concurrent callers wait for one
  std::unique_ptr<Source> source_;          // GUARDED_BY(mu_)
  std::optional<TimedCredentials> cached_;  // GUARDED_BY(mu_)
  bool invalidated_ = false;                // GUARDED_BY(mu_)
  int64_t next_attempt_ms_ = 0;             // GUARDED_BY(mu_)

  mutable std::mutex description_mu_;      // not mu_: describe() must not wait for a fetch
  std::string description_ = kUnresolved;  // GUARDED_BY(description_mu_)
};

// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's
// days_from_civil).
int64_t days_from_civil(int64_t y, unsigned m, unsigned d) {
  y -= m <= 2;
  const int64_t era = (y >= 0 ? y : y - 399) / 400;
  const unsigned yoe = static_cast<unsigned>(y - era * 400);
  const unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + static_cast<int64_t>(doe) - 719468;
}

}  // namespace

// ---------------------------------------------------------------------------

Environment Environment::from_process() {
  std::map<std::string, std::string> vars;
  for (char** e = environ; e != nullptr && *e != nullptr; ++e) {
    std::string_view entry(*e);
    size_t eq = entry.find('=');
    if (eq == std::string_view::npos) continue;
    std::string_view name = entry.substr(0, eq);
    if (name.starts_with("AWS_") || name == "HOME") vars.emplace(name, entry.substr(eq + 1));
  }
  return Environment(std::move(vars));
}

std::optional<std::string> Environment::get(const std::string& name) const {
  auto it = vars_.find(name);
  if (it == vars_.end() || it->second.empty()) return std::nullopt;
  return it->second;
}

std::unique_ptr<CredentialsProvider> static_credentials(sigv4::Credentials credentials) {
  return std::make_unique<StaticProvider>(std::move(credentials));
}

std::unique_ptr<CredentialsProvider> default_chain(Environment env, http::Client& http, std::string region,
                                                   Clock clock) {
  return std::make_unique<ChainProvider>(std::move(env), http, std::move(region), std::move(clock));
}

ProfileFile parse_profile_file(std::string_view text, bool config_file) {
  ProfileFile out;
  std::map<std::string, std::string>* section = nullptr;  // nullptr: outside any profile
  std::string* last_value = nullptr;                      // the property a continuation line extends

  // Drops a comment that starts at '#' or ';' after whitespace.
  auto strip_comment = [](std::string_view s) {
    for (size_t i = 1; i < s.size(); ++i) {
      if ((s[i] == '#' || s[i] == ';') && (s[i - 1] == ' ' || s[i - 1] == '\t')) return s.substr(0, i);
    }
    return s;
  };

  while (!text.empty()) {
    size_t nl = text.find('\n');
    std::string_view raw = text.substr(0, nl);
    text = nl == std::string_view::npos ? std::string_view() : text.substr(nl + 1);
    if (!raw.empty() && raw.back() == '\r') raw.remove_suffix(1);

    std::string_view line = trim_whitespace(raw);
    if (line.empty() || line.front() == '#' || line.front() == ';') continue;

    if (line.front() == '[') {
      last_value = nullptr;
      section = nullptr;
      size_t close = line.find(']');
      if (close == std::string_view::npos) continue;  // a broken header: its properties go nowhere
      std::string_view name = trim_whitespace(line.substr(1, close - 1));
      if (config_file) {
        if (name.starts_with("profile") && name.size() > 7 && (name[7] == ' ' || name[7] == '\t')) {
          name = trim_whitespace(name.substr(8));
        } else if (name != "default") {
          continue;  // sso-session, services, or a profile without "profile "
        }
      }
      if (name.empty()) continue;
      section = &out[std::string(name)];
      continue;
    }
    if (section == nullptr) continue;

    bool indented = raw.front() == ' ' || raw.front() == '\t';
    if (indented && last_value != nullptr) {
      // A continuation: S3's nested settings and the like, none of which
      // floe reads; kept so that a value is what the SDKs would see.
      std::string_view more = trim_whitespace(strip_comment(line));
      if (!more.empty()) *last_value += (last_value->empty() ? "" : "\n") + std::string(more);
      continue;
    }
    size_t eq = line.find('=');
    if (eq == std::string_view::npos) {
      last_value = nullptr;
      continue;
    }
    std::string key = ascii_lower(trim_whitespace(line.substr(0, eq)));
    if (key.empty()) {
      last_value = nullptr;
      continue;
    }
    std::string_view value = trim_whitespace(strip_comment(line.substr(eq + 1)));
    std::string& slot = (*section)[key];
    slot = std::string(value);
    last_value = &slot;
  }
  return out;
}

std::optional<int64_t> parse_iso8601_ms(std::string_view s) {
  s = trim_whitespace(s);
  size_t i = 0;
  auto digits = [&](size_t n, int64_t& out) {
    if (i + n > s.size()) return false;
    out = 0;
    for (size_t k = 0; k < n; ++k) {
      char c = s[i + k];
      if (c < '0' || c > '9') return false;
      out = out * 10 + (c - '0');
    }
    i += n;
    return true;
  };
  auto expect = [&](char c) {
    if (i >= s.size() || s[i] != c) return false;
    ++i;
    return true;
  };
  int64_t year, month, day, hour, minute, second;
  if (!digits(4, year) || !expect('-') || !digits(2, month) || !expect('-') || !digits(2, day)) return std::nullopt;
  if (i >= s.size() || (s[i] != 'T' && s[i] != 't' && s[i] != ' ')) return std::nullopt;
  ++i;
  if (!digits(2, hour) || !expect(':') || !digits(2, minute) || !expect(':') || !digits(2, second)) return std::nullopt;
  int64_t millis = 0;
  if (i < s.size() && s[i] == '.') {
    ++i;
    size_t start = i;
    int64_t scale = 100;
    while (i < s.size() && s[i] >= '0' && s[i] <= '9') {
      millis += (s[i] - '0') * scale;
      scale /= 10;
      ++i;
    }
    if (i == start) return std::nullopt;
  }
  int64_t offset_minutes = 0;
  if (i < s.size() && (s[i] == 'Z' || s[i] == 'z')) {
    ++i;
  } else if (i < s.size() && (s[i] == '+' || s[i] == '-')) {
    int sign = s[i] == '-' ? -1 : 1;
    ++i;
    int64_t oh, om;
    if (!digits(2, oh)) return std::nullopt;
    expect(':');
    if (!digits(2, om)) return std::nullopt;
    offset_minutes = sign * (oh * 60 + om);
  } else {
    return std::nullopt;  // a time without a zone is no instant
  }
  if (i != s.size()) return std::nullopt;
  if (month < 1 || month > 12 || day < 1 || day > 31 || hour > 23 || minute > 59 || second > 60) return std::nullopt;
  int64_t days = days_from_civil(year, static_cast<unsigned>(month), static_cast<unsigned>(day));
  int64_t seconds = days * 86400 + hour * 3600 + minute * 60 + second - offset_minutes * 60;
  return seconds * 1000 + millis;
}

}  // namespace floe::objstore::aws
