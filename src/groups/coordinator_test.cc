// The group coordinator driven directly, without a network: an io_context run
// by two threads, a blocking pool and a real SQLite metadata store. Every call
// is made from its own strand, as connections make them, and the test thread
// waits for the answers. Timeouts are small or large on purpose; no test
// asserts how long anything took.
#include "groups/coordinator.h"

#include <gtest/gtest.h>

#include <asio/co_spawn.hpp>
#include <asio/executor_work_guard.hpp>
#include <asio/io_context.hpp>
#include <asio/strand.hpp>
#include <asio/thread_pool.hpp>
#include <asio/use_future.hpp>
#include <algorithm>
#include <atomic>
#include <chrono>
#include <filesystem>
#include <future>
#include <memory>
#include <optional>
#include <ostream>
#include <stdexcept>
#include <string>
#include <thread>
#include <unistd.h>
#include <vector>

#include "common/clock.h"
#include "meta/sqlite_store.h"

namespace floe::protocol {
// Error codes print by name in failure messages. Internal linkage: found by
// argument-dependent lookup, invisible to other test files.
static void PrintTo(ErrorCode e, std::ostream* os) { *os << error_name(e) << " (" << code(e) << ")"; }
}  // namespace floe::protocol

namespace floe::groups {
namespace {

using namespace std::chrono_literals;

constexpr int32_t kSessionMs = 30000;    // long enough never to expire during a test
constexpr int32_t kRebalanceMs = 60000;  // long enough that only rejoins end a join phase

Bytes bytes(std::string_view s) { return Bytes(s.begin(), s.end()); }

// A ConsumerProtocolSubscription v0: version, topics, null user data.
Bytes subscription(const std::vector<std::string>& topics) {
  Bytes out;
  out.reserve(64);  // also keeps GCC 12's -Wstringop-overflow false positive quiet
  protocol::Writer w(out);
  w.write_int16(0);
  w.write_int32(static_cast<int32_t>(topics.size()));
  for (const auto& t : topics) {
    w.write_int16(static_cast<int16_t>(t.size()));
    w.write_raw(t.data(), t.size());
  }
  w.write_int32(-1);
  return out;
}

Protocol range(const std::vector<std::string>& topics = {"t"}) { return {"range", subscription(topics)}; }

JoinRequest join_req(std::string client, std::vector<Protocol> protocols = {range()},
                     std::optional<std::string> instance_id = std::nullopt, int32_t session_ms = kSessionMs) {
  JoinRequest r;
  r.instance_id = std::move(instance_id);
  r.protocol_type = "consumer";
  r.protocols = std::move(protocols);
  r.session_timeout_ms = session_ms;
  r.rebalance_timeout_ms = kRebalanceMs;
  r.client_id = std::move(client);
  r.client_host = "/127.0.0.1";
  r.require_known_member_id = true;
  return r;
}

SyncRequest sync_req(std::string group, int32_t generation, std::string member,
                     std::vector<std::pair<std::string, Bytes>> assignments = {},
                     std::optional<std::string> instance_id = std::nullopt) {
  SyncRequest r;
  r.group_id = std::move(group);
  r.generation = generation;
  r.member_id = std::move(member);
  r.instance_id = std::move(instance_id);
  r.assignments = std::move(assignments);
  return r;
}

class CoordinatorTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           ("floe-coordinator-test-" + std::to_string(::getpid()) + "-" + std::to_string(counter_++));
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_);
    meta_ = std::make_unique<meta::SqliteMetaStore>((dir_ / "meta.db").string());
    for (int i = 0; i < 2; ++i) {
      threads_.emplace_back([this] {
        io_.run();
        ++finished_;
      });
    }
  }

  void TearDown() override {
    for (auto& c : coordinators_) c->stop();
    work_.reset();
    // stop() promises that the io_context can then run dry: nothing parked,
    // no timer left. A hang here is that promise broken.
    bool drained = eventually([&] { return finished_.load() == 2; });
    if (!drained) {
      ADD_FAILURE() << "the io_context did not run dry after stop()";
      io_.stop();
    }
    for (auto& t : threads_) t.join();
    blocking_.join();
    coordinators_.clear();
    meta_.reset();
    std::filesystem::remove_all(dir_);
  }

  static CoordinatorOptions fast() {
    CoordinatorOptions o;
    o.min_session_timeout_ms = 10;
    o.max_session_timeout_ms = 60000;
    o.initial_rebalance_delay_ms = 0;
    return o;
  }

  // A coordinator over the test's store; later calls go to it.
  GroupCoordinator& make(CoordinatorOptions options = fast()) {
    coordinators_.push_back(std::make_unique<GroupCoordinator>(io_, blocking_, *meta_, options));
    c_ = coordinators_.back().get();
    return *c_;
  }

  template <typename Pred>
  static bool eventually(Pred pred) {
    for (int i = 0; i < 3000; ++i) {
      if (pred()) return true;
      std::this_thread::sleep_for(10ms);
    }
    return pred();
  }

  // Runs `f` (returning an awaitable) on a strand of its own, like a
  // connection's.
  template <typename F>
  auto spawn(F f) {
    return asio::co_spawn(asio::make_strand(io_), std::move(f), asio::use_future);
  }

  // The answer; a call that is never answered fails the test instead of
  // hanging it.
  template <typename T>
  static T get(std::future<T> f) {
    if (f.wait_for(30s) != std::future_status::ready) throw std::runtime_error("the coordinator never answered");
    return f.get();
  }

  template <typename T>
  static bool parked(std::future<T>& f) {
    return f.wait_for(50ms) == std::future_status::timeout;
  }

  std::future<JoinResult> join_async(JoinRequest r) {
    GroupCoordinator* c = c_;
    auto f = [c, r = std::move(r)]() mutable -> asio::awaitable<JoinResult> {
      co_return co_await c->join(std::move(r));
    };
    return spawn(std::move(f));
  }
  JoinResult join(JoinRequest r) { return get(join_async(std::move(r))); }

  std::future<SyncResult> sync_async(SyncRequest r) {
    GroupCoordinator* c = c_;
    auto f = [c, r = std::move(r)]() mutable -> asio::awaitable<SyncResult> {
      co_return co_await c->sync(std::move(r));
    };
    return spawn(std::move(f));
  }
  SyncResult sync(SyncRequest r) { return get(sync_async(std::move(r))); }

  ErrorCode heartbeat(std::string group, int32_t generation, std::string member,
                      std::optional<std::string> instance_id = std::nullopt) {
    GroupCoordinator* c = c_;
    auto f = [=]() -> asio::awaitable<ErrorCode> {
      co_return co_await c->heartbeat(group, generation, member, instance_id);
    };
    return get(spawn(std::move(f)));
  }

  LeaveResult leave(std::string group, std::vector<LeavingMember> members) {
    GroupCoordinator* c = c_;
    auto f = [=]() -> asio::awaitable<LeaveResult> { co_return co_await c->leave(group, members); };
    return get(spawn(std::move(f)));
  }

  ErrorCode validate_commit(std::string group, int32_t generation, std::string member,
                            std::optional<std::string> instance_id = std::nullopt) {
    GroupCoordinator* c = c_;
    auto f = [=]() -> asio::awaitable<ErrorCode> {
      // No offsets: only the group's checks run (and nothing is stored).
      std::vector<meta::CommittedOffset> none;
      CommitOutcome out = co_await c->commit_offsets(group, generation, member, instance_id, none, unix_now_ms());
      co_return out.error;
    };
    return get(spawn(std::move(f)));
  }

  std::vector<GroupListing> list() {
    GroupCoordinator* c = c_;
    auto f = [c]() -> asio::awaitable<std::vector<GroupListing>> { co_return co_await c->list_groups(); };
    return get(spawn(std::move(f)));
  }
  std::optional<GroupListing> listing(const std::string& group) {
    for (auto& l : list())
      if (l.group_id == group) return l;
    return std::nullopt;
  }

  GroupDescription describe(std::string group) {
    GroupCoordinator* c = c_;
    auto f = [=]() -> asio::awaitable<GroupDescription> { co_return co_await c->describe_group(group); };
    return get(spawn(std::move(f)));
  }

  ErrorCode delete_group(std::string group) {
    GroupCoordinator* c = c_;
    auto f = [=]() -> asio::awaitable<ErrorCode> { co_return co_await c->delete_group(group); };
    return get(spawn(std::move(f)));
  }

  OffsetDeleteCheck check_offset_delete(std::string group) {
    GroupCoordinator* c = c_;
    auto f = [=]() -> asio::awaitable<OffsetDeleteCheck> { co_return co_await c->check_offset_delete(group); };
    return get(spawn(std::move(f)));
  }

  void expire_offsets(int64_t now_ms) {
    GroupCoordinator* c = c_;
    auto f = [=]() -> asio::awaitable<void> { co_await c->expire_offsets(now_ms); };
    get(spawn(std::move(f)));
  }

  bool wait_state(const std::string& group, const std::string& state) {
    return eventually([&] { return describe(group).state == state; });
  }

  // KIP-394: a dynamic member's first JoinGroup only hands out its id.
  std::string new_member_id(const std::string& group, JoinRequest r) {
    r.group_id = group;
    r.member_id = "";
    JoinResult res = join(std::move(r));
    EXPECT_EQ(res.error, ErrorCode::member_id_required);
    EXPECT_FALSE(res.member_id.empty());
    return res.member_id;
  }

  // Joins `r` into an empty group as its only member and syncs it: a Stable
  // group at the returned generation. r.member_id is set to the member's id.
  int32_t form_single(const std::string& group, JoinRequest& r, const std::string& assignment = "alone") {
    r.group_id = group;
    if (!r.instance_id) r.member_id = new_member_id(group, r);
    JoinResult j = join(r);
    EXPECT_EQ(j.error, ErrorCode::none);
    EXPECT_EQ(j.leader, j.member_id);
    r.member_id = j.member_id;
    SyncResult s = sync(sync_req(group, j.generation, j.member_id, {{j.member_id, bytes(assignment)}}, r.instance_id));
    EXPECT_EQ(s.error, ErrorCode::none);
    return j.generation;
  }

  struct Pair {
    JoinRequest a, b;  // member ids filled in
    int32_t first_generation = -1;  // a alone
    JoinResult join_a, join_b;      // the generation both are in
    SyncResult sync_a, sync_b;
    int32_t generation() const { return join_a.generation; }
  };

  // The classic two-member flow: a joins alone and syncs; b joins (the group
  // prepares a rebalance), a learns it from its heartbeat and rejoins, both
  // get the next generation, the leader a assigns "A" and "B".
  Pair form_pair(const std::string& group, JoinRequest a, JoinRequest b) {
    Pair p;
    p.first_generation = form_single(group, a);
    b.group_id = group;
    if (!b.instance_id) b.member_id = new_member_id(group, b);
    auto jb = join_async(b);
    EXPECT_TRUE(wait_state(group, "PreparingRebalance"));
    EXPECT_EQ(heartbeat(group, p.first_generation, a.member_id), ErrorCode::rebalance_in_progress);
    p.join_a = join(a);
    p.join_b = get(std::move(jb));
    b.member_id = p.join_b.member_id;
    auto sb = sync_async(sync_req(group, p.join_b.generation, b.member_id, {}, b.instance_id));
    p.sync_a = sync(sync_req(group, p.join_a.generation, a.member_id,
                             {{a.member_id, bytes("A")}, {b.member_id, bytes("B")}}, a.instance_id));
    p.sync_b = get(std::move(sb));
    p.a = std::move(a);
    p.b = std::move(b);
    return p;
  }

  Pair form_pair(const std::string& group) { return form_pair(group, join_req("client-a"), join_req("client-b")); }

  meta::Topic topic(const std::string& name, int32_t partitions) { return meta_->create_topic(name, partitions, {}); }

  static meta::CommittedOffset offset(const meta::Topic& t, int32_t partition, int64_t commit_ms,
                                      std::optional<int64_t> expire_ms = std::nullopt) {
    meta::CommittedOffset o;
    o.partition = {t.id, partition};
    o.offset = 42;
    o.commit_ms = commit_ms;
    o.expire_ms = expire_ms;
    return o;
  }
  void commit(const std::string& group, std::vector<meta::CommittedOffset> offsets) {
    auto codes = meta_->commit_offsets(group, offsets, unix_now_ms());
    for (auto c : codes) ASSERT_EQ(c, ErrorCode::none);
  }
  std::vector<meta::PartitionId> offsets_of(const std::string& group) {
    std::vector<meta::PartitionId> out;
    for (const auto& o : meta_->fetch_offsets(group, std::nullopt)) out.push_back(o.partition);
    return out;
  }

  // The empty generation is recorded in the background: wait for it, so that
  // what follows does not race with that write.
  bool wait_stored_empty(const std::string& group) {
    return eventually([&] {
      auto r = meta_->find_group(group);
      return r && r->empty;
    });
  }

  static inline int counter_ = 0;
  std::filesystem::path dir_;
  asio::io_context io_;
  std::optional<asio::executor_work_guard<asio::io_context::executor_type>> work_{io_.get_executor()};
  asio::thread_pool blocking_{2};
  std::vector<std::thread> threads_;
  std::atomic<int> finished_{0};
  std::unique_ptr<meta::MetaStore> meta_;
  std::vector<std::unique_ptr<GroupCoordinator>> coordinators_;
  GroupCoordinator* c_ = nullptr;
};

