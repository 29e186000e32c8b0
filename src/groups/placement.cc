#include "groups/placement.h"

namespace floe::groups {

namespace {

uint64_t fnv1a(std::string_view s) {
  uint64_t h = 0xcbf29ce484222325ULL;
  for (unsigned char c : s) {
    h ^= c;
    h *= 0x100000001b3ULL;
  }
  return h;
}

uint64_t mix(uint64_t x) {
  x ^= x >> 30;
  x *= 0xbf58476d1ce4e5b9ULL;
  x ^= x >> 27;
  x *= 0x94d049bb133111ebULL;
  x ^= x >> 31;
  return x;
}

}  // namespace

std::optional<int32_t> coordinator_for(std::string_view key, std::span<const int32_t> live_brokers) {
  const uint64_t k = fnv1a(key);
  std::optional<int32_t> best;
  uint64_t best_score = 0;
  for (int32_t node : live_brokers) {
    uint64_t score = mix(k ^ mix(static_cast<uint64_t>(static_cast<uint32_t>(node)) + 0x9e3779b97f4a7c15ULL));
    // Ties (practically impossible) go to the lower node id, so the answer
    // does not depend on the list's order.
    if (!best || score > best_score || (score == best_score && node < *best)) {
      best = node;
      best_score = score;
    }
  }
  return best;
}

}  // namespace floe::groups
