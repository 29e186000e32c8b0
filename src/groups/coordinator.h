// The group coordinator: Kafka's classic consumer-group protocol (JoinGroup,
// SyncGroup, Heartbeat, LeaveGroup) and the group side of OffsetCommit,
// DescribeGroups, ListGroups, DeleteGroups and OffsetDelete.
//
// What is durable and what is not: each group's record (protocol type,
// generation, selected protocol, whether it is empty and since when) and its
// committed offsets live in the metadata store; members live here, in memory.
// After a restart (or when another broker takes a group over) members find
// themselves unknown, rejoin, and the next generation is one past the stored
// one; offsets are all there.
//
// The state machine follows Apache Kafka's GroupCoordinator (states Empty,
// PreparingRebalance, CompletingRebalance, Stable, Dead; KIP-394 member ids,
// KIP-345 static membership, KIP-814 skip_assignment, the initial rebalance
// delay, pending-sync expiry), with the same error codes.
//
// Threads: all group state is owned by one strand. The public calls may be
// made from any strand (a connection's): each hops onto the coordinator's
// strand and resumes the caller on its own executor. Calls that wait for a
// rebalance (join, sync) park the caller until the group answers it; stop()
// answers every parked call. Metadata store calls run on the blocking pool.
// REQUIRES: callers' executors are strands (see common/completion.h).
#pragma once

#include <asio/awaitable.hpp>
#include <asio/io_context.hpp>
#include <asio/strand.hpp>
#include <asio/thread_pool.hpp>
#include <chrono>
#include <cstdint>
#include <limits>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "common/completion.h"
#include "meta/meta_store.h"
#include "protocol/generated/error_codes.h"
#include "protocol/wire.h"

namespace floe::groups {

using protocol::Bytes;
using protocol::ErrorCode;

struct CoordinatorOptions {
  int32_t min_session_timeout_ms = 6000;        // group.min.session.timeout.ms
  int32_t max_session_timeout_ms = 1800000;     // group.max.session.timeout.ms
  int32_t initial_rebalance_delay_ms = 3000;    // group.initial.rebalance.delay.ms
  int32_t max_size = std::numeric_limits<int32_t>::max();  // group.max.size
  int64_t offsets_retention_ms = 7LL * 24 * 3600 * 1000;   // offsets.retention.minutes
  int64_t offsets_retention_check_interval_ms = 600000;    // offsets.retention.check.interval.ms
};

struct Protocol {
  std::string name;
  Bytes metadata;
  bool operator==(const Protocol&) const = default;
};

struct JoinRequest {
  std::string group_id;
  std::string member_id;  // "" for a member that has none yet
  std::optional<std::string> instance_id;  // KIP-345 group.instance.id
  std::string protocol_type;
  std::vector<Protocol> protocols;  // in the member's order of preference
  int32_t session_timeout_ms = 0;
  int32_t rebalance_timeout_ms = 0;
  std::string client_id;
  std::string client_host;
  bool require_known_member_id = false;  // JoinGroup v4+: KIP-394
  bool supports_skip_assignment = false;  // JoinGroup v9+: KIP-814
};

struct JoinMember {
  std::string member_id;
  std::optional<std::string> instance_id;
  Bytes metadata;
};

struct JoinResult {
  ErrorCode error = ErrorCode::none;
  std::string member_id;
  int32_t generation = -1;
  std::optional<std::string> protocol_type;
  std::optional<std::string> protocol_name;
  std::string leader;
  bool skip_assignment = false;
  std::vector<JoinMember> members;  // for the leader only
};

struct SyncRequest {
  std::string group_id;
  int32_t generation = -1;
  std::string member_id;
  std::optional<std::string> instance_id;
  std::optional<std::string> protocol_type;  // SyncGroup v5+
  std::optional<std::string> protocol_name;  // SyncGroup v5+
  std::vector<std::pair<std::string, Bytes>> assignments;  // from the leader
};

struct SyncResult {
  ErrorCode error = ErrorCode::none;
  std::optional<std::string> protocol_type;
  std::optional<std::string> protocol_name;
  Bytes assignment;
};

struct LeavingMember {
  std::string member_id;  // "" to remove a static member by instance id
  std::optional<std::string> instance_id;
};

struct LeaveResult {
  ErrorCode error = ErrorCode::none;      // the group's
  std::vector<ErrorCode> members;         // one per LeavingMember, same order
};

struct GroupListing {
  std::string group_id;
  std::string protocol_type;
  std::string state;  // "Empty", "PreparingRebalance", "CompletingRebalance", "Stable"
};

struct MemberDescription {
  std::string member_id;
  std::optional<std::string> instance_id;
  std::string client_id;
  std::string client_host;
  Bytes metadata;    // only for a Stable group, as Kafka reports it
  Bytes assignment;  // only for a Stable group
};

struct GroupDescription {
  ErrorCode error = ErrorCode::none;
  std::string state;  // "Dead" for a group that does not exist
  std::string protocol_type;
  std::string protocol;  // the selected protocol of a Stable group, else ""
  std::vector<MemberDescription> members;
};

struct OffsetDeleteCheck {
  ErrorCode error = ErrorCode::none;  // group_id_not_found, non_empty_group, ...
  // Topics the group's live members subscribe to (consumer protocol): their
  // offsets may not be deleted (GROUP_SUBSCRIBED_TO_TOPIC).
  std::set<std::string> subscribed_topics;
  // The subscriptions are not known (unreadable, or members that may still
  // come back after a restart): every topic counts as subscribed.
  bool all_subscribed = false;
};

struct CommitOutcome {
  ErrorCode error = ErrorCode::none;  // the group's, for every offset
  std::vector<ErrorCode> results;     // else one per offset
};

class GroupCoordinator {
 public:
  GroupCoordinator(asio::io_context& io, asio::thread_pool& blocking, meta::MetaStore& meta,
                   CoordinatorOptions options);
  ~GroupCoordinator();
  GroupCoordinator(const GroupCoordinator&) = delete;
  GroupCoordinator& operator=(const GroupCoordinator&) = delete;

