// The parts of Kafka's consumer embedded protocol (the "consumer" protocol
// type's member metadata) that the coordinator reads: which topics a member
// subscribes to, for OffsetDelete and offset expiry. Everything else in
// member metadata is opaque to the broker.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "protocol/wire.h"

namespace floe::groups {

inline constexpr std::string_view kConsumerProtocolType = "consumer";

// The topics of a ConsumerProtocolSubscription (a version, then the topic
// list; versions newer than the spec's are read as the newest known one, as
// Kafka's ConsumerProtocol does). nullopt if the bytes are not one.
std::optional<std::vector<std::string>> subscription_topics(const protocol::Bytes& metadata);

}  // namespace floe::groups
