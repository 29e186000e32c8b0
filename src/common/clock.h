// The wall clock in Unix milliseconds, the unit of Kafka timestamps.
#pragma once

#include <chrono>
#include <cstdint>

namespace floe {

inline int64_t unix_now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

}  // namespace floe
