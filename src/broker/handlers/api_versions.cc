#include "broker/handlers/api_versions.h"

#include "broker/handlers/handlers.h"
#include "protocol/generated/api_table.h"
#include "protocol/generated/error_codes.h"

namespace floe::broker {

using protocol::ErrorCode;

namespace {

// KIP-511: client software names and versions are letters, digits, '-' and
// '.', starting and ending with a letter or digit.
bool valid_software_text(const std::string& s) {
  auto alnum = [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
  };
  if (s.empty() || !alnum(s.front()) || !alnum(s.back())) return false;
  for (char c : s) {
    if (!alnum(c) && c != '-' && c != '.') return false;
  }
  return true;
}

}  // namespace

std::vector<ApiVersionsHandler::Response::ApiVersion> ApiVersionsHandler::supported_apis() {
  std::vector<Response::ApiVersion> apis;
  Handlers::for_each([&](auto h) {
    using H = typename decltype(h)::type;
    static_assert(H::kMinVersion >= H::Request::kMinVersion && H::kMaxVersion <= H::Request::kMaxVersion,
                  "a handler cannot serve versions the specs do not define");
    static_assert(H::kMinVersion <= H::kMaxVersion);
    Response::ApiVersion v;
    v.api_key = H::Request::kApiKey;
    v.min_version = H::kMinVersion;
    v.max_version = H::kMaxVersion;
    apis.push_back(v);
  });
  std::sort(apis.begin(), apis.end(), [](const auto& a, const auto& b) { return a.api_key < b.api_key; });
  return apis;
}

ApiVersionsHandler::Response ApiVersionsHandler::unsupported_version_response() {
  Response resp;
  resp.error_code = protocol::code(ErrorCode::unsupported_version);
  Response::ApiVersion v;
  v.api_key = Request::kApiKey;
  v.min_version = kMinVersion;
  v.max_version = kMaxVersion;
  resp.api_keys.push_back(v);
  return resp;
}

asio::awaitable<ApiVersionsHandler::Response> ApiVersionsHandler::handle(RequestContext& ctx, Request& req) {
  Response resp;
  if (ctx.api_version >= 3 &&
      (!valid_software_text(req.client_software_name) || !valid_software_text(req.client_software_version))) {
    resp.error_code = protocol::code(ErrorCode::invalid_request);
    co_return resp;
  }
  resp.api_keys = supported_apis();
  co_return resp;
}

}  // namespace floe::broker