// --- joining and syncing ------------------------------------------------------

TEST_F(CoordinatorTest, TwoMembersJoinSyncAndAreDescribed) {
  make();
  Pair p = form_pair("g");
  const int32_t gen = p.generation();

  EXPECT_EQ(p.join_a.error, ErrorCode::none);
  EXPECT_EQ(p.join_b.error, ErrorCode::none);
  EXPECT_EQ(gen, p.first_generation + 1);
  EXPECT_EQ(p.join_b.generation, gen);
  EXPECT_EQ(p.join_a.member_id, p.a.member_id);
  EXPECT_NE(p.a.member_id, p.b.member_id);
  EXPECT_EQ(p.join_a.protocol_type, "consumer");
  EXPECT_EQ(p.join_a.protocol_name, "range");
  EXPECT_EQ(p.join_b.protocol_name, "range");

  // a was leader before and rejoined: it stays leader and alone gets the
  // members' metadata.
  EXPECT_EQ(p.join_a.leader, p.a.member_id);
  EXPECT_EQ(p.join_b.leader, p.a.member_id);
  EXPECT_TRUE(p.join_b.members.empty());
  ASSERT_EQ(p.join_a.members.size(), 2u);
  for (const auto& m : p.join_a.members) {
    EXPECT_TRUE(m.member_id == p.a.member_id || m.member_id == p.b.member_id) << m.member_id;
    EXPECT_EQ(m.metadata, subscription({"t"}));
  }

  EXPECT_EQ(p.sync_a.error, ErrorCode::none);
  EXPECT_EQ(p.sync_b.error, ErrorCode::none);
  EXPECT_EQ(p.sync_a.assignment, bytes("A"));
  EXPECT_EQ(p.sync_b.assignment, bytes("B"));
  EXPECT_EQ(p.sync_b.protocol_type, "consumer");
  EXPECT_EQ(p.sync_b.protocol_name, "range");

  EXPECT_EQ(heartbeat("g", gen, p.a.member_id), ErrorCode::none);
  EXPECT_EQ(heartbeat("g", gen, p.b.member_id), ErrorCode::none);
  // A follower that syncs again in Stable gets its assignment again.
  EXPECT_EQ(sync(sync_req("g", gen, p.b.member_id)).assignment, bytes("B"));

  GroupDescription d = describe("g");
  EXPECT_EQ(d.error, ErrorCode::none);
  EXPECT_EQ(d.state, "Stable");
  EXPECT_EQ(d.protocol_type, "consumer");
  EXPECT_EQ(d.protocol, "range");
  ASSERT_EQ(d.members.size(), 2u);
  for (const auto& m : d.members) {
    const bool is_a = m.member_id == p.a.member_id;
    EXPECT_TRUE(is_a || m.member_id == p.b.member_id) << m.member_id;
    EXPECT_EQ(m.client_id, is_a ? "client-a" : "client-b");
    EXPECT_EQ(m.client_host, "/127.0.0.1");
    EXPECT_EQ(m.metadata, subscription({"t"}));
    EXPECT_EQ(m.assignment, bytes(is_a ? "A" : "B"));
  }

  auto l = listing("g");
  ASSERT_TRUE(l);
  EXPECT_EQ(l->protocol_type, "consumer");
  EXPECT_EQ(l->state, "Stable");

  // The synced generation is durable.
  auto record = meta_->find_group("g");
  ASSERT_TRUE(record);
  EXPECT_EQ(record->generation, gen);
  EXPECT_EQ(record->protocol, "range");
  EXPECT_FALSE(record->empty);
}

