#include "objstore/s3_options.h"

#include <arpa/inet.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <vector>

#include "common/text.h"
#include "objstore/object_store.h"

namespace floe::objstore {

namespace {

[[noreturn]] void bad(const std::string& what) { throw ObjectStoreError(ErrorKind::other, "s3:// object store: " + what); }

std::optional<std::string> percent_decode(std::string_view s) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '+') {
      out += ' ';
    } else if (s[i] == '%') {
      if (i + 2 >= s.size() || !std::isxdigit(static_cast<unsigned char>(s[i + 1])) ||
          !std::isxdigit(static_cast<unsigned char>(s[i + 2]))) {
        return std::nullopt;
      }
      out += static_cast<char>(std::stoi(std::string(s.substr(i + 1, 2)), nullptr, 16));
      i += 2;
    } else {
      out += s[i];
    }
  }
  return out;
}

std::optional<bool> parse_bool(std::string_view v) {
  std::string l = ascii_lower(v);
  if (l == "true") return true;
  if (l == "false") return false;
  return std::nullopt;
}

// A bucket name that can be the first label of a host name (virtual-hosted
// addressing): S3's rules for new buckets, no dots (they break TLS wildcard
// certificates).
bool dns_compatible(std::string_view bucket) {
  if (bucket.size() < 3 || bucket.size() > 63) return false;
  if (!std::isalnum(static_cast<unsigned char>(bucket.front())) ||
      !std::isalnum(static_cast<unsigned char>(bucket.back()))) {
    return false;
  }
  return std::all_of(bucket.begin(), bucket.end(), [](unsigned char c) {
    return std::islower(c) || std::isdigit(c) || c == '-';
  });
}

// The host of scheme://host[:port] ("[::1]" keeps its brackets).
std::string endpoint_host(std::string_view endpoint) {
  std::string authority = http::url_authority(endpoint);
  if (!authority.empty() && authority.front() == '[') return authority.substr(0, authority.find(']') + 1);
  return authority.substr(0, authority.find(':'));
}

bool ip_or_localhost(const std::string& host) {
  if (host == "localhost" || host.ends_with(".localhost")) return true;
  if (!host.empty() && host.front() == '[') return true;
  unsigned char buffer[16];
  return inet_pton(AF_INET, host.c_str(), buffer) == 1;
}

struct Setting {
  std::string_view name;
  // Checks the value and stores it; returns the problem or "".
  std::string (*apply)(S3Options& o, std::string_view v);
};

std::string set_ms(std::chrono::milliseconds& out, std::string_view v, uint64_t min) {
  auto n = parse_u64(v);
  if (!n || *n < min || *n > 3'600'000) {
    return "must be a whole number of milliseconds from " + std::to_string(min) + " to 3600000";
  }
  out = std::chrono::milliseconds(*n);
  return "";
}

std::string set_endpoint(S3Options& o, std::string_view v) {
  std::string e(v);
  while (e.ends_with('/')) e.pop_back();
  std::string scheme = ascii_lower(e.substr(0, e.find("://")));
  if (e.find("://") == std::string::npos || (scheme != "http" && scheme != "https")) {
    return "must be http://HOST[:PORT] or https://HOST[:PORT]";
  }
  std::string rest = e.substr(e.find("://") + 3);
  if (rest.empty() || rest.find_first_of("/?#@ ") != std::string::npos) {
    return "must be http://HOST[:PORT] or https://HOST[:PORT], without a path, query or user";
  }
  o.endpoint = scheme + "://" + rest;
  return "";
}

