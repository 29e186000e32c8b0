#include "groups/coordinator.h"

#include <asio/co_spawn.hpp>
#include <asio/detached.hpp>
#include <asio/redirect_error.hpp>
#include <asio/steady_timer.hpp>
#include <asio/this_coro.hpp>
#include <asio/use_awaitable.hpp>
#include <algorithm>
#include <cstdio>
#include <deque>
#include <map>
#include <random>
#include <type_traits>

#include "common/blocking.h"
#include "common/clock.h"
#include "common/log.h"
#include "groups/consumer_protocol.h"

namespace floe::groups {

namespace {

enum class State { empty, preparing_rebalance, completing_rebalance, stable, dead };

const char* state_name(State s) {
  switch (s) {
    case State::empty: return "Empty";
    case State::preparing_rebalance: return "PreparingRebalance";
    case State::completing_rebalance: return "CompletingRebalance";
    case State::stable: return "Stable";
    case State::dead: return "Dead";
  }
  return "Dead";
}

// Kafka's GroupCoordinator.NewMemberJoinTimeoutMs: a new member parked in
// JoinGroup cannot heartbeat, so it is dropped if the rebalance has not
// completed by then (it rejoins if it is still there).
constexpr std::chrono::minutes kNewMemberJoinTimeout{5};

// A random UUID in Java's text form, as Kafka's member ids carry.
std::string random_uuid_text() {
  static thread_local std::mt19937_64 rng{std::random_device{}()};
  uint64_t hi = rng(), lo = rng();
  hi = (hi & ~uint64_t{0xf000}) | 0x4000;                      // version 4
  lo = (lo & ~(uint64_t{0xc} << 60)) | (uint64_t{0x8} << 60);  // variant 10
  char buf[37];
  std::snprintf(buf, sizeof buf, "%08x-%04x-%04x-%04x-%012llx", static_cast<unsigned>(hi >> 32),
                static_cast<unsigned>((hi >> 16) & 0xffff), static_cast<unsigned>(hi & 0xffff),
                static_cast<unsigned>(lo >> 48), static_cast<unsigned long long>(lo & 0xffffffffffffULL));
  return buf;
}

JoinResult join_error(ErrorCode error, std::string member_id) {
  JoinResult r;
  r.error = error;
  r.member_id = std::move(member_id);
  return r;
}

SyncResult sync_error(ErrorCode error) {
  SyncResult r;
  r.error = error;
  return r;
}

SyncResult sync_ok(const std::string& protocol_type, const std::optional<std::string>& protocol, Bytes assignment) {
  SyncResult r;
  r.protocol_type = protocol_type;
  r.protocol_name = protocol;
  r.assignment = std::move(assignment);
  return r;
}

}  // namespace

struct GroupCoordinator::Member {
  std::string id;
  std::optional<std::string> instance_id;
  std::string client_id;
  std::string client_host;
  int32_t session_timeout_ms = 0;
  int32_t rebalance_timeout_ms = 0;
  std::vector<Protocol> protocols;
  Bytes assignment;
  std::optional<JoinReply> awaiting_join;
  std::optional<SyncReply> awaiting_sync;
  bool is_new = false;
  Clock::time_point deadline;  // session expiry (new members: the join timeout)

  const Bytes* metadata_for(const std::string& protocol) const {
    for (const auto& p : protocols)
      if (p.name == protocol) return &p.metadata;
    return nullptr;
  }
  void touch(Clock::time_point now) { deadline = now + std::chrono::milliseconds(session_timeout_ms); }
};

struct GroupCoordinator::Group {
  Group(asio::strand<asio::io_context::executor_type> strand, std::string group_id)
      : id(std::move(group_id)), timer(strand) {}

  std::string id;
  State state = State::empty;
  std::string protocol_type;  // "" until a member joins (or for standalone groups)
  int32_t generation = 0;
  std::optional<std::string> protocol;
  std::optional<std::string> leader;
  std::vector<std::unique_ptr<Member>> members;  // in join order
  std::map<std::string, Clock::time_point> pending;  // KIP-394 ids handed out, not joined yet
  std::set<std::string> pending_sync;  // members that have not synced this generation

  // The rebalance in progress: when the join phase ends. While
  // `initial_delay` holds, it is group.initial.rebalance.delay.ms after the
  // group left Empty, extended while new members keep arriving.
  std::optional<Clock::time_point> join_deadline;
  bool initial_delay = false;
  bool new_member_added = false;
  int64_t initial_delay_remaining_ms = 0;
  std::optional<Clock::time_point> sync_deadline;

  int64_t empty_since_ms = 0;  // for offset expiry while Empty
  // Until then the group may still have live members this coordinator
  // cannot see: it was loaded from a record of a generation with members
  // (a restart or a takeover) and they have not rejoined yet.
  Clock::time_point members_unknown_until{};
  // Writes of the group's rows (its record, its offsets) one at a time, in
  // the order their checks ran: see lock_writes.
  bool writing = false;
  std::deque<std::shared_ptr<asio::steady_timer>> write_waiters;
  bool dead = false;
  asio::steady_timer timer;

  bool maybe_live(Clock::time_point now) const { return state == State::empty && now < members_unknown_until; }

  Member* find(const std::string& member_id) {
    for (auto& m : members)
      if (m->id == member_id) return m.get();
    return nullptr;
  }
  Member* find_static(const std::string& instance_id) {
    for (auto& m : members)
      if (m->instance_id == instance_id) return m.get();
    return nullptr;
  }
  size_t awaiting_join_count() const {
    return static_cast<size_t>(std::count_if(members.begin(), members.end(),
                                             [](const auto& m) { return m->awaiting_join.has_value(); }));
  }
  bool all_joined() const { return awaiting_join_count() == members.size() && pending.empty(); }
  int32_t rebalance_timeout_ms() const {
    int32_t t = 0;
    for (const auto& m : members) t = std::max(t, m->rebalance_timeout_ms);
    return t;
  }

  // The protocols every member supports.
  std::vector<std::string> candidate_protocols() const {
    std::vector<std::string> out;
    if (members.empty()) return out;
    for (const auto& p : members.front()->protocols) {
      bool all = std::all_of(members.begin(), members.end(),
                             [&](const auto& m) { return m->metadata_for(p.name) != nullptr; });
      if (all) out.push_back(p.name);
    }
    return out;
  }

  // Kafka's supportsProtocols: an empty group takes any non-empty type and
  // protocol list; otherwise the type must match and one of the member's
  // protocols must be supported by every current member.
  bool supports(const std::string& type, const std::vector<Protocol>& protos) const {
    if (type.empty() || protos.empty()) return false;
    if (members.empty()) return true;
    if (type != protocol_type) return false;
    auto candidates = candidate_protocols();
    return std::any_of(protos.begin(), protos.end(), [&](const Protocol& p) {
      return std::find(candidates.begin(), candidates.end(), p.name) != candidates.end();
    });
  }

