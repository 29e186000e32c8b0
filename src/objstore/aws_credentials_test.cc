// The AWS credentials chain against fake STS, ECS and instance metadata
// endpoints (TestHttpServer on 127.0.0.1), with profile files in a temporary
// folder and an injected clock. Every test gives its own Environment, with
// HOME and the shared files in the temporary folder and instance metadata
// disabled unless the test points it at a fake, so nothing here reads the
// machine's own credentials or reaches 169.254.169.254.
#include "objstore/aws_credentials.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "common/log.h"
#include "objstore/test_http_server_test_support.h"

namespace floe::objstore::aws {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;
using testing::ReceivedRequest;
using testing::Reply;
using testing::TestHttpServer;

// 2026-11-26T19:00:00Z and an hour later, in Unix milliseconds.
constexpr int64_t kExpiry = 1795719600000;
constexpr int64_t kLaterExpiry = 1795723200000;
constexpr const char* kExpiryText = "2026-11-26T19:00:00Z";
constexpr const char* kLaterExpiryText = "2026-11-26T20:00:00Z";
constexpr int64_t kMinute = 60 * 1000;

class TempDir {
 public:
  TempDir() {
    std::string tmpl = (fs::temp_directory_path() / "floe_aws_credentials_test_XXXXXX").string();
    if (mkdtemp(tmpl.data()) == nullptr) throw std::runtime_error("mkdtemp failed");
    path_ = tmpl;
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path_, ec);
  }
  std::string file(const std::string& name) const { return (path_ / name).string(); }
  std::string path() const { return path_.string(); }

 private:
  fs::path path_;
};

void write_file(const std::string& path, const std::string& text) {
  fs::create_directories(fs::path(path).parent_path());
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << text;
  if (!out) throw std::runtime_error("cannot write " + path);
}

Reply reply(int status, std::string body = "") {
  Reply r;
  r.status = status;
  r.body = std::move(body);
  return r;
}

Reply delayed(Reply r, std::chrono::milliseconds delay) {
  r.delay = delay;
  return r;
}

Reply dropped() {
  Reply r;
  r.drop = true;
  return r;
}

std::string ecs_json(const std::string& id, const std::string& secret, const std::string& token,
                     const std::string& expiration) {
  return R"({"AccessKeyId":")" + id + R"(","SecretAccessKey":")" + secret + R"(","Token":")" + token +
         R"(","Expiration":")" + expiration + R"("})";
}

std::string imds_json(const std::string& id, const std::string& secret, const std::string& token,
                      const std::string& expiration) {
  return R"({"Code":"Success","LastUpdated":"2026-11-26T12:00:00Z","Type":"AWS-HMAC","AccessKeyId":")" + id +
         R"(","SecretAccessKey":")" + secret + R"(","Token":")" + token + R"(","Expiration":")" + expiration + R"("})";
}

std::string sts_xml(const std::string& id, const std::string& secret, const std::string& token,
                    const std::string& expiration) {
  const std::string credentials = "<AccessKeyId>" + id + "</AccessKeyId><SecretAccessKey>" + secret +
                                  "</SecretAccessKey><SessionToken>" + token + "</SessionToken><Expiration>" +
                                  expiration + "</Expiration>";
  return "<AssumeRoleWithWebIdentityResponse xmlns=\"https://sts.amazonaws.com/doc/2011-06-15/\">\n"
         "  <AssumeRoleWithWebIdentityResult>\n"
         "    <SubjectFromWebIdentityToken>system:serviceaccount:floe:broker</SubjectFromWebIdentityToken>\n"
         "    <AssumedRoleUser><Arn>arn:aws:sts::123456789012:assumed-role/floe/s</Arn>"
         "<AssumedRoleId>AROA:s</AssumedRoleId></AssumedRoleUser>\n"
         "    <Credentials>" + credentials + "</Credentials>\n"
         "    <Provider>arn:aws:iam::123456789012:oidc-provider/example</Provider>\n"
         "  </AssumeRoleWithWebIdentityResult>\n"
         "  <ResponseMetadata><RequestId>c6104cbe-af31-11e0-8154-cbc7ccf896c7</RequestId></ResponseMetadata>\n"
         "</AssumeRoleWithWebIdentityResponse>\n";
}

std::string sts_error_xml(const std::string& code, const std::string& message) {
  return "<ErrorResponse xmlns=\"https://sts.amazonaws.com/doc/2011-06-15/\"><Error><Type>Sender</Type><Code>" + code +
         "</Code><Message>" + message + "</Message></Error><RequestId>r-1</RequestId></ErrorResponse>";
}

// An x-www-form-urlencoded body as a map.
std::map<std::string, std::string> parse_form(const std::string& body) {
  auto decode = [](std::string_view s) {
    std::string out;
    for (size_t i = 0; i < s.size(); ++i) {
      if (s[i] == '%' && i + 2 < s.size()) {
        out += static_cast<char>(std::stoi(std::string(s.substr(i + 1, 2)), nullptr, 16));
        i += 2;
      } else if (s[i] == '+') {
        out += ' ';
      } else {
        out += s[i];
      }
    }
    return out;
  };
  std::map<std::string, std::string> out;
  std::string_view rest(body);
  while (!rest.empty()) {
    size_t amp = rest.find('&');
    std::string_view pair = rest.substr(0, amp);
    rest = amp == std::string_view::npos ? std::string_view() : rest.substr(amp + 1);
    size_t eq = pair.find('=');
    out[decode(pair.substr(0, eq))] = eq == std::string_view::npos ? "" : decode(pair.substr(eq + 1));
  }
  return out;
}

// A reply that tests change while the server runs (handlers run on the
// server's threads).
class Script {
 public:
  explicit Script(Reply reply = {}) : reply_(std::move(reply)) {}
  void set(Reply reply) {
    std::lock_guard lock(mu_);
    reply_ = std::move(reply);
  }
  Reply get() const {
    std::lock_guard lock(mu_);
    return reply_;
  }
  TestHttpServer::Handler handler() {
    return [this](const ReceivedRequest&) { return get(); };
  }

 private:
  mutable std::mutex mu_;
  Reply reply_;
};

// A fake IMDSv2: a session token on PUT, and without that token in the
// header every metadata GET is 401, as on an instance that requires IMDSv2.
class FakeImds {
 public:
  explicit FakeImds(std::string credentials_json, std::string role = "floe-role")
      : role_(std::move(role)), credentials_(std::move(credentials_json)) {}

  void set_credentials(std::string json) {
    std::lock_guard lock(mu_);
    credentials_ = std::move(json);
  }
  void set_credentials_status(int status) {
    std::lock_guard lock(mu_);
    credentials_status_ = status;
  }