TEST_F(CoordinatorTest, UnknownGroupsDescribeAsDead) {
  make();
  GroupDescription d = describe("nobody-here");
  EXPECT_EQ(d.error, ErrorCode::none);
  EXPECT_EQ(d.state, "Dead");
  EXPECT_TRUE(d.members.empty());
}

TEST_F(CoordinatorTest, JoinWithAnUnknownMemberIdIsRefused) {
  make();
  JoinRequest r = join_req("c");
  r.group_id = "g";
  r.member_id = "made-up";
  EXPECT_EQ(join(r).error, ErrorCode::unknown_member_id);  // no group
  JoinRequest a = join_req("a");
  form_single("g", a);
  EXPECT_EQ(join(r).error, ErrorCode::unknown_member_id);  // not in the group
}

TEST_F(CoordinatorTest, AFollowerWithUnchangedMetadataRejoiningAStableGroupKeepsTheGeneration) {
  make();
  Pair p = form_pair("g");
  JoinResult again = join(p.b);
  EXPECT_EQ(again.error, ErrorCode::none);
  EXPECT_EQ(again.generation, p.generation());
  EXPECT_EQ(again.leader, p.a.member_id);
  EXPECT_EQ(describe("g").state, "Stable");
}

TEST_F(CoordinatorTest, MembersJoiningWithinTheInitialDelayShareTheFirstGeneration) {
  CoordinatorOptions o = fast();
  o.initial_rebalance_delay_ms = 300;
  make(o);
  JoinRequest a = join_req("client-a"), b = join_req("client-b");
  a.group_id = b.group_id = "g";
  a.member_id = new_member_id("g", a);
  auto ja = join_async(a);
  b.member_id = new_member_id("g", b);
  auto jb = join_async(b);
  JoinResult ra = get(std::move(ja)), rb = get(std::move(jb));
  EXPECT_EQ(ra.error, ErrorCode::none);
  EXPECT_EQ(rb.error, ErrorCode::none);
  EXPECT_EQ(ra.generation, 1);
  EXPECT_EQ(rb.generation, 1);
  EXPECT_EQ(ra.leader, rb.leader);
  EXPECT_EQ((ra.leader == a.member_id ? ra : rb).members.size(), 2u);
}

// JoinGroup v0-v3 cannot answer MEMBER_ID_REQUIRED: such a member gets its id
// with the generation.
TEST_F(CoordinatorTest, AnOldClientJoinsWithoutTheMemberIdRoundTrip) {
  make();
  JoinRequest r = join_req("old-client");
  r.group_id = "g";
  r.require_known_member_id = false;
  JoinResult j = join(r);
  EXPECT_EQ(j.error, ErrorCode::none);
  EXPECT_FALSE(j.member_id.empty());
  EXPECT_EQ(j.generation, 1);
  EXPECT_EQ(j.leader, j.member_id);
  EXPECT_EQ(sync(sync_req("g", 1, j.member_id, {{j.member_id, bytes("x")}})).assignment, bytes("x"));
}

// --- heartbeats ---------------------------------------------------------------