const std::vector<Setting>& settings_table() {
  static const std::vector<Setting> table = {
      {"endpoint", set_endpoint},
      {"region",
       [](S3Options& o, std::string_view v) -> std::string {
         bool ok = !v.empty() && v.size() <= 64 && std::all_of(v.begin(), v.end(), [](unsigned char c) {
           return std::isalnum(c) || c == '-';
         });
         if (!ok) return "must be a region name such as us-east-1";
         o.region = std::string(v);
         return "";
       }},
      {"path.style",
       [](S3Options& o, std::string_view v) -> std::string {
         // "auto" is resolved once the endpoint and bucket are known.
         if (ascii_lower(v) == "auto") return "";
         auto b = parse_bool(v);
         if (!b) return "must be true, false or auto";
         o.path_style = *b;
         return "";
       }},
      {"verify.tls",
       [](S3Options& o, std::string_view v) -> std::string {
         auto b = parse_bool(v);
         if (!b) return "must be true or false";
         o.verify_tls = *b;
         return "";
       }},
      {"max.connections",
       [](S3Options& o, std::string_view v) -> std::string {
         auto n = parse_u64(v);
         if (!n || *n < 1 || *n > 1024) return "must be a whole number from 1 to 1024";
         o.max_connections = *n;
         return "";
       }},
      {"connect.timeout.ms", [](S3Options& o, std::string_view v) { return set_ms(o.timeouts.connect, v, 1); }},
      {"first.byte.timeout.ms", [](S3Options& o, std::string_view v) { return set_ms(o.timeouts.first_byte, v, 1); }},
      {"request.timeout.ms", [](S3Options& o, std::string_view v) { return set_ms(o.timeouts.total, v, 1); }},
      {"max.attempts",
       [](S3Options& o, std::string_view v) -> std::string {
         auto n = parse_u64(v);
         if (!n || *n < 1 || *n > 100) return "must be a whole number from 1 to 100";
         o.max_attempts = static_cast<int>(*n);
         return "";
       }},
      {"retry.backoff.ms", [](S3Options& o, std::string_view v) { return set_ms(o.backoff, v, 0); }},
      {"retry.backoff.max.ms", [](S3Options& o, std::string_view v) { return set_ms(o.backoff_max, v, 0); }},
      {"multipart.threshold.bytes",
       [](S3Options& o, std::string_view v) -> std::string {
         auto n = parse_u64(v);
         if (!n || *n < 1) return "must be a positive number of bytes";
         o.multipart_threshold = *n;
         return "";
       }},
      {"multipart.part.bytes",
       [](S3Options& o, std::string_view v) -> std::string {
         // S3 refuses parts under 5 MiB (but the last) and over 5 GiB.
         auto n = parse_u64(v);
         if (!n || *n < (5u << 20) || *n > (5ull << 30)) return "must be from 5242880 (5 MiB) to 5368709120 (5 GiB)";
         o.part_size = *n;
         return "";
       }},
      {"checksum",
       [](S3Options& o, std::string_view v) -> std::string {
         std::string l = ascii_lower(v);
         if (l == "crc32c") {
           o.checksum = S3Options::Checksum::crc32c;
         } else if (l == "md5") {
           o.checksum = S3Options::Checksum::md5;
         } else if (l == "none") {
           o.checksum = S3Options::Checksum::none;
         } else {
           return "must be crc32c, md5 or none";
         }
         return "";
       }},
      {"conditional.create",
       [](S3Options& o, std::string_view v) -> std::string {
         auto b = parse_bool(v);
         if (!b) return "must be true or false";
         o.conditional_create = *b;
         return "";
       }},
      {"max.response.bytes",
       [](S3Options& o, std::string_view v) -> std::string {
         auto n = parse_u64(v);
         if (!n || *n < 4096) return "must be at least 4096 bytes";
         o.max_response_bytes = *n;
         return "";
       }},
  };
  return table;
}

const Setting* find_setting(std::string_view name) {
  for (const auto& s : settings_table()) {
    if (s.name == name) return &s;
  }
  return nullptr;
}

}  // namespace

const std::vector<std::string_view>& s3_setting_names() {
  static const std::vector<std::string_view> names = [] {
    std::vector<std::string_view> out;
    for (const auto& s : settings_table()) out.push_back(s.name);
    return out;
  }();
  return names;
}

std::string s3_setting_problem(std::string_view name, std::string_view value) {
  const Setting* s = find_setting(name);
  if (s == nullptr) return "is not an s3:// setting";
  S3Options scratch;
  return s->apply(scratch, value);
}