  Reply operator()(const ReceivedRequest& r) {
    std::lock_guard lock(mu_);
    if (r.target == "/latest/api/token") {
      if (r.method != "PUT") return reply(405);
      const std::string* ttl = r.header("x-aws-ec2-metadata-token-ttl-seconds");
      if (ttl == nullptr) return reply(400);
      return reply(200, "IMDS-SESSION-TOKEN-" + std::to_string(++tokens_));
    }
    const std::string* token = r.header("x-aws-ec2-metadata-token");
    if (token == nullptr || !token->starts_with("IMDS-SESSION-TOKEN-")) return reply(401);
    if (r.target == "/latest/meta-data/iam/security-credentials/") return reply(200, role_ + "\n");
    if (r.target == "/latest/meta-data/iam/security-credentials/" + role_) {
      return reply(credentials_status_, credentials_);
    }
    return reply(404);
  }

 private:
  std::mutex mu_;
  const std::string role_;
  std::string credentials_;  // GUARDED_BY(mu_)
  int credentials_status_ = 200;
  int tokens_ = 0;
};

// A port nothing listens on (a server's, just closed).
std::string closed_url() {
  TestHttpServer s([](const ReceivedRequest&) { return Reply{}; });
  return s.url();
}

class AwsCredentials : public ::testing::Test {
 protected:
  // A chain over the base environment plus `vars` (an empty value unsets a
  // base variable, as Environment treats empty as unset).
  std::unique_ptr<CredentialsProvider> chain(const std::map<std::string, std::string>& vars,
                                             std::string region = "eu-west-1") {
    std::map<std::string, std::string> all{
        {"HOME", dir_.path()},
        {"AWS_SHARED_CREDENTIALS_FILE", dir_.file("credentials")},
        {"AWS_CONFIG_FILE", dir_.file("config")},
        {"AWS_EC2_METADATA_DISABLED", "true"},
    };
    for (const auto& [k, v] : vars) all[k] = v;
    return default_chain(Environment(all), http_, std::move(region), [this] { return now_.load(); });
  }

  // The CredentialsError `provider.get()` throws; fails the test when none.
  static CredentialsError error_of(CredentialsProvider& provider) {
    try {
      provider.get();
    } catch (const CredentialsError& e) {
      return e;
    }
    ADD_FAILURE() << "get() did not throw";
    return CredentialsError(false, "");
  }

  TempDir dir_;
  http::Client http_;
  std::atomic<int64_t> now_{kExpiry - 60 * kMinute};
};

// --- environment -----------------------------------------------------------

TEST_F(AwsCredentials, EnvironmentKeysAndSessionToken) {
  auto p = chain({{"AWS_ACCESS_KEY_ID", "AKIDENV"},
                  {"AWS_SECRET_ACCESS_KEY", "env-secret"},
                  {"AWS_SESSION_TOKEN", "env-session"}});
  sigv4::Credentials c = p->get();
  EXPECT_EQ(c.access_key_id, "AKIDENV");
  EXPECT_EQ(c.secret_access_key, "env-secret");
  EXPECT_EQ(c.session_token, "env-session");
  EXPECT_EQ(p->describe(), "environment");

  auto no_token = chain({{"AWS_ACCESS_KEY_ID", "AKIDENV"}, {"AWS_SECRET_ACCESS_KEY", "env-secret"}});
  EXPECT_FALSE(no_token->get().session_token.has_value());
}

TEST_F(AwsCredentials, EnvironmentWithOneVariableMissingNamesIt) {
  auto only_id = chain({{"AWS_ACCESS_KEY_ID", "AKIDENV"}});
  CredentialsError e = error_of(*only_id);
  EXPECT_FALSE(e.retriable());
  EXPECT_NE(std::string(e.what()).find("AWS_SECRET_ACCESS_KEY"), std::string::npos) << e.what();

  auto only_secret = chain({{"AWS_SECRET_ACCESS_KEY", "env-secret-value"}});
  e = error_of(*only_secret);
  EXPECT_FALSE(e.retriable());
  EXPECT_NE(std::string(e.what()).find("AWS_ACCESS_KEY_ID is not"), std::string::npos) << e.what();
  EXPECT_EQ(std::string(e.what()).find("env-secret-value"), std::string::npos) << e.what();
}

TEST_F(AwsCredentials, EmptyEnvironmentVariablesCountAsUnset) {
  write_file(dir_.file("credentials"), "[default]\naws_access_key_id=AKIDFILE\naws_secret_access_key=file-secret\n");
  auto p = chain({{"AWS_ACCESS_KEY_ID", ""}, {"AWS_SECRET_ACCESS_KEY", ""}});
  EXPECT_EQ(p->get().access_key_id, "AKIDFILE");
}

TEST_F(AwsCredentials, EnvironmentFromProcessKeepsAwsVariablesAndHome) {
  ::setenv("AWS_FLOE_TEST_VARIABLE", "x", 1);
  ::setenv("FLOE_NOT_AWS_TEST_VARIABLE", "y", 1);
  Environment env = Environment::from_process();
  ::unsetenv("AWS_FLOE_TEST_VARIABLE");
  ::unsetenv("FLOE_NOT_AWS_TEST_VARIABLE");
  EXPECT_EQ(env.get("AWS_FLOE_TEST_VARIABLE"), "x");
  EXPECT_EQ(env.get("FLOE_NOT_AWS_TEST_VARIABLE"), std::nullopt);
  if (const char* home = std::getenv("HOME"); home != nullptr && *home != '\0') {
    EXPECT_EQ(env.get("HOME"), home);
  }
}

// --- profile files: parsing ------------------------------------------------

TEST(AwsProfileFile, CredentialsFileSectionsCommentsAndWhitespace) {
  ProfileFile f = parse_profile_file(
      "# a comment\n"
      "; another\n"
      "stray = before any section\n"
      "[default]\n"
      "  aws_access_key_id=AKIDDEFAULT\n"
      "aws_secret_access_key   =   secret/with+chars=   \n"
      "\n"
      "[ dev ]   ; comment after a header\r\n"
      "AWS_ACCESS_KEY_ID = AKIDDEV # trailing comment\r\n"
      "aws_secret_access_key = dev#secret;still\r\n"
      "aws_session_token =\r\n"
      "[profile staging]\n"
      "aws_access_key_id = AKIDSTAGING\n",
      /*config_file=*/false);
  ASSERT_EQ(f.size(), 3u);
  EXPECT_EQ(f["default"]["aws_access_key_id"], "AKIDDEFAULT");
  EXPECT_EQ(f["default"]["aws_secret_access_key"], "secret/with+chars=");
  EXPECT_EQ(f["dev"]["aws_access_key_id"], "AKIDDEV");
  // '#' and ';' start a comment only after whitespace.
  EXPECT_EQ(f["dev"]["aws_secret_access_key"], "dev#secret;still");
  EXPECT_EQ(f["dev"]["aws_session_token"], "");
  // In the credentials file "profile " is part of the name.
  EXPECT_EQ(f["profile staging"]["aws_access_key_id"], "AKIDSTAGING");
  EXPECT_FALSE(f.contains("stray"));
}

