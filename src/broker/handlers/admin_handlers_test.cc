// Handler-level tests of topic and config administration, Metadata and the
// topic cache, on a real SQLite metadata store in a scratch folder. Requests
// and responses go through the codec at the version under test, so a field a
// version cannot carry (a null where it is not nullable) fails here too.
#include <gtest/gtest.h>

#include <asio/co_spawn.hpp>
#include <asio/io_context.hpp>
#include <asio/thread_pool.hpp>

#include "broker/handlers/alter_configs.h"
#include "broker/handlers/create_partitions.h"
#include "broker/handlers/create_topics.h"
#include "broker/handlers/delete_records.h"
#include "broker/handlers/delete_topics.h"
#include "broker/handlers/describe_cluster.h"
#include "broker/handlers/describe_configs.h"
#include "broker/handlers/describe_topic_partitions.h"
#include "broker/handlers/incremental_alter_configs.h"
#include "broker/handlers/metadata.h"
#include "broker/topic_cache.h"
#include "broker/topic_config.h"
#include "meta/meta_store_conformance.h"

namespace floe::broker {
namespace {

using protocol::ErrorCode;
using protocol::Uuid;

using protocol::code;

class AdminHandlers : public ::testing::Test {
 protected:
  AdminHandlers() : AdminHandlers(Properties{}) {}
  explicit AdminHandlers(const Properties& props)
      : config_(build_config({}, props)),
        store_(meta::open_meta_store("sqlite://" + (scratch_.path() / "meta.db").string())),
        cache_(std::chrono::milliseconds(0)),
        broker_{config_, {}} {
    broker_.identity.node_id = config_.node_id;
    broker_.identity.cluster_id = "test-cluster";
    broker_.identity.advertised = {Listener{"PLAINTEXT", "broker.example", 9092}};
    broker_.meta = store_.get();
    broker_.blocking = &pool_;
    broker_.topics = &cache_;
    conn_.listener_name = "PLAINTEXT";
    conn_.peer = "test";
  }
  ~AdminHandlers() override { pool_.join(); }

  // Sends `req` through the codec at `version`, runs the handler, and
  // returns its response as a client would decode it.
  template <typename H>
  typename H::Response call(const typename H::Request& req, int16_t version) {
    protocol::Bytes wire;
    protocol::Writer w(wire);
    req.encode(w, version);
    typename H::Request decoded;
    protocol::Reader r(wire);
    decoded.decode(r, version);

    protocol::RequestHeader header;
    header.request_api_key = H::Request::kApiKey;
    header.request_api_version = version;
    RequestContext ctx{broker_, conn_, header, version};
    std::optional<typename H::Response> out;
    asio::io_context io;
    asio::co_spawn(
        io, [&]() -> asio::awaitable<void> { out = co_await H::handle(ctx, decoded); },
        [](std::exception_ptr e) {
          if (e) std::rethrow_exception(e);
        });
    io.run();

    protocol::Bytes resp_wire;
    protocol::Writer rw(resp_wire);
    out->encode(rw, version);
    typename H::Response resp;
    protocol::Reader rr(resp_wire);
    resp.decode(rr, version);
    EXPECT_TRUE(rr.empty());
    return resp;
  }

  meta::Topic create(const std::string& name, int32_t partitions, std::map<std::string, std::string> configs = {}) {
    return store_->create_topic(name, partitions, configs);
  }

  // Appends `records` records to a partition, as a committed batch.
  void append(const meta::Topic& t, int32_t partition, int32_t records) {
    meta::PendingBatch b;
    b.topic_id = t.id;
    b.partition = partition;
    b.byte_length = 100;
    b.record_count = records;
    auto out = store_->commit_object(meta::ObjectCommit{"obj-" + std::to_string(++objects_), 100, 1000}, {&b, 1});
    ASSERT_EQ(out.results.at(0).error, ErrorCode::none);
  }

