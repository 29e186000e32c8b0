// Turns request frames into response frames: reads the header, finds the
// handler in the one handler list, decodes the request at its version, runs
// the handler and encodes its response with the right header version.
//
// Kafka's behaviour for what it cannot serve: an ApiVersions request at an
// unknown version gets a v0 response with UNSUPPORTED_VERSION; any other
// unknown API, unsupported version or unparseable request closes the
// connection (there is no schema to answer in).
#pragma once

#include "broker/broker.h"
#include "net/server.h"

namespace floe::broker {

class Dispatcher : public net::FrameHandler {
 public:
  explicit Dispatcher(Broker& broker) : broker_(broker) {}
  asio::awaitable<std::optional<protocol::Bytes>> handle(const net::ConnectionInfo& conn,
                                                         protocol::Bytes frame) override;

  // Produce requests of a connection run side by side (the WAL keeps their
  // order, and each waits about wal.linger.ms for its commit), and so do
  // Fetch requests (reads, some of them long polls). Everything else runs
  // alone, in order, as in Kafka: an OffsetCommit pipelined behind another
  // lands after it, and a ListOffsets behind a Produce sees its records.
  int concurrency_class(const protocol::Bytes& frame) const override;

 private:
  Broker& broker_;
};

}  // namespace floe::broker
