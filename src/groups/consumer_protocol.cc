#include "groups/consumer_protocol.h"

#include <algorithm>

#include "protocol/generated/consumer_protocol_subscription.h"

namespace floe::groups {

std::optional<std::vector<std::string>> subscription_topics(const protocol::Bytes& metadata) {
  using protocol::ConsumerProtocolSubscription;
  try {
    protocol::Reader r(metadata);
    int16_t version = r.read_int16();
    if (version < ConsumerProtocolSubscription::kMinVersion) return std::nullopt;
    ConsumerProtocolSubscription s;
    s.decode(r, std::min(version, ConsumerProtocolSubscription::kMaxVersion));
    return std::move(s.topics);
  } catch (const protocol::DecodeError&) {
    return std::nullopt;
  }
}

}  // namespace floe::groups