  // Starts the periodic expiry of committed offsets (offsets.retention.*).
  void start();
  // Any thread. Answers every parked join and sync with NOT_COORDINATOR (the
  // client looks for the coordinator again), cancels every timer, and makes
  // later calls answer NOT_COORDINATOR. The io_context can then run dry.
  void stop();

  // A group id Kafka accepts for the group APIs: not empty.
  static bool valid_group_id(const std::string& group_id) { return !group_id.empty(); }

  asio::awaitable<JoinResult> join(JoinRequest request);
  asio::awaitable<SyncResult> sync(SyncRequest request);
  asio::awaitable<ErrorCode> heartbeat(std::string group_id, int32_t generation, std::string member_id,
                                       std::optional<std::string> instance_id);
  asio::awaitable<LeaveResult> leave(std::string group_id, std::vector<LeavingMember> members);

  // OffsetCommit: checks the group (Kafka's validateOffsetCommit), then
  // stores the offsets. A commit with generation -1 into a group without
  // members (or into no group: it is created, as a "standalone" group) is
  // accepted; otherwise the member and generation must be current. A
  // member's commit counts as a heartbeat. Commits of a group are checked
  // and written one at a time, in order. error: group_id_not_found for a
  // generation >= 0 into a group that does not exist (OffsetCommit v9+;
  // older versions say ILLEGAL_GENERATION), or the group's error for every
  // offset; else results has one code per offset (see
  // MetaStore::commit_offsets).
  asio::awaitable<CommitOutcome> commit_offsets(std::string group_id, int32_t generation, std::string member_id,
                                                std::optional<std::string> instance_id,
                                                std::vector<meta::CommittedOffset> offsets, int64_t now_ms);