TEST_F(CoordinatorTest, HeartbeatErrors) {
  make();
  Pair p = form_pair("g");
  const int32_t gen = p.generation();
  EXPECT_EQ(heartbeat("g", gen + 1, p.a.member_id), ErrorCode::illegal_generation);
  EXPECT_EQ(heartbeat("g", gen - 1, p.b.member_id), ErrorCode::illegal_generation);
  EXPECT_EQ(heartbeat("g", gen, "ghost"), ErrorCode::unknown_member_id);
  EXPECT_EQ(heartbeat("no-such-group", 1, "ghost"), ErrorCode::unknown_member_id);

  // A third member joins: the others are told to rejoin.
  JoinRequest c = join_req("client-c");
  c.group_id = "g";
  c.member_id = new_member_id("g", c);
  auto jc = join_async(c);
  ASSERT_TRUE(wait_state("g", "PreparingRebalance"));
  EXPECT_EQ(heartbeat("g", gen, p.a.member_id), ErrorCode::rebalance_in_progress);
  EXPECT_EQ(heartbeat("g", gen, p.b.member_id), ErrorCode::rebalance_in_progress);
  EXPECT_EQ(sync(sync_req("g", gen, p.b.member_id)).error, ErrorCode::rebalance_in_progress);
  // Membership is checked before the generation.
  EXPECT_EQ(heartbeat("g", gen + 5, "ghost"), ErrorCode::unknown_member_id);

  // They do, and all three are in the next generation.
  auto ja = join_async(p.a);
  auto jb = join_async(p.b);
  JoinResult ra = get(std::move(ja)), rb = get(std::move(jb)), rc = get(std::move(jc));
  for (const auto* r : {&ra, &rb, &rc}) {
    EXPECT_EQ(r->error, ErrorCode::none);
    EXPECT_EQ(r->generation, gen + 1);
    EXPECT_EQ(r->leader, p.a.member_id);
  }
  EXPECT_EQ(ra.members.size(), 3u);
  // CompletingRebalance: heartbeats of the new generation are fine.
  EXPECT_EQ(heartbeat("g", gen + 1, c.member_id), ErrorCode::none);
}

TEST_F(CoordinatorTest, AMemberThatStopsHeartbeatingIsRemovedAndTheRestRebalance) {
  make();
  JoinRequest b = join_req("client-b", {range()}, std::nullopt, /*session_ms=*/300);
  Pair p = form_pair("g", join_req("client-a"), b);
  ASSERT_EQ(p.sync_b.error, ErrorCode::none);
  const int32_t gen = p.generation();

  // a keeps heartbeating, b does not: b's session ends and a is told.
  EXPECT_TRUE(eventually([&] { return heartbeat("g", gen, p.a.member_id) == ErrorCode::rebalance_in_progress; }));
  GroupDescription d = describe("g");
  EXPECT_EQ(d.state, "PreparingRebalance");
  ASSERT_EQ(d.members.size(), 1u);
  EXPECT_EQ(d.members[0].member_id, p.a.member_id);

  JoinResult ra = join(p.a);
  EXPECT_EQ(ra.error, ErrorCode::none);
  EXPECT_EQ(ra.generation, gen + 1);
  EXPECT_EQ(ra.leader, p.a.member_id);
  ASSERT_EQ(ra.members.size(), 1u);
  SyncResult sa = sync(sync_req("g", ra.generation, p.a.member_id, {{p.a.member_id, bytes("all")}}));
  EXPECT_EQ(sa.assignment, bytes("all"));
  EXPECT_EQ(describe("g").state, "Stable");
  EXPECT_EQ(heartbeat("g", gen + 1, p.b.member_id), ErrorCode::unknown_member_id);
}

TEST_F(CoordinatorTest, AMemberThatDoesNotSyncWithinTheRebalanceTimeoutIsRemoved) {
  make();
  JoinRequest a = join_req("client-a"), b = join_req("client-b");
  a.rebalance_timeout_ms = b.rebalance_timeout_ms = 500;
  a.group_id = b.group_id = "g";
  const int32_t first = form_single("g", a);
  b.member_id = new_member_id("g", b);
  auto jb = join_async(b);
  ASSERT_TRUE(wait_state("g", "PreparingRebalance"));
  JoinResult ra = join(a);
  ASSERT_EQ(ra.generation, first + 1);
  ASSERT_EQ(get(std::move(jb)).generation, first + 1);

  // Only the leader syncs.
  SyncResult sa =
      sync(sync_req("g", ra.generation, a.member_id, {{a.member_id, bytes("A")}, {b.member_id, bytes("B")}}));
  EXPECT_EQ(sa.assignment, bytes("A"));
  EXPECT_TRUE(
      eventually([&] { return heartbeat("g", ra.generation, a.member_id) == ErrorCode::rebalance_in_progress; }));
  EXPECT_EQ(heartbeat("g", ra.generation, b.member_id), ErrorCode::unknown_member_id);
  JoinResult again = join(a);
  EXPECT_EQ(again.error, ErrorCode::none);
  EXPECT_EQ(again.generation, first + 2);
  EXPECT_EQ(again.members.size(), 1u);
}

// --- leaving ------------------------------------------------------------------

TEST_F(CoordinatorTest, LeaveGroupRemovesAMemberAndTheRestRebalance) {
  make();
  Pair p = form_pair("g");
  const int32_t gen = p.generation();

  LeaveResult r = leave("g", {{p.b.member_id, std::nullopt}});
  EXPECT_EQ(r.error, ErrorCode::none);
  ASSERT_EQ(r.members.size(), 1u);
  EXPECT_EQ(r.members[0], ErrorCode::none);
  EXPECT_EQ(heartbeat("g", gen, p.a.member_id), ErrorCode::rebalance_in_progress);
  EXPECT_EQ(heartbeat("g", gen, p.b.member_id), ErrorCode::unknown_member_id);

  JoinResult ra = join(p.a);
  EXPECT_EQ(ra.error, ErrorCode::none);
  EXPECT_EQ(ra.generation, gen + 1);
  ASSERT_EQ(ra.members.size(), 1u);
  EXPECT_EQ(ra.members[0].member_id, p.a.member_id);

  // Unknown members, in a known group and in none.
  r = leave("g", {{"ghost", std::nullopt}, {p.b.member_id, std::nullopt}});
  EXPECT_EQ(r.error, ErrorCode::none);
  EXPECT_EQ(r.members, (std::vector<ErrorCode>{ErrorCode::unknown_member_id, ErrorCode::unknown_member_id}));
  r = leave("no-such-group", {{"ghost", std::nullopt}});
  EXPECT_EQ(r.error, ErrorCode::none);
  EXPECT_EQ(r.members, std::vector<ErrorCode>{ErrorCode::unknown_member_id});

  // The last member leaves: the group is empty and records that.
  SyncResult sa = sync(sync_req("g", gen + 1, p.a.member_id, {{p.a.member_id, bytes("all")}}));
  EXPECT_EQ(sa.error, ErrorCode::none);
  r = leave("g", {{p.a.member_id, std::nullopt}});
  EXPECT_EQ(r.members, std::vector<ErrorCode>{ErrorCode::none});
  GroupDescription d = describe("g");
  EXPECT_EQ(d.state, "Empty");
  EXPECT_TRUE(d.members.empty());
  EXPECT_EQ(d.protocol_type, "consumer");
  ASSERT_TRUE(wait_stored_empty("g"));
  EXPECT_EQ(meta_->find_group("g")->generation, gen + 2);
}

