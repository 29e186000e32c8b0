"""Consumer groups over raw sockets (kafka_wire): every group API at a classic
(non-flexible) and a flexible version, and the coordinator's answers to bad input.

The expected behaviour is Apache Kafka's classic group coordinator. A raw member sends
no heartbeats of its own, so members here use a long session timeout and the tests
drive every step (join, sync, heartbeat, commit, leave) themselves. After every bad
request the coordinator must still serve another group normally.
"""

from __future__ import annotations

import itertools
import time
import uuid

import pytest
from confluent_kafka.admin import AdminClient, NewTopic

import kafka_wire as kw
from kafka_wire import Connection

TIMEOUT_S = 30
SESSION_MS = 30_000  # raw members do not heartbeat in the background
MIN_SESSION_MS = 1_000
MAX_SESSION_MS = 60_000
GROUP_CONFIG = {"group.initial.rebalance.delay.ms": 0,
                "group.min.session.timeout.ms": MIN_SESSION_MS,
                "group.max.session.timeout.ms": MAX_SESSION_MS}
TOPIC = "orders"
PARTITIONS = 4
# Upper bound on waiting for a state the coordinator must reach; a guard, not a measurement.
STATE_DEADLINE_S = 20

# Versions of each group API used together. Joins at v4+ go through MEMBER_ID_REQUIRED.
VERSION_SETS = {
    # The oldest version of each API (OffsetCommit v1: v0 has no generation or member id;
    # OffsetFetch v1: v0 read offsets from ZooKeeper).
    "oldest": dict(find=0, join=0, sync=0, heartbeat=0, leave=0, commit=1, fetch=1,
                   describe=0, list=0, delete=0),
    # The newest versions that are not flexible.
    "classic": dict(find=2, join=5, sync=3, heartbeat=3, leave=3, commit=7, fetch=5,
                    describe=4, list=2, delete=1),
    # The first flexible version of each API.
    "first-flexible": dict(find=3, join=6, sync=4, heartbeat=4, leave=4, commit=8, fetch=6,
                           describe=5, list=3, delete=2),
    # The newest version of each API the broker serves.
    "newest": dict(find=4, join=9, sync=5, heartbeat=4, leave=5, commit=9, fetch=9,
                   describe=5, list=5, delete=2),
}
CLASSIC = VERSION_SETS["classic"]
FLEXIBLE = VERSION_SETS["newest"]


# ---- helpers ----------------------------------------------------------------------

def connect(broker) -> Connection:
    return Connection(broker.host, broker.port, timeout=TIMEOUT_S)


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def create_topic(broker, name: str = TOPIC, partitions: int = PARTITIONS) -> None:
    admin = AdminClient({"bootstrap.servers": broker.bootstrap, "client.id": "floe-tests"})
    futures = admin.create_topics([NewTopic(name, partitions, 1)], request_timeout=TIMEOUT_S)
    futures[name].result(TIMEOUT_S)


def node_id(broker) -> int:
    with connect(broker) as conn:
        (b,) = conn.metadata(12).brokers
    return b.node_id


def subscription(*topics: str) -> bytes:
    return kw.encode_consumer_subscription(list(topics))


def fetch_offsets(conn: Connection, version: int, group: str,
                  topics: dict[str, list[int]] | None) -> kw.OffsetFetchGroup:
    """OffsetFetch for one group at any version; fails on a group-level error."""
    if version >= 8:
        resp = kw.offset_fetch_groups(conn, version, [(group, topics)])
        assert list(resp.groups) == [group], resp
        result = resp.groups[group]
    else:
        resp = kw.offset_fetch(conn, version, group, topics)
        result = kw.OffsetFetchGroup(resp.error_code, resp.topics)
    assert result.error_code == kw.NONE, result
    return result


def describe(conn: Connection, version: int, group: str) -> kw.DescribedGroup:
    (g,) = kw.describe_groups(conn, version, [group])
    assert g.group_id == group, g
    return g


class Member:
    """One group member on its own connection (JoinGroup and SyncGroup block until the
    rest of the group has acted, so two members never share a connection)."""

    def __init__(self, broker, group: str, versions: dict[str, int], *,
                 instance_id: str | None = None, topics: tuple[str, ...] = (TOPIC,),
                 session_ms: int = SESSION_MS, protocol_type: str = "consumer",
                 protocols: list[tuple[str, bytes]] | None = None) -> None:
        self.conn = connect(broker)
        self.group, self.v = group, versions
        self.instance_id = instance_id if versions["join"] >= 5 else None
        self.session_ms = session_ms
        self.protocol_type = protocol_type
        self.metadata = subscription(*topics)
        self.protocols = protocols if protocols is not None else [("range", self.metadata)]
        self.member_id = ""
        self.generation = -1
        self.protocol_name: str | None = None  # selected by the last successful join
        self.assignment: dict[str, list[int]] = {}

    def close(self) -> None:
        self.conn.close()

    # -- JoinGroup --

    def send_join(self, member_id: str | None = None) -> kw.PendingResponse:
        return kw.send_join_group(
            self.conn, self.v["join"], self.group, self.session_ms,
            self.member_id if member_id is None else member_id, self.protocol_type,
            self.protocols, group_instance_id=self.instance_id)

    def accept(self, resp: kw.JoinGroupResponse) -> kw.JoinGroupResponse:
        """Takes the member id and generation of a successful join."""
        assert resp.error_code == kw.NONE, resp
        self.member_id, self.generation = resp.member_id, resp.generation_id
        self.protocol_name = resp.protocol_name
        return resp

    def get_member_id(self) -> None:
        """JoinGroup v4+ without a member id: MEMBER_ID_REQUIRED hands one out."""
        resp = self.send_join().result()
        assert resp.error_code == kw.MEMBER_ID_REQUIRED, resp
        assert resp.member_id, resp
        self.member_id = resp.member_id

    def needs_member_id(self) -> bool:
        return self.v["join"] >= 4 and not self.member_id and self.instance_id is None

    def join(self) -> kw.JoinGroupResponse:
        """Joins a group in which no other member has to rejoin."""
        if self.needs_member_id():
            self.get_member_id()
        return self.accept(self.send_join().result())

    # -- the rest --

    def send_sync(self, assignments: dict[str, bytes] | None = None, **kw_) -> kw.PendingResponse:
        kw_.setdefault("group_instance_id", self.instance_id)
        # SyncGroup v5+ must name the protocol type and name (Kafka refuses it
        # with INCONSISTENT_GROUP_PROTOCOL otherwise), as real clients do.
        if self.v["sync"] >= 5:
            kw_.setdefault("protocol_type", self.protocol_type)
            kw_.setdefault("protocol_name", self.protocol_name or self.protocols[0][0])
        return kw.send_sync_group(self.conn, self.v["sync"], self.group,
                                  kw_.pop("generation", self.generation),
                                  kw_.pop("member_id", self.member_id), assignments, **kw_)

    def sync(self, assignments: dict[str, bytes] | None = None) -> kw.SyncGroupResponse:
        resp = self.send_sync(assignments).result()
        assert resp.error_code == kw.NONE, resp
        self.assignment = kw.decode_consumer_assignment(resp.assignment)
        return resp

    def heartbeat(self, generation: int | None = None, member_id: str | None = None) -> int:
        return kw.heartbeat(self.conn, self.v["heartbeat"], self.group,
                            self.generation if generation is None else generation,
                            self.member_id if member_id is None else member_id,
                            group_instance_id=self.instance_id)

    def commit(self, topics, generation: int | None = None,
               member_id: str | None = None) -> kw.OffsetCommitResponse:
        return kw.offset_commit(self.conn, self.v["commit"], self.group, topics,
                                generation_id=self.generation if generation is None else generation,
                                member_id=self.member_id if member_id is None else member_id,
                                group_instance_id=self.instance_id)

    def leave(self) -> kw.LeaveGroupResponse:
        resp = kw.leave_group(self.conn, self.v["leave"], self.group,
                              [(self.member_id, self.instance_id)])
        assert resp.error_code == kw.NONE, resp
        if self.v["leave"] >= 3:
            assert [(m, e) for m, _, e in resp.members] == [(self.member_id, kw.NONE)], resp
        return resp


