// Kafka's rules for topic names.
#pragma once

#include <string_view>

namespace floe::broker {

constexpr size_t kMaxTopicNameLength = 249;

// Non-empty, at most 249 characters of [a-zA-Z0-9._-], and neither "." nor "..".
bool valid_topic_name(std::string_view name);

}  // namespace floe::broker
