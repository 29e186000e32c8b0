#include "broker/broker.h"

namespace floe::broker {

const Listener& Broker::advertised_for(const std::string& listener_name) const {
  for (const auto& l : identity.advertised) {
    if (l.name == listener_name) return l;
  }
  return identity.advertised.front();
}

}  // namespace floe::broker