TEST(AwsProfileFile, ConfigFileProfilesAndOtherSections) {
  ProfileFile f = parse_profile_file(
      "[default]\n"
      "region = eu-west-1\n"
      "[profile dev]\n"
      "role_arn = arn:aws:iam::123456789012:role/floe\n"
      "web_identity_token_file = /var/run/token\n"
      "s3 =\n"
      "  max_concurrent_requests = 20\n"
      "  addressing_style = path\n"
      "[profile\tspaced ]\n"
      "aws_access_key_id = AKIDSPACED\n"
      "[sso-session corp]\n"
      "sso_start_url = https://example.awsapps.com/start\n"
      "[bare]\n"
      "aws_access_key_id = AKIDBARE\n"
      "[profilex]\n"
      "aws_access_key_id = AKIDX\n"
      "[broken\n"
      "aws_access_key_id = AKIDBROKEN\n"
      "[profile dev]\n"
      "region = us-east-2\n",
      /*config_file=*/true);
  EXPECT_EQ(f.size(), 3u);
  EXPECT_EQ(f["default"]["region"], "eu-west-1");
  EXPECT_EQ(f["dev"]["role_arn"], "arn:aws:iam::123456789012:role/floe");
  EXPECT_EQ(f["dev"]["web_identity_token_file"], "/var/run/token");
  EXPECT_EQ(f["dev"]["s3"], "max_concurrent_requests = 20\naddressing_style = path");
  EXPECT_EQ(f["dev"]["region"], "us-east-2");  // a repeated section merges
  EXPECT_EQ(f["spaced"]["aws_access_key_id"], "AKIDSPACED");
  EXPECT_FALSE(f.contains("corp"));
  EXPECT_FALSE(f.contains("sso-session corp"));
  EXPECT_FALSE(f.contains("bare"));
  EXPECT_FALSE(f.contains("x"));
  EXPECT_FALSE(f.contains("profilex"));
}

TEST(AwsProfileFile, EmptyAndCommentOnlyFiles) {
  EXPECT_TRUE(parse_profile_file("", false).empty());
  EXPECT_TRUE(parse_profile_file("# nothing\n\n   \n; here\n", true).empty());
  ProfileFile f = parse_profile_file("[default]", false);
  ASSERT_TRUE(f.contains("default"));
  EXPECT_TRUE(f["default"].empty());
}

// --- profile files: the chain ------------------------------------------------

TEST_F(AwsCredentials, DefaultProfileFromCredentialsFile) {
  write_file(dir_.file("credentials"),
             "[default]\naws_access_key_id = AKIDFILE\naws_secret_access_key = file-secret\n"
             "aws_session_token = file-session\n");
  auto p = chain({});
  sigv4::Credentials c = p->get();
  EXPECT_EQ(c.access_key_id, "AKIDFILE");
  EXPECT_EQ(c.secret_access_key, "file-secret");
  EXPECT_EQ(c.session_token, "file-session");
  EXPECT_EQ(p->describe(), "profile default");
}

TEST_F(AwsCredentials, ProfileNamedByAwsProfileFromConfigFile) {
  write_file(dir_.file("config"),
             "[default]\naws_access_key_id = AKIDDEFAULT\naws_secret_access_key = default-secret\n"
             "[profile dev]\naws_access_key_id = AKIDDEV\naws_secret_access_key = dev-secret\n");
  auto p = chain({{"AWS_PROFILE", "dev"}});
  EXPECT_EQ(p->get().access_key_id, "AKIDDEV");
  EXPECT_EQ(p->describe(), "profile dev");
  EXPECT_EQ(chain({})->get().access_key_id, "AKIDDEFAULT");
}

TEST_F(AwsCredentials, CredentialsFileWinsOverConfigForTheSameProfile) {
  write_file(dir_.file("config"),
             "[profile dev]\naws_access_key_id = AKIDCONFIG\naws_secret_access_key = config-secret\n");
  write_file(dir_.file("credentials"), "[dev]\naws_access_key_id = AKIDCREDS\naws_secret_access_key = creds-secret\n");
  sigv4::Credentials c = chain({{"AWS_PROFILE", "dev"}})->get();
  EXPECT_EQ(c.access_key_id, "AKIDCREDS");
  EXPECT_EQ(c.secret_access_key, "creds-secret");
}

TEST_F(AwsCredentials, ProfileNamedByAwsProfileThatDoesNotExistIsAnError) {
  write_file(dir_.file("credentials"), "[default]\naws_access_key_id = AKIDFILE\naws_secret_access_key = s\n");
  // An ECS endpoint is configured too: the chain must not fall through to it.
  Script ecs(reply(200, ecs_json("AKIDECS", "ecs-secret", "ecs-token", kExpiryText)));
  TestHttpServer server(ecs.handler());
  auto p = chain({{"AWS_PROFILE", "nope"}, {"AWS_CONTAINER_CREDENTIALS_FULL_URI", server.url() + "/creds"}});
  CredentialsError e = error_of(*p);
  EXPECT_FALSE(e.retriable());
  EXPECT_NE(std::string(e.what()).find("nope"), std::string::npos) << e.what();
  EXPECT_TRUE(server.requests().empty());
}

TEST_F(AwsCredentials, MissingDefaultProfileFallsThroughToTheNextSource) {
  write_file(dir_.file("config"), "[profile other]\naws_access_key_id = AKIDOTHER\naws_secret_access_key = s\n");
  Script ecs(reply(200, ecs_json("AKIDECS", "ecs-secret", "ecs-token", kExpiryText)));
  TestHttpServer server(ecs.handler());
  auto p = chain({{"AWS_CONTAINER_CREDENTIALS_FULL_URI", server.url() + "/creds"}});
  EXPECT_EQ(p->get().access_key_id, "AKIDECS");
  EXPECT_EQ(p->describe(), "ECS container endpoint");
}

TEST_F(AwsCredentials, ProfileWithoutCredentialsFallsThrough) {
  write_file(dir_.file("config"), "[default]\nregion = eu-west-1\n");
  Script ecs(reply(200, ecs_json("AKIDECS", "ecs-secret", "ecs-token", kExpiryText)));
  TestHttpServer server(ecs.handler());
  auto p = chain({{"AWS_CONTAINER_CREDENTIALS_FULL_URI", server.url() + "/creds"}});
  EXPECT_EQ(p->get().access_key_id, "AKIDECS");
}

