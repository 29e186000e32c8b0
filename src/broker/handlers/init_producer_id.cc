#include "broker/handlers/init_producer_id.h"

#include "common/blocking.h"
#include "common/log.h"
#include "meta/meta_store.h"
#include "protocol/generated/error_codes.h"

namespace floe::broker {

using protocol::ErrorCode;

asio::awaitable<InitProducerIdHandler::Response> InitProducerIdHandler::handle(RequestContext& ctx, Request& req) {
  Response resp;
  if (req.transactional_id) {
    // Not a transaction coordinator yet; a fatal error the client reports,
    // rather than a retriable one it would retry forever.
    resp.error_code = protocol::code(ErrorCode::transactional_id_authorization_failed);
    co_return resp;
  }
  try {
    // Non-transactional producers always get a new id (as Kafka does): the
    // sequence state of the old one stays valid for its in-flight retries.
    resp.producer_id = co_await run_blocking(*ctx.broker.blocking, [&] { return ctx.broker.meta->allocate_producer_id(); });
    resp.producer_epoch = 0;
  } catch (const std::exception& e) {
    FLOE_LOG(error, "ingest") << "cannot allocate a producer id: " << e.what();
    resp.error_code = protocol::code(ErrorCode::coordinator_not_available);
  }
  co_return resp;
}

}  // namespace floe::broker