@pytest.fixture
def members(broker_factory):
    """new(group, versions, **kw) -> Member; every connection is closed at the end."""
    made: list[Member] = []

    def new(broker, group: str, versions: dict[str, int], **kwargs) -> Member:
        m = Member(broker, group, versions, **kwargs)
        made.append(m)
        return m

    yield new
    for m in made:
        m.close()


def assign_range(member_ids: list[str], topic: str = TOPIC,
                 partitions: int = PARTITIONS) -> dict[str, bytes]:
    """What a leader sends: partitions dealt out over the sorted member ids."""
    ids = sorted(member_ids)
    parts: dict[str, list[int]] = {m: [] for m in ids}
    for p in range(partitions):
        parts[ids[p % len(ids)]].append(p)
    return {m: kw.encode_consumer_assignment({topic: ps}) for m, ps in parts.items()}


def wait_heartbeat_error(member: Member, expected: int) -> None:
    """Heartbeats until the coordinator answers `expected` (a state change made by a
    request on another connection is visible once that request has been handled)."""
    deadline = time.monotonic() + STATE_DEADLINE_S
    while True:
        err = member.heartbeat()
        if err == expected:
            return
        assert err == kw.NONE, f"heartbeat: error {err} while waiting for {expected}"
        assert time.monotonic() < deadline, f"heartbeat never answered {expected}"
        time.sleep(0.02)


def complete_join(joins: dict[Member, kw.PendingResponse]) -> tuple[Member, int]:
    """Reads every pending JoinGroup response; checks that they agree; returns the leader."""
    resps = {m: m.accept(p.result()) for m, p in joins.items()}
    generations = {r.generation_id for r in resps.values()}
    assert len(generations) == 1, resps
    leaders = {r.leader for r in resps.values()}
    assert len(leaders) == 1, resps
    (leader_id,) = leaders
    (leader,) = [m for m in resps if m.member_id == leader_id]
    for m, r in resps.items():
        assert r.protocol_name == "range", r
        if m.v["join"] >= 7:
            assert r.protocol_type == "consumer", r
        if m is leader:
            assert not r.skip_assignment, r
            assert sorted(x.member_id for x in r.members) == sorted(x.member_id for x in resps)
            by_id = {x.member_id: x for x in r.members}
            for other in resps:
                assert by_id[other.member_id].metadata == other.metadata
                if m.v["join"] >= 5:
                    assert by_id[other.member_id].group_instance_id == other.instance_id
        else:
            assert r.members == [], r
    return leader, generations.pop()


def complete_sync(group_members: list[Member], leader: Member) -> dict[str, bytes]:
    """Followers sync first (they wait for the leader), then the leader assigns."""
    assignments = assign_range([m.member_id for m in group_members])
    followers = {m: m.send_sync() for m in group_members if m is not leader}
    got = {leader: leader.send_sync(assignments).result()}
    got.update({m: p.result() for m, p in followers.items()})
    for m, resp in got.items():
        assert resp.error_code == kw.NONE, (m.member_id, resp)
        assert resp.assignment == assignments[m.member_id], (m.member_id, resp)
        if m.v["sync"] >= 5:
            assert (resp.protocol_type, resp.protocol_name) == ("consumer", "range"), resp
        m.assignment = kw.decode_consumer_assignment(resp.assignment)
    return assignments


def form_group(group_members: list[Member]) -> int:
    """Makes a Stable group of `group_members`, one join at a time; returns the generation."""
    first, rest = group_members[0], group_members[1:]
    resp = first.join()
    assert resp.leader == first.member_id, resp
    complete_sync([first], first)
    for i, newcomer in enumerate(rest):
        grow(group_members[:i + 1], newcomer)
    assert all(m.generation == group_members[0].generation for m in group_members)
    return group_members[0].generation


def grow(current: list[Member], newcomer: Member) -> Member:
    """A new member joins a Stable group; everyone rejoins and syncs. Returns the leader."""
    before = current[0].generation
    if newcomer.needs_member_id():
        newcomer.get_member_id()
    joins = {newcomer: newcomer.send_join()}
    # The newcomer's JoinGroup has put the group into PreparingRebalance.
    wait_heartbeat_error(current[0], kw.REBALANCE_IN_PROGRESS)
    for m in current[1:]:
        assert m.heartbeat() == kw.REBALANCE_IN_PROGRESS
    joins.update({m: m.send_join() for m in current})
    leader, generation = complete_join(joins)
    assert generation == before + 1
    complete_sync(current + [newcomer], leader)
    return leader