TEST_F(AwsCredentials, ProfilePathsExpandTildeFromHome) {
  write_file(dir_.file(".aws/credentials"), "[default]\naws_access_key_id = AKIDHOME\naws_secret_access_key = s\n");
  // The SDKs' default paths, under HOME.
  EXPECT_EQ(chain({{"AWS_SHARED_CREDENTIALS_FILE", ""}, {"AWS_CONFIG_FILE", ""}})->get().access_key_id, "AKIDHOME");
  write_file(dir_.file("elsewhere/creds"), "[default]\naws_access_key_id = AKIDTILDE\naws_secret_access_key = s\n");
  EXPECT_EQ(chain({{"AWS_SHARED_CREDENTIALS_FILE", "~/elsewhere/creds"}})->get().access_key_id, "AKIDTILDE");
}

TEST_F(AwsCredentials, IncompleteProfileKeysAreAnErrorWithoutTheSecret) {
  write_file(dir_.file("credentials"), "[default]\naws_secret_access_key = profile-secret-value\n");
  CredentialsError e = error_of(*chain({}));
  EXPECT_FALSE(e.retriable());
  EXPECT_NE(std::string(e.what()).find("aws_access_key_id"), std::string::npos) << e.what();
  EXPECT_EQ(std::string(e.what()).find("profile-secret-value"), std::string::npos) << e.what();
}

TEST_F(AwsCredentials, ProfileRoleWithSourceProfileIsRefusedNotSkipped) {
  write_file(dir_.file("config"),
             "[profile dev]\nrole_arn = arn:aws:iam::123456789012:role/x\nsource_profile = default\n");
  CredentialsError e = error_of(*chain({{"AWS_PROFILE", "dev"}}));
  EXPECT_FALSE(e.retriable());
  EXPECT_NE(std::string(e.what()).find("source_profile"), std::string::npos) << e.what();
}

TEST_F(AwsCredentials, ProfileFilesAreReadAgainAfterInvalidate) {
  write_file(dir_.file("credentials"), "[default]\naws_access_key_id = AKIDOLD\naws_secret_access_key = old\n");
  auto p = chain({});
  EXPECT_EQ(p->get().access_key_id, "AKIDOLD");
  write_file(dir_.file("credentials"), "[default]\naws_access_key_id = AKIDNEW\naws_secret_access_key = new\n");
  EXPECT_EQ(p->get().access_key_id, "AKIDOLD");  // static keys are not polled
  p->invalidate();
  EXPECT_EQ(p->get().access_key_id, "AKIDNEW");
}

TEST_F(AwsCredentials, ProfileWithRoleAndWebIdentityTokenFileUsesSts) {
  write_file(dir_.file("token"), "profile-jwt");
  write_file(dir_.file("config"),
             "[profile eks]\nrole_arn = arn:aws:iam::123456789012:role/floe\nweb_identity_token_file = " +
                 dir_.file("token") + "\nrole_session_name = from-profile\n");
  Script sts(reply(200, sts_xml("ASIAPROFILE", "sts-secret", "sts-session", kExpiryText)));
  TestHttpServer server(sts.handler());
  auto p = chain({{"AWS_PROFILE", "eks"}, {"AWS_ENDPOINT_URL_STS", server.url()}});
  sigv4::Credentials c = p->get();
  EXPECT_EQ(c.access_key_id, "ASIAPROFILE");
  EXPECT_EQ(c.session_token, "sts-session");
  EXPECT_EQ(p->describe(), "web identity (profile eks)");
  ASSERT_EQ(server.requests().size(), 1u);
  auto form = parse_form(server.requests()[0].body);
  EXPECT_EQ(form["RoleSessionName"], "from-profile");
  EXPECT_EQ(form["WebIdentityToken"], "profile-jwt");
}

// --- web identity ------------------------------------------------------------

TEST_F(AwsCredentials, WebIdentityExchangesTheTokenAtSts) {
  write_file(dir_.file("token"), "eyJhbGciOiJSUzI1NiJ9.payload.signature\n");
  Script sts(reply(200, sts_xml("ASIAWEB", "web-secret", "web-session", kExpiryText)));
  TestHttpServer server(sts.handler());
  auto p = chain({{"AWS_WEB_IDENTITY_TOKEN_FILE", dir_.file("token")},
                  {"AWS_ROLE_ARN", "arn:aws:iam::123456789012:role/floe"},
                  {"AWS_ROLE_SESSION_NAME", "broker 1"},
                  {"AWS_ENDPOINT_URL_STS", server.url()}});
  sigv4::Credentials c = p->get();
  EXPECT_EQ(c.access_key_id, "ASIAWEB");
  EXPECT_EQ(c.secret_access_key, "web-secret");
  EXPECT_EQ(c.session_token, "web-session");
  EXPECT_EQ(p->describe(), "web identity");

  auto requests = server.requests();
  ASSERT_EQ(requests.size(), 1u);
  const ReceivedRequest& r = requests[0];
  EXPECT_EQ(r.method, "POST");
  EXPECT_EQ(r.target, "/");
  ASSERT_NE(r.header("content-type"), nullptr);
  EXPECT_TRUE(r.header("content-type")->starts_with("application/x-www-form-urlencoded"));
  EXPECT_EQ(r.header("authorization"), nullptr);  // unsigned
  auto form = parse_form(r.body);
  EXPECT_EQ(form["Action"], "AssumeRoleWithWebIdentity");
  EXPECT_EQ(form["Version"], "2011-06-15");
  EXPECT_EQ(form["RoleArn"], "arn:aws:iam::123456789012:role/floe");
  EXPECT_EQ(form["RoleSessionName"], "broker 1");
  EXPECT_EQ(form["WebIdentityToken"], "eyJhbGciOiJSUzI1NiJ9.payload.signature");
}

TEST_F(AwsCredentials, WebIdentityDefaultSessionNameAndTokenFileReadOnEveryRefresh) {
  write_file(dir_.file("token"), "jwt-one");
  Script sts(reply(200, sts_xml("ASIAONE", "s1", "t1", kExpiryText)));
  TestHttpServer server(sts.handler());
  auto p = chain({{"AWS_WEB_IDENTITY_TOKEN_FILE", dir_.file("token")},
                  {"AWS_ROLE_ARN", "arn:aws:iam::123456789012:role/floe"},
                  {"AWS_ENDPOINT_URL_STS", server.url()}});
  EXPECT_EQ(p->get().access_key_id, "ASIAONE");

  write_file(dir_.file("token"), "jwt-two");
  sts.set(reply(200, sts_xml("ASIATWO", "s2", "t2", kLaterExpiryText)));
  now_ = kExpiry - 4 * kMinute;
  EXPECT_EQ(p->get().access_key_id, "ASIATWO");

  auto requests = server.requests();
  ASSERT_EQ(requests.size(), 2u);
  EXPECT_EQ(parse_form(requests[0].body)["WebIdentityToken"], "jwt-one");
  EXPECT_EQ(parse_form(requests[1].body)["WebIdentityToken"], "jwt-two");
  EXPECT_TRUE(parse_form(requests[0].body)["RoleSessionName"].starts_with("floe-"));
}

