#include "broker/dispatch.h"

#include <type_traits>

#include "broker/handlers/handlers.h"
#include "common/log.h"
#include "protocol/generated/api_table.h"
#include "protocol/generated/response_header.h"

namespace floe::broker {

using protocol::Bytes;
using protocol::DecodeError;
using protocol::Reader;
using protocol::Writer;

namespace {

std::string api_label(int16_t key, int16_t version) {
  const protocol::ApiInfo* api = protocol::find_api(key);
  return std::string(api ? api->name : "unknown API") + " (key " + std::to_string(key) + ") v" +
         std::to_string(version);
}

// Room for the encoded response. A Fetch response carries megabytes of
// record bytes (~5 MiB for a consumer of 10,000 partitions woken by a
// commit); grown from a small buffer it was copied ~20 times on the way, into
// fresh pages each time. Its size is the records plus a few dozen bytes per
// partition.
template <typename Response>
size_t encoded_size_hint(const Response& resp) {
  if constexpr (std::is_same_v<Response, FetchHandler::Response>) {
    size_t bytes = 128;
    for (const auto& t : resp.responses) {
      bytes += 32 + t.topic.size();
      for (const auto& p : t.partitions) bytes += 64 + (p.records ? p.records->size() : 0);
    }
    return bytes;
  } else {
    return 128;
  }
}

template <typename Response>
Bytes encode_response(int32_t correlation_id, int16_t api_key, int16_t version, const Response& resp) {
  Bytes out;
  out.reserve(encoded_size_hint(resp));
  Writer w(out);
  w.write_int32(0);  // frame length, patched below
  protocol::ResponseHeader header;
  header.correlation_id = correlation_id;
  header.encode(w, protocol::response_header_version(api_key, version));
  resp.encode(w, version);
  w.patch_int32(0, static_cast<int32_t>(out.size() - 4));
  return out;
}

template <typename H>
asio::awaitable<std::optional<Bytes>> serve(Broker& broker, const net::ConnectionInfo& conn, Bytes frame,
                                            int16_t version) {
  using Request = typename H::Request;
  Reader r(frame);
  protocol::RequestHeader header;
  Request req;
  try {
    header.decode(r, protocol::request_header_version(Request::kApiKey, version));
    req.decode(r, version);
  } catch (const DecodeError& e) {
    throw net::CloseConnection("cannot parse " + api_label(Request::kApiKey, version) + ": " + e.what());
  }
  if (!r.empty()) {
    FLOE_LOG(debug, "broker") << api_label(Request::kApiKey, version) << " from " << conn.peer << " has "
                              << r.remaining() << " trailing bytes; ignored";
  }
  RequestContext ctx{broker, conn, header, version};
  auto resp = co_await H::handle(ctx, req);
  if constexpr (std::is_same_v<decltype(resp), typename H::Response>) {
    co_return encode_response(header.correlation_id, Request::kApiKey, version, resp);
  } else {
    // A handler that may answer nothing (Produce with acks=0) returns optional.
    if (!resp) co_return std::nullopt;
    co_return encode_response(header.correlation_id, Request::kApiKey, version, *resp);
  }
}

}  // namespace

int Dispatcher::concurrency_class(const Bytes& frame) const {
  if (frame.size() < 2) return 0;
  const int16_t key = static_cast<int16_t>((frame[0] << 8) | frame[1]);
  if (key == ProduceHandler::Request::kApiKey) return 1;
  if (key == FetchHandler::Request::kApiKey) return 2;
  return 0;
}

asio::awaitable<std::optional<Bytes>> Dispatcher::handle(const net::ConnectionInfo& conn, Bytes frame) {
  // Every request header version starts with key, version and correlation id.
  if (frame.size() < 8) throw net::CloseConnection("request of " + std::to_string(frame.size()) + " bytes has no header");
  Reader peek(frame);
  const int16_t key = peek.read_int16();
  const int16_t version = peek.read_int16();
  const int32_t correlation_id = peek.read_int32();

  if (key == ApiVersionsHandler::Request::kApiKey && version > ApiVersionsHandler::kMaxVersion) {
    FLOE_LOG(debug, "broker") << "ApiVersions v" << version << " from " << conn.peer << " is newer than we serve";
    co_return encode_response(correlation_id, key, 0, ApiVersionsHandler::unsupported_version_response());
  }

  std::optional<asio::awaitable<std::optional<Bytes>>> work;
  bool served = Handlers::visit(key, [&](auto h) {
    using H = typename decltype(h)::type;
    if (version < H::kMinVersion || version > H::kMaxVersion) {
      throw net::CloseConnection(api_label(key, version) + " is not supported (this broker serves v" +
                                 std::to_string(H::kMinVersion) + " to v" + std::to_string(H::kMaxVersion) + ")");
    }
    work.emplace(serve<H>(broker_, conn, std::move(frame), version));
  });
  if (!served) throw net::CloseConnection(api_label(key, version) + " is not served by this broker");
  co_return co_await std::move(*work);
}

}  // namespace floe::broker
