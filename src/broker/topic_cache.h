// The broker's cache of topics: name -> topic and id -> topic, loaded from the
// metadata store, so that Produce, Fetch and Metadata resolve topics without a
// metadata query.
//
// Freshness: the store bumps topics_version() on every topic change (by any
// broker). refresh() compares it with the version the cache holds and reloads
// the whole list when it differs. A refresh that follows a miss is rate-limited
// (at most one version query per second), so a client asking again and again
// for a topic that does not exist costs nothing, while a topic created by
// another broker shows up within a second. This broker's own topic changes
// call reload(), which queries at once.
//
// Threads: every method is safe from any thread. find()/all() take a shared
// lock and copy a pointer to an immutable snapshot; a refresh builds a new
// snapshot off-lock (on the blocking pool) and swaps it in under the exclusive
// lock. A snapshot is only ever replaced by one loaded at a newer
// topics_version(), so concurrent refreshes cannot move the cache backwards.
#pragma once

#include <asio/awaitable.hpp>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <shared_mutex>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "meta/meta_store.h"
#include "protocol/generated/error_codes.h"

namespace floe::broker {

struct Broker;

class TopicCache {
 public:
  using TopicPtr = std::shared_ptr<const meta::Topic>;

  // `min_check_interval`: the shortest time between two version queries that
  // refresh() makes on its own (tests pass 0).
  explicit TopicCache(std::chrono::milliseconds min_check_interval = std::chrono::seconds(1));

  // Snapshot lookups, no I/O. nullptr when absent.
  TopicPtr find(std::string_view name) const;
  TopicPtr find(const protocol::Uuid& id) const;
  // Every topic, sorted by name.
  std::vector<TopicPtr> all() const;

  // Reloads the topics if the store's topics_version() changed. Asks the
  // store at most once per min_check_interval, unless invalidate() was called
  // since the last query. Never throws: a store failure is logged and the
  // cached view kept.
  asio::awaitable<void> refresh(Broker& broker);

  // invalidate() then refresh(): call after this broker changed topics, so
  // that the change is visible when it returns.
  asio::awaitable<void> reload(Broker& broker);

  // The next refresh() queries the store whatever the time.
  void invalidate();

  // find(), and on a miss refresh() and find() again.
  asio::awaitable<TopicPtr> lookup(Broker& broker, std::string_view name);
  asio::awaitable<TopicPtr> lookup(Broker& broker, const protocol::Uuid& id);

  // The topic called `name`, auto-created when it does not exist and the
  // broker allows it (auto.create.topics.enable; num.partitions partitions,
  // no configs). Errors: INVALID_TOPIC_EXCEPTION for a name Kafka refuses (or
  // one that collides with an existing topic's name once '.' and '_' are
  // treated alike), UNKNOWN_TOPIC_OR_PARTITION when creation is disabled or the
  // name is one of Kafka's internal topics (floe keeps group and transaction
  // state in its metadata store). A topic created meanwhile by someone else is
  // returned as found. A store failure is logged and answered with
  // UNKNOWN_SERVER_ERROR.
  asio::awaitable<std::pair<protocol::ErrorCode, TopicPtr>> get_or_create(Broker& broker, std::string_view name);

  // Installs `topics` as loaded at `version` unless the cache already holds
  // a snapshot at least that new. For refresh() and tests.
  void install(int64_t version, std::vector<meta::Topic> topics);

 private:
  struct Snapshot {
    int64_t version = -1;
    std::map<std::string, TopicPtr, std::less<>> by_name;
    std::map<protocol::Uuid, TopicPtr> by_id;
  };

  std::shared_ptr<const Snapshot> snapshot() const;

  const std::chrono::milliseconds min_check_interval_;
  mutable std::shared_mutex mu_;
  std::shared_ptr<const Snapshot> snapshot_;  // REQUIRES: mu_
  // When refresh() last asked the store, in steady_clock ticks.
  std::atomic<int64_t> last_check_{INT64_MIN};
  // Bumped by invalidate(); refresh() queries when it differs from the value
  // seen at its last query.
  std::atomic<uint64_t> invalidations_{1};
  std::atomic<uint64_t> checked_invalidations_{0};
};

// Kafka's reason for refusing a topic name, in Kafka's words; nullopt for a
// valid name.
std::optional<std::string> invalid_topic_name_reason(std::string_view name);

// Kafka's internal topic names (__consumer_offsets, __transaction_state),
// which floe does not create: its groups and transactions live in the
// metadata store.
bool is_kafka_internal_topic(std::string_view name);

// The existing topic whose name equals `name` once '.' and '_' are treated
// alike (Kafka refuses such pairs: their metric names would collide), or "".
std::string colliding_topic(const TopicCache& cache, std::string_view name);

}  // namespace floe::broker