  // Kafka's selectProtocol: every member votes for the first protocol of its
  // own list that all members support; most votes wins (ties: the one listed
  // first by the earliest member).
  std::string select_protocol() const {
    auto candidates = candidate_protocols();
    std::map<std::string, int> votes;
    for (const auto& m : members) {
      for (const auto& p : m->protocols) {
        if (std::find(candidates.begin(), candidates.end(), p.name) != candidates.end()) {
          ++votes[p.name];
          break;
        }
      }
    }
    std::string best;
    int best_votes = -1;
    for (const auto& c : candidates) {
      if (votes[c] > best_votes) {
        best = c;
        best_votes = votes[c];
      }
    }
    return best;
  }

  std::vector<JoinMember> member_metadata() const {
    std::vector<JoinMember> out;
    for (const auto& m : members) {
      const Bytes* md = protocol ? m->metadata_for(*protocol) : nullptr;
      out.push_back({m->id, m->instance_id, md ? *md : Bytes{}});
    }
    return out;
  }

  JoinResult current_join_result(const Member& m, bool with_members) const {
    JoinResult r;
    r.member_id = m.id;
    r.generation = generation;
    r.protocol_type = protocol_type;
    r.protocol_name = protocol;
    r.leader = leader.value_or("");
    if (with_members) r.members = member_metadata();
    return r;
  }

  // Removes a member without any rebalance logic (callers decide).
  void erase(std::string member_id) {  // a copy: callers may pass the id of the member freed below
    auto it = std::find_if(members.begin(), members.end(), [&](const auto& m) { return m->id == member_id; });
    if (it == members.end()) return;
    Member& m = **it;
    if (m.awaiting_join) m.awaiting_join->set(join_error(ErrorCode::unknown_member_id, m.id));
    if (m.awaiting_sync) m.awaiting_sync->set(sync_error(ErrorCode::unknown_member_id));
    members.erase(it);
    pending_sync.erase(member_id);
    if (leader == member_id) {
      if (members.empty())
        leader.reset();
      else
        leader = members.front()->id;
    }
  }

  void reset_assignments(ErrorCode error) {
    for (auto& m : members) {
      m->assignment.clear();
      if (m->awaiting_sync) {
        m->awaiting_sync->set(sync_error(error));
        m->awaiting_sync.reset();
      }
    }
  }

  // Kafka's ValidateCurrentMember: a given instance id must map to the
  // member id; otherwise the member id must be in the group.
  ErrorCode validate_member(const std::string& member_id, const std::optional<std::string>& instance_id) {
    if (instance_id) {
      Member* s = find_static(*instance_id);
      if (!s) return ErrorCode::unknown_member_id;
      return s->id == member_id ? ErrorCode::none : ErrorCode::fenced_instance_id;
    }
    return find(member_id) ? ErrorCode::none : ErrorCode::unknown_member_id;
  }

  // Topics the members subscribe to, from their consumer-protocol metadata;
  // nullopt when some member's metadata cannot be read.
  std::optional<std::set<std::string>> subscribed_topics() const {
    std::set<std::string> topics;
    for (const auto& m : members) {
      const Bytes* md = nullptr;
      if (protocol) md = m->metadata_for(*protocol);
      if (!md && !m->protocols.empty()) md = &m->protocols.front().metadata;
      if (!md) return std::nullopt;
      auto t = subscription_topics(*md);
      if (!t) return std::nullopt;
      topics.insert(t->begin(), t->end());
    }
    return topics;
  }

  Clock::time_point earliest_deadline() const {
    auto t = Clock::time_point::max();
    for (const auto& m : members) t = std::min(t, m->deadline);
    for (const auto& [id, d] : pending) t = std::min(t, d);
    if (join_deadline) t = std::min(t, *join_deadline);
    if (sync_deadline) t = std::min(t, *sync_deadline);
    return t;
  }

