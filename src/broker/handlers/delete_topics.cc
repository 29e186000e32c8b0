#include "broker/handlers/delete_topics.h"

#include <map>
#include <set>

#include "broker/handlers/admin_util.h"
#include "broker/topic_cache.h"
#include "fetch/read_path.h"

namespace floe::broker {

using protocol::ErrorCode;
using protocol::Uuid;

namespace {

using Result = DeleteTopicsHandler::Response::DeletableTopicResult;

// One topic to delete, as the request named it.
struct Target {
  std::optional<std::string> name;  // by name
  Uuid id;                          // by id (name empty)
};

}  // namespace

asio::awaitable<DeleteTopicsHandler::Response> DeleteTopicsHandler::handle(RequestContext& ctx, Request& req) {
  Broker& broker = ctx.broker;
  co_await refresh_topics(broker, true);
  Response resp;
  auto answer = [&](std::optional<std::string> name, Uuid id, const ApiError& e) {
    Result& r = resp.responses.emplace_back();
    // v0-v5 have no null names; an id-only target has none before v6 anyway.
    r.name = name ? std::move(name) : (ctx.api_version < 6 ? std::optional<std::string>("") : std::nullopt);
    r.topic_id = id;
    r.error_code = e.wire_code();
    r.error_message = e.message;
  };

  // Kafka's checks of the names and ids given, duplicates answered once.
  std::vector<Target> targets;
  std::map<std::string, int> name_count;
  std::map<Uuid, int> id_count;
  for (const auto& n : req.topic_names) ++name_count[n];
  for (const auto& t : req.topics) {
    if (t.name && t.topic_id.is_zero()) ++name_count[*t.name];
    if (!t.name && !t.topic_id.is_zero()) ++id_count[t.topic_id];
  }
  std::set<std::string> names_done;
  std::set<Uuid> ids_done;
  auto add_name = [&](const std::string& name) {
    if (!names_done.insert(name).second) return;
    if (name_count[name] > 1) {
      answer(name, Uuid{}, api_error(ErrorCode::invalid_request, "Duplicate topic name."));
      return;
    }
    targets.push_back({name, Uuid{}});
  };
  for (const auto& n : req.topic_names) add_name(n);
  for (const auto& t : req.topics) {
    if (!t.name) {
      if (t.topic_id.is_zero()) {
        answer(std::nullopt, Uuid{}, api_error(ErrorCode::invalid_request, "Neither topic name nor id were specified."));
      } else if (ids_done.insert(t.topic_id).second) {
        if (id_count[t.topic_id] > 1) {
          answer(std::nullopt, t.topic_id, api_error(ErrorCode::invalid_request, "Duplicate topic id."));
        } else {
          targets.push_back({std::nullopt, t.topic_id});
        }
      }
    } else if (t.topic_id.is_zero()) {
      add_name(*t.name);
    } else {
      answer(t.name, t.topic_id, api_error(ErrorCode::invalid_request, "You may not specify both topic name and topic id."));
    }
  }

  bool deleted_any = false;
  for (const Target& target : targets) {
    TopicCache::TopicPtr topic = target.name ? broker.topics->find(*target.name) : broker.topics->find(target.id);
    if (!topic) {
      if (target.name) {
        answer(target.name, Uuid{}, api_error(ErrorCode::unknown_topic_or_partition, topic_does_not_exist(*target.name)));
      } else {
        answer(std::nullopt, target.id,
               api_error(ErrorCode::unknown_topic_id, "Topic id " + target.id.to_string() + " does not exist."));
      }
      continue;
    }
    const Uuid id = topic->id;
    ApiError e = co_await call_meta(broker, "delete topic " + topic->name, [&] { broker.meta->delete_topic(id); });
    if (e.code == ErrorCode::unknown_topic_id) {
      // Deleted by someone else since our cache saw it.
      e = target.name ? api_error(ErrorCode::unknown_topic_or_partition, topic_does_not_exist(*target.name))
                      : api_error(ErrorCode::unknown_topic_id, "Topic id " + id.to_string() + " does not exist.");
    }
    if (e.ok()) {
      deleted_any = true;
      FLOE_LOG(info, "admin") << "deleted topic " << topic->name << " (" << id.to_string() << ")";
      if (broker.reader) broker.reader->forget_topic(id);
    }
    answer(topic->name, id, e);
  }
  if (deleted_any) co_await refresh_topics(broker, true);
  co_return resp;
}

}  // namespace floe::broker