def rejoin(group_members: list[Member]) -> Member:
    """After a member left or expired: the rest rejoin and sync. Returns the leader."""
    before = group_members[0].generation
    wait_heartbeat_error(group_members[0], kw.REBALANCE_IN_PROGRESS)
    leader, generation = complete_join({m: m.send_join() for m in group_members})
    assert generation == before + 1
    complete_sync(group_members, leader)
    return leader


def assert_coordinator_serves(broker, versions: dict[str, int] = FLEXIBLE) -> None:
    """A fresh group goes through join, sync, heartbeat, commit, fetch and leave."""
    assert broker.is_running(), f"broker died.\nstderr:\n{broker.stderr_text()}"
    group = unique("healthy")
    m = Member(broker, group, versions)
    try:
        resp = m.join()
        assert (resp.generation_id, resp.leader) == (1, m.member_id), resp
        complete_sync([m], m)
        assert m.assignment == {TOPIC: list(range(PARTITIONS))}
        assert m.heartbeat() == kw.NONE
        assert m.commit({TOPIC: {0: 42}}).topics == {TOPIC: {0: kw.NONE}}
        assert fetch_offsets(m.conn, versions["fetch"], group, {TOPIC: [0]}).offsets() == {
            TOPIC: {0: 42}}
        m.leave()
        assert describe(m.conn, versions["describe"], group).state == "Empty"
    finally:
        m.close()


@pytest.fixture
def gbroker(broker_factory):
    """A broker with fast group settings and the topic TOPIC."""
    b = broker_factory(GROUP_CONFIG)
    create_topic(b)
    return b


# ---- FindCoordinator ------------------------------------------------------------------

@pytest.mark.parametrize("version", [0, 1, 2, 3])
def test_find_coordinator_single_key(gbroker, version):
    node = node_id(gbroker)
    key_types = [kw.COORDINATOR_GROUP] + ([kw.COORDINATOR_TRANSACTION] if version >= 1 else [])
    with connect(gbroker) as conn:
        for key_type in key_types:
            resp = kw.find_coordinator(conn, version, key=f"key-{key_type}", key_type=key_type)
            (c,) = resp.coordinators
            assert (c.error_code, c.node_id, c.host, c.port) == (
                kw.NONE, node, "127.0.0.1", gbroker.port), resp
        if version >= 1:
            resp = kw.find_coordinator(conn, version, key="some-group", key_type=5)
            assert resp.error_code == kw.INVALID_REQUEST, resp
    assert_coordinator_serves(gbroker)


def test_find_coordinator_batched(gbroker):
    """v4: several keys in one request, group and transaction keys; a bad key type."""
    node = node_id(gbroker)
    with connect(gbroker) as conn:
        for key_type, keys in [(kw.COORDINATOR_GROUP, ["g-1", "g-2", "g-3"]),
                               (kw.COORDINATOR_TRANSACTION, ["txn-a", "txn-b"])]:
            resp = kw.find_coordinator(conn, 4, key_type=key_type, keys=keys)
            assert sorted(c.key for c in resp.coordinators) == sorted(keys), resp
            for c in resp.coordinators:
                assert (c.error_code, c.node_id, c.host, c.port) == (
                    kw.NONE, node, "127.0.0.1", gbroker.port), resp
        resp = kw.find_coordinator(conn, 4, key_type=5, keys=["g-1", "g-2"])
        assert sorted(c.key for c in resp.coordinators) == ["g-1", "g-2"], resp
        assert {c.error_code for c in resp.coordinators} == {kw.INVALID_REQUEST}, resp
    assert_coordinator_serves(gbroker)


# ---- a whole group lifecycle at each version set -----------------------------------------

@pytest.mark.parametrize("vset", list(VERSION_SETS))
def test_group_lifecycle(gbroker, members, vset):
    v = VERSION_SETS[vset]
    group = unique(f"life-{vset}")
    node = node_id(gbroker)
    with connect(gbroker) as admin:
        if v["find"] >= 4:
            (c,) = kw.find_coordinator(admin, v["find"], keys=[group]).coordinators
            assert c.key == group
        else:
            (c,) = kw.find_coordinator(admin, v["find"], key=group).coordinators
        assert (c.error_code, c.node_id, c.port) == (kw.NONE, node, gbroker.port), c

        # Static members in two of the sets, dynamic ones (MEMBER_ID_REQUIRED from v4) in
        # the others.
        static = vset in ("classic", "newest")
        a = members(gbroker, group, v, instance_id="instance-a" if static else None)
        b = members(gbroker, group, v, instance_id="instance-b" if static else None)

        # A alone: generation 1, A leads and gets every partition.
        resp = a.join()
        assert (resp.generation_id, resp.leader) == (1, a.member_id), resp
        complete_sync([a], a)
        assert a.assignment == {TOPIC: [0, 1, 2, 3]}
        assert a.heartbeat() == kw.NONE

        # B joins: A hears REBALANCE_IN_PROGRESS, rejoins; generation 2, A still leads.
        leader = grow([a], b)
        assert leader is a and a.generation == b.generation == 2
        first, second = sorted([a, b], key=lambda m: m.member_id)
        assert (first.assignment, second.assignment) == ({TOPIC: [0, 2]}, {TOPIC: [1, 3]})
        assert a.heartbeat() == kw.NONE and b.heartbeat() == kw.NONE

        # Commits from both members land and read back.
        assert a.commit({TOPIC: {0: (10, "from-a")}}).topics == {TOPIC: {0: kw.NONE}}
        assert b.commit({TOPIC: {1: (11, "from-b")}}).topics == {TOPIC: {1: kw.NONE}}
        got = fetch_offsets(admin, v["fetch"], group, {TOPIC: [0, 1, 2]})
        assert got.offsets() == {TOPIC: {0: 10, 1: 11, 2: -1}}, got
        assert (got.topics[TOPIC][0].metadata, got.topics[TOPIC][1].metadata) == (
            "from-a", "from-b"), got

        # DescribeGroups: Stable, both members with what they sent and what they got.
        g = describe(admin, v["describe"], group)
        assert (g.error_code, g.state, g.protocol_type, g.protocol_data) == (
            kw.NONE, "Stable", "consumer", "range"), g
        assert sorted(m.member_id for m in g.members) == sorted([a.member_id, b.member_id])
        for m in (a, b):
            d = g.member(m.member_id)
            assert d.client_id == "floe-tests" and "127.0.0.1" in d.client_host, d
            assert d.metadata == m.metadata, d
            assert kw.decode_consumer_assignment(d.assignment) == m.assignment, d
            if v["describe"] >= 4:
                assert d.group_instance_id == m.instance_id, d

        # ListGroups has it (with its state from v4).
        listed = kw.list_groups(admin, v["list"])
        assert listed.error_code == kw.NONE, listed
        assert listed.by_id()[group].protocol_type == "consumer", listed
        if v["list"] >= 4:
            assert listed.by_id()[group].group_state == "Stable", listed
            only_empty = kw.list_groups(admin, v["list"], states_filter=["Empty"])
            assert group not in only_empty.by_id(), only_empty
        if v["list"] >= 5:
            assert listed.by_id()[group].group_type == "classic", listed

        # B leaves: A rejoins alone (generation 3).
        b.leave()
        leader = rejoin([a])
        assert leader is a and a.generation == 3 and a.assignment == {TOPIC: [0, 1, 2, 3]}

        # A leaves: the group is Empty, its offsets stay.
        a.leave()
        g = describe(admin, v["describe"], group)
        assert (g.error_code, g.state, g.members) == (kw.NONE, "Empty", []), g
        if v["list"] >= 4:
            assert kw.list_groups(admin, v["list"], states_filter=["Empty"]).by_id()[
                group].group_state == "Empty"
        assert fetch_offsets(admin, v["fetch"], group, {TOPIC: [0, 1]}).offsets() == {
            TOPIC: {0: 10, 1: 11}}

        # Deleted: no offsets, no group.
        assert kw.delete_groups(admin, v["delete"], [group]) == {group: kw.NONE}
        assert fetch_offsets(admin, v["fetch"], group, {TOPIC: [0, 1]}).offsets() == {
            TOPIC: {0: -1, 1: -1}}
        assert group not in kw.list_groups(admin, v["list"]).by_id()
        g = describe(admin, v["describe"], group)
        assert (g.error_code, g.state, g.members) == (kw.NONE, "Dead", []), g
    assert_coordinator_serves(gbroker, v)