  // Makes the timer loop look at the deadlines again (call when one moved
  // earlier).
  void reschedule() { timer.cancel(); }
};

GroupCoordinator::GroupCoordinator(asio::io_context& io, asio::thread_pool& blocking, meta::MetaStore& meta,
                                   CoordinatorOptions options)
    : blocking_(blocking), meta_(meta), options_(options), strand_(asio::make_strand(io)) {
  started_ms_ = unix_now_ms();
  started_ = Clock::now();
}

GroupCoordinator::~GroupCoordinator() = default;

void GroupCoordinator::start() {
  asio::post(strand_, [this] {
    if (stopped_) return;
    expiry_timer_ = std::make_unique<asio::steady_timer>(strand_);
    asio::co_spawn(strand_, run_expiry(), asio::detached);
  });
}

void GroupCoordinator::stop() {
  asio::post(strand_, [this] {
    if (stopped_) return;
    stopped_ = true;
    if (expiry_timer_) expiry_timer_->cancel();
    for (auto& [id, g] : groups_) {
      for (auto& m : g->members) {
        if (m->awaiting_join) m->awaiting_join->set(join_error(ErrorCode::not_coordinator, m->id));
        if (m->awaiting_sync) m->awaiting_sync->set(sync_error(ErrorCode::not_coordinator));
        m->awaiting_join.reset();
        m->awaiting_sync.reset();
      }
      g->dead = true;
      g->timer.cancel();
    }
    groups_.clear();
  });
}

namespace {

// What a call answers when the metadata store fails under it.
template <typename T>
T failure(ErrorCode e) {
  if constexpr (std::is_same_v<T, bool>) {
    return false;
  } else if constexpr (std::is_same_v<T, ErrorCode>) {
    return e;
  } else if constexpr (std::is_same_v<T, std::vector<GroupListing>>) {
    return {};
  } else {
    T t;
    t.error = e;
    return t;
  }
}

}  // namespace

template <typename T, typename F>
asio::awaitable<T> GroupCoordinator::on_strand(F f, ErrorCode on_error) {
  try {
    co_return co_await asio::co_spawn(strand_, std::move(f), asio::use_awaitable);
  } catch (const meta::MetaError& e) {
    FLOE_LOG(warn, "groups") << "metadata store: " << e.what();
  } catch (const std::exception& e) {
    FLOE_LOG(error, "groups") << "metadata store failed: " << e.what();
  }
  co_return failure<T>(on_error);
}

std::shared_ptr<GroupCoordinator::Group> GroupCoordinator::shared(Group& g) {
  auto it = groups_.find(g.id);
  return it != groups_.end() && it->second.get() == &g ? it->second : nullptr;
}

// REQUIRES: strand_. Waits until no other write of the group's rows is
// running, then holds that right until the guard goes. A waiter is woken by
// cancelling its timer; both happen on the strand, so the wake-up cannot be
// missed.
asio::awaitable<GroupCoordinator::WriteGuard> GroupCoordinator::lock_writes(std::shared_ptr<Group> g) {
  if (g->writing) {
    auto turn = std::make_shared<asio::steady_timer>(strand_, Clock::time_point::max());
    g->write_waiters.push_back(turn);
    std::error_code ec;
    co_await turn->async_wait(asio::redirect_error(asio::use_awaitable, ec));
    // The holder handed over: `writing` stayed true for this one.
  } else {
    g->writing = true;
  }
  co_return WriteGuard(std::move(g));
}

GroupCoordinator::WriteGuard::~WriteGuard() {
  if (!g_) return;
  if (g_->write_waiters.empty()) {
    g_->writing = false;
    return;
  }
  auto next = std::move(g_->write_waiters.front());
  g_->write_waiters.pop_front();
  next->cancel();
}

// REQUIRES: strand_.
asio::awaitable<std::shared_ptr<GroupCoordinator::Group>> GroupCoordinator::find_group(const std::string& group_id,
                                                                                       bool create) {
  if (auto it = groups_.find(group_id); it != groups_.end()) co_return it->second;
  auto record = co_await run_blocking(blocking_, [&] { return meta_.find_group(group_id); });
  // Another call may have loaded or created it while this one waited.
  if (auto it = groups_.find(group_id); it != groups_.end()) co_return it->second;
  if (stopped_ || (!record && !create)) co_return nullptr;
  auto g = std::make_shared<Group>(strand_, group_id);
  if (record) {
    g->protocol_type = record->protocol_type;
    g->generation = record->generation;
    // Members were in another coordinator's memory (or this one's before a
    // restart): they count as gone from now on, as Kafka's would once their
    // sessions expire.
    g->empty_since_ms = record->empty ? record->state_ms : std::max(record->state_ms, started_ms_);
    if (!record->empty) {
      const int32_t session = record->session_timeout_ms > 0 ? record->session_timeout_ms
                                                             : options_.max_session_timeout_ms;
      g->members_unknown_until = started_ + std::chrono::milliseconds(session);
    }
  } else {
    g->empty_since_ms = unix_now_ms();
  }
  groups_.emplace(group_id, g);
  asio::co_spawn(strand_, run_group_timer(g), asio::detached);
  co_return g;
}

// REQUIRES: strand_. One loop per group: sleeps until the earliest deadline
// of the group (session expiries, the join and sync phase ends), handles what
// is due, and sleeps again. Group::reschedule wakes it early.
asio::awaitable<void> GroupCoordinator::run_group_timer(std::shared_ptr<Group> g) {
  while (!g->dead && !stopped_) {
    g->timer.expires_at(g->earliest_deadline());
    std::error_code ec;
    co_await g->timer.async_wait(asio::redirect_error(asio::use_awaitable, ec));
    if (g->dead || stopped_) break;
    on_group_timer(*g, Clock::now());
  }
}

// REQUIRES: strand_.
void GroupCoordinator::on_group_timer(Group& g, Clock::time_point now) {
  for (auto it = g.pending.begin(); it != g.pending.end();) {
    if (it->second > now) {
      ++it;
      continue;
    }
    FLOE_LOG(info, "groups") << "group " << g.id << ": pending member " << it->first
                             << " did not join within its session timeout";
    it = g.pending.erase(it);
    if (g.state == State::preparing_rebalance) try_complete_join(g, false);
  }

  std::vector<std::string> expired;
  for (auto& m : g.members) {
    if (m->deadline > now) continue;
    // A member parked in JoinGroup or SyncGroup cannot heartbeat: the
    // rebalance timeout bounds it instead (new members: the join timeout).
    if ((m->awaiting_join && !m->is_new) || m->awaiting_sync) {
      m->touch(now);
      continue;
    }
    expired.push_back(m->id);
  }
  for (const auto& id : expired) {
    if (g.find(id)) remove_member(g, id, "session timeout of member " + id + " expired");
  }

  if (g.state == State::preparing_rebalance && g.join_deadline && *g.join_deadline <= now) {
    if (g.initial_delay && g.new_member_added && g.initial_delay_remaining_ms > 0) {
      // New members keep arriving: wait a little longer, within the
      // rebalance timeout.
      int64_t delay = std::min<int64_t>(options_.initial_rebalance_delay_ms, g.initial_delay_remaining_ms);
      g.initial_delay_remaining_ms -= delay;
      g.new_member_added = false;
      g.join_deadline = now + std::chrono::milliseconds(delay);
    } else {
      complete_join(g);
    }
  }

  if (g.sync_deadline && *g.sync_deadline <= now) {
    g.sync_deadline.reset();
    if ((g.state == State::completing_rebalance || g.state == State::stable) && !g.pending_sync.empty()) {
      std::vector<std::string> late(g.pending_sync.begin(), g.pending_sync.end());
      for (const auto& id : late) g.erase(id);
      FLOE_LOG(info, "groups") << "group " << g.id << ": " << late.size()
                               << " member(s) did not send SyncGroup within the rebalance timeout";
      prepare_rebalance(g, "members did not sync in time");
    }
  }
}

// --- JoinGroup --------------------------------------------------------------

asio::awaitable<JoinResult> GroupCoordinator::join(JoinRequest req) {
  auto caller = co_await asio::this_coro::executor;
  JoinReply reply(caller);
  const std::string member_id = req.member_id;
  // Named, not a temporary: GCC 12 destroys a temporary lambda with
  // non-trivial captures twice when it appears in a co_await expression.
  auto work = [this, &req, reply]() -> asio::awaitable<bool> {
    if (stopped_) {
      reply.set(join_error(ErrorCode::not_coordinator, req.member_id));
      co_return true;
    }
    if (req.session_timeout_ms < options_.min_session_timeout_ms ||
        req.session_timeout_ms > options_.max_session_timeout_ms) {
      reply.set(join_error(ErrorCode::invalid_session_timeout, req.member_id));
      co_return true;
    }
    auto g = co_await find_group(req.group_id, req.member_id.empty());
    if (!g) {
      reply.set(join_error(stopped_ ? ErrorCode::not_coordinator : ErrorCode::unknown_member_id, req.member_id));
      co_return true;
    }
    do_join(*g, req, reply);
    co_return true;
  };
  bool ok = co_await on_strand<bool>(std::move(work), ErrorCode::coordinator_not_available);
  if (!ok) co_return join_error(ErrorCode::coordinator_not_available, member_id);
  co_return co_await reply.wait();
}

// REQUIRES: strand_.
void GroupCoordinator::do_join(Group& g, JoinRequest& req, const JoinReply& reply) {
  // Kafka's acceptJoiningMember: group.max.size counts members parked in
  // JoinGroup while preparing a rebalance, all members otherwise.
  bool accept = true;
  const size_t max_size = static_cast<size_t>(options_.max_size);
  Member* known = req.member_id.empty() ? nullptr : g.find(req.member_id);
  switch (g.state) {
    case State::empty:
    case State::dead:
      break;
    case State::preparing_rebalance:
      accept = (known && known->awaiting_join) || g.awaiting_join_count() < max_size;
      break;
    case State::completing_rebalance:
    case State::stable:
      accept = known || g.members.size() < max_size;
      break;
  }
  if (!accept) {
    if (known) g.erase(known->id);
    reply.set(join_error(ErrorCode::group_max_size_reached, ""));
  } else if (req.member_id.empty()) {
    join_new_member(g, req, reply);
  } else {
    join_known_member(g, req, reply);
  }
  if (g.state == State::preparing_rebalance) try_complete_join(g, false);
}

// REQUIRES: strand_.
void GroupCoordinator::join_new_member(Group& g, JoinRequest& req, const JoinReply& reply) {
  if (g.dead) {
    reply.set(join_error(ErrorCode::coordinator_not_available, ""));
    return;
  }
  if (!g.supports(req.protocol_type, req.protocols)) {
    reply.set(join_error(ErrorCode::inconsistent_group_protocol, ""));
    return;
  }
  std::string new_id = (req.instance_id ? *req.instance_id : req.client_id) + "-" + random_uuid_text();
  if (req.instance_id) {
    if (Member* old = g.find_static(*req.instance_id)) {
      replace_static_member(g, *old, std::move(new_id), req, reply);
    } else {
      add_member_and_rebalance(g, req, std::move(new_id), reply);
    }
  } else if (req.require_known_member_id) {
    // KIP-394: hand out the id and have the member come back with it, so a
    // member whose JoinGroup times out does not leave a ghost behind.
    g.pending[new_id] = Clock::now() + std::chrono::milliseconds(req.session_timeout_ms);
    g.reschedule();
    reply.set(join_error(ErrorCode::member_id_required, new_id));
  } else {
    add_member_and_rebalance(g, req, std::move(new_id), reply);
  }
}

// REQUIRES: strand_.
void GroupCoordinator::join_known_member(Group& g, JoinRequest& req, const JoinReply& reply) {
  if (g.dead) {
    reply.set(join_error(ErrorCode::coordinator_not_available, req.member_id));
    return;
  }
  if (!g.supports(req.protocol_type, req.protocols)) {
    reply.set(join_error(ErrorCode::inconsistent_group_protocol, req.member_id));
    return;
  }
  if (auto it = g.pending.find(req.member_id); it != g.pending.end()) {
    g.pending.erase(it);
    add_member_and_rebalance(g, req, req.member_id, reply);
    return;
  }
  if (ErrorCode e = g.validate_member(req.member_id, req.instance_id); e != ErrorCode::none) {
    if (e == ErrorCode::fenced_instance_id)
      FLOE_LOG(info, "groups") << "group " << g.id << ": member " << req.member_id << " with instance id "
                               << *req.instance_id << " is fenced by a newer member with that instance id";
    reply.set(join_error(e, req.member_id));
    return;
  }
  Member& m = *g.find(req.member_id);
  switch (g.state) {
    case State::preparing_rebalance:
      update_member_and_rebalance(g, m, req, reply);
      break;
    case State::completing_rebalance:
      if (m.protocols == req.protocols) {
        // The member lost the JoinGroup response: send it again.
        reply.set(g.current_join_result(m, g.leader == m.id));
      } else {
        update_member_and_rebalance(g, m, req, reply);
      }
      break;
    case State::stable:
      // The leader rejoining asks for a new assignment (e.g. topic metadata
      // changed); a follower with unchanged metadata just gets the current
      // generation back.
      if (g.leader == m.id || m.protocols != req.protocols) {
        update_member_and_rebalance(g, m, req, reply);
      } else {
        reply.set(g.current_join_result(m, false));
      }
      break;
    case State::empty:
    case State::dead:
      reply.set(join_error(ErrorCode::unknown_member_id, req.member_id));
      break;
  }
}

// REQUIRES: strand_. Kafka's updateStaticMemberAndRebalance: a static member
// that comes back with a new process takes over its old member's place.
void GroupCoordinator::replace_static_member(Group& g, Member& m, std::string new_id, JoinRequest& req,
                                             const JoinReply& reply) {
  const std::string old_id = m.id;
  const std::string old_leader = g.leader.value_or("");
  // Fence the old process if it is still parked somewhere.
  if (m.awaiting_join) m.awaiting_join->set(join_error(ErrorCode::fenced_instance_id, old_id));
  if (m.awaiting_sync) m.awaiting_sync->set(sync_error(ErrorCode::fenced_instance_id));
  m.awaiting_join.reset();
  m.awaiting_sync.reset();
  m.id = new_id;
  if (g.leader == old_id) g.leader = new_id;
  if (g.pending_sync.erase(old_id)) g.pending_sync.insert(new_id);
  const std::vector<Protocol> old_protocols = m.protocols;
  m.protocols = req.protocols;
  m.session_timeout_ms = req.session_timeout_ms;
  m.rebalance_timeout_ms = req.rebalance_timeout_ms;
  m.client_id = req.client_id;
  m.client_host = req.client_host;
  m.touch(Clock::now());
  FLOE_LOG(info, "groups") << "group " << g.id << ": static member " << *req.instance_id << " rejoined as "
                           << new_id << " (was " << old_id << ")";
  switch (g.state) {
    case State::stable: {
      if (g.protocol && g.select_protocol() == *g.protocol) {
        // No rebalance: the member gets its place back. The leader learns it
        // is still the leader only where it can be told not to assign
        // (KIP-814); older clients are given the old leader id, so that
        // they act as followers and sync to get their assignment.
        const bool is_leader = g.leader == new_id;
        JoinResult r = g.current_join_result(m, false);
        if (is_leader && req.supports_skip_assignment) {
          r.skip_assignment = true;
          r.members = g.member_metadata();
        } else {
          r.leader = old_leader;
        }
        reply.set(std::move(r));
      } else {
        m.awaiting_join = reply;
        maybe_prepare_rebalance(g, "static member " + *req.instance_id + " changed the group's protocol");
      }
      break;
    }
    case State::completing_rebalance:
      // The old member id may already be in the leader's assignment: start
      // over so the new id gets one.
      m.awaiting_join = reply;
      prepare_rebalance(g, "static member " + *req.instance_id + " rejoined during CompletingRebalance");
      break;
    case State::preparing_rebalance:
      m.awaiting_join = reply;
      break;
    case State::empty:
    case State::dead:
      m.protocols = old_protocols;
      reply.set(join_error(ErrorCode::unknown_member_id, ""));
      break;
  }
}

// REQUIRES: strand_.
void GroupCoordinator::add_member_and_rebalance(Group& g, JoinRequest& req, std::string member_id,
                                                const JoinReply& reply) {
  auto m = std::make_unique<Member>();
  m->id = std::move(member_id);
  m->instance_id = req.instance_id;
  m->client_id = req.client_id;
  m->client_host = req.client_host;
  m->session_timeout_ms = req.session_timeout_ms;
  m->rebalance_timeout_ms = req.rebalance_timeout_ms;
  m->protocols = req.protocols;
  m->awaiting_join = reply;
  m->is_new = true;
  m->deadline = Clock::now() + kNewMemberJoinTimeout;
  if (g.state == State::preparing_rebalance && g.generation == 0) g.new_member_added = true;
  if (g.members.empty()) g.protocol_type = req.protocol_type;
  if (!g.leader) g.leader = m->id;
  const std::string id = m->id;
  g.members.push_back(std::move(m));
  g.reschedule();
  maybe_prepare_rebalance(g, "member " + id + " joined");
}

// REQUIRES: strand_.
void GroupCoordinator::update_member_and_rebalance(Group& g, Member& m, JoinRequest& req, const JoinReply& reply) {
  // A JoinGroup that replaces one still parked (the client gave up on it)
  // answers the old one, so that no request is left without a response.
  if (m.awaiting_join) m.awaiting_join->set(join_error(ErrorCode::rebalance_in_progress, m.id));
  m.protocols = req.protocols;
  m.session_timeout_ms = req.session_timeout_ms;
  m.rebalance_timeout_ms = req.rebalance_timeout_ms;
  m.awaiting_join = reply;
  m.touch(Clock::now());
  maybe_prepare_rebalance(g, "member " + m.id + " rejoined");
}

// REQUIRES: strand_.
void GroupCoordinator::maybe_prepare_rebalance(Group& g, const std::string& reason) {
  if (g.state == State::stable || g.state == State::completing_rebalance || g.state == State::empty)
    prepare_rebalance(g, reason);
}

// REQUIRES: strand_.
void GroupCoordinator::prepare_rebalance(Group& g, const std::string& reason) {
  if (g.state == State::completing_rebalance) g.reset_assignments(ErrorCode::rebalance_in_progress);
  g.sync_deadline.reset();
  const auto now = Clock::now();
  if (g.state == State::empty) {
    g.initial_delay = true;
    g.new_member_added = false;
    g.join_deadline = now + std::chrono::milliseconds(options_.initial_rebalance_delay_ms);
    g.initial_delay_remaining_ms =
        std::max<int64_t>(int64_t{g.rebalance_timeout_ms()} - options_.initial_rebalance_delay_ms, 0);
  } else {
    g.initial_delay = false;
    g.join_deadline = now + std::chrono::milliseconds(g.rebalance_timeout_ms());
  }
  FLOE_LOG(info, "groups") << "group " << g.id << ": preparing to rebalance in state " << state_name(g.state)
                           << " with old generation " << g.generation << " (" << reason << ")";
  g.state = State::preparing_rebalance;
  g.reschedule();
  try_complete_join(g, false);
}

// REQUIRES: strand_.
void GroupCoordinator::try_complete_join(Group& g, bool force) {
  if (g.state != State::preparing_rebalance) return;
  // The initial delay ends only when its time is up.
  if (g.initial_delay && !force) return;
  if (force || g.all_joined()) complete_join(g);
}

// REQUIRES: strand_. Kafka's onCompleteJoin.
void GroupCoordinator::complete_join(Group& g) {
  const auto now = Clock::now();
  g.join_deadline.reset();
  g.initial_delay = false;
  // Dynamic members that did not rejoin are out; static ones keep their
  // place (they may be restarting).
  std::vector<std::string> gone;
  for (const auto& m : g.members)
    if (!m->awaiting_join && !m->instance_id) gone.push_back(m->id);
  for (const auto& id : gone) g.erase(id);

  if (!g.members.empty()) {
    Member* leader = g.leader ? g.find(*g.leader) : nullptr;
    if (!leader || !leader->awaiting_join) {
      auto it = std::find_if(g.members.begin(), g.members.end(), [](const auto& m) { return m->awaiting_join; });
      if (it == g.members.end()) {
        // Only static members that have not rejoined: wait another round
        // for them or for their sessions to expire.
        g.join_deadline = now + std::chrono::milliseconds(g.rebalance_timeout_ms());
        g.reschedule();
        return;
      }
      g.leader = (*it)->id;
    }
  }

  ++g.generation;
  g.pending_sync.clear();
  g.members_unknown_until = {};
  if (g.members.empty()) {
    g.protocol.reset();
    g.leader.reset();
    g.state = State::empty;
    g.empty_since_ms = unix_now_ms();
    FLOE_LOG(info, "groups") << "group " << g.id << " is empty at generation " << g.generation;
    if (auto sp = shared(g)) store_group_async(sp);
    return;
  }
  g.protocol = g.select_protocol();
  g.state = State::completing_rebalance;
  FLOE_LOG(info, "groups") << "group " << g.id << ": generation " << g.generation << " with " << g.members.size()
                           << " member(s), protocol " << *g.protocol << ", leader " << *g.leader;
  for (auto& m : g.members) {
    if (m->awaiting_join) {
      m->awaiting_join->set(g.current_join_result(*m, g.leader == m->id));
      m->awaiting_join.reset();
    }
    m->touch(now);
    m->is_new = false;
    g.pending_sync.insert(m->id);
  }
  g.sync_deadline = now + std::chrono::milliseconds(g.rebalance_timeout_ms());
  g.reschedule();
}

// REQUIRES: strand_. Kafka's removeMemberAndUpdateGroup.
void GroupCoordinator::remove_member(Group& g, const std::string& member_id, const std::string& reason) {
  FLOE_LOG(info, "groups") << "group " << g.id << ": removing member " << member_id << " (" << reason << ")";
  g.erase(member_id);
  switch (g.state) {
    case State::stable:
    case State::completing_rebalance:
      maybe_prepare_rebalance(g, reason);
      break;
    case State::preparing_rebalance:
      try_complete_join(g, false);
      break;
    case State::empty:
    case State::dead:
      break;
  }
}

// REQUIRES: strand_. Records an empty generation; failures are only logged
// (the next generation is recorded again).
void GroupCoordinator::store_group_async(const std::shared_ptr<Group>& g) {
  meta::GroupRecord record{.group_id = g->id,
                           .protocol_type = g->protocol_type,
                           .generation = g->generation,
                           .protocol = g->protocol,
                           .empty = g->members.empty(),
                           .state_ms = unix_now_ms(),
                           .session_timeout_ms = 0};
  asio::co_spawn(
      strand_,
      [this, g, record]() -> asio::awaitable<void> {
        WriteGuard guard = co_await lock_writes(g);
        try {
          co_await run_blocking(blocking_, [&] { meta_.store_group(record); });
        } catch (const std::exception& e) {
          FLOE_LOG(warn, "groups") << "cannot record generation " << record.generation << " of group "
                                   << record.group_id << ": " << e.what();
        }
      },
      asio::detached);
}

// --- SyncGroup --------------------------------------------------------------

asio::awaitable<SyncResult> GroupCoordinator::sync(SyncRequest req) {
  auto caller = co_await asio::this_coro::executor;
  SyncReply reply(caller);
  auto work = [this, &req, reply]() -> asio::awaitable<bool> {  // named: see join()
    if (stopped_) {
      reply.set(sync_error(ErrorCode::not_coordinator));
      co_return true;
    }
    auto g = co_await find_group(req.group_id, false);
    if (!g) {
      reply.set(sync_error(stopped_ ? ErrorCode::not_coordinator : ErrorCode::unknown_member_id));
      co_return true;
    }
    // Kafka's order: the member and its generation first, so a stale
    // member is told to rejoin rather than that its protocol is wrong.
    if (g->dead) {
      reply.set(sync_error(ErrorCode::coordinator_not_available));
      co_return true;
    }
    if (ErrorCode e = g->validate_member(req.member_id, req.instance_id); e != ErrorCode::none) {
      reply.set(sync_error(e));
      co_return true;
    }
    if (req.generation != g->generation) {
      reply.set(sync_error(ErrorCode::illegal_generation));
      co_return true;
    }
    if ((req.protocol_type && !g->protocol_type.empty() && *req.protocol_type != g->protocol_type) ||
        (req.protocol_name && g->protocol && *req.protocol_name != *g->protocol)) {
      reply.set(sync_error(ErrorCode::inconsistent_group_protocol));
      co_return true;
    }
    Member& m = *g->find(req.member_id);
    switch (g->state) {
      case State::empty:
      case State::dead:
        reply.set(sync_error(ErrorCode::unknown_member_id));
        break;
      case State::preparing_rebalance:
        reply.set(sync_error(ErrorCode::rebalance_in_progress));
        break;
      case State::completing_rebalance: {
        if (m.awaiting_sync) m.awaiting_sync->set(sync_error(ErrorCode::rebalance_in_progress));
        m.awaiting_sync = reply;
        m.touch(Clock::now());
        g->pending_sync.erase(m.id);
        if (g->leader == m.id) {
          // Members the leader left out get an empty assignment;
          // entries for unknown members are ignored.
          std::vector<std::pair<std::string, Bytes>> assignment;
          for (const auto& member : g->members) {
            auto it = std::find_if(req.assignments.begin(), req.assignments.end(),
                                   [&](const auto& a) { return a.first == member->id; });
            assignment.emplace_back(member->id, it == req.assignments.end() ? Bytes{} : std::move(it->second));
          }
          asio::co_spawn(strand_, finish_sync(g, g->generation, std::move(assignment)), asio::detached);
        }
        break;
      }
      case State::stable:
        g->pending_sync.erase(m.id);
        m.touch(Clock::now());
        reply.set(sync_ok(g->protocol_type, g->protocol, m.assignment));
        break;
    }
    co_return true;
  };
  bool ok = co_await on_strand<bool>(std::move(work), ErrorCode::coordinator_not_available);
  if (!ok) co_return sync_error(ErrorCode::coordinator_not_available);
  co_return co_await reply.wait();
}

// REQUIRES: strand_. Records the generation, then hands every member its
// assignment, unless the group moved on while the store was written.
asio::awaitable<void> GroupCoordinator::finish_sync(std::shared_ptr<Group> g, int32_t generation,
                                                    std::vector<std::pair<std::string, Bytes>> assignment) {
  int32_t session = 0;
  for (const auto& m : g->members) session = std::max(session, m->session_timeout_ms);
  meta::GroupRecord record{.group_id = g->id,
                           .protocol_type = g->protocol_type,
                           .generation = generation,
                           .protocol = g->protocol,
                           .empty = false,
                           .state_ms = unix_now_ms(),
                           .session_timeout_ms = session};
  ErrorCode error = ErrorCode::none;
  WriteGuard guard = co_await lock_writes(g);
  try {
    co_await run_blocking(blocking_, [&] { meta_.store_group(record); });
  } catch (const meta::MetaError& e) {
    FLOE_LOG(warn, "groups") << "group " << g->id << ": generation " << generation << " not recorded: " << e.what();
    error = ErrorCode::not_coordinator;  // a newer generation is recorded: another coordinator has the group
  } catch (const std::exception& e) {
    FLOE_LOG(error, "groups") << "group " << g->id << ": cannot record generation " << generation << ": "
                              << e.what();
    error = ErrorCode::coordinator_not_available;
  }
  if (g->dead || stopped_ || g->state != State::completing_rebalance || g->generation != generation) co_return;
  if (error != ErrorCode::none) {
    g->reset_assignments(error);
    maybe_prepare_rebalance(*g, "the group's generation could not be recorded");
    co_return;
  }
  const auto now = Clock::now();
  for (auto& [member_id, bytes] : assignment) {
    Member* m = g->find(member_id);
    if (!m) continue;
    m->assignment = std::move(bytes);
    if (m->awaiting_sync) {
      m->awaiting_sync->set(sync_ok(g->protocol_type, g->protocol, m->assignment));
      m->awaiting_sync.reset();
      m->touch(now);
    }
  }
  g->state = State::stable;
  FLOE_LOG(info, "groups") << "group " << g->id << " is stable at generation " << generation;
}

// --- Heartbeat and LeaveGroup -----------------------------------------------

asio::awaitable<ErrorCode> GroupCoordinator::heartbeat(std::string group_id, int32_t generation,
                                                       std::string member_id,
                                                       std::optional<std::string> instance_id) {
  co_return co_await on_strand<ErrorCode>(
      [&]() -> asio::awaitable<ErrorCode> {
        if (stopped_) co_return ErrorCode::not_coordinator;
        auto g = co_await find_group(group_id, false);
        if (!g) co_return stopped_ ? ErrorCode::not_coordinator : ErrorCode::unknown_member_id;
        if (g->dead) co_return ErrorCode::coordinator_not_available;
        if (ErrorCode e = g->validate_member(member_id, instance_id); e != ErrorCode::none) co_return e;
        if (generation != g->generation) co_return ErrorCode::illegal_generation;
        Member& m = *g->find(member_id);
        switch (g->state) {
          case State::empty:
          case State::dead:
            co_return ErrorCode::unknown_member_id;
          case State::preparing_rebalance:
            m.touch(Clock::now());
            co_return ErrorCode::rebalance_in_progress;
          case State::completing_rebalance:
          case State::stable:
            m.touch(Clock::now());
            co_return ErrorCode::none;
        }
        co_return ErrorCode::none;
      },
      ErrorCode::coordinator_not_available);
}

asio::awaitable<LeaveResult> GroupCoordinator::leave(std::string group_id, std::vector<LeavingMember> members) {
  co_return co_await on_strand<LeaveResult>(
      [&]() -> asio::awaitable<LeaveResult> {
        LeaveResult r;
        if (stopped_) {
          r.error = ErrorCode::not_coordinator;
          co_return r;
        }
        auto g = co_await find_group(group_id, false);
        if (!g) {
          r.members.assign(members.size(), ErrorCode::unknown_member_id);
          co_return r;
        }
        if (g->dead) {
          r.error = ErrorCode::coordinator_not_available;
          co_return r;
        }
        for (const auto& lm : members) {
          if (lm.member_id.empty()) {
            // Administrative removal of a static member by instance id.
            Member* m = lm.instance_id ? g->find_static(*lm.instance_id) : nullptr;
            if (!m) {
              r.members.push_back(ErrorCode::unknown_member_id);
              continue;
            }
            remove_member(*g, m->id, "static member " + *lm.instance_id + " left");
            r.members.push_back(ErrorCode::none);
          } else if (g->pending.erase(lm.member_id)) {
            try_complete_join(*g, false);
            r.members.push_back(ErrorCode::none);
          } else if (ErrorCode e = g->validate_member(lm.member_id, lm.instance_id); e != ErrorCode::none) {
            r.members.push_back(e);
          } else {
            remove_member(*g, lm.member_id, "member " + lm.member_id + " left the group");
            r.members.push_back(ErrorCode::none);
          }
        }
        co_return r;
      },
      ErrorCode::coordinator_not_available);
}

// --- offsets ------------------------------------------------------------------

// REQUIRES: strand_. Kafka's validateOffsetCommit.
ErrorCode GroupCoordinator::check_commit(Group& g, int32_t generation, const std::string& member_id,
                                         const std::optional<std::string>& instance_id) {
  if (g.dead) return ErrorCode::coordinator_not_available;
  const auto now = Clock::now();
  // Generation -1 is a consumer that does not use group management (or an
  // admin client): it may commit into a group without members.
  if (generation < 0 && g.state == State::empty && !g.maybe_live(now)) return ErrorCode::none;
  if (generation >= 0 || !member_id.empty() || instance_id) {
    if (ErrorCode e = g.validate_member(member_id, instance_id); e != ErrorCode::none) return e;
    if (generation != g.generation) return ErrorCode::illegal_generation;
  } else {
    // Only members commit into a group that has members.
    return ErrorCode::unknown_member_id;
  }
  switch (g.state) {
    case State::empty:
      return ErrorCode::none;
    case State::completing_rebalance:
      // The member has the new generation but not its assignment yet.
      return ErrorCode::rebalance_in_progress;
    case State::preparing_rebalance:
    case State::stable:
      // Allowed while preparing: the heartbeat tells the member about the
      // rebalance.
      if (Member* m = g.find(member_id)) m->touch(now);
      return ErrorCode::none;
    case State::dead:
      return ErrorCode::coordinator_not_available;
  }
  return ErrorCode::none;
}

asio::awaitable<CommitOutcome> GroupCoordinator::commit_offsets(std::string group_id, int32_t generation,
                                                                std::string member_id,
                                                                std::optional<std::string> instance_id,
                                                                std::vector<meta::CommittedOffset> offsets,
                                                                int64_t now_ms) {
  co_return co_await on_strand<CommitOutcome>(
      [&]() -> asio::awaitable<CommitOutcome> {
        CommitOutcome out;
        if (stopped_) {
          out.error = ErrorCode::not_coordinator;
          co_return out;
        }
        // A commit with generation -1 creates the group ("standalone") if
        // there is none.
        auto g = co_await find_group(group_id, generation < 0);
        if (!g) {
          out.error = stopped_ ? ErrorCode::not_coordinator : ErrorCode::group_id_not_found;
          co_return out;
        }
        // Checked once this commit's turn to write has come, so commits land
        // in the order they were checked: a member fenced meanwhile cannot
        // write after its successor.
        WriteGuard guard = co_await lock_writes(g);
        out.error = check_commit(*g, generation, member_id, instance_id);
        if (out.error != ErrorCode::none || offsets.empty()) co_return out;
        out.results = co_await run_blocking(blocking_, [&] { return meta_.commit_offsets(group_id, offsets, now_ms); });
        co_return out;
      },
      ErrorCode::coordinator_not_available);
}

// --- administration -----------------------------------------------------------

asio::awaitable<std::vector<GroupListing>> GroupCoordinator::list_groups() {
  auto records = co_await run_blocking(blocking_, [this] { return meta_.list_groups(); });
  co_return co_await on_strand<std::vector<GroupListing>>(
      [&]() -> asio::awaitable<std::vector<GroupListing>> {
        std::map<std::string, GroupListing> out;
        for (const auto& r : records) out[r.group_id] = {r.group_id, r.protocol_type, state_name(State::empty)};
        for (const auto& [id, g] : groups_) {
          if (g->dead) continue;
          out[id] = {id, g->protocol_type, state_name(g->state)};
        }
        std::vector<GroupListing> v;
        for (auto& [id, l] : out) v.push_back(std::move(l));
        co_return v;
      },
      ErrorCode::coordinator_not_available);
}

asio::awaitable<GroupDescription> GroupCoordinator::describe_group(std::string group_id) {
  co_return co_await on_strand<GroupDescription>(
      [&]() -> asio::awaitable<GroupDescription> {
        GroupDescription d;
        if (stopped_) {
          d.error = ErrorCode::not_coordinator;
          co_return d;
        }
        auto g = co_await find_group(group_id, false);
        if (!g || g->dead) {
          d.state = state_name(State::dead);
          co_return d;
        }
        d.state = state_name(g->state);
        d.protocol_type = g->protocol_type;
        const bool stable = g->state == State::stable;
        if (stable && g->protocol) d.protocol = *g->protocol;
        for (const auto& m : g->members) {
          MemberDescription md{m->id, m->instance_id, m->client_id, m->client_host, {}, {}};
          if (stable && g->protocol) {
            if (const Bytes* b = m->metadata_for(*g->protocol)) md.metadata = *b;
            md.assignment = m->assignment;
          }
          d.members.push_back(std::move(md));
        }
        co_return d;
      },
      ErrorCode::coordinator_not_available);
}

asio::awaitable<ErrorCode> GroupCoordinator::delete_group(std::string group_id) {
  co_return co_await on_strand<ErrorCode>(
      [&]() -> asio::awaitable<ErrorCode> {
        if (stopped_) co_return ErrorCode::not_coordinator;
        auto g = co_await find_group(group_id, false);
        if (!g || g->dead) co_return ErrorCode::group_id_not_found;
        if (g->state != State::empty || g->maybe_live(Clock::now())) co_return ErrorCode::non_empty_group;
        // Dead while its rows go: a JoinGroup meanwhile is told to retry.
        g->dead = true;
        g->timer.cancel();
        // After any write of the group already under way (the record of the
        // generation that just became empty, a commit), so none brings the
        // group back.
        WriteGuard guard = co_await lock_writes(g);
        ErrorCode result = ErrorCode::none;
        try {
          co_await run_blocking(blocking_, [&] { meta_.delete_group(group_id); });
          FLOE_LOG(info, "groups") << "group " << group_id << " deleted";
        } catch (const std::exception& e) {
          FLOE_LOG(error, "groups") << "cannot delete group " << group_id << ": " << e.what();
          result = ErrorCode::coordinator_not_available;
        }
        if (auto it = groups_.find(group_id); it != groups_.end() && it->second == g) groups_.erase(it);
        co_return result;
      },
      ErrorCode::coordinator_not_available);
}

asio::awaitable<OffsetDeleteCheck> GroupCoordinator::check_offset_delete(std::string group_id) {
  co_return co_await on_strand<OffsetDeleteCheck>(
      [&]() -> asio::awaitable<OffsetDeleteCheck> {
        OffsetDeleteCheck c;
        if (stopped_) {
          c.error = ErrorCode::not_coordinator;
          co_return c;
        }
        auto g = co_await find_group(group_id, false);
        if (!g || g->dead) {
          c.error = ErrorCode::group_id_not_found;
          co_return c;
        }
        if (g->maybe_live(Clock::now())) {
          // Members of the recorded generation may be back any moment, with
          // subscriptions nobody here knows: every topic counts as theirs.
          c.all_subscribed = true;
          co_return c;
        }
        if (g->state == State::empty) co_return c;
        if (g->protocol_type != kConsumerProtocolType) {
          c.error = ErrorCode::non_empty_group;
          co_return c;
        }
        // Subscriptions that cannot be read protect every topic (Kafka's
        // isSubscribedToTopic says yes when it does not know).
        if (auto topics = g->subscribed_topics()) c.subscribed_topics = std::move(*topics);
        else c.all_subscribed = true;
        co_return c;
      },
      ErrorCode::coordinator_not_available);
}

// --- offset expiry ------------------------------------------------------------

// REQUIRES: strand_.
asio::awaitable<void> GroupCoordinator::run_expiry() {
  while (!stopped_) {
    expiry_timer_->expires_after(std::chrono::milliseconds(options_.offsets_retention_check_interval_ms));
    std::error_code ec;
    co_await expiry_timer_->async_wait(asio::redirect_error(asio::use_awaitable, ec));
    if (stopped_) co_return;
    try {
      co_await expire_offsets(unix_now_ms());
    } catch (const std::exception& e) {
      FLOE_LOG(warn, "groups") << "offset expiry failed: " << e.what();
    }
  }
}

// Kafka's GroupMetadata.removeExpiredOffsets, for every group: an empty group
// that has a protocol type loses all its offsets once it has been empty for
// offsets.retention.minutes; a standalone group loses each offset that long
// after its commit; a stable consumer group loses offsets of topics it no
// longer subscribes to that long after their commit. An offset committed with
// an explicit retention (OffsetCommit v2-v4) expires at its own time. A group
// left empty with no offsets is deleted.
asio::awaitable<void> GroupCoordinator::expire_offsets(int64_t now_ms) {
  auto records = co_await run_blocking(blocking_, [this] { return meta_.list_groups(); });
  std::unordered_map<std::string, std::string> topic_names;  // topic id text -> name
  auto topics = co_await run_blocking(blocking_, [this] { return meta_.list_topics(); });
  for (const auto& t : topics) topic_names.emplace(t.id.to_string(), t.name);
  for (const auto& record : records) {
    try {
      auto pass = expire_group_offsets(record, now_ms, topic_names);
      co_await asio::co_spawn(strand_, std::move(pass), asio::use_awaitable);
    } catch (const std::exception& e) {
      FLOE_LOG(warn, "groups") << "offset expiry of group " << record.group_id << " failed: " << e.what();
    }
  }
  // Groups that never got a record (a JoinGroup answered MEMBER_ID_REQUIRED
  // whose client never came back, a refused join) and are empty again: only
  // memory holds them, and only until here.
  std::set<std::string> recorded;
  for (const auto& r : records) recorded.insert(r.group_id);
  auto sweep = [&]() -> asio::awaitable<void> {
    for (auto it = groups_.begin(); it != groups_.end();) {
      Group& g = *it->second;
      if (g.state == State::empty && g.members.empty() && g.pending.empty() && !g.writing &&
          !recorded.count(it->first)) {
        g.dead = true;
        g.timer.cancel();
        it = groups_.erase(it);
      } else {
        ++it;
      }
    }
    co_return;
  };
  co_await asio::co_spawn(strand_, sweep, asio::use_awaitable);
}

// REQUIRES: strand_.
asio::awaitable<void> GroupCoordinator::expire_group_offsets(
    const meta::GroupRecord& record, int64_t now_ms, const std::unordered_map<std::string, std::string>& topic_names) {
  if (stopped_) co_return;
  const std::string& id = record.group_id;
  auto g = co_await find_group(id, false);
  if (!g || g->dead) co_return;
  // No commit of the group runs while its offsets are read and expired.
  WriteGuard guard = co_await lock_writes(g);
  if (g->dead || stopped_) co_return;
  auto offsets = co_await run_blocking(blocking_, [&] { return meta_.fetch_offsets(id, std::nullopt); });
  const int64_t retention = options_.offsets_retention_ms;
  auto expired_by_time = [&](const meta::CommittedOffset& o, int64_t base_ms) {
    return o.expire_ms ? now_ms >= *o.expire_ms : now_ms - base_ms >= retention;
  };
  std::vector<meta::CommittedOffset> expired;
  if (g->state == State::empty && !g->protocol_type.empty()) {
    for (const auto& o : offsets)
      if (expired_by_time(o, g->empty_since_ms)) expired.push_back(o);
  } else if (g->protocol_type.empty() && g->members.empty()) {
    for (const auto& o : offsets)
      if (expired_by_time(o, o.commit_ms)) expired.push_back(o);
  } else if (g->protocol_type == kConsumerProtocolType && g->state == State::stable) {
    if (auto subscribed = g->subscribed_topics()) {
      for (const auto& o : offsets) {
        auto name = topic_names.find(o.partition.topic_id.to_string());
        bool in_use = name != topic_names.end() && subscribed->count(name->second);
        if (!in_use && expired_by_time(o, o.commit_ms)) expired.push_back(o);
      }
    }
  }
  // Nothing left of an empty group: it goes, as in Kafka.
  const bool drop = g->state == State::empty && expired.size() == offsets.size();
  if (expired.empty() && !drop) co_return;
  // The store deletes only offsets unchanged since they were read, and the
  // record only if no offset is left: a commit meanwhile survives.
  auto out = co_await run_blocking(blocking_, [&] { return meta_.expire_offsets(id, expired, drop); });
  if (out.offsets_deleted > 0)
    FLOE_LOG(info, "groups") << "group " << id << ": " << out.offsets_deleted << " committed offset(s) expired";
  if (!out.group_deleted) co_return;
  FLOE_LOG(info, "groups") << "group " << id << " expired: empty and without offsets";
  // A member may have joined while the store was written: then the group
  // lives on in memory and its next generation records it again.
  if (g->dead || g->state != State::empty) co_return;
  g->dead = true;
  g->timer.cancel();
  if (auto it = groups_.find(id); it != groups_.end() && it->second == g) groups_.erase(it);
}

}  // namespace floe::groups