TEST_F(AwsCredentials, WebIdentityNeedsBothVariables) {
  CredentialsError e = error_of(*chain({{"AWS_ROLE_ARN", "arn:aws:iam::123456789012:role/floe"}}));
  EXPECT_FALSE(e.retriable());
  EXPECT_NE(std::string(e.what()).find("AWS_WEB_IDENTITY_TOKEN_FILE"), std::string::npos) << e.what();

  write_file(dir_.file("token"), "jwt");
  e = error_of(*chain({{"AWS_WEB_IDENTITY_TOKEN_FILE", dir_.file("token")}}));
  EXPECT_FALSE(e.retriable());
  EXPECT_NE(std::string(e.what()).find("AWS_ROLE_ARN"), std::string::npos) << e.what();
}

TEST_F(AwsCredentials, WebIdentityStsErrorsAreClassifiedAndKeepTheTokenOut) {
  const std::string jwt = "secret-jwt-value";
  write_file(dir_.file("token"), jwt);
  // A message echoing the token must not carry it into the error.
  Script sts(reply(400, sts_error_xml("InvalidIdentityToken", "bad token " + jwt)));
  TestHttpServer server(sts.handler());
  std::map<std::string, std::string> vars{{"AWS_WEB_IDENTITY_TOKEN_FILE", dir_.file("token")},
                                          {"AWS_ROLE_ARN", "arn:aws:iam::123456789012:role/floe"},
                                          {"AWS_ENDPOINT_URL_STS", server.url()}};
  CredentialsError e = error_of(*chain(vars));
  EXPECT_FALSE(e.retriable());
  EXPECT_NE(std::string(e.what()).find("InvalidIdentityToken"), std::string::npos) << e.what();
  EXPECT_EQ(std::string(e.what()).find(jwt), std::string::npos) << e.what();

  sts.set(reply(400, sts_error_xml("IDPCommunicationError", "try again")));
  EXPECT_TRUE(error_of(*chain(vars)).retriable());
  sts.set(reply(503, "<html>busy</html>"));
  EXPECT_TRUE(error_of(*chain(vars)).retriable());
  sts.set(reply(200, "not xml at all"));
  EXPECT_FALSE(error_of(*chain(vars)).retriable());

  vars["AWS_ENDPOINT_URL_STS"] = closed_url();
  e = error_of(*chain(vars));
  EXPECT_TRUE(e.retriable()) << e.what();
  EXPECT_EQ(std::string(e.what()).find(jwt), std::string::npos) << e.what();
}

// --- ECS container endpoint ----------------------------------------------------

TEST_F(AwsCredentials, ContainerEndpointWithAuthorizationToken) {
  Script ecs(reply(200, ecs_json("ASIAECS", "ecs-secret", "ecs-token", kExpiryText)));
  TestHttpServer server(ecs.handler());
  auto p = chain({{"AWS_CONTAINER_CREDENTIALS_FULL_URI", server.url() + "/v2/credentials/abc"},
                  {"AWS_CONTAINER_AUTHORIZATION_TOKEN", "ecs-auth-token"}});
  sigv4::Credentials c = p->get();
  EXPECT_EQ(c.access_key_id, "ASIAECS");
  EXPECT_EQ(c.secret_access_key, "ecs-secret");
  EXPECT_EQ(c.session_token, "ecs-token");
  auto requests = server.requests();
  ASSERT_EQ(requests.size(), 1u);
  EXPECT_EQ(requests[0].method, "GET");
  EXPECT_EQ(requests[0].target, "/v2/credentials/abc");
  ASSERT_NE(requests[0].header("authorization"), nullptr);
  EXPECT_EQ(*requests[0].header("authorization"), "ecs-auth-token");
}

TEST_F(AwsCredentials, ContainerAuthorizationTokenFileIsReadEachTimeAndWins) {
  write_file(dir_.file("ecs-token"), "from-file-1\n");
  Script ecs(reply(200, ecs_json("ASIAECS", "ecs-secret", "ecs-token", kExpiryText)));
  TestHttpServer server(ecs.handler());
  auto p = chain({{"AWS_CONTAINER_CREDENTIALS_FULL_URI", server.url() + "/creds"},
                  {"AWS_CONTAINER_AUTHORIZATION_TOKEN", "from-variable"},
                  {"AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE", dir_.file("ecs-token")}});
  p->get();
  write_file(dir_.file("ecs-token"), "from-file-2");
  p->invalidate();
  p->get();
  auto requests = server.requests();
  ASSERT_EQ(requests.size(), 2u);
  EXPECT_EQ(*requests[0].header("authorization"), "from-file-1");
  EXPECT_EQ(*requests[1].header("authorization"), "from-file-2");
}

TEST_F(AwsCredentials, ContainerFullUriMustBeHttpsOrLoopback) {
  for (const char* uri : {"http://example.com/creds", "http://10.0.0.1:8080/creds", "ftp://127.0.0.1/creds"}) {
    CredentialsError e = error_of(*chain({{"AWS_CONTAINER_CREDENTIALS_FULL_URI", uri}}));
    EXPECT_FALSE(e.retriable()) << uri;
    EXPECT_NE(std::string(e.what()).find("AWS_CONTAINER_CREDENTIALS_FULL_URI"), std::string::npos) << e.what();
  }
}

TEST_F(AwsCredentials, ContainerEndpointFailures) {
  Script ecs(reply(500, "oops"));
  TestHttpServer server(ecs.handler());
  std::map<std::string, std::string> vars{{"AWS_CONTAINER_CREDENTIALS_FULL_URI", server.url() + "/creds"},
                                          {"AWS_CONTAINER_AUTHORIZATION_TOKEN", "ecs-auth-token-value"}};
  CredentialsError e = error_of(*chain(vars));
  EXPECT_TRUE(e.retriable());
  EXPECT_EQ(std::string(e.what()).find("ecs-auth-token-value"), std::string::npos) << e.what();

  ecs.set(reply(403));
  EXPECT_FALSE(error_of(*chain(vars)).retriable());
  ecs.set(reply(200, "{not json"));
  EXPECT_FALSE(error_of(*chain(vars)).retriable());
  ecs.set(reply(200, R"({"AccessKeyId":"ASIA"})"));
  EXPECT_FALSE(error_of(*chain(vars)).retriable());
  ecs.set(dropped());
  EXPECT_TRUE(error_of(*chain(vars)).retriable());

  vars["AWS_CONTAINER_CREDENTIALS_FULL_URI"] = closed_url() + "/creds";
  EXPECT_TRUE(error_of(*chain(vars)).retriable());
}