# ---- offsets without membership ----------------------------------------------------------

@pytest.mark.parametrize("commit_version,fetch_version",
                         [(0, 1), (1, 2), (2, 3), (5, 5), (6, 7), (7, 6), (8, 8), (9, 9)])
def test_standalone_commit(gbroker, commit_version, fetch_version):
    """A group that never joined commits with generation -1 and no member id."""
    group = unique(f"standalone-v{commit_version}")
    with connect(gbroker) as conn:
        resp = kw.offset_commit(conn, commit_version, group,
                                {TOPIC: {0: (5, "meta-0", 7), 1: (6, None, 7), 3: 0}})
        assert resp.topics == {TOPIC: {0: kw.NONE, 1: kw.NONE, 3: kw.NONE}}, resp
        got = fetch_offsets(conn, fetch_version, group, {TOPIC: [0, 1, 2, 3]})
        assert got.offsets() == {TOPIC: {0: 5, 1: 6, 2: -1, 3: 0}}, got
        parts = got.topics[TOPIC]
        assert parts[0].metadata == "meta-0", got
        assert parts[1].metadata == "", got  # a null metadata is kept as ""
        if fetch_version >= 5:
            epoch = 7 if commit_version >= 6 else -1
            assert (parts[0].committed_leader_epoch, parts[2].committed_leader_epoch) == (
                epoch, -1), got
        for p in parts.values():
            assert p.error_code == kw.NONE, got
        if fetch_version >= 2:  # a null topic list: every committed offset
            every = fetch_offsets(conn, fetch_version, group, None)
            assert every.offsets() == {TOPIC: {0: 5, 1: 6, 3: 0}}, every

        # A later commit overwrites.
        assert kw.offset_commit(conn, commit_version, group, {TOPIC: {0: 9}}).errors() == {0}
        assert fetch_offsets(conn, fetch_version, group, {TOPIC: [0]}).offsets() == {
            TOPIC: {0: 9}}

        # The group exists, Empty, without a protocol type.
        listed = kw.list_groups(conn, 4).by_id()
        assert (listed[group].protocol_type, listed[group].group_state) == ("", "Empty"), listed
        g = describe(conn, 5, group)
        assert (g.error_code, g.state, g.protocol_type, g.members) == (kw.NONE, "Empty", "", []), g
    assert_coordinator_serves(gbroker)


@pytest.mark.parametrize("version", [7, 8, 9])
def test_standalone_commit_with_group_instance_id(gbroker, version):
    """Generation -1 to an empty (or new) group is accepted whatever the instance id: a
    consumer configured with group.instance.id that assigns partitions by hand sends this.
    (Kafka checks "generation < 0 and group Empty" before it looks at the member.)"""
    group = unique(f"standalone-static-v{version}")
    with connect(gbroker) as conn:
        for offset in (3, 4):  # a new group, then the same group, now Empty
            resp = kw.offset_commit(conn, version, group, {TOPIC: {0: offset}},
                                    group_instance_id="static-instance")
            assert resp.topics == {TOPIC: {0: kw.NONE}}, (offset, resp)
            assert fetch_offsets(conn, 8, group, {TOPIC: [0]}).offsets() == {TOPIC: {0: offset}}
    assert_coordinator_serves(gbroker)


@pytest.mark.parametrize("version", [8, 9])
def test_offset_fetch_several_groups(gbroker, version):
    create_topic(gbroker, "payments", 2)
    g1, g2, g3 = unique("multi-1"), unique("multi-2"), unique("multi-unknown")
    with connect(gbroker) as conn:
        assert kw.offset_commit(conn, 8, g1, {TOPIC: {0: 5, 1: 6}}).errors() == {0}
        assert kw.offset_commit(conn, 8, g2, {TOPIC: {2: 9}, "payments": {0: 3}}).errors() == {0}
        resp = kw.offset_fetch_groups(conn, version, [(g1, {TOPIC: [0, 1, 2]}), (g2, None),
                                                      (g3, {TOPIC: [0]})])
    assert sorted(resp.groups) == sorted([g1, g2, g3]), resp
    assert {g: r.error_code for g, r in resp.groups.items()} == {g1: 0, g2: 0, g3: 0}, resp
    assert resp.groups[g1].offsets() == {TOPIC: {0: 5, 1: 6, 2: -1}}, resp
    assert resp.groups[g2].offsets() == {TOPIC: {2: 9}, "payments": {0: 3}}, resp
    assert resp.groups[g3].offsets() == {TOPIC: {0: -1}}, resp
    assert_coordinator_serves(gbroker)