S3Options parse_s3_options(std::string_view url, const std::map<std::string, std::string>& settings,
                           const aws::Environment& env) {
  if (!ascii_lower(url.substr(0, 5)).starts_with("s3://")) bad("the URL must start with s3://");
  std::string_view rest = url.substr(5);
  std::string_view query;
  if (size_t q = rest.find('?'); q != std::string_view::npos) {
    query = rest.substr(q + 1);
    rest = rest.substr(0, q);
  }
  S3Options o;
  size_t slash = rest.find('/');
  o.bucket = std::string(rest.substr(0, slash));
  if (o.bucket.empty()) bad("the URL names no bucket (s3://BUCKET/PREFIX)");
  bool bucket_ok = o.bucket.size() >= 3 && o.bucket.size() <= 63 &&
                   std::all_of(o.bucket.begin(), o.bucket.end(), [](unsigned char c) {
                     return std::islower(c) || std::isdigit(c) || c == '-' || c == '.' || c == '_';
                   });
  if (!bucket_ok) bad("the bucket name must be 3 to 63 lower-case letters, digits, '-', '.' or '_'");
  if (slash != std::string_view::npos) {
    std::string prefix(rest.substr(slash + 1));
    while (prefix.ends_with('/')) prefix.pop_back();
    if (!prefix.empty()) {
      if (prefix.find("//") != std::string::npos) bad("the prefix has an empty segment");
      o.prefix = prefix + "/";
    }
  }

  // Explicit settings: the URL's, then the keys' for names the URL leaves out.
  std::map<std::string, std::string> chosen;
  while (!query.empty()) {
    size_t amp = query.find('&');
    std::string_view pair = query.substr(0, amp);
    query = amp == std::string_view::npos ? std::string_view() : query.substr(amp + 1);
    if (pair.empty()) continue;
    size_t eq = pair.find('=');
    auto name = percent_decode(pair.substr(0, eq));
    auto value = percent_decode(eq == std::string_view::npos ? std::string_view() : pair.substr(eq + 1));
    if (!name || !value) bad("the URL's query is not percent-encoded correctly");
    if (find_setting(*name) == nullptr) {
      bad("unknown setting '" + name->substr(0, 64) + "' in the URL (known: endpoint, region, path.style, ...; "
          "see the README)");
    }
    chosen[*name] = *value;
  }
  for (const auto& [name, value] : settings) {
    if (find_setting(name) == nullptr) bad("unknown setting object.store.s3." + name);
    chosen.try_emplace(name, value);
  }
  // Then the environment, as AWS SDKs read it.
  if (!chosen.contains("endpoint")) {
    if (auto e = env.get("AWS_ENDPOINT_URL_S3")) {
      chosen["endpoint"] = *e;
    } else if (auto e2 = env.get("AWS_ENDPOINT_URL")) {
      chosen["endpoint"] = *e2;
    }
  }
  if (!chosen.contains("region")) {
    if (auto r = env.get("AWS_REGION")) {
      chosen["region"] = *r;
    } else if (auto r2 = env.get("AWS_DEFAULT_REGION")) {
      chosen["region"] = *r2;
    }
  }
  for (const auto& [name, value] : chosen) {
    std::string problem = find_setting(name)->apply(o, value);
    if (!problem.empty()) bad("setting " + name + " " + problem);
  }
  if (o.region.empty()) o.region = "us-east-1";
  if (o.endpoint.empty()) o.endpoint = "https://s3." + o.region + ".amazonaws.com";
  if (auto ps = chosen.find("path.style"); ps == chosen.end() || ascii_lower(ps->second) == "auto") {
    o.path_style = ip_or_localhost(endpoint_host(o.endpoint)) || !dns_compatible(o.bucket);
  }
  if (!o.path_style && !dns_compatible(o.bucket)) {
    bad("bucket '" + o.bucket + "' cannot be addressed virtual-hosted (dots or underscores); use path.style=true");
  }
  if (o.backoff_max < o.backoff) bad("retry.backoff.max.ms must not be below retry.backoff.ms");
  return o;
}

}  // namespace floe::objstore