// --- EC2 instance metadata -------------------------------------------------------

TEST_F(AwsCredentials, InstanceMetadataV2TokenThenRoleThenCredentials) {
  FakeImds imds(imds_json("ASIAIMDS", "imds-secret", "imds-token", kExpiryText));
  TestHttpServer server(std::ref(imds));
  auto p = chain({{"AWS_EC2_METADATA_DISABLED", ""}, {"AWS_EC2_METADATA_SERVICE_ENDPOINT", server.url() + "/"}});
  sigv4::Credentials c = p->get();
  EXPECT_EQ(c.access_key_id, "ASIAIMDS");
  EXPECT_EQ(c.secret_access_key, "imds-secret");
  EXPECT_EQ(c.session_token, "imds-token");
  EXPECT_EQ(p->describe(), "EC2 instance metadata");

  auto requests = server.requests();
  ASSERT_EQ(requests.size(), 3u);
  EXPECT_EQ(requests[0].method, "PUT");
  EXPECT_EQ(requests[0].target, "/latest/api/token");
  ASSERT_NE(requests[0].header("x-aws-ec2-metadata-token-ttl-seconds"), nullptr);
  EXPECT_EQ(*requests[0].header("x-aws-ec2-metadata-token-ttl-seconds"), "21600");
  EXPECT_EQ(requests[1].method, "GET");
  EXPECT_EQ(requests[1].target, "/latest/meta-data/iam/security-credentials/");
  EXPECT_EQ(requests[2].target, "/latest/meta-data/iam/security-credentials/floe-role");
  for (size_t i = 1; i < 3; ++i) {
    ASSERT_NE(requests[i].header("x-aws-ec2-metadata-token"), nullptr);
    EXPECT_EQ(*requests[i].header("x-aws-ec2-metadata-token"), "IMDS-SESSION-TOKEN-1");
  }
}

TEST_F(AwsCredentials, InstanceMetadataHasNoV1Fallback) {
  // An IMDS that refuses session tokens but would answer v1 GETs: the chain
  // must not ask without a token.
  TestHttpServer server([](const ReceivedRequest& r) {
    if (r.method == "PUT") return reply(403);
    if (r.target == "/latest/meta-data/iam/security-credentials/") return reply(200, "role");
    return reply(200, imds_json("ASIAV1", "v1-secret", "v1-token", kExpiryText));
  });
  auto p = chain({{"AWS_EC2_METADATA_DISABLED", ""}, {"AWS_EC2_METADATA_SERVICE_ENDPOINT", server.url()}});
  CredentialsError e = error_of(*p);
  EXPECT_FALSE(e.retriable());
  EXPECT_NE(std::string(e.what()).find("no AWS credentials found"), std::string::npos) << e.what();
  ASSERT_EQ(server.requests().size(), 1u);
  EXPECT_EQ(server.requests()[0].method, "PUT");
}

TEST_F(AwsCredentials, InstanceMetadataWithoutRoleMeansNoCredentials) {
  TestHttpServer server([](const ReceivedRequest& r) {
    if (r.method == "PUT") return reply(200, "IMDS-SESSION-TOKEN-1");
    return reply(404);
  });
  CredentialsError e =
      error_of(*chain({{"AWS_EC2_METADATA_DISABLED", ""}, {"AWS_EC2_METADATA_SERVICE_ENDPOINT", server.url()}}));
  EXPECT_FALSE(e.retriable());
  EXPECT_NE(std::string(e.what()).find("no IAM role"), std::string::npos) << e.what();
}

TEST_F(AwsCredentials, InstanceMetadataDisabledIsNotAsked) {
  FakeImds imds(imds_json("ASIAIMDS", "imds-secret", "imds-token", kExpiryText));
  TestHttpServer server(std::ref(imds));
  CredentialsError e =
      error_of(*chain({{"AWS_EC2_METADATA_DISABLED", "TRUE"}, {"AWS_EC2_METADATA_SERVICE_ENDPOINT", server.url()}}));
  EXPECT_FALSE(e.retriable());
  EXPECT_NE(std::string(e.what()).find("disabled by AWS_EC2_METADATA_DISABLED"), std::string::npos) << e.what();
  EXPECT_TRUE(server.requests().empty());
}

TEST_F(AwsCredentials, NoSourceAndUnreachableMetadataListsWhatWasTried) {
  CredentialsError e =
      error_of(*chain({{"AWS_EC2_METADATA_DISABLED", ""}, {"AWS_EC2_METADATA_SERVICE_ENDPOINT", closed_url()}}));
  EXPECT_FALSE(e.retriable());
  std::string what = e.what();
  EXPECT_TRUE(what.starts_with("no AWS credentials found: set AWS_ACCESS_KEY_ID")) << what;
  for (const char* tried :
       {"environment", "profile default", "web identity", "ECS container endpoint", "EC2 instance metadata"}) {
    EXPECT_NE(what.find(tried), std::string::npos) << tried << " in " << what;
  }
}

TEST_F(AwsCredentials, InstanceMetadataFailuresAfterItWasChosenAreRetriable) {
  FakeImds imds(imds_json("ASIAIMDS", "imds-secret", "imds-token", kExpiryText));
  TestHttpServer server(std::ref(imds));
  auto p = chain({{"AWS_EC2_METADATA_DISABLED", ""}, {"AWS_EC2_METADATA_SERVICE_ENDPOINT", server.url()}});
  p->get();
  imds.set_credentials_status(500);
  p->invalidate();
  CredentialsError e = error_of(*p);
  EXPECT_TRUE(e.retriable()) << e.what();
  EXPECT_EQ(std::string(e.what()).find("IMDS-SESSION-TOKEN"), std::string::npos) << e.what();
}

// --- the chain's order -------------------------------------------------------------