def test_offset_metadata_max_bytes(broker_factory):
    broker = broker_factory({**GROUP_CONFIG, "offset.metadata.max.bytes": 16})
    create_topic(broker)
    group = unique("metadata")
    with connect(broker) as conn:
        resp = kw.offset_commit(conn, 8, group, {TOPIC: {0: (1, "x" * 16), 1: (1, "x" * 17)}})
        assert resp.topics == {TOPIC: {0: kw.NONE, 1: kw.OFFSET_METADATA_TOO_LARGE}}, resp
        got = fetch_offsets(conn, 8, group, {TOPIC: [0, 1]})
        assert got.offsets() == {TOPIC: {0: 1, 1: -1}}, got
    assert_coordinator_serves(broker)


def test_commit_to_unknown_partition(gbroker, members):
    """Per partition: UNKNOWN_TOPIC_OR_PARTITION for a partition or topic that does not
    exist, while the valid partitions of the same request are committed."""
    group = unique("unknown-partition")
    bad = {TOPIC: {0: 4, PARTITIONS + 95: 4}, "no-such-topic": {0: 4}}
    expected = {TOPIC: {0: kw.NONE, PARTITIONS + 95: kw.UNKNOWN_TOPIC_OR_PARTITION},
                "no-such-topic": {0: kw.UNKNOWN_TOPIC_OR_PARTITION}}
    with connect(gbroker) as conn:
        for version in (2, 8):
            assert kw.offset_commit(conn, version, group, bad).topics == expected
    # The same from a member of a live group.
    m = members(gbroker, unique("unknown-partition-member"), FLEXIBLE)
    form_group([m])
    assert m.commit(bad).topics == expected
    with connect(gbroker) as conn:
        assert fetch_offsets(conn, 8, group, {TOPIC: [0]}).offsets() == {TOPIC: {0: 4}}
        assert fetch_offsets(conn, 8, m.group, {TOPIC: [0]}).offsets() == {TOPIC: {0: 4}}
    assert m.heartbeat() == kw.NONE
    assert_coordinator_serves(gbroker)


# ---- bad input ---------------------------------------------------------------------------

@pytest.mark.parametrize("vset", ["oldest", "classic", "newest"])
def test_empty_group_id_is_invalid_for_membership(gbroker, vset):
    """JoinGroup, SyncGroup, Heartbeat and LeaveGroup need a group id: INVALID_GROUP_ID."""
    v = VERSION_SETS[vset]
    with connect(gbroker) as conn:
        resp = kw.join_group(conn, v["join"], "", SESSION_MS, "", "consumer",
                             [("range", subscription(TOPIC))])
        assert resp.error_code == kw.INVALID_GROUP_ID, resp
        assert kw.sync_group(conn, v["sync"], "", 1, "member", {}).error_code == kw.INVALID_GROUP_ID
        assert kw.heartbeat(conn, v["heartbeat"], "", 1, "member") == kw.INVALID_GROUP_ID
        assert kw.leave_group(conn, v["leave"], "", [("member", None)]).error_code == \
            kw.INVALID_GROUP_ID
    assert_coordinator_serves(gbroker)


@pytest.mark.parametrize("commit_version,fetch_version", [(2, 1), (7, 5), (8, 8)])
def test_empty_group_id_is_invalid_for_offsets(gbroker, commit_version, fetch_version):
    """The issue asks for INVALID_GROUP_ID on OffsetCommit and OffsetFetch with an empty
    group id. (Apache Kafka itself still accepts "" there for backward compatibility.)"""
    with connect(gbroker) as conn:
        resp = kw.offset_commit(conn, commit_version, "", {TOPIC: {0: 1, 1: 1}})
        assert resp.topics == {TOPIC: {0: kw.INVALID_GROUP_ID, 1: kw.INVALID_GROUP_ID}}, resp
        if fetch_version >= 8:
            got = kw.offset_fetch_groups(conn, fetch_version, [("", {TOPIC: [0]})])
            assert got.groups[""].error_code == kw.INVALID_GROUP_ID, got
        elif fetch_version >= 2:
            got = kw.offset_fetch(conn, fetch_version, "", {TOPIC: [0]})
            assert got.error_code == kw.INVALID_GROUP_ID, got
        else:  # v0-1 have no top-level error code: it is on every partition
            got = kw.offset_fetch(conn, fetch_version, "", {TOPIC: [0, 1]})
            assert {p: r.error_code for p, r in got.topics[TOPIC].items()} == {
                0: kw.INVALID_GROUP_ID, 1: kw.INVALID_GROUP_ID}, got
    assert_coordinator_serves(gbroker)


@pytest.mark.parametrize("version", [4, 5, 6, 9])
def test_member_id_required(gbroker, version):
    """JoinGroup v4+ without a member id: MEMBER_ID_REQUIRED and the id to use."""
    group = unique(f"member-id-v{version}")
    with connect(gbroker) as conn:
        args = (group, SESSION_MS)
        protocols = [("range", subscription(TOPIC))]
        first = kw.join_group(conn, version, *args, "", "consumer", protocols)
        assert first.error_code == kw.MEMBER_ID_REQUIRED, first
        assert first.member_id and first.generation_id == -1, first
        second = kw.join_group(conn, version, *args, first.member_id, "consumer", protocols)
        assert second.error_code == kw.NONE, second
        assert (second.member_id, second.leader, second.generation_id) == (
            first.member_id, first.member_id, 1), second
        # v3 joins in one step.
        direct = kw.join_group(conn, 3, unique("member-id-v3"), SESSION_MS, "", "consumer",
                               protocols)
        assert direct.error_code == kw.NONE and direct.member_id, direct
    assert_coordinator_serves(gbroker)


