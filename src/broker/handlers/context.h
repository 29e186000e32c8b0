// What every handler gets besides its request.
#pragma once

#include <cstdint>

#include "broker/broker.h"
#include "net/server.h"
#include "protocol/generated/request_header.h"

namespace floe::broker {

struct RequestContext {
  Broker& broker;
  const net::ConnectionInfo& connection;
  const protocol::RequestHeader& header;
  int16_t api_version;
};

}  // namespace floe::broker
