#include "broker/topic_cache.h"

#include <algorithm>
#include <mutex>

#include "broker/broker.h"
#include "broker/topic_names.h"
#include "common/blocking.h"
#include "common/log.h"

namespace floe::broker {

using protocol::ErrorCode;

namespace {

int64_t steady_ticks() { return std::chrono::steady_clock::now().time_since_epoch().count(); }

std::string normalize_collision_chars(std::string_view name) {
  std::string out(name);
  std::replace(out.begin(), out.end(), '.', '_');
  return out;
}

}  // namespace

TopicCache::TopicCache(std::chrono::milliseconds min_check_interval)
    : min_check_interval_(min_check_interval), snapshot_(std::make_shared<const Snapshot>()) {}

std::shared_ptr<const TopicCache::Snapshot> TopicCache::snapshot() const {
  std::shared_lock lock(mu_);
  return snapshot_;
}

TopicCache::TopicPtr TopicCache::find(std::string_view name) const {
  auto s = snapshot();
  auto it = s->by_name.find(name);
  return it == s->by_name.end() ? nullptr : it->second;
}

TopicCache::TopicPtr TopicCache::find(const protocol::Uuid& id) const {
  auto s = snapshot();
  auto it = s->by_id.find(id);
  return it == s->by_id.end() ? nullptr : it->second;
}

std::vector<TopicCache::TopicPtr> TopicCache::all() const {
  auto s = snapshot();
  std::vector<TopicPtr> out;
  out.reserve(s->by_name.size());
  for (const auto& [name, t] : s->by_name) out.push_back(t);
  return out;
}

void TopicCache::install(int64_t version, std::vector<meta::Topic> topics) {
  auto next = std::make_shared<Snapshot>();
  next->version = version;
  for (auto& t : topics) {
    auto p = std::make_shared<const meta::Topic>(std::move(t));
    next->by_id.emplace(p->id, p);
    next->by_name.emplace(p->name, std::move(p));
  }
  std::unique_lock lock(mu_);
  if (snapshot_->version >= version) return;
  snapshot_ = std::move(next);
}

void TopicCache::invalidate() { invalidations_.fetch_add(1); }

asio::awaitable<void> TopicCache::refresh(Broker& broker) {
  const uint64_t invalidations = invalidations_.load();
  if (invalidations == checked_invalidations_.load()) {
    // Not invalidated: at most one query per interval, and only one of
    // several concurrent callers makes it.
    const int64_t now = steady_ticks();
    int64_t last = last_check_.load();
    const int64_t interval =
        std::chrono::duration_cast<std::chrono::steady_clock::duration>(min_check_interval_).count();
    if (last != INT64_MIN && now - last < interval) co_return;
    if (!last_check_.compare_exchange_strong(last, now)) co_return;
  } else {
    last_check_.store(steady_ticks());
  }
  const int64_t held = snapshot()->version;
  meta::MetaStore& meta = *broker.meta;
  std::optional<std::pair<int64_t, std::vector<meta::Topic>>> loaded;
  try {
    // The version is read before the list, so the list is at least as new
    // as the version it is installed under.
    loaded = co_await run_blocking(*broker.blocking, [&meta, held] {
      std::optional<std::pair<int64_t, std::vector<meta::Topic>>> out;
      int64_t version = meta.topics_version();
      if (version != held) out.emplace(version, meta.list_topics());
      return out;
    });
  } catch (const std::exception& e) {
    // The cached view stays valid; requests are answered from it rather than
    // failing (or losing their connection) because the store hiccupped.
    FLOE_LOG(warn, "topics") << "cannot refresh the topic cache from the metadata store: " << e.what();
    co_return;
  }
  checked_invalidations_.store(invalidations);
  if (loaded) install(loaded->first, std::move(loaded->second));
}

asio::awaitable<void> TopicCache::reload(Broker& broker) {
  invalidate();
  co_await refresh(broker);
}

asio::awaitable<TopicCache::TopicPtr> TopicCache::lookup(Broker& broker, std::string_view name) {
  if (auto t = find(name)) co_return t;
  co_await refresh(broker);
  co_return find(name);
}

asio::awaitable<TopicCache::TopicPtr> TopicCache::lookup(Broker& broker, const protocol::Uuid& id) {
  if (auto t = find(id)) co_return t;
  co_await refresh(broker);
  co_return find(id);
}

asio::awaitable<std::pair<ErrorCode, TopicCache::TopicPtr>> TopicCache::get_or_create(Broker& broker,
                                                                                      std::string_view name) {
  if (auto t = find(name)) co_return std::pair{ErrorCode::none, t};
  if (!valid_topic_name(name)) co_return std::pair{ErrorCode::invalid_topic_exception, TopicPtr{}};
  try {
    co_await refresh(broker);
    if (auto t = find(name)) co_return std::pair{ErrorCode::none, t};
    if (!broker.config.auto_create_topics_enable || is_kafka_internal_topic(name)) {
      co_return std::pair{ErrorCode::unknown_topic_or_partition, TopicPtr{}};
    }
    if (std::string other = colliding_topic(*this, name); !other.empty()) {
      FLOE_LOG(debug, "topics") << "not auto-creating topic " << name << ": it collides with existing topic "
                               << other;
      co_return std::pair{ErrorCode::invalid_topic_exception, TopicPtr{}};
    }
    const std::string n(name);
    const int32_t partitions = broker.config.num_partitions;
    meta::MetaStore& meta = *broker.meta;
    co_await run_blocking(*broker.blocking, [&meta, &n, partitions] {
      try {
        meta.create_topic(n, partitions, {});
      } catch (const meta::MetaError& e) {
        if (e.code() != ErrorCode::topic_already_exists) throw;  // else someone was quicker: use theirs
      }
    });
    co_await reload(broker);
    if (auto t = find(name)) {
      FLOE_LOG(info, "topics") << "auto-created topic " << name << " with " << t->partitions << " partition(s)";
      co_return std::pair{ErrorCode::none, t};
    }
    // Created and deleted again before we looked: as if it never existed.
    co_return std::pair{ErrorCode::unknown_topic_or_partition, TopicPtr{}};
  } catch (const meta::MetaError& e) {
    FLOE_LOG(warn, "topics") << "cannot auto-create topic " << name << ": " << e.what();
    co_return std::pair{e.code(), TopicPtr{}};
  } catch (const std::exception& e) {
    // A store failure is the client's retriable problem, not a reason to drop
    // its connection.
    FLOE_LOG(error, "topics") << "cannot auto-create topic " << name << ": " << e.what();
    co_return std::pair{ErrorCode::unknown_server_error, TopicPtr{}};
  }
}

std::optional<std::string> invalid_topic_name_reason(std::string_view name) {
  if (name.empty()) return "Topic name is illegal, it can't be empty";
  if (name == "." || name == "..") return "Topic name cannot be \".\" or \"..\"";
  if (name.size() > kMaxTopicNameLength) {
    return "Topic name is illegal, it can't be longer than " + std::to_string(kMaxTopicNameLength) +
           " characters, Topic name: " + std::string(name);
  }
  if (!valid_topic_name(name)) {
    return "Topic name \"" + std::string(name) +
           "\" is illegal, it contains a character other than ASCII alphanumerics, '.', '_' and '-'";
  }
  return std::nullopt;
}

bool is_kafka_internal_topic(std::string_view name) {
  return name == "__consumer_offsets" || name == "__transaction_state";
}

std::string colliding_topic(const TopicCache& cache, std::string_view name) {
  if (name.find_first_of("._") == std::string_view::npos) return {};
  const std::string normalized = normalize_collision_chars(name);
  for (const auto& t : cache.all()) {
    if (t->name != name && normalize_collision_chars(t->name) == normalized) return t->name;
  }
  return {};
}

}  // namespace floe::broker