@pytest.mark.parametrize("version", [0, 3, 4, 6, 9])
def test_session_timeout_bounds(gbroker, version):
    protocols = [("range", subscription(TOPIC))]
    with connect(gbroker) as conn:
        for session_ms in (MIN_SESSION_MS - 1, MAX_SESSION_MS + 1):
            resp = kw.join_group(conn, version, unique("session"), session_ms, "", "consumer",
                                 protocols, rebalance_timeout_ms=SESSION_MS)
            assert resp.error_code == kw.INVALID_SESSION_TIMEOUT, (session_ms, resp)
        for session_ms in (MIN_SESSION_MS, MAX_SESSION_MS):
            resp = kw.join_group(conn, version, unique("session"), session_ms, "", "consumer",
                                 protocols)
            assert resp.error_code in (kw.NONE, kw.MEMBER_ID_REQUIRED), (session_ms, resp)
    assert_coordinator_serves(gbroker)


@pytest.mark.parametrize("vset", ["classic", "newest"])
def test_inconsistent_group_protocol(gbroker, members, vset):
    v = VERSION_SETS[vset]
    group = unique("protocol")
    a = members(gbroker, group, v)
    generation = form_group([a])
    sub = subscription(TOPIC)
    with connect(gbroker) as conn:
        # Another protocol type, or no protocol in common with the group.
        for ptype, protocols in [("connect", [("range", sub)]),
                                 ("consumer", [("roundrobin", sub)])]:
            for member_id in ("", "made-up-member"):
                resp = kw.join_group(conn, v["join"], group, SESSION_MS, member_id, ptype,
                                     protocols)
                assert resp.error_code == kw.INCONSISTENT_GROUP_PROTOCOL, (ptype, resp)
        # A new group needs a protocol type and at least one protocol.
        for ptype, protocols in [("consumer", []), ("", [("range", sub)])]:
            resp = kw.join_group(conn, v["join"], unique("protocol-new"), SESSION_MS, "",
                                 ptype, protocols)
            assert resp.error_code == kw.INCONSISTENT_GROUP_PROTOCOL, (ptype, protocols, resp)
    if v["sync"] >= 5:  # SyncGroup v5 names the protocol type and name it expects
        for kwargs in [dict(protocol_type="connect", protocol_name="range"),
                       dict(protocol_type="consumer", protocol_name="roundrobin")]:
            resp = a.send_sync(**kwargs).result()
            assert resp.error_code == kw.INCONSISTENT_GROUP_PROTOCOL, (kwargs, resp)
        resp = a.send_sync(protocol_type="consumer", protocol_name="range").result()
        assert resp.error_code == kw.NONE, resp
    # The group is untouched.
    assert a.heartbeat() == kw.NONE and a.generation == generation
    assert_coordinator_serves(gbroker)


@pytest.mark.parametrize("vset", ["oldest", "classic", "newest"])
def test_illegal_generation(gbroker, members, vset):
    v = VERSION_SETS[vset]
    a = members(gbroker, unique("generation"), v)
    generation = form_group([a])
    assert generation == 1
    for wrong in (generation + 1, generation - 1, generation + 100):
        assert a.heartbeat(generation=wrong) == kw.ILLEGAL_GENERATION, wrong
        resp = a.send_sync(generation=wrong).result()
        assert resp.error_code == kw.ILLEGAL_GENERATION, (wrong, resp)
        resp = a.commit({TOPIC: {0: 1, 1: 1}}, generation=wrong)
        assert resp.topics == {TOPIC: {0: kw.ILLEGAL_GENERATION, 1: kw.ILLEGAL_GENERATION}}
    # The right generation still works, and nothing was committed.
    assert a.heartbeat() == kw.NONE
    assert a.commit({TOPIC: {1: 2}}).topics == {TOPIC: {1: kw.NONE}}
    assert fetch_offsets(a.conn, v["fetch"], a.group, {TOPIC: [0, 1]}).offsets() == {
        TOPIC: {0: -1, 1: 2}}
    assert_coordinator_serves(gbroker)


def test_sync_group_v5_needs_protocol_type_and_name(gbroker, members):
    """From SyncGroup v5 both fields are mandatory (Kafka: INCONSISTENT_GROUP_PROTOCOL)."""
    a = members(gbroker, unique("sync-v5"), FLEXIBLE)
    form_group([a])
    for missing in ({"protocol_type": None}, {"protocol_name": None}):
        resp = a.send_sync(**missing).result()
        assert resp.error_code == kw.INCONSISTENT_GROUP_PROTOCOL, (missing, resp)
    resp = a.send_sync(protocol_name="roundrobin").result()
    assert resp.error_code == kw.INCONSISTENT_GROUP_PROTOCOL, resp
    assert a.send_sync().result().error_code == kw.NONE
    assert_coordinator_serves(gbroker)


@pytest.mark.parametrize("vset", ["oldest", "classic", "newest"])
def test_unknown_member(gbroker, members, vset):
    v = VERSION_SETS[vset]
    a = members(gbroker, unique("unknown-member"), v)
    generation = form_group([a])
    ghost = "ghost-member"
    assert a.heartbeat(member_id=ghost) == kw.UNKNOWN_MEMBER_ID
    assert a.send_sync(member_id=ghost).result().error_code == kw.UNKNOWN_MEMBER_ID
    resp = a.commit({TOPIC: {0: 1}}, member_id=ghost, generation=generation)
    assert resp.topics == {TOPIC: {0: kw.UNKNOWN_MEMBER_ID}}, resp
    leave = kw.leave_group(a.conn, v["leave"], a.group, [(ghost, None)])
    if v["leave"] >= 3:
        assert (leave.error_code, leave.members) == (
            kw.NONE, [(ghost, None, kw.UNKNOWN_MEMBER_ID)]), leave
    else:
        assert leave.error_code == kw.UNKNOWN_MEMBER_ID, leave
    # JoinGroup with a member id the group does not know, in this group and in none.
    resp = a.send_join(member_id=ghost).result()
    assert resp.error_code == kw.UNKNOWN_MEMBER_ID, resp
    resp = kw.join_group(a.conn, v["join"], unique("no-such-group"), SESSION_MS, ghost,
                         "consumer", a.protocols)
    assert resp.error_code == kw.UNKNOWN_MEMBER_ID, resp
    assert a.heartbeat() == kw.NONE
    assert_coordinator_serves(gbroker)


