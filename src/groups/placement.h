// Which broker coordinates a group (or a transactional id): DESIGN §5's
// rendezvous hash of the key over the live brokers. Every broker computes the
// same answer from the same broker list, and when a broker leaves only the
// keys it coordinated move.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string_view>

namespace floe::groups {

// The node id among `live_brokers` with the highest score for `key`; nullopt
// when there is none. The score is a fixed function (FNV-1a of the key, mixed
// with the node id by SplitMix64's finaliser): it must never change, or
// brokers of different versions would disagree.
std::optional<int32_t> coordinator_for(std::string_view key, std::span<const int32_t> live_brokers);

}  // namespace floe::groups