TEST_F(CoordinatorTest, ALeaveDuringARebalanceLetsItComplete) {
  make();
  Pair p = form_pair("g");
  const int32_t gen = p.generation();
  JoinRequest c = join_req("client-c");
  c.group_id = "g";
  c.member_id = new_member_id("g", c);
  auto jc = join_async(c);
  ASSERT_TRUE(wait_state("g", "PreparingRebalance"));
  auto ja = join_async(p.a);
  EXPECT_TRUE(parked(ja)) << "b has not rejoined yet";

  // b leaves instead of rejoining: nobody is missing any more.
  EXPECT_EQ(leave("g", {{p.b.member_id, std::nullopt}}).members, std::vector<ErrorCode>{ErrorCode::none});
  JoinResult ra = get(std::move(ja)), rc = get(std::move(jc));
  EXPECT_EQ(ra.error, ErrorCode::none);
  EXPECT_EQ(rc.error, ErrorCode::none);
  EXPECT_EQ(ra.generation, gen + 1);
  EXPECT_EQ(rc.generation, gen + 1);
  EXPECT_EQ(ra.members.size(), 2u);
}

TEST_F(CoordinatorTest, LeaveByInstanceIdRemovesAStaticMember) {
  make();
  JoinRequest a = join_req("client-a");
  JoinRequest s = join_req("client-s", {range()}, "instance-s");
  Pair p = form_pair("g", a, s);
  const int32_t gen = p.generation();
  ASSERT_EQ(p.join_b.error, ErrorCode::none);

  LeaveResult r = leave("g", {{"", std::string("no-such-instance")},
                              {p.a.member_id, std::string("instance-s")},  // s's instance, a's member id
                              {"", std::string("instance-s")}});
  EXPECT_EQ(r.error, ErrorCode::none);
  EXPECT_EQ(r.members, (std::vector<ErrorCode>{ErrorCode::unknown_member_id, ErrorCode::fenced_instance_id,
                                                ErrorCode::none}));
  EXPECT_EQ(heartbeat("g", gen, p.b.member_id, "instance-s"), ErrorCode::unknown_member_id);
  EXPECT_EQ(heartbeat("g", gen, p.a.member_id), ErrorCode::rebalance_in_progress);
  JoinResult ra = join(p.a);
  EXPECT_EQ(ra.generation, gen + 1);
  EXPECT_EQ(ra.members.size(), 1u);
}

// --- static membership (KIP-345) ------------------------------------------------

TEST_F(CoordinatorTest, AStaticMemberRejoiningAStableGroupGetsItsAssignmentBackAndFencesItsOldId) {
  make();
  JoinRequest s = join_req("client-s", {range()}, "instance-s");
  Pair p = form_pair("g", join_req("client-a"), s);
  const int32_t gen = p.generation();
  ASSERT_EQ(p.sync_b.assignment, bytes("B"));
  const std::string old_id = p.b.member_id;

  // The static member restarts: no member id, the same instance id.
  JoinRequest again = p.b;
  again.member_id = "";
  JoinResult r = join(again);
  EXPECT_EQ(r.error, ErrorCode::none);
  EXPECT_NE(r.member_id, old_id);
  EXPECT_FALSE(r.member_id.empty());
  EXPECT_EQ(r.generation, gen) << "no rebalance";
  EXPECT_EQ(r.leader, p.a.member_id);
  EXPECT_TRUE(r.members.empty());
  EXPECT_EQ(r.protocol_name, "range");

  SyncResult sr = sync(sync_req("g", gen, r.member_id, {}, "instance-s"));
  EXPECT_EQ(sr.error, ErrorCode::none);
  EXPECT_EQ(sr.assignment, bytes("B"));

  EXPECT_EQ(heartbeat("g", gen, old_id, "instance-s"), ErrorCode::fenced_instance_id);
  JoinRequest zombie = p.b;  // the old process, still running
  EXPECT_EQ(join(zombie).error, ErrorCode::fenced_instance_id);
  EXPECT_EQ(heartbeat("g", gen, old_id), ErrorCode::unknown_member_id);
  EXPECT_EQ(sync(sync_req("g", gen, old_id, {}, "instance-s")).error, ErrorCode::fenced_instance_id);
  EXPECT_EQ(heartbeat("g", gen, r.member_id, "instance-s"), ErrorCode::none);
  EXPECT_EQ(heartbeat("g", gen, p.a.member_id), ErrorCode::none);
  GroupDescription d = describe("g");
  EXPECT_EQ(d.state, "Stable");
  ASSERT_EQ(d.members.size(), 2u);
  bool found = false;
  for (const auto& m : d.members) {
    if (m.member_id != r.member_id) continue;
    found = true;
    EXPECT_EQ(m.instance_id, "instance-s");
    EXPECT_EQ(m.assignment, bytes("B"));
  }
  EXPECT_TRUE(found);
}

TEST_F(CoordinatorTest, AStaticLeaderRejoiningIsToldToSkipAssignmentOnlyIfItCan) {
  make();
  JoinRequest s = join_req("client-s", {range()}, "instance-s");
  const int32_t gen = form_single("g", s, "mine");
  const std::string first_id = s.member_id;

  // An old client: told the old leader id, so that it acts as a follower.
  JoinRequest again = s;
  again.member_id = "";
  JoinResult r = join(again);
  EXPECT_EQ(r.error, ErrorCode::none);
  EXPECT_EQ(r.generation, gen);
  EXPECT_EQ(r.leader, first_id);
  EXPECT_NE(r.member_id, first_id);
  EXPECT_FALSE(r.skip_assignment);
  EXPECT_EQ(sync(sync_req("g", gen, r.member_id, {}, "instance-s")).assignment, bytes("mine"));

  // KIP-814: a client that can skip the assignment is told it leads.
  again.supports_skip_assignment = true;
  JoinResult r2 = join(again);
  EXPECT_EQ(r2.error, ErrorCode::none);
  EXPECT_EQ(r2.generation, gen);
  EXPECT_EQ(r2.leader, r2.member_id);
  EXPECT_TRUE(r2.skip_assignment);
  ASSERT_EQ(r2.members.size(), 1u);
  EXPECT_EQ(r2.members[0].member_id, r2.member_id);
  EXPECT_EQ(r2.members[0].instance_id, "instance-s");
  EXPECT_EQ(describe("g").state, "Stable");
}

// --- protocols and limits -------------------------------------------------------