@pytest.mark.parametrize("vset", ["classic", "newest"])
def test_heartbeat_and_commit_during_rebalance(gbroker, members, vset):
    """PreparingRebalance: heartbeats get REBALANCE_IN_PROGRESS (commits of the current
    generation are accepted). CompletingRebalance: heartbeats are fine, commits get
    REBALANCE_IN_PROGRESS."""
    v = VERSION_SETS[vset]
    group = unique("rebalance")
    a, b = members(gbroker, group, v), members(gbroker, group, v)
    form_group([a])
    if b.needs_member_id():
        b.get_member_id()
    pending_b = b.send_join()
    wait_heartbeat_error(a, kw.REBALANCE_IN_PROGRESS)
    assert a.heartbeat() == kw.REBALANCE_IN_PROGRESS
    assert a.commit({TOPIC: {0: 3}}).topics == {TOPIC: {0: kw.NONE}}
    leader, generation = complete_join({a: a.send_join(), b: pending_b})
    assert generation == 2
    # CompletingRebalance until the leader syncs.
    assert a.heartbeat() == kw.NONE and b.heartbeat() == kw.NONE
    assert a.commit({TOPIC: {0: 4}}).topics == {TOPIC: {0: kw.REBALANCE_IN_PROGRESS}}
    complete_sync([a, b], leader)
    assert a.commit({TOPIC: {0: 5}}).topics == {TOPIC: {0: kw.NONE}}
    assert fetch_offsets(a.conn, v["fetch"], group, {TOPIC: [0]}).offsets() == {TOPIC: {0: 5}}
    assert_coordinator_serves(gbroker)


@pytest.mark.parametrize("vset", ["classic", "newest"])
def test_static_member_replaced_and_old_one_fenced(gbroker, members, vset):
    """A static member that rejoins without its member id takes over its instance id
    without a rebalance; the old member id gets FENCED_INSTANCE_ID everywhere."""
    v = VERSION_SETS[vset]
    group = unique("static")
    a = members(gbroker, group, v, instance_id="instance-a")
    b = members(gbroker, group, v, instance_id="instance-b")
    generation = form_group([a, b])
    old_a = a.member_id
    a_assignment = a.assignment

    # A restarts: same instance id, no member id. No MEMBER_ID_REQUIRED for static members.
    a2 = members(gbroker, group, v, instance_id="instance-a")
    resp = a2.send_join().result()
    assert resp.error_code == kw.NONE, resp
    assert resp.generation_id == generation, resp
    assert resp.member_id and resp.member_id != old_a, resp
    a2.member_id, a2.generation = resp.member_id, resp.generation_id
    if v["join"] >= 9:  # the new leader is told, with the members, to skip the assignment
        assert resp.leader == a2.member_id and resp.skip_assignment, resp
        assert sorted(m.member_id for m in resp.members) == sorted([a2.member_id, b.member_id])
    else:  # before v9 the old leader id, so that the rejoined leader does not assign
        assert resp.leader == old_a and resp.members == [], resp
    # No rebalance: B goes on with the same generation; A's new id gets A's partitions.
    assert b.heartbeat() == kw.NONE
    sync = a2.send_sync().result()
    assert sync.error_code == kw.NONE, sync
    assert kw.decode_consumer_assignment(sync.assignment) == a_assignment
    assert a2.heartbeat() == kw.NONE

    # The old member id is fenced.
    assert a.heartbeat() == kw.FENCED_INSTANCE_ID
    assert a.send_sync().result().error_code == kw.FENCED_INSTANCE_ID
    assert a.commit({TOPIC: {0: 1}}).topics == {TOPIC: {0: kw.FENCED_INSTANCE_ID}}
    assert a.send_join().result().error_code == kw.FENCED_INSTANCE_ID
    leave = kw.leave_group(a.conn, v["leave"], group, [(old_a, "instance-a")])
    assert (leave.error_code, leave.members) == (
        kw.NONE, [(old_a, "instance-a", kw.FENCED_INSTANCE_ID)]), leave

    g = describe(a2.conn, v["describe"], group)
    assert g.state == "Stable", g
    assert sorted((m.member_id, m.group_instance_id) for m in g.members) == sorted(
        [(a2.member_id, "instance-a"), (b.member_id, "instance-b")]), g
    assert a2.heartbeat() == kw.NONE and b.heartbeat() == kw.NONE
    assert a2.commit({TOPIC: {0: 7}}).topics == {TOPIC: {0: kw.NONE}}
    assert_coordinator_serves(gbroker)


def test_group_max_size(broker_factory, members):
    broker = broker_factory({**GROUP_CONFIG, "group.max.size": 2})
    create_topic(broker)
    group = unique("max-size")
    a, b = members(broker, group, CLASSIC), members(broker, group, CLASSIC)
    form_group([a, b])
    c = members(broker, group, FLEXIBLE)
    resp = c.send_join().result()
    assert resp.error_code == kw.GROUP_MAX_SIZE_REACHED, resp
    assert a.heartbeat() == kw.NONE and b.heartbeat() == kw.NONE
    # Room again once a member leaves.
    b.leave()
    rejoin([a])
    assert len(describe(a.conn, 5, group).members) == 1
    grow([a], c)
    assert_coordinator_serves(broker)


# ---- admin ------------------------------------------------------------------------------

@pytest.mark.parametrize("version", [0, 1, 2])
def test_delete_groups(gbroker, members, version):
    live, empty, unknown = unique("del-live"), unique("del-empty"), unique("del-unknown")
    m = members(gbroker, live, FLEXIBLE)
    form_group([m])
    with connect(gbroker) as conn:
        assert kw.offset_commit(conn, 8, empty, {TOPIC: {0: 3}}).errors() == {0}
        resp = kw.delete_groups(conn, version, [live, unknown, empty])
        assert resp == {live: kw.NON_EMPTY_GROUP, unknown: kw.GROUP_ID_NOT_FOUND,
                        empty: kw.NONE}, resp
        assert fetch_offsets(conn, 8, empty, {TOPIC: [0]}).offsets() == {TOPIC: {0: -1}}
        assert kw.delete_groups(conn, version, [empty]) == {empty: kw.GROUP_ID_NOT_FOUND}
    assert m.heartbeat() == kw.NONE
    m.leave()
    with connect(gbroker) as conn:
        assert kw.delete_groups(conn, version, [live]) == {live: kw.NONE}
        assert describe(conn, 5, live).state == "Dead"
    assert_coordinator_serves(gbroker)