TEST_F(AwsCredentials, ChainOrderFirstConfiguredSourceWins) {
  write_file(dir_.file("credentials"), "[default]\naws_access_key_id = AKIDPROFILE\naws_secret_access_key = s\n");
  write_file(dir_.file("token"), "jwt");
  Script sts(reply(200, sts_xml("ASIAWEB", "s", "t", kExpiryText)));
  TestHttpServer sts_server(sts.handler());
  Script ecs(reply(200, ecs_json("ASIAECS", "s", "t", kExpiryText)));
  TestHttpServer ecs_server(ecs.handler());
  FakeImds imds(imds_json("ASIAIMDS", "s", "t", kExpiryText));
  TestHttpServer imds_server(std::ref(imds));

  std::map<std::string, std::string> vars{
      {"AWS_ACCESS_KEY_ID", "AKIDENV"},
      {"AWS_SECRET_ACCESS_KEY", "s"},
      {"AWS_WEB_IDENTITY_TOKEN_FILE", dir_.file("token")},
      {"AWS_ROLE_ARN", "arn:aws:iam::123456789012:role/floe"},
      {"AWS_ENDPOINT_URL_STS", sts_server.url()},
      {"AWS_CONTAINER_CREDENTIALS_FULL_URI", ecs_server.url() + "/creds"},
      {"AWS_EC2_METADATA_DISABLED", ""},
      {"AWS_EC2_METADATA_SERVICE_ENDPOINT", imds_server.url()},
  };
  EXPECT_EQ(chain(vars)->get().access_key_id, "AKIDENV");
  vars["AWS_ACCESS_KEY_ID"] = vars["AWS_SECRET_ACCESS_KEY"] = "";
  EXPECT_EQ(chain(vars)->get().access_key_id, "AKIDPROFILE");
  vars["AWS_SHARED_CREDENTIALS_FILE"] = dir_.file("absent");
  EXPECT_EQ(chain(vars)->get().access_key_id, "ASIAWEB");
  vars["AWS_WEB_IDENTITY_TOKEN_FILE"] = vars["AWS_ROLE_ARN"] = "";
  EXPECT_EQ(chain(vars)->get().access_key_id, "ASIAECS");
  vars["AWS_CONTAINER_CREDENTIALS_FULL_URI"] = "";
  EXPECT_EQ(chain(vars)->get().access_key_id, "ASIAIMDS");
  EXPECT_EQ(sts_server.requests().size(), 1u);
  EXPECT_EQ(ecs_server.requests().size(), 1u);
  EXPECT_EQ(imds_server.requests().size(), 3u);
}

// --- caching and refresh -------------------------------------------------------------

TEST_F(AwsCredentials, TemporaryCredentialsRefreshFiveMinutesBeforeExpiry) {
  Script ecs(reply(200, ecs_json("ASIAFIRST", "s1", "t1", kExpiryText)));
  TestHttpServer server(ecs.handler());
  auto p = chain({{"AWS_CONTAINER_CREDENTIALS_FULL_URI", server.url() + "/creds"}});
  now_ = kExpiry - 10 * kMinute;
  EXPECT_EQ(p->get().access_key_id, "ASIAFIRST");
  ecs.set(reply(200, ecs_json("ASIASECOND", "s2", "t2", kLaterExpiryText)));
  now_ = kExpiry - 5 * kMinute - 1;
  EXPECT_EQ(p->get().access_key_id, "ASIAFIRST");
  EXPECT_EQ(server.requests().size(), 1u);
  now_ = kExpiry - 5 * kMinute;
  EXPECT_EQ(p->get().access_key_id, "ASIASECOND");
  EXPECT_EQ(server.requests().size(), 2u);
  now_ = kExpiry + 10 * kMinute;
  EXPECT_EQ(p->get().access_key_id, "ASIASECOND");
  EXPECT_EQ(server.requests().size(), 2u);
}

TEST_F(AwsCredentials, FailedRefreshKeepsCachedCredentialsUntilTheyExpire) {
  std::vector<std::string> logged;
  std::mutex log_mu;
  log::Sink previous = log::set_sink([&](std::string_view line) {
    std::lock_guard lock(log_mu);
    logged.emplace_back(line);
  });

  Script ecs(reply(200, ecs_json("ASIACACHED", "cached-secret", "cached-token", kExpiryText)));
  TestHttpServer server(ecs.handler());
  auto p = chain({{"AWS_CONTAINER_CREDENTIALS_FULL_URI", server.url() + "/creds"},
                  {"AWS_CONTAINER_AUTHORIZATION_TOKEN", "ecs-auth-token-value"}});
  now_ = kExpiry - 10 * kMinute;
  EXPECT_EQ(p->get().access_key_id, "ASIACACHED");

  ecs.set(reply(500));
  now_ = kExpiry - 4 * kMinute;
  EXPECT_EQ(p->get().access_key_id, "ASIACACHED");
  EXPECT_EQ(server.requests().size(), 2u);
  // The next attempt waits a little instead of costing every call a request.
  EXPECT_EQ(p->get().access_key_id, "ASIACACHED");
  EXPECT_EQ(server.requests().size(), 2u);
  now_ = kExpiry - 3 * kMinute;
  EXPECT_EQ(p->get().access_key_id, "ASIACACHED");
  EXPECT_EQ(server.requests().size(), 3u);

  // Expired: no more fallback.
  now_ = kExpiry;
  CredentialsError e = error_of(*p);
  EXPECT_TRUE(e.retriable());
  EXPECT_EQ(server.requests().size(), 4u);

  // And the chain recovers when the endpoint does.
  ecs.set(reply(200, ecs_json("ASIANEW", "s", "t", kLaterExpiryText)));
  EXPECT_EQ(p->get().access_key_id, "ASIANEW");

  log::set_sink(previous);
  std::lock_guard lock(log_mu);
  bool warned = false;
  for (const auto& line : logged) {
    if (line.find("WARN") != std::string::npos && line.find("cached") != std::string::npos) warned = true;
    for (const char* secret : {"cached-secret", "cached-token", "ecs-auth-token-value"}) {
      EXPECT_EQ(line.find(secret), std::string::npos) << line;
    }
  }
  EXPECT_TRUE(warned);
}

TEST_F(AwsCredentials, InvalidatedCredentialsAreNotUsedAsAFallback) {
  Script ecs(reply(200, ecs_json("ASIACACHED", "s", "t", kExpiryText)));
  TestHttpServer server(ecs.handler());
  auto p = chain({{"AWS_CONTAINER_CREDENTIALS_FULL_URI", server.url() + "/creds"}});
  p->get();
  ecs.set(reply(503));
  p->invalidate();
  EXPECT_TRUE(error_of(*p).retriable());
  EXPECT_EQ(server.requests().size(), 2u);
}