TEST_F(CoordinatorTest, JoinsWithAnIncompatibleProtocolAreRefused) {
  make();
  JoinRequest a = join_req("client-a");
  form_single("g", a);

  JoinRequest other_type = join_req("client-x");
  other_type.group_id = "g";
  other_type.protocol_type = "connect";
  EXPECT_EQ(join(other_type).error, ErrorCode::inconsistent_group_protocol);

  JoinRequest other_protocol = join_req("client-y", {{"sticky", subscription({"t"})}});
  other_protocol.group_id = "g";
  EXPECT_EQ(join(other_protocol).error, ErrorCode::inconsistent_group_protocol);

  JoinRequest no_protocols = join_req("client-z", {});
  no_protocols.group_id = "fresh";
  EXPECT_EQ(join(no_protocols).error, ErrorCode::inconsistent_group_protocol);
  JoinRequest no_type = join_req("client-z");
  no_type.group_id = "fresh";
  no_type.protocol_type = "";
  EXPECT_EQ(join(no_type).error, ErrorCode::inconsistent_group_protocol);

  // A member that changes to a protocol the group lacks, too.
  JoinRequest a2 = a;
  a2.protocol_type = "connect";
  EXPECT_EQ(join(a2).error, ErrorCode::inconsistent_group_protocol);
  EXPECT_EQ(describe("g").state, "Stable");
}

TEST_F(CoordinatorTest, TheSelectedProtocolIsOneEveryMemberSupports) {
  make();
  const Protocol a_range{"range", subscription({"range-a"})};
  const Protocol a_rr{"roundrobin", subscription({"rr-a"})};
  const Protocol b_rr{"roundrobin", subscription({"rr-b"})};
  Pair p = form_pair("g", join_req("client-a", {a_range, a_rr}), join_req("client-b", {b_rr}));
  EXPECT_EQ(p.first_generation + 1, p.generation());
  EXPECT_EQ(p.join_a.protocol_name, "roundrobin");
  EXPECT_EQ(p.join_b.protocol_name, "roundrobin");
  ASSERT_EQ(p.join_a.members.size(), 2u);
  for (const auto& m : p.join_a.members)
    EXPECT_EQ(m.metadata, m.member_id == p.a.member_id ? a_rr.metadata : b_rr.metadata);
  EXPECT_EQ(p.sync_b.protocol_name, "roundrobin");
  EXPECT_EQ(describe("g").protocol, "roundrobin");

  // SyncGroup v5+ names the protocol; a different one is refused.
  SyncRequest wrong = sync_req("g", p.generation(), p.b.member_id);
  wrong.protocol_name = "range";
  EXPECT_EQ(sync(wrong).error, ErrorCode::inconsistent_group_protocol);
  SyncRequest right = sync_req("g", p.generation(), p.b.member_id);
  right.protocol_type = "consumer";
  right.protocol_name = "roundrobin";
  EXPECT_EQ(sync(right).assignment, bytes("B"));
}

TEST_F(CoordinatorTest, SessionTimeoutsOutOfBoundsAreRefused) {
  make();
  JoinRequest low = join_req("c", {range()}, std::nullopt, 5);
  low.group_id = "g";
  EXPECT_EQ(join(low).error, ErrorCode::invalid_session_timeout);
  JoinRequest high = join_req("c", {range()}, std::nullopt, 60001);
  high.group_id = "g";
  EXPECT_EQ(join(high).error, ErrorCode::invalid_session_timeout);
  EXPECT_EQ(describe("g").state, "Dead") << "no group was created";
  JoinRequest edge = join_req("c", {range()}, std::nullopt, 10);
  edge.group_id = "g";
  EXPECT_EQ(join(edge).error, ErrorCode::member_id_required);
}

TEST_F(CoordinatorTest, GroupMaxSizeRefusesNewMembersOnly) {
  CoordinatorOptions o = fast();
  o.max_size = 2;
  make(o);
  Pair p = form_pair("g");
  JoinRequest c = join_req("client-c");
  c.group_id = "g";
  JoinResult r = join(c);
  EXPECT_EQ(r.error, ErrorCode::group_max_size_reached);
  EXPECT_EQ(heartbeat("g", p.generation(), p.a.member_id), ErrorCode::none) << "no rebalance";

  // Members already in the group still rejoin: the leader's rejoin starts a
  // rebalance, b's completes it.
  auto ja = join_async(p.a);
  ASSERT_TRUE(wait_state("g", "PreparingRebalance"));
  JoinResult rb = join(p.b);
  JoinResult ra = get(std::move(ja));
  EXPECT_EQ(ra.error, ErrorCode::none);
  EXPECT_EQ(rb.error, ErrorCode::none);
  EXPECT_EQ(ra.generation, rb.generation);
  EXPECT_EQ(ra.members.size(), 2u);
}

// --- offset commits ----------------------------------------------------------------

TEST_F(CoordinatorTest, ValidateOffsetCommit) {
  make();
  // A consumer that never joins commits into a group nobody created.
  EXPECT_EQ(validate_commit("solo", -1, ""), ErrorCode::none);
  auto l = listing("solo");
  ASSERT_TRUE(l);
  EXPECT_EQ(l->state, "Empty");
  EXPECT_EQ(l->protocol_type, "");
  EXPECT_EQ(validate_commit("solo", -1, ""), ErrorCode::none);
  // A member's commit into no group (OffsetCommit v9+ says so; the handler
  // turns it into ILLEGAL_GENERATION for older versions).
  EXPECT_EQ(validate_commit("nobody", 3, "ghost"), ErrorCode::group_id_not_found);
  EXPECT_EQ(describe("nobody").state, "Dead") << "not created";
  // Generation -1 commits into a group without members whatever member id
  // they carry (Kafka's ClassicGroup.validateOffsetCommit).
  EXPECT_EQ(validate_commit("admin", -1, "some-admin-client"), ErrorCode::none);
  EXPECT_EQ(describe("admin").state, "Empty");

  Pair p = form_pair("g");
  const int32_t gen = p.generation();
  EXPECT_EQ(validate_commit("g", -1, ""), ErrorCode::unknown_member_id) << "only members commit into a live group";
  EXPECT_EQ(validate_commit("g", gen, p.a.member_id), ErrorCode::none);
  EXPECT_EQ(validate_commit("g", gen, p.b.member_id), ErrorCode::none);
  EXPECT_EQ(validate_commit("g", gen + 1, p.a.member_id), ErrorCode::illegal_generation);
  EXPECT_EQ(validate_commit("g", gen, "ghost"), ErrorCode::unknown_member_id);

  // PreparingRebalance: members still commit (they learn of the rebalance
  // from their heartbeat).
  JoinRequest c = join_req("client-c");
  c.group_id = "g";
  c.member_id = new_member_id("g", c);
  auto jc = join_async(c);
  ASSERT_TRUE(wait_state("g", "PreparingRebalance"));
  EXPECT_EQ(validate_commit("g", gen, p.a.member_id), ErrorCode::none);

  // CompletingRebalance: the new generation has no assignment yet.
  auto ja = join_async(p.a);
  auto jb = join_async(p.b);
  ASSERT_EQ(get(std::move(ja)).generation, gen + 1);
  get(std::move(jb));
  get(std::move(jc));
  EXPECT_EQ(describe("g").state, "CompletingRebalance");
  EXPECT_EQ(validate_commit("g", gen + 1, p.b.member_id), ErrorCode::rebalance_in_progress);
  EXPECT_EQ(validate_commit("g", gen, p.b.member_id), ErrorCode::illegal_generation);
}