  meta::testing::ScratchDir scratch_;
  Config config_;
  std::unique_ptr<meta::MetaStore> store_;
  asio::thread_pool pool_{2};
  TopicCache cache_;
  Broker broker_;
  net::ConnectionInfo conn_;
  int objects_ = 0;
};

// --- CreateTopics -------------------------------------------------------------

CreateTopicsHandler::Request::CreatableTopic new_topic(std::string name, int32_t partitions, int16_t rf,
                                                       std::map<std::string, std::string> configs = {}) {
  CreateTopicsHandler::Request::CreatableTopic t;
  t.name = std::move(name);
  t.num_partitions = partitions;
  t.replication_factor = rf;
  for (auto& [k, v] : configs) {
    auto& c = t.configs.emplace_back();
    c.name = k;
    c.value = v;
  }
  return t;
}

TEST_F(AdminHandlers, CreateTopicsV7ReportsTheTopic) {
  CreateTopicsHandler::Request req;
  req.topics.push_back(new_topic("orders", 3, 3, {{"cleanup.policy", "compact"}}));
  req.topics.push_back(new_topic("defaults", -1, -1));
  auto resp = call<CreateTopicsHandler>(req, 7);
  ASSERT_EQ(resp.topics.size(), 2u);
  const auto& orders = resp.topics[0];
  EXPECT_EQ(orders.error_code, 0);
  EXPECT_EQ(orders.error_message, std::nullopt);
  EXPECT_EQ(orders.num_partitions, 3);
  EXPECT_EQ(orders.replication_factor, 3);  // reported as asked
  auto stored = store_->find_topic("orders");
  ASSERT_TRUE(stored);
  EXPECT_EQ(orders.topic_id, stored->id);
  EXPECT_EQ(stored->partitions, 3);
  EXPECT_EQ(stored->configs, (std::map<std::string, std::string>{{"cleanup.policy", "compact"}}));
  ASSERT_TRUE(orders.configs);
  EXPECT_EQ(orders.configs->size(), topic_config_keys().size());
  for (size_t i = 1; i < orders.configs->size(); ++i) EXPECT_LT((*orders.configs)[i - 1].name, (*orders.configs)[i].name);
  for (const auto& c : *orders.configs) {
    if (c.name == "cleanup.policy") {
      EXPECT_EQ(c.value, "compact");
      EXPECT_EQ(c.config_source, 1);
    } else if (c.name == "retention.ms") {
      EXPECT_EQ(c.value, "604800000");
      EXPECT_EQ(c.config_source, 5);
    }
  }
  EXPECT_EQ(resp.topics[1].error_code, 0) << resp.topics[1].error_message.value_or("");
  EXPECT_EQ(resp.topics[1].num_partitions, 1);  // num.partitions
  EXPECT_EQ(resp.topics[1].replication_factor, 1);  // default.replication.factor
  EXPECT_EQ(store_->find_topic("defaults")->partitions, 1);
  // The cache saw the creation at once.
  EXPECT_TRUE(cache_.find("orders"));
}

TEST_F(AdminHandlers, CreateTopicsErrors) {
  create("exists", 1);
  create("a.b", 1);
  CreateTopicsHandler::Request req;
  req.topics.push_back(new_topic("dup", 1, 1));
  req.topics.push_back(new_topic("dup", 2, 1));
  req.topics.push_back(new_topic("bad/name", 1, 1));
  req.topics.push_back(new_topic("exists", 1, 1));
  req.topics.push_back(new_topic("a_b", 1, 1));
  req.topics.push_back(new_topic("zero", 0, 1));
  req.topics.push_back(new_topic("rf", 1, -2));
  req.topics.push_back(new_topic("cfg", 1, 1, {{"retention.ms", "soon"}}));
  req.topics.push_back(new_topic("unknown-cfg", 1, 1, {{"retention.hours", "1"}}));
  req.topics.push_back(new_topic("__consumer_offsets", 1, 1));
  auto nulls = new_topic("nulls", 1, 1);
  nulls.configs.emplace_back().name = "retention.ms";  // null value
  req.topics.push_back(nulls);
  auto resp = call<CreateTopicsHandler>(req, 5);
  std::map<std::string, std::pair<int16_t, std::string>> got;
  for (const auto& t : resp.topics) got[t.name] = {t.error_code, t.error_message.value_or("")};
  EXPECT_EQ(resp.topics.size(), 10u);  // "dup" answered once
  EXPECT_EQ(got["dup"], std::pair(code(ErrorCode::invalid_request), std::string("Duplicate topic name.")));
  EXPECT_EQ(got["bad/name"].first, code(ErrorCode::invalid_topic_exception));
  EXPECT_EQ(got["exists"], std::pair(code(ErrorCode::topic_already_exists), std::string("Topic 'exists' already exists.")));
  EXPECT_EQ(got["a_b"], std::pair(code(ErrorCode::invalid_topic_exception),
                                  std::string("Topic 'a_b' collides with existing topic: a.b")));
  EXPECT_EQ(got["zero"].first, code(ErrorCode::invalid_partitions));
  EXPECT_EQ(got["rf"].first, code(ErrorCode::invalid_replication_factor));
  EXPECT_EQ(got["cfg"].first, code(ErrorCode::invalid_config));
  EXPECT_EQ(got["unknown-cfg"], std::pair(code(ErrorCode::invalid_config),
                                          std::string("Unknown topic config name: retention.hours")));
  EXPECT_EQ(got["__consumer_offsets"].first, code(ErrorCode::invalid_request));
  EXPECT_EQ(got["nulls"], std::pair(code(ErrorCode::invalid_config),
                                    std::string("Null value not supported for topic configs: retention.ms")));
  for (const auto& t : resp.topics) {
    EXPECT_EQ(t.num_partitions, -1) << t.name;
    EXPECT_TRUE(t.configs && t.configs->empty()) << t.name;
  }
  EXPECT_EQ(store_->list_topics().size(), 2u);
}

TEST_F(AdminHandlers, CreateTopicsV0HasNoMessages) {
  CreateTopicsHandler::Request req;
  req.topics.push_back(new_topic("x", 0, 1));
  auto resp = call<CreateTopicsHandler>(req, 0);
  ASSERT_EQ(resp.topics.size(), 1u);
  EXPECT_EQ(resp.topics[0].error_code, code(ErrorCode::invalid_partitions));
  EXPECT_EQ(resp.topics[0].error_message, std::nullopt);
}

TEST_F(AdminHandlers, CreateTopicsValidateOnly) {
  CreateTopicsHandler::Request req;
  req.validate_only = true;
  req.topics.push_back(new_topic("maybe", 4, 2, {{"retention.ms", "100"}}));
  auto resp = call<CreateTopicsHandler>(req, 7);
  ASSERT_EQ(resp.topics.size(), 1u);
  EXPECT_EQ(resp.topics[0].error_code, 0);
  EXPECT_EQ(resp.topics[0].num_partitions, 4);
  EXPECT_TRUE(resp.topics[0].topic_id.is_zero());
  EXPECT_FALSE(store_->find_topic("maybe"));
}

TEST_F(AdminHandlers, CreateTopicsManualAssignments) {
  auto assigned = [](std::string name, std::vector<std::pair<int32_t, std::vector<int32_t>>> parts,
                     int32_t partitions = -1, int16_t rf = -1) {
    auto t = new_topic(std::move(name), partitions, rf);
    for (auto& [p, brokers] : parts) {
      auto& a = t.assignments.emplace_back();
      a.partition_index = p;
      a.broker_ids = brokers;
    }
    return t;
  };
  CreateTopicsHandler::Request req;
  req.topics.push_back(assigned("ok", {{1, {1, 2}}, {0, {2, 1}}}));
  req.topics.push_back(assigned("gap", {{0, {1}}, {2, {1}}}));
  req.topics.push_back(assigned("empty", {{0, {}}}));
  req.topics.push_back(assigned("twice", {{0, {1, 1}}}));
  req.topics.push_back(assigned("count", {{0, {1}}}, 1, -1));
  auto resp = call<CreateTopicsHandler>(req, 7);
  ASSERT_EQ(resp.topics.size(), 5u);
  EXPECT_EQ(resp.topics[0].error_code, 0);
  EXPECT_EQ(resp.topics[0].num_partitions, 2);
  EXPECT_EQ(resp.topics[0].replication_factor, 2);
  EXPECT_EQ(store_->find_topic("ok")->partitions, 2);
  EXPECT_EQ(resp.topics[1].error_code, code(ErrorCode::invalid_replica_assignment));
  EXPECT_EQ(resp.topics[2].error_code, code(ErrorCode::invalid_replica_assignment));
  EXPECT_EQ(resp.topics[3].error_code, code(ErrorCode::invalid_replica_assignment));
  EXPECT_EQ(resp.topics[4].error_code, code(ErrorCode::invalid_request));
}

// --- DeleteTopics ------------------------------------------------------------

TEST_F(AdminHandlers, DeleteTopicsByNameAndId) {
  auto a = create("a", 1);
  auto b = create("b", 2);
  DeleteTopicsHandler::Request req;
  req.topics.resize(5);
  req.topics[0].name = "a";
  req.topics[1].topic_id = b.id;
  req.topics[2].topic_id = Uuid{{1, 2, 3}};
  req.topics[3].name = "nope";
  req.topics[4].name = "a";
  req.topics[4].topic_id = a.id;
  auto resp = call<DeleteTopicsHandler>(req, 6);
  ASSERT_EQ(resp.responses.size(), 5u);
  std::map<std::string, const DeleteTopicsHandler::Response::DeletableTopicResult*> by_name;
  int both = 0;
  for (const auto& r : resp.responses) {
    if (r.error_code == code(ErrorCode::invalid_request)) {
      ++both;
      EXPECT_EQ(r.error_message, "You may not specify both topic name and topic id.");
    } else if (r.name) {
      by_name[*r.name] = &r;
    } else {
      EXPECT_EQ(r.error_code, code(ErrorCode::unknown_topic_id));
      EXPECT_EQ(r.topic_id, (Uuid{{1, 2, 3}}));
    }
  }
  EXPECT_EQ(both, 1);
  EXPECT_EQ(by_name.at("a")->error_code, 0);
  EXPECT_EQ(by_name.at("a")->topic_id, a.id);
  EXPECT_EQ(by_name.at("b")->error_code, 0);  // deleted by id, answered with its name
  EXPECT_EQ(by_name.at("nope")->error_code, code(ErrorCode::unknown_topic_or_partition));
  EXPECT_TRUE(store_->list_topics().empty());
  EXPECT_FALSE(cache_.find("a"));
}

TEST_F(AdminHandlers, DeleteTopicsOldVersionsByName) {
  create("a", 1);
  DeleteTopicsHandler::Request req;
  req.topic_names = {"a", "nope", "dup", "dup"};
  auto resp = call<DeleteTopicsHandler>(req, 1);
  ASSERT_EQ(resp.responses.size(), 3u);
  std::map<std::string, int16_t> got;
  for (const auto& r : resp.responses) got[r.name.value()] = r.error_code;
  EXPECT_EQ(got, (std::map<std::string, int16_t>{{"a", 0},
                                                 {"nope", code(ErrorCode::unknown_topic_or_partition)},
                                                 {"dup", code(ErrorCode::invalid_request)}}));
}

// --- CreatePartitions --------------------------------------------------------

TEST_F(AdminHandlers, CreatePartitions) {
  create("t", 2);
  create("u", 2);
  auto grow = [](std::string name, int32_t count, std::optional<size_t> assignments = std::nullopt) {
    CreatePartitionsHandler::Request::CreatePartitionsTopic t;
    t.name = std::move(name);
    t.count_ = count;
    if (assignments) {
      t.assignments.emplace(*assignments);
      for (auto& a : *t.assignments) a.broker_ids = {1};
    }
    return t;
  };
  CreatePartitionsHandler::Request req;
  req.topics = {grow("t", 4, 2), grow("u", 1), grow("nope", 3), grow("u", 2)};
  auto resp = call<CreatePartitionsHandler>(req, 3);
  ASSERT_EQ(resp.results.size(), 3u);
  EXPECT_EQ(resp.results[0].error_code, 0);
  EXPECT_EQ(resp.results[1].error_code, code(ErrorCode::invalid_request));  // u twice
  EXPECT_EQ(resp.results[2].error_code, code(ErrorCode::unknown_topic_or_partition));
  EXPECT_EQ(store_->find_topic("t")->partitions, 4);
  EXPECT_EQ(cache_.find("t")->partitions, 4);

  req.topics = {grow("u", 1), grow("t", 4), grow("t2", 1)};
  req.topics[2].name = "u";
  req.topics.pop_back();
  resp = call<CreatePartitionsHandler>(req, 0);
  EXPECT_EQ(resp.results[0].error_code, code(ErrorCode::invalid_partitions));
  EXPECT_EQ(resp.results[0].error_message, "The topic u currently has 2 partition(s); 1 would not be an increase.");
  EXPECT_EQ(resp.results[1].error_message, "Topic already has 4 partition(s).");

  req.topics = {grow("u", 5, 2)};
  resp = call<CreatePartitionsHandler>(req, 3);
  EXPECT_EQ(resp.results[0].error_code, code(ErrorCode::invalid_replica_assignment));

  req.topics = {grow("u", 5)};
  req.validate_only = true;
  resp = call<CreatePartitionsHandler>(req, 3);
  EXPECT_EQ(resp.results[0].error_code, 0);
  EXPECT_EQ(store_->find_topic("u")->partitions, 2);
}

// --- DescribeConfigs ---------------------------------------------------------

DescribeConfigsHandler::Request describe(int8_t type, std::string name,
                                         std::optional<std::vector<std::string>> keys = std::nullopt) {
  DescribeConfigsHandler::Request req;
  auto& r = req.resources.emplace_back();
  r.resource_type = type;
  r.resource_name = std::move(name);
  r.configuration_keys = std::move(keys);
  return req;
}

TEST_F(AdminHandlers, DescribeTopicConfigs) {
  create("t", 1, {{"retention.ms", "100"}});
  auto req = describe(2, "t");
  req.include_synonyms = true;
  req.include_documentation = true;
  auto resp = call<DescribeConfigsHandler>(req, 4);
  ASSERT_EQ(resp.results.size(), 1u);
  const auto& res = resp.results[0];
  EXPECT_EQ(res.error_code, 0);
  EXPECT_EQ(res.resource_type, 2);
  EXPECT_EQ(res.resource_name, "t");
  ASSERT_EQ(res.configs.size(), topic_config_keys().size());
  for (const auto& c : res.configs) {
    EXPECT_FALSE(c.read_only);
    EXPECT_FALSE(c.is_sensitive);
    EXPECT_TRUE(c.documentation) << c.name;
    if (c.name == "retention.ms") {
      EXPECT_EQ(c.value, "100");
      EXPECT_EQ(c.config_source, 1);
      EXPECT_EQ(c.config_type, 5);
      ASSERT_EQ(c.synonyms.size(), 2u);
      EXPECT_EQ(c.synonyms[0].name, "retention.ms");
      EXPECT_EQ(c.synonyms[0].source, 1);
      EXPECT_EQ(c.synonyms[1].name, "log.retention.ms");
      EXPECT_EQ(c.synonyms[1].value, "604800000");
      EXPECT_EQ(c.synonyms[1].source, 5);
    }
    if (c.name == "cleanup.policy") {
      EXPECT_EQ(c.value, "delete");
      EXPECT_EQ(c.config_source, 5);
      EXPECT_EQ(c.config_type, 7);
    }
  }
}

TEST_F(AdminHandlers, DescribeTopicConfigsSubsetAndOldVersions) {
  create("t", 1, {{"retention.ms", "100"}});
  auto resp = call<DescribeConfigsHandler>(describe(2, "t", std::vector<std::string>{"retention.ms", "segment.ms", "nope"}), 0);
  ASSERT_EQ(resp.results[0].configs.size(), 2u);
  EXPECT_EQ(resp.results[0].configs[0].name, "retention.ms");
  EXPECT_FALSE(resp.results[0].configs[0].is_default);
  EXPECT_EQ(resp.results[0].configs[1].name, "segment.ms");
  EXPECT_TRUE(resp.results[0].configs[1].is_default);

  resp = call<DescribeConfigsHandler>(describe(2, "t", std::vector<std::string>{}), 1);
  EXPECT_TRUE(resp.results[0].configs.empty());  // as Kafka: an empty list names nothing

  resp = call<DescribeConfigsHandler>(describe(2, "missing"), 2);
  EXPECT_EQ(resp.results[0].error_code, code(ErrorCode::unknown_topic_or_partition));
  EXPECT_EQ(resp.results[0].error_message, "Topic 'missing' does not exist.");
}

TEST_F(AdminHandlers, DescribeTopicConfigsShowsBrokerSettings) {
  // A broker with log.retention.ms set at start-up.
  Config config = build_config({}, {{"log.retention.ms", "1234"}});
  Broker broker{config, broker_.identity};
  broker.meta = broker_.meta;
  broker.blocking = broker_.blocking;
  broker.topics = broker_.topics;
  create("t", 1);
  auto req = describe(2, "t", std::vector<std::string>{"retention.ms"});
  req.include_synonyms = true;
  protocol::RequestHeader header;
  RequestContext ctx{broker, conn_, header, 1};
  std::optional<DescribeConfigsHandler::Response> out;
  asio::io_context io;
  asio::co_spawn(io, [&]() -> asio::awaitable<void> { out = co_await DescribeConfigsHandler::handle(ctx, req); },
                 [](std::exception_ptr e) {
                   if (e) std::rethrow_exception(e);
                 });
  io.run();
  const auto& c = out->results.at(0).configs.at(0);
  EXPECT_EQ(c.value, "1234");
  EXPECT_EQ(c.config_source, 4);
  ASSERT_EQ(c.synonyms.size(), 2u);
  EXPECT_EQ(c.synonyms[0].source, 4);
  EXPECT_EQ(c.synonyms[1].source, 5);
}

TEST_F(AdminHandlers, DescribeBrokerConfigs) {
  auto resp = call<DescribeConfigsHandler>(describe(4, "1"), 1);
  const auto& res = resp.results.at(0);
  EXPECT_EQ(res.error_code, 0);
  EXPECT_EQ(res.configs.size(), config_keys().size());
  bool saw_metastore = false;
  for (const auto& c : res.configs) {
    EXPECT_TRUE(c.read_only);
    if (c.name == "metastore") {
      saw_metastore = true;
      EXPECT_TRUE(c.is_sensitive);
      EXPECT_EQ(c.value, std::nullopt);
    }
    if (c.name == "num.partitions") {
      EXPECT_EQ(c.value, "1");
      EXPECT_EQ(c.config_source, 5);
    }
  }
  EXPECT_TRUE(saw_metastore);

  EXPECT_TRUE(call<DescribeConfigsHandler>(describe(4, ""), 1).results.at(0).configs.empty());
  auto other = call<DescribeConfigsHandler>(describe(4, "2"), 1).results.at(0);
  EXPECT_EQ(other.error_code, code(ErrorCode::invalid_request));
  EXPECT_EQ(other.error_message, "Unexpected broker id, expected 1 or empty string, but received 2");
  auto junk = call<DescribeConfigsHandler>(describe(4, "one"), 1).results.at(0);
  EXPECT_EQ(junk.error_message, "Broker id must be an integer, but it is: one");

  auto logger = call<DescribeConfigsHandler>(describe(8, "1"), 4).results.at(0);
  EXPECT_EQ(logger.error_code, 0);
  ASSERT_EQ(logger.configs.size(), 1u);
  EXPECT_EQ(logger.configs[0].name, "root");
  EXPECT_EQ(logger.configs[0].value, "INFO");

  EXPECT_EQ(call<DescribeConfigsHandler>(describe(32, "g"), 4).results.at(0).error_code,
            code(ErrorCode::invalid_request));
}

// --- AlterConfigs / IncrementalAlterConfigs -------------------------------------

TEST_F(AdminHandlers, AlterConfigsReplacesAllOverrides) {
  create("t", 1, {{"retention.ms", "100"}, {"cleanup.policy", "compact"}});
  AlterConfigsHandler::Request req;
  auto& r = req.resources.emplace_back();
  r.resource_type = 2;
  r.resource_name = "t";
  auto& c = r.configs.emplace_back();
  c.name = "retention.ms";
  c.value = " 200 ";
  auto resp = call<AlterConfigsHandler>(req, 2);
  ASSERT_EQ(resp.responses.size(), 1u);
  EXPECT_EQ(resp.responses[0].error_code, 0);
  EXPECT_EQ(store_->find_topic("t")->configs, (std::map<std::string, std::string>{{"retention.ms", "200"}}));
  EXPECT_EQ(cache_.find("t")->configs.at("retention.ms"), "200");

  c.value = "-3";
  resp = call<AlterConfigsHandler>(req, 0);
  EXPECT_EQ(resp.responses[0].error_code, code(ErrorCode::invalid_config));
  c.value = std::nullopt;
  resp = call<AlterConfigsHandler>(req, 1);
  EXPECT_EQ(resp.responses[0].error_code, code(ErrorCode::invalid_request));
  c.value = "1";
  req.validate_only = true;
  resp = call<AlterConfigsHandler>(req, 1);
  EXPECT_EQ(resp.responses[0].error_code, 0);
  EXPECT_EQ(store_->find_topic("t")->configs.at("retention.ms"), "200");

  req.validate_only = false;
  r.resource_type = 4;
  r.resource_name = "1";
  resp = call<AlterConfigsHandler>(req, 1);
  EXPECT_EQ(resp.responses[0].error_code, code(ErrorCode::invalid_request));
  EXPECT_TRUE(resp.responses[0].error_message);

  r.resource_type = 2;
  r.resource_name = "missing";
  resp = call<AlterConfigsHandler>(req, 1);
  EXPECT_EQ(resp.responses[0].error_code, code(ErrorCode::unknown_topic_or_partition));

  r.resource_type = 99;
  resp = call<AlterConfigsHandler>(req, 1);
  EXPECT_EQ(resp.responses[0].error_code, code(ErrorCode::unsupported_version));
}

IncrementalAlterConfigsHandler::Request incremental(
    std::string topic, std::vector<std::tuple<std::string, int8_t, std::optional<std::string>>> ops) {
  IncrementalAlterConfigsHandler::Request req;
  auto& r = req.resources.emplace_back();
  r.resource_type = 2;
  r.resource_name = std::move(topic);
  for (auto& [name, op, value] : ops) {
    auto& c = r.configs.emplace_back();
    c.name = name;
    c.config_operation = op;
    c.value = value;
  }
  return req;
}

TEST_F(AdminHandlers, IncrementalAlterConfigs) {
  create("t", 1, {{"retention.ms", "100"}});
  auto resp = call<IncrementalAlterConfigsHandler>(
      incremental("t", {{"retention.ms", 1, std::nullopt}, {"cleanup.policy", 2, "compact"}, {"segment.ms", 0, "10"}}),
      1);
  EXPECT_EQ(resp.responses.at(0).error_code, 0);
  EXPECT_EQ(store_->find_topic("t")->configs,
            (std::map<std::string, std::string>{{"cleanup.policy", "delete,compact"}, {"segment.ms", "10"}}));

  resp = call<IncrementalAlterConfigsHandler>(incremental("t", {{"cleanup.policy", 3, "delete"}}), 0);
  EXPECT_EQ(resp.responses.at(0).error_code, 0);
  EXPECT_EQ(store_->find_topic("t")->configs.at("cleanup.policy"), "compact");

  resp = call<IncrementalAlterConfigsHandler>(incremental("t", {{"cleanup.policy", 3, "compact"}}), 1);
  EXPECT_EQ(resp.responses.at(0).error_code, code(ErrorCode::invalid_config));  // nothing left

  resp = call<IncrementalAlterConfigsHandler>(incremental("t", {{"retention.ms", 2, "5"}}), 1);
  EXPECT_EQ(resp.responses.at(0).error_code, code(ErrorCode::invalid_config));
  EXPECT_EQ(resp.responses.at(0).error_message, "Can't APPEND to key retention.ms because its type is not LIST.");

  resp = call<IncrementalAlterConfigsHandler>(incremental("t", {{"retention.ms", 0, "5"}, {"retention.ms", 1, std::nullopt}}), 1);
  EXPECT_EQ(resp.responses.at(0).error_message, "Error due to duplicate config keys");

  resp = call<IncrementalAlterConfigsHandler>(incremental("t", {{"retention.ms", 0, std::nullopt}}), 1);
  EXPECT_EQ(resp.responses.at(0).error_code, code(ErrorCode::invalid_request));

  resp = call<IncrementalAlterConfigsHandler>(incremental("t", {{"nope", 0, "1"}}), 1);
  EXPECT_EQ(resp.responses.at(0).error_message, "Unknown topic config name: nope");

  resp = call<IncrementalAlterConfigsHandler>(incremental("t", {{"nope", 1, std::nullopt}}), 1);
  EXPECT_EQ(resp.responses.at(0).error_code, 0);  // deleting what is not set changes nothing

  resp = call<IncrementalAlterConfigsHandler>(incremental("t", {{"retention.ms", 9, "1"}}), 1);
  EXPECT_EQ(resp.responses.at(0).error_code, code(ErrorCode::invalid_request));

  auto req = incremental("t", {{"max.message.bytes", 0, "1000"}});
  req.validate_only = true;
  resp = call<IncrementalAlterConfigsHandler>(req, 1);
  EXPECT_EQ(resp.responses.at(0).error_code, 0);
  EXPECT_FALSE(store_->find_topic("t")->configs.contains("max.message.bytes"));

  req = incremental("t", {{"min.compaction.lag.ms", 0, "10"}, {"max.compaction.lag.ms", 0, "5"}});
  resp = call<IncrementalAlterConfigsHandler>(req, 1);
  EXPECT_EQ(resp.responses.at(0).error_code, code(ErrorCode::invalid_config));

  req.resources[0].resource_type = 4;
  req.resources[0].resource_name = "1";
  resp = call<IncrementalAlterConfigsHandler>(req, 1);
  EXPECT_EQ(resp.responses.at(0).error_code, code(ErrorCode::invalid_request));
  EXPECT_EQ(resp.responses.at(0).resource_type, 4);

  req = incremental("t", {{"retention.ms", 0, "1"}});
  req.resources.push_back(req.resources[0]);
  resp = call<IncrementalAlterConfigsHandler>(req, 1);
  ASSERT_EQ(resp.responses.size(), 1u);
  EXPECT_EQ(resp.responses.at(0).error_message, "Duplicate resource.");
}

// --- DeleteRecords -----------------------------------------------------------

TEST_F(AdminHandlers, DeleteRecords) {
  auto t = create("t", 2);
  append(t, 0, 10);
  append(t, 0, 10);
  DeleteRecordsHandler::Request req;
  auto& rt = req.topics.emplace_back();
  rt.name = "t";
  for (auto [p, offset] : std::vector<std::pair<int32_t, int64_t>>{{0, 15}, {1, 1}, {5, 0}, {1, -2}}) {
    auto& rp = rt.partitions.emplace_back();
    rp.partition_index = p;
    rp.offset = offset;
  }
  auto& missing = req.topics.emplace_back();
  missing.name = "missing";
  missing.partitions.emplace_back().offset = 0;
  auto resp = call<DeleteRecordsHandler>(req, 2);
  const auto& ps = resp.topics.at(0).partitions;
  EXPECT_EQ(ps.at(0).error_code, 0);
  EXPECT_EQ(ps.at(0).low_watermark, 15);
  EXPECT_EQ(ps.at(1).error_code, code(ErrorCode::offset_out_of_range));  // past the high watermark (0)
  EXPECT_EQ(ps.at(1).low_watermark, -1);
  EXPECT_EQ(ps.at(2).error_code, code(ErrorCode::unknown_topic_or_partition));
  EXPECT_EQ(ps.at(3).error_code, code(ErrorCode::offset_out_of_range));
  EXPECT_EQ(resp.topics.at(1).partitions.at(0).error_code, code(ErrorCode::unknown_topic_or_partition));
  EXPECT_EQ(store_->partition_offsets(t.id, 0)->log_start_offset, 15);

  req.topics.resize(1);
  req.topics[0].partitions.resize(1);
  req.topics[0].partitions[0].offset = -1;  // the high watermark
  resp = call<DeleteRecordsHandler>(req, 0);
  EXPECT_EQ(resp.topics.at(0).partitions.at(0).low_watermark, 20);
  req.topics[0].partitions[0].offset = 3;  // before the start: no-op
  resp = call<DeleteRecordsHandler>(req, 1);
  EXPECT_EQ(resp.topics.at(0).partitions.at(0).error_code, 0);
  EXPECT_EQ(resp.topics.at(0).partitions.at(0).low_watermark, 20);
}

// --- DescribeCluster ---------------------------------------------------------

TEST_F(AdminHandlers, DescribeCluster) {
  DescribeClusterHandler::Request req;
  req.include_cluster_authorized_operations = true;
  auto resp = call<DescribeClusterHandler>(req, 0);
  EXPECT_EQ(resp.error_code, 0);
  EXPECT_EQ(resp.cluster_id, "test-cluster");
  EXPECT_EQ(resp.controller_id, 1);
  ASSERT_EQ(resp.brokers.size(), 1u);
  EXPECT_EQ(resp.brokers[0].broker_id, 1);
  EXPECT_EQ(resp.brokers[0].host, "broker.example");
  EXPECT_EQ(resp.brokers[0].port, 9092);
  EXPECT_NE(resp.cluster_authorized_operations, INT32_MIN);

  req.include_cluster_authorized_operations = false;
  req.endpoint_type = 1;
  resp = call<DescribeClusterHandler>(req, 1);
  EXPECT_EQ(resp.endpoint_type, 1);
  EXPECT_EQ(resp.cluster_authorized_operations, INT32_MIN);
  req.endpoint_type = 2;
  EXPECT_EQ(call<DescribeClusterHandler>(req, 1).error_code, code(ErrorCode::mismatched_endpoint_type));
  req.endpoint_type = 7;
  EXPECT_EQ(call<DescribeClusterHandler>(req, 1).error_code, code(ErrorCode::unsupported_endpoint_type));
}

// --- DescribeTopicPartitions ------------------------------------------------------

TEST_F(AdminHandlers, DescribeTopicPartitionsPages) {
  create("a", 3);
  create("b", 2);
  create("c", 1);
  DescribeTopicPartitionsHandler::Request req;
  req.response_partition_limit = 4;
  auto resp = call<DescribeTopicPartitionsHandler>(req, 0);
  ASSERT_EQ(resp.topics.size(), 2u);
  EXPECT_EQ(resp.topics[0].name, "a");
  EXPECT_EQ(resp.topics[0].partitions.size(), 3u);
  EXPECT_EQ(resp.topics[1].name, "b");
  ASSERT_EQ(resp.topics[1].partitions.size(), 1u);
  const auto& p = resp.topics[0].partitions[0];
  EXPECT_EQ(p.leader_id, 1);
  EXPECT_EQ(p.leader_epoch, 0);
  EXPECT_EQ(p.replica_nodes, std::vector<int32_t>{1});
  EXPECT_EQ(p.isr_nodes, std::vector<int32_t>{1});
  ASSERT_TRUE(resp.next_cursor);
  EXPECT_EQ(resp.next_cursor->topic_name, "b");
  EXPECT_EQ(resp.next_cursor->partition_index, 1);

  req.cursor.emplace();
  req.cursor->topic_name = "b";
  req.cursor->partition_index = 1;
  resp = call<DescribeTopicPartitionsHandler>(req, 0);
  ASSERT_EQ(resp.topics.size(), 2u);
  EXPECT_EQ(resp.topics[0].partitions.at(0).partition_index, 1);
  EXPECT_EQ(resp.topics[1].name, "c");
  EXPECT_FALSE(resp.next_cursor);

  // Named topics, one unknown; the page ends exactly at a topic boundary.
  req.cursor.reset();
  req.response_partition_limit = 3;
  req.topics.resize(3);
  req.topics[0].name = "c";
  req.topics[1].name = "a";
  req.topics[2].name = "zz";
  resp = call<DescribeTopicPartitionsHandler>(req, 0);
  ASSERT_EQ(resp.topics.size(), 1u);
  EXPECT_EQ(resp.topics[0].name, "a");
  ASSERT_TRUE(resp.next_cursor);
  EXPECT_EQ(resp.next_cursor->topic_name, "c");
  EXPECT_EQ(resp.next_cursor->partition_index, 0);
  req.cursor = DescribeTopicPartitionsHandler::Request::Cursor{};
  req.cursor->topic_name = "c";
  resp = call<DescribeTopicPartitionsHandler>(req, 0);
  ASSERT_EQ(resp.topics.size(), 2u);
  EXPECT_EQ(resp.topics[1].name, "zz");
  EXPECT_EQ(resp.topics[1].error_code, code(ErrorCode::unknown_topic_or_partition));

  req.cursor->topic_name = "b";  // not among the topics asked for
  resp = call<DescribeTopicPartitionsHandler>(req, 0);
  for (const auto& t : resp.topics) EXPECT_EQ(t.error_code, code(ErrorCode::invalid_request));
}

// --- Metadata ----------------------------------------------------------------

MetadataHandler::Request metadata(std::optional<std::vector<std::string>> names, bool allow_auto_create = true) {
  MetadataHandler::Request req;
  req.allow_auto_topic_creation = allow_auto_create;
  if (names) {
    req.topics.emplace();
    for (auto& n : *names) req.topics->emplace_back().name = n;
  }
  return req;
}

TEST_F(AdminHandlers, MetadataListsTopics) {
  auto a = create("a", 2);
  create("b", 1);
  auto resp = call<MetadataHandler>(metadata(std::nullopt), 12);
  ASSERT_EQ(resp.topics.size(), 2u);
  EXPECT_EQ(resp.topics[0].name, "a");
  EXPECT_EQ(resp.topics[0].topic_id, a.id);
  EXPECT_FALSE(resp.topics[0].is_internal);
  ASSERT_EQ(resp.topics[0].partitions.size(), 2u);
  EXPECT_EQ(resp.topics[0].partitions[1].partition_index, 1);
  EXPECT_EQ(resp.topics[0].partitions[1].leader_id, 1);
  EXPECT_EQ(resp.topics[0].partitions[1].leader_epoch, 0);
  EXPECT_EQ(resp.topics[0].partitions[1].replica_nodes, std::vector<int32_t>{1});
  EXPECT_EQ(resp.topics[0].partitions[1].isr_nodes, std::vector<int32_t>{1});
  EXPECT_TRUE(resp.topics[0].partitions[1].offline_replicas.empty());

  EXPECT_EQ(call<MetadataHandler>(metadata(std::vector<std::string>{}), 0).topics.size(), 2u);  // v0: all
  EXPECT_TRUE(call<MetadataHandler>(metadata(std::vector<std::string>{}), 1).topics.empty());   // v1+: none

  MetadataHandler::Request by_id;
  by_id.topics.emplace();
  by_id.topics->emplace_back().topic_id = a.id;
  by_id.topics->emplace_back().topic_id = Uuid{{9}};
  resp = call<MetadataHandler>(by_id, 12);
  ASSERT_EQ(resp.topics.size(), 2u);
  EXPECT_EQ(resp.topics[0].name, "a");
  EXPECT_EQ(resp.topics[0].partitions.size(), 2u);
  EXPECT_EQ(resp.topics[1].error_code, code(ErrorCode::unknown_topic_id));
  EXPECT_EQ(resp.topics[1].name, std::nullopt);
}

TEST_F(AdminHandlers, MetadataAutoCreates) {
  auto resp = call<MetadataHandler>(metadata(std::vector<std::string>{"new", "bad name", "new"}), 9);
  ASSERT_EQ(resp.topics.size(), 2u);
  EXPECT_EQ(resp.topics[0].error_code, 0);
  EXPECT_EQ(resp.topics[0].partitions.size(), 1u);
  EXPECT_TRUE(store_->find_topic("new"));
  EXPECT_EQ(resp.topics[1].error_code, code(ErrorCode::invalid_topic_exception));

  resp = call<MetadataHandler>(metadata(std::vector<std::string>{"other"}, false), 4);
  EXPECT_EQ(resp.topics.at(0).error_code, code(ErrorCode::unknown_topic_or_partition));
  EXPECT_FALSE(store_->find_topic("other"));
  // v0-v3 have no flag and always auto-create.
  resp = call<MetadataHandler>(metadata(std::vector<std::string>{"other"}, false), 3);
  EXPECT_EQ(resp.topics.at(0).error_code, 0);
  resp = call<MetadataHandler>(metadata(std::vector<std::string>{"__consumer_offsets"}), 12);
  EXPECT_EQ(resp.topics.at(0).error_code, code(ErrorCode::unknown_topic_or_partition));
}

class NoAutoCreate : public AdminHandlers {
 protected:
  NoAutoCreate() : AdminHandlers(Properties{{"auto.create.topics.enable", "false"}}) {}
};

TEST_F(NoAutoCreate, MetadataDoesNotCreate) {
  auto resp = call<MetadataHandler>(metadata(std::vector<std::string>{"new"}), 12);
  EXPECT_EQ(resp.topics.at(0).error_code, code(ErrorCode::unknown_topic_or_partition));
  EXPECT_FALSE(store_->find_topic("new"));
}

// --- TopicCache --------------------------------------------------------------

TEST_F(AdminHandlers, CacheSeesOtherWritersOnRefresh) {
  // A second handle on the same file: another broker.
  auto other = meta::open_meta_store("sqlite://" + (scratch_.path() / "meta.db").string());
  asio::io_context io;
  auto run = [&](asio::awaitable<void> a) {
    asio::co_spawn(io, std::move(a), [](std::exception_ptr e) {
      if (e) std::rethrow_exception(e);
    });
    io.run();
    io.restart();
  };
  run(cache_.refresh(broker_));
  EXPECT_TRUE(cache_.all().empty());
  auto t = other->create_topic("elsewhere", 2, {});
  EXPECT_FALSE(cache_.find("elsewhere"));
  run(cache_.refresh(broker_));
  ASSERT_TRUE(cache_.find("elsewhere"));
  EXPECT_EQ(cache_.find(t.id)->name, "elsewhere");
  other->create_partitions(t.id, 3);
  run(cache_.refresh(broker_));
  EXPECT_EQ(cache_.find("elsewhere")->partitions, 3);
}

TEST(TopicCache, RefreshIsRateLimitedUnlessInvalidated) {
  meta::testing::ScratchDir dir;
  auto store = meta::open_meta_store("sqlite://" + (dir.path() / "meta.db").string());
  Config config = default_config();
  asio::thread_pool pool(1);
  TopicCache cache(std::chrono::hours(1));
  Broker broker{config, {}};
  broker.meta = store.get();
  broker.blocking = &pool;
  broker.topics = &cache;
  asio::io_context io;
  auto run = [&](asio::awaitable<void> a) {
    asio::co_spawn(io, std::move(a), [](std::exception_ptr e) {
      if (e) std::rethrow_exception(e);
    });
    io.run();
    io.restart();
  };
  run(cache.refresh(broker));  // the first one always asks
  store->create_topic("t", 1, {});
  run(cache.refresh(broker));  // within the interval: no query
  EXPECT_FALSE(cache.find("t"));
  run(cache.reload(broker));
  EXPECT_TRUE(cache.find("t"));
  pool.join();
}

TEST(TopicCache, InstallNeverGoesBackwards) {
  TopicCache cache;
  meta::Topic a;
  a.name = "a";
  a.partitions = 1;
  a.id = Uuid{{1}};
  cache.install(5, {a});
  cache.install(4, {});
  EXPECT_TRUE(cache.find("a"));
  cache.install(6, {});
  EXPECT_FALSE(cache.find("a"));
}

TEST(TopicNames, KafkaReasons) {
  EXPECT_EQ(invalid_topic_name_reason("ok.name_1-2"), std::nullopt);
  EXPECT_EQ(invalid_topic_name_reason(""), "Topic name is illegal, it can't be empty");
  EXPECT_EQ(invalid_topic_name_reason(".."), "Topic name cannot be \".\" or \"..\"");
  EXPECT_EQ(invalid_topic_name_reason("a b"),
            "Topic name \"a b\" is illegal, it contains a character other than ASCII alphanumerics, '.', '_' and '-'");
  EXPECT_TRUE(invalid_topic_name_reason(std::string(250, 'x')));
}

}  // namespace
}  // namespace floe::broker
