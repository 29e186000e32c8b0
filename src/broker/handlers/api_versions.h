#pragma once

#include <asio/awaitable.hpp>

#include "broker/handlers/context.h"
#include "protocol/generated/api_versions_request.h"
#include "protocol/generated/api_versions_response.h"

namespace floe::broker {

struct ApiVersionsHandler {
  using Request = protocol::ApiVersionsRequest;
  using Response = protocol::ApiVersionsResponse;
  static constexpr int16_t kMinVersion = 0;
  static constexpr int16_t kMaxVersion = 4;
  static asio::awaitable<Response> handle(RequestContext& ctx, Request& req);

  // The list every ApiVersions response carries: one entry per handler.
  static std::vector<Response::ApiVersion> supported_apis();
  // Kafka's answer to an ApiVersions request at a version it does not know:
  // a v0 response with UNSUPPORTED_VERSION and the ApiVersions range, so that
  // the client can retry at a version both sides speak.
  static Response unsupported_version_response();
};

}  // namespace floe::broker