  // Groups this coordinator knows (in memory or in the metadata store).
  asio::awaitable<std::vector<GroupListing>> list_groups();
  asio::awaitable<GroupDescription> describe_group(std::string group_id);
  // DeleteGroups: none, group_id_not_found, or non_empty_group. Deletes the
  // group's record and offsets from the metadata store.
  asio::awaitable<ErrorCode> delete_group(std::string group_id);
  // OffsetDelete's group checks; the caller deletes the offsets it allows.
  asio::awaitable<OffsetDeleteCheck> check_offset_delete(std::string group_id);

  // One pass of offset expiry, as the periodic task runs it (tests call it
  // directly with their own clock).
  asio::awaitable<void> expire_offsets(int64_t now_ms);

  struct Group;
  struct Member;

 private:
  using Clock = std::chrono::steady_clock;
  using JoinReply = Completion<JoinResult>;
  using SyncReply = Completion<SyncResult>;

  // Runs `f` (a coroutine returning T) on the strand and resumes the caller
  // on its own executor; a metadata store failure answers `on_error`. The
  // error is a plain code, not a T: GCC 12 destroys class prvalues built by
  // braces in a co_await expression twice.
  template <typename T, typename F>
  asio::awaitable<T> on_strand(F f, ErrorCode on_error);

  // The right to write a group's rows, held by one call at a time (see
  // lock_writes); released when it goes. REQUIRES: strand_.
  class WriteGuard {
   public:
    explicit WriteGuard(std::shared_ptr<Group> g) : g_(std::move(g)) {}
    WriteGuard(WriteGuard&& o) noexcept : g_(std::move(o.g_)) {}
    WriteGuard& operator=(WriteGuard&&) = delete;
    ~WriteGuard();

   private:
    std::shared_ptr<Group> g_;
  };
  asio::awaitable<WriteGuard> lock_writes(std::shared_ptr<Group> g);
  ErrorCode check_commit(Group& g, int32_t generation, const std::string& member_id,
                         const std::optional<std::string>& instance_id);

  asio::awaitable<std::shared_ptr<Group>> find_group(const std::string& group_id, bool create);
  asio::awaitable<void> run_group_timer(std::shared_ptr<Group> g);
  void on_group_timer(Group& g, Clock::time_point now);
  asio::awaitable<void> run_expiry();
  asio::awaitable<void> expire_group_offsets(const meta::GroupRecord& record, int64_t now_ms,
                                             const std::unordered_map<std::string, std::string>& topic_names);

  void do_join(Group& g, JoinRequest& req, const JoinReply& reply);
  void join_new_member(Group& g, JoinRequest& req, const JoinReply& reply);
  void join_known_member(Group& g, JoinRequest& req, const JoinReply& reply);
  void replace_static_member(Group& g, Member& m, std::string new_id, JoinRequest& req, const JoinReply& reply);
  void add_member_and_rebalance(Group& g, JoinRequest& req, std::string member_id, const JoinReply& reply);
  void update_member_and_rebalance(Group& g, Member& m, JoinRequest& req, const JoinReply& reply);
  void maybe_prepare_rebalance(Group& g, const std::string& reason);
  void prepare_rebalance(Group& g, const std::string& reason);
  void try_complete_join(Group& g, bool force);
  void complete_join(Group& g);
  void remove_member(Group& g, const std::string& member_id, const std::string& reason);
  void store_group_async(const std::shared_ptr<Group>& g);
  asio::awaitable<void> finish_sync(std::shared_ptr<Group> g, int32_t generation,
                                    std::vector<std::pair<std::string, Bytes>> assignment);
  std::shared_ptr<Group> shared(Group& g);

  asio::thread_pool& blocking_;
  meta::MetaStore& meta_;
  CoordinatorOptions options_;
  asio::strand<asio::io_context::executor_type> strand_;

  // Everything below: REQUIRES strand_.
  std::unordered_map<std::string, std::shared_ptr<Group>> groups_;
  bool stopped_ = false;
  int64_t started_ms_ = 0;
  Clock::time_point started_;
  std::unique_ptr<asio::steady_timer> expiry_timer_;
};

}  // namespace floe::groups