// --- durability ------------------------------------------------------------------

TEST_F(CoordinatorTest, ARestartedCoordinatorFindsTheGroupEmptyAndContinuesItsGenerations) {
  make();
  Pair p = form_pair("g");
  const int32_t gen = p.generation();
  ASSERT_EQ(p.sync_a.error, ErrorCode::none);
  c_->stop();

  make();
  GroupDescription d = describe("g");
  EXPECT_EQ(d.error, ErrorCode::none);
  EXPECT_EQ(d.state, "Empty");
  EXPECT_EQ(d.protocol_type, "consumer");
  EXPECT_EQ(d.protocol, "");
  EXPECT_TRUE(d.members.empty());
  auto l = listing("g");
  ASSERT_TRUE(l);
  EXPECT_EQ(l->state, "Empty");
  EXPECT_EQ(l->protocol_type, "consumer");

  // The old members are unknown and rejoin; the generation goes on.
  EXPECT_EQ(heartbeat("g", gen, p.a.member_id), ErrorCode::unknown_member_id);
  JoinRequest a = join_req("client-a");
  a.group_id = "g";
  a.member_id = new_member_id("g", a);
  JoinResult r = join(a);
  EXPECT_EQ(r.error, ErrorCode::none);
  EXPECT_EQ(r.generation, gen + 1);
  EXPECT_EQ(sync(sync_req("g", r.generation, a.member_id, {{a.member_id, bytes("x")}})).error, ErrorCode::none);
  EXPECT_EQ(meta_->find_group("g")->generation, gen + 1);
}

// Members of the recorded generation may still be alive after a restart
// (they are only unknown to this coordinator): until their session timeout
// has passed, the group is not treated as empty by the calls that would
// destroy its offsets.
TEST_F(CoordinatorTest, AfterARestartTheGroupIsProtectedUntilItsMembersCouldHaveExpired) {
  make();
  Pair p = form_pair("g", join_req("client-a", {range()}, std::nullopt, 400),
                     join_req("client-b", {range()}, std::nullopt, 400));
  ASSERT_EQ(p.sync_a.error, ErrorCode::none);
  EXPECT_EQ(meta_->find_group("g")->session_timeout_ms, 400);
  c_->stop();

  make();
  EXPECT_EQ(delete_group("g"), ErrorCode::non_empty_group);
  OffsetDeleteCheck check = check_offset_delete("g");
  EXPECT_EQ(check.error, ErrorCode::none);
  EXPECT_TRUE(check.all_subscribed);
  EXPECT_EQ(validate_commit("g", -1, ""), ErrorCode::unknown_member_id);
  // The members' sessions would have expired by now: the group is empty.
  EXPECT_TRUE(eventually([&] { return validate_commit("g", -1, "") == ErrorCode::none; }));
  EXPECT_FALSE(check_offset_delete("g").all_subscribed);
  EXPECT_EQ(delete_group("g"), ErrorCode::none);
}

// --- administration ----------------------------------------------------------------

TEST_F(CoordinatorTest, DeleteGroup) {
  make();
  const meta::Topic t = topic("t", 2);
  Pair p = form_pair("live");
  EXPECT_EQ(delete_group("live"), ErrorCode::non_empty_group);
  EXPECT_EQ(describe("live").state, "Stable");
  EXPECT_EQ(delete_group("nope"), ErrorCode::group_id_not_found);

  // A standalone group with offsets.
  ASSERT_EQ(validate_commit("solo", -1, ""), ErrorCode::none);
  commit("solo", {offset(t, 0, unix_now_ms()), offset(t, 1, unix_now_ms())});
  EXPECT_EQ(delete_group("solo"), ErrorCode::none);
  EXPECT_FALSE(meta_->find_group("solo"));
  EXPECT_TRUE(meta_->fetch_offsets("solo", std::nullopt).empty());
  EXPECT_EQ(describe("solo").state, "Dead");
  EXPECT_FALSE(listing("solo"));
  EXPECT_EQ(delete_group("solo"), ErrorCode::group_id_not_found);

  // A consumer group whose members all left.
  JoinRequest a = join_req("client-a");
  const int32_t gen = form_single("left", a);
  commit("left", {offset(t, 0, unix_now_ms())});
  ASSERT_EQ(leave("left", {{a.member_id, std::nullopt}}).members, std::vector<ErrorCode>{ErrorCode::none});
  ASSERT_TRUE(wait_stored_empty("left"));
  EXPECT_EQ(meta_->find_group("left")->generation, gen + 1);
  EXPECT_EQ(delete_group("left"), ErrorCode::none);
  EXPECT_FALSE(meta_->find_group("left"));
  EXPECT_TRUE(meta_->fetch_offsets("left", std::nullopt).empty());
  EXPECT_FALSE(listing("left"));

  // The name can be used again, from generation 1.
  JoinRequest b = join_req("client-b");
  EXPECT_EQ(form_single("left", b), 1);
}

TEST_F(CoordinatorTest, CheckOffsetDeleteReportsTheTopicsALiveConsumerGroupSubscribesTo) {
  make();
  Pair p = form_pair("g", join_req("client-a", {range({"t1", "t2"})}), join_req("client-b", {range({"t2", "t3"})}));
  ASSERT_EQ(p.sync_b.error, ErrorCode::none);
  OffsetDeleteCheck c = check_offset_delete("g");
  EXPECT_EQ(c.error, ErrorCode::none);
  EXPECT_EQ(c.subscribed_topics, (std::set<std::string>{"t1", "t2", "t3"}));

  EXPECT_EQ(check_offset_delete("nope").error, ErrorCode::group_id_not_found);

  ASSERT_EQ(validate_commit("solo", -1, ""), ErrorCode::none);
  c = check_offset_delete("solo");
  EXPECT_EQ(c.error, ErrorCode::none);
  EXPECT_TRUE(c.subscribed_topics.empty());

  // Another protocol type's metadata cannot be read: a live group of it
  // protects everything.
  JoinRequest x = join_req("client-x", {{"whatever", bytes("opaque")}});
  x.protocol_type = "connect";
  form_single("connect-group", x);
  EXPECT_EQ(check_offset_delete("connect-group").error, ErrorCode::non_empty_group);

  // So does consumer metadata that is not a subscription.
  JoinRequest y = join_req("client-y", {{"range", bytes("garbage")}});
  form_single("broken", y);
  // Kafka's isSubscribedToTopic says yes when it cannot tell.
  OffsetDeleteCheck broken = check_offset_delete("broken");
  EXPECT_EQ(broken.error, ErrorCode::none);
  EXPECT_TRUE(broken.all_subscribed);
}