TEST_F(AwsCredentials, ConcurrentCallersTriggerOneFetch) {
  Script ecs(delayed(reply(200, ecs_json("ASIAONCE", "s", "t", kExpiryText)), 200ms));
  TestHttpServer server(ecs.handler());
  auto p = chain({{"AWS_CONTAINER_CREDENTIALS_FULL_URI", server.url() + "/creds"}});
  std::vector<std::thread> threads;
  std::atomic<int> ok{0};
  for (int i = 0; i < 8; ++i) {
    threads.emplace_back([&] {
      if (p->get().access_key_id == "ASIAONCE") ++ok;
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(ok.load(), 8);
  EXPECT_EQ(server.requests().size(), 1u);
}

TEST_F(AwsCredentials, DescribeNamesTheSourceNeverASecret) {
  auto p = chain({{"AWS_ACCESS_KEY_ID", "AKIDDESCRIBE"},
                  {"AWS_SECRET_ACCESS_KEY", "describe-secret"},
                  {"AWS_SESSION_TOKEN", "describe-token"}});
  std::string before = p->describe();
  p->get();
  for (const std::string& d : {before, p->describe()}) {
    EXPECT_EQ(d.find("describe-secret"), std::string::npos);
    EXPECT_EQ(d.find("describe-token"), std::string::npos);
  }
}

TEST_F(AwsCredentials, StaticCredentials) {
  auto p = static_credentials({"AKIDSTATIC", "static-secret", std::nullopt});
  EXPECT_EQ(p->get().access_key_id, "AKIDSTATIC");
  p->invalidate();
  EXPECT_EQ(p->get().secret_access_key, "static-secret");
  EXPECT_EQ(p->describe().find("static-secret"), std::string::npos);
}

// --- timestamps ----------------------------------------------------------------------

TEST(AwsCredentialsTime, ParsesAwsExpirations) {
  EXPECT_EQ(parse_iso8601_ms("1970-01-01T00:00:00Z"), 0);
  EXPECT_EQ(parse_iso8601_ms("2026-11-26T19:00:00Z"), kExpiry);
  EXPECT_EQ(parse_iso8601_ms("2026-11-26T19:00:00.250Z"), kExpiry + 250);
  EXPECT_EQ(parse_iso8601_ms("2026-11-26T20:00:00+01:00"), kExpiry);
  EXPECT_EQ(parse_iso8601_ms("2026-11-26T18:30:00-0030"), kExpiry);
  EXPECT_EQ(parse_iso8601_ms("2000-02-29T12:34:56Z"), 951827696000);
  for (const char* bad : {"", "2026-11-26", "2026-11-26T19:00:00", "2026-13-01T00:00:00Z", "2026-11-26T19:00:00Zx",
                          "yesterday", "2026-11-26T19:00:00."}) {
    EXPECT_EQ(parse_iso8601_ms(bad), std::nullopt) << bad;
  }
}

// --- the test server itself ---------------------------------------------------------

TEST(TestHttpServer, KeepAliveBodiesAndHeaders) {
  TestHttpServer server([](const ReceivedRequest& r) {
    Reply out = reply(201, "got " + r.body);
    out.headers = {{"X-Echo", r.method}};
    return out;
  });
  http::Client client;
  const std::string body = "hello";
  for (int i = 0; i < 3; ++i) {
    http::Request req{"POST",
                      server.url() + "/p?q=" + std::to_string(i),
                      {{"X-Test", "v"}},
                      std::span(reinterpret_cast<const uint8_t*>(body.data()), body.size()),
                      std::nullopt};
    http::Response resp = client.send(req);
    EXPECT_EQ(resp.status, 201);
    EXPECT_EQ(resp.body_text(), "got hello");
    ASSERT_NE(resp.header("x-echo"), nullptr);
    EXPECT_EQ(*resp.header("x-echo"), "POST");
  }
  EXPECT_EQ(server.connections_accepted(), 1u);
  auto requests = server.requests();
  ASSERT_EQ(requests.size(), 3u);
  EXPECT_EQ(requests[2].target, "/p?q=2");
  EXPECT_EQ(requests[2].body, "hello");
  ASSERT_NE(requests[2].header("x-test"), nullptr);
  EXPECT_EQ(*requests[2].header("x-test"), "v");
}

TEST(TestHttpServer, HeadCarriesTheHandlersLengthAndNoBody) {
  TestHttpServer server([](const ReceivedRequest&) {
    Reply out = reply(200, "ignored");
    out.headers = {{"Content-Length", "1234"}};
    return out;
  });
  http::Client client;
  http::Response resp = client.send({"HEAD", server.url() + "/obj", {}, {}, std::nullopt});
  EXPECT_EQ(resp.status, 200);
  ASSERT_NE(resp.header("content-length"), nullptr);
  EXPECT_EQ(*resp.header("content-length"), "1234");
  EXPECT_TRUE(resp.body.empty());
}

TEST(TestHttpServer, MisbehavingRepliesFailTheClient) {
  Script script;
  TestHttpServer server(script.handler());
  http::Client client;
  http::Timeouts quick{1000ms, 200ms, 2000ms};

  script.set(delayed(reply(200, "slow"), 30s));
  try {
    client.send({"GET", server.url() + "/slow", {}, {}, quick});
    ADD_FAILURE() << "no timeout";
  } catch (const http::TransportError& e) {
    EXPECT_EQ(e.kind(), http::TransportErrorKind::timeout) << e.what();
  }

  script.set(dropped());
  try {
    client.send({"GET", server.url() + "/drop", {}, {}, quick});
    ADD_FAILURE() << "no error";
  } catch (const http::TransportError& e) {
    EXPECT_TRUE(e.retriable()) << e.what();
  }

  Reply partial = reply(200, std::string(1000, 'x'));
  partial.partial_body = true;
  script.set(partial);
  try {
    client.send({"GET", server.url() + "/partial", {}, {}, quick});
    ADD_FAILURE() << "no error";
  } catch (const http::TransportError& e) {
    EXPECT_EQ(e.kind(), http::TransportErrorKind::reset) << e.what();
  }
  // The destructor returns although a reply is still sleeping in `delay`.
}

TEST(TestHttpServer, AnswersExpectContinueBeforeTheBody) {
  TestHttpServer server([](const ReceivedRequest& r) { return reply(200, std::to_string(r.body.size())); });
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  ASSERT_GE(fd, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(server.port());
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  auto send_text = [&](const std::string& s) { ASSERT_EQ(::send(fd, s.data(), s.size(), 0), ssize_t(s.size())); };
  auto read_until = [&](const std::string& end) {
    std::string got;
    char c;
    while (got.find(end) == std::string::npos && ::recv(fd, &c, 1, 0) == 1) got += c;
    return got;
  };
  send_text("PUT /big HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n");
  EXPECT_EQ(read_until("\r\n\r\n"), "HTTP/1.1 100 Continue\r\n\r\n");
  send_text("12345");
  std::string reply = read_until("\r\n\r\n");
  EXPECT_TRUE(reply.starts_with("HTTP/1.1 200 OK\r\n")) << reply;
  EXPECT_NE(reply.find("Content-Length: 1\r\n"), std::string::npos) << reply;
  EXPECT_EQ(read_until("5"), "5");
  ::close(fd);
  ASSERT_EQ(server.requests().size(), 1u);
  EXPECT_EQ(server.requests()[0].body, "12345");
}

}  // namespace
}  // namespace floe::objstore::aws