def test_offset_delete(gbroker, members):
    """OffsetDelete (v0 only): refused per partition for a topic the live group is
    subscribed to, allowed for other topics and once the group is empty."""
    create_topic(gbroker, "audit", 2)
    group = unique("offset-delete")
    m = members(gbroker, group, FLEXIBLE, topics=(TOPIC,))
    form_group([m])
    assert m.commit({TOPIC: {0: 5, 1: 6}, "audit": {0: 7, 1: 8}}).errors() == {0}
    with connect(gbroker) as conn:
        resp = kw.offset_delete(conn, group, {TOPIC: [0, 1], "audit": [0]})
        assert resp.error_code == kw.NONE, resp
        assert resp.topics == {TOPIC: {0: kw.GROUP_SUBSCRIBED_TO_TOPIC,
                                       1: kw.GROUP_SUBSCRIBED_TO_TOPIC},
                               "audit": {0: kw.NONE}}, resp
        assert fetch_offsets(conn, 8, group, None).offsets() == {TOPIC: {0: 5, 1: 6},
                                                                 "audit": {1: 8}}
        resp = kw.offset_delete(conn, unique("no-such-group"), {TOPIC: [0]})
        assert resp.error_code == kw.GROUP_ID_NOT_FOUND, resp
    assert m.heartbeat() == kw.NONE
    m.leave()
    with connect(gbroker) as conn:
        resp = kw.offset_delete(conn, group, {TOPIC: [0]})
        assert (resp.error_code, resp.topics) == (kw.NONE, {TOPIC: {0: kw.NONE}}), resp
        assert fetch_offsets(conn, 8, group, None).offsets() == {TOPIC: {1: 6}, "audit": {1: 8}}
    assert_coordinator_serves(gbroker)


# ---- durability ---------------------------------------------------------------------------

def test_offsets_and_generation_survive_restart(gbroker, members):
    """Offsets and the generation are durable; membership is not."""
    group = unique("durable")
    a, b = members(gbroker, group, FLEXIBLE), members(gbroker, group, CLASSIC)
    generation = form_group([a, b])
    assert generation == 2
    assert a.commit({TOPIC: {0: 11, 2: (12, "kept")}}).errors() == {0}
    assert kw.offset_commit(a.conn, 8, unique("standalone-durable"), {TOPIC: {1: 1}}).errors() == {0}
    a.close()
    b.close()

    gbroker.restart()
    with connect(gbroker) as conn:
        got = fetch_offsets(conn, 9, group, {TOPIC: [0, 1, 2]})
        assert got.offsets() == {TOPIC: {0: 11, 1: -1, 2: 12}}, got
        assert got.topics[TOPIC][2].metadata == "kept", got
        g = describe(conn, 5, group)
        assert (g.state, g.members) == ("Empty", []), g
        # The members of before the restart are gone.
        assert kw.heartbeat(conn, 4, group, generation, a.member_id) == kw.UNKNOWN_MEMBER_ID
    c = members(gbroker, group, FLEXIBLE)
    resp = c.join()
    assert resp.generation_id > generation, f"generation restarted from {resp.generation_id}"
    complete_sync([c], c)
    assert c.commit({TOPIC: {0: 13}}).errors() == {0}
    assert_coordinator_serves(gbroker)


def test_pipelined_commits_apply_in_order(gbroker):
    """Commits written back to back on one connection (what commitAsync does) take effect
    in order: the last one wins."""
    group = unique("pipelined-commits")
    offsets = range(1, 21)
    with connect(gbroker) as conn:
        conn.send_raw(b"".join(
            kw.encode_request(kw.OFFSET_COMMIT, 8, 1000 + off,
                              kw.encode_offset_commit_request(8, group, {TOPIC: {0: off}}))
            for off in offsets))
        for off in offsets:
            r = conn.recv_response(kw.OFFSET_COMMIT, 8, 1000 + off)
            resp = kw.decode_offset_commit_response(r, 8)
            r.expect_end()
            assert resp.topics == {TOPIC: {0: kw.NONE}}, (off, resp)
        got = fetch_offsets(conn, 8, group, {TOPIC: [0]}).offsets()
    assert got == {TOPIC: {0: offsets[-1]}}, f"the last of {len(offsets)} pipelined commits " \
        f"was {offsets[-1]}; the group has {got}"


def test_pipelined_group_requests(gbroker):
    """Several group requests written at once on one connection are answered in order,
    and each sees the effect of the ones before it (Kafka handles one request of a
    connection at a time)."""
    group = unique("pipelined")
    with connect(gbroker) as conn:
        bodies = [
            (kw.OFFSET_COMMIT, 8, kw.encode_offset_commit_request(8, group, {TOPIC: {0: 1}}),
             kw.decode_offset_commit_response),
            (kw.OFFSET_FETCH, 6, kw.encode_offset_fetch_request(6, group, {TOPIC: [0]}),
             kw.decode_offset_fetch_response),
            (kw.DESCRIBE_GROUPS, 5, kw.encode_describe_groups_request(5, [group]),
             kw.decode_describe_groups_response),
            (kw.LIST_GROUPS, 4, kw.encode_list_groups_request(4), kw.decode_list_groups_response),
            (kw.FIND_COORDINATOR, 4, kw.encode_find_coordinator_request(4, keys=[group]),
             kw.decode_find_coordinator_response),
        ]
        cids = itertools.count(100)
        sent = []
        data = b""
        for api_key, version, body, decode in bodies:
            cid = next(cids)
            data += kw.encode_request(api_key, version, cid, body)
            sent.append((api_key, version, cid, decode))
        conn.send_raw(data)
        out = []
        for api_key, version, cid, decode in sent:
            r = conn.recv_response(api_key, version, cid)
            out.append(decode(r, version))
            r.expect_end()
    commit, fetched, described, listed, found = out
    assert commit.topics == {TOPIC: {0: kw.NONE}}
    assert fetched.offsets() == {TOPIC: {0: 1}}
    assert described[0].state == "Empty"
    assert group in listed.by_id()
    assert found.coordinators[0].error_code == kw.NONE