// --- offset expiry ---------------------------------------------------------------

constexpr int64_t kHourMs = 3600 * 1000;

TEST_F(CoordinatorTest, OffsetsOfAnEmptyConsumerGroupExpireTogetherAndTheGroupGoes) {
  CoordinatorOptions o = fast();
  o.offsets_retention_ms = kHourMs;
  make(o);
  const meta::Topic t = topic("t", 2);
  JoinRequest a = join_req("client-a");
  form_single("g", a);
  // Committed long ago: while the group had members, that does not count.
  commit("g", {offset(t, 0, 1000), offset(t, 1, unix_now_ms())});
  ASSERT_EQ(leave("g", {{a.member_id, std::nullopt}}).members, std::vector<ErrorCode>{ErrorCode::none});
  ASSERT_TRUE(wait_stored_empty("g"));

  expire_offsets(unix_now_ms());
  EXPECT_EQ(offsets_of("g").size(), 2u) << "empty for less than the retention";
  EXPECT_TRUE(meta_->find_group("g"));

  expire_offsets(unix_now_ms() + 2 * kHourMs);
  EXPECT_TRUE(offsets_of("g").empty());
  EXPECT_FALSE(meta_->find_group("g")) << "empty and without offsets: deleted";
  EXPECT_FALSE(listing("g"));
  EXPECT_EQ(describe("g").state, "Dead");
}

TEST_F(CoordinatorTest, StandaloneOffsetsExpireByCommitTime) {
  CoordinatorOptions o = fast();
  o.offsets_retention_ms = kHourMs;
  make(o);
  const meta::Topic t = topic("t", 2);
  const int64_t now = unix_now_ms();
  ASSERT_EQ(validate_commit("solo", -1, ""), ErrorCode::none);
  commit("solo", {offset(t, 0, now - 2 * kHourMs), offset(t, 1, now)});

  expire_offsets(now);
  EXPECT_EQ(offsets_of("solo"), (std::vector<meta::PartitionId>{{t.id, 1}}));
  EXPECT_TRUE(meta_->find_group("solo"));

  expire_offsets(now + kHourMs);
  EXPECT_TRUE(offsets_of("solo").empty());
  EXPECT_FALSE(meta_->find_group("solo"));
}

TEST_F(CoordinatorTest, AnOffsetWithItsOwnExpiryExpiresThen) {
  CoordinatorOptions o = fast();
  o.offsets_retention_ms = kHourMs;
  make(o);
  const meta::Topic t = topic("t", 2);
  const int64_t now = unix_now_ms();
  const int64_t expire = now + 10 * 60 * 1000;
  ASSERT_EQ(validate_commit("solo", -1, ""), ErrorCode::none);
  // An explicit retention (OffsetCommit v2-v4) wins over the broker's, both
  // ways: p0 goes before the hour, p1 (committed long ago) stays past it.
  commit("solo", {offset(t, 0, now, expire), offset(t, 1, now - 2 * kHourMs, now + 2 * kHourMs)});

  expire_offsets(expire - 1);
  EXPECT_EQ(offsets_of("solo").size(), 2u);
  expire_offsets(expire);
  EXPECT_EQ(offsets_of("solo"), (std::vector<meta::PartitionId>{{t.id, 1}}));
}

TEST_F(CoordinatorTest, AStableConsumerGroupKeepsOffsetsOfTopicsItSubscribesTo) {
  CoordinatorOptions o = fast();
  o.offsets_retention_ms = kHourMs;
  make(o);
  const meta::Topic t = topic("t", 1);
  const meta::Topic u = topic("u", 1);
  Pair p = form_pair("g");  // both subscribe to "t"
  ASSERT_EQ(p.sync_b.error, ErrorCode::none);
  const int64_t long_ago = unix_now_ms() - 2 * kHourMs;
  commit("g", {offset(t, 0, long_ago), offset(u, 0, long_ago)});

  expire_offsets(unix_now_ms());
  EXPECT_EQ(offsets_of("g"), (std::vector<meta::PartitionId>{{t.id, 0}}));
  EXPECT_TRUE(meta_->find_group("g"));
  EXPECT_EQ(describe("g").state, "Stable");
  EXPECT_EQ(heartbeat("g", p.generation(), p.a.member_id), ErrorCode::none);
}

// --- stop --------------------------------------------------------------------

TEST_F(CoordinatorTest, StopAnswersParkedJoinsAndLaterCalls) {
  make();
  c_->start();
  Pair p = form_pair("g");
  const int32_t gen = p.generation();
  JoinRequest c = join_req("client-c");
  c.group_id = "g";
  c.member_id = new_member_id("g", c);
  auto jc = join_async(c);
  ASSERT_TRUE(wait_state("g", "PreparingRebalance"));
  auto ja = join_async(p.a);
  ASSERT_TRUE(parked(jc));
  ASSERT_TRUE(parked(ja));

  c_->stop();
  EXPECT_EQ(get(std::move(jc)).error, ErrorCode::not_coordinator);
  EXPECT_EQ(get(std::move(ja)).error, ErrorCode::not_coordinator);

  EXPECT_EQ(heartbeat("g", gen, p.b.member_id), ErrorCode::not_coordinator);
  EXPECT_EQ(join(p.b).error, ErrorCode::not_coordinator);
  EXPECT_EQ(sync(sync_req("g", gen, p.b.member_id)).error, ErrorCode::not_coordinator);
  EXPECT_EQ(leave("g", {{p.b.member_id, std::nullopt}}).error, ErrorCode::not_coordinator);
  EXPECT_EQ(validate_commit("g", gen, p.b.member_id), ErrorCode::not_coordinator);
  EXPECT_EQ(validate_commit("other", -1, ""), ErrorCode::not_coordinator);
  EXPECT_EQ(describe("g").error, ErrorCode::not_coordinator);
  EXPECT_EQ(delete_group("g"), ErrorCode::not_coordinator);
  EXPECT_EQ(check_offset_delete("g").error, ErrorCode::not_coordinator);
  c_->stop();  // twice is fine
}

TEST_F(CoordinatorTest, StopAnswersParkedSyncs) {
  make();
  Pair p = form_pair("g");
  // The leader rejoins a Stable group: a new generation, whose follower
  // syncs and waits for the leader's assignment.
  auto ja = join_async(p.a);
  ASSERT_TRUE(wait_state("g", "PreparingRebalance"));
  JoinResult rb = join(p.b);
  JoinResult ra = get(std::move(ja));
  ASSERT_EQ(rb.generation, ra.generation);
  auto sb = sync_async(sync_req("g", ra.generation, p.b.member_id));
  ASSERT_TRUE(parked(sb));
  c_->stop();
  EXPECT_EQ(get(std::move(sb)).error, ErrorCode::not_coordinator);
}

}  // namespace
}  // namespace floe::groups
