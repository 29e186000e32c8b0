"""Consumer groups with real clients against a real floe broker.

confluent-kafka consumers run as subprocesses (this file run with --worker), so that
one can be killed with SIGKILL and its session left to expire. Each worker prints one
JSON event per line: assignments (with the committed offsets read right then),
revocations, every record it processes and every commit. It processes a record only if
it owns the partition and the record is the next one it expects; anything else is
reported ("dropped" for a partition it no longer owns, "gap" otherwise), which is how
the tests check that consumption resumes exactly at the committed offset: nothing
skipped and nothing committed delivered again.

Also here: kafka-python consumers and admin, kcat -G, confluent-kafka's list_groups,
and OffsetDelete (raw kafka_wire; no installed client has it) on a live group.
"""

from __future__ import annotations

import contextlib
import ctypes
import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections import defaultdict

import pytest

import kafka_wire as kw
from kafka_wire import Connection

TIMEOUT_S = 30
# Upper bound on waiting for a state that must come (an assignment, consumed records,
# committed offsets); a guard against hangs, not a measurement.
DEADLINE_S = 60
GROUP_BROKER = {"group.initial.rebalance.delay.ms": 0, "group.min.session.timeout.ms": 1000}
KCAT = shutil.which("kcat") or shutil.which("kafkacat")


# ==== the worker: one confluent-kafka consumer in a subprocess ===========================

def worker_main(spec: dict) -> int:
    """Consumes `spec["topic"]` in group `spec["conf"]["group.id"]` until told "close" on
    stdin (or stdin ends). Commits synchronously after every batch unless paused with
    "pause-commits" (then "resume-commits")."""
    from confluent_kafka import Consumer, KafkaException, TopicPartition

    # Die with the test process, like the brokers do.
    ctypes.CDLL(None).prctl(1, signal.SIGKILL, 0, 0, 0)  # PR_SET_PDEATHSIG
    topic = spec["topic"]
    out_lock = threading.Lock()

    def emit(**event) -> None:
        with out_lock:
            sys.stdout.write(json.dumps(event) + "\n")
            sys.stdout.flush()

    stop = threading.Event()
    commits_paused = threading.Event()

    def read_commands() -> None:
        for line in sys.stdin:
            cmd = line.strip()
            if cmd == "pause-commits":
                commits_paused.set()
                emit(event="commits-paused")
            elif cmd == "resume-commits":
                commits_paused.clear()
                emit(event="commits-resumed")
            elif cmd == "close":
                break
        stop.set()

    threading.Thread(target=read_commands, daemon=True).start()

    consumer = Consumer(spec["conf"])
    expected: dict[int, int] = {}  # owned partition -> next offset to process
    closing = threading.Event()

    def committed_offsets(parts) -> dict[int, int]:
        last = None
        for _ in range(10):
            try:
                return {tp.partition: tp.offset for tp in consumer.committed(parts, timeout=10)}
            except KafkaException as e:
                last = e
                time.sleep(0.2)
        emit(event="committed-failed", error=str(last))
        raise last

    def on_assign(c, parts) -> None:
        if closing.is_set():
            # A rebalance that completes while close() leaves the group: the
            # handle is going away (committed() fails with _DESTROY) and no
            # record will be read, so there is nothing to set up.
            emit(event="assign-while-closing", partitions=sorted(tp.partition for tp in parts))
            return
        committed = committed_offsets(parts) if parts else {}
        for p, off in committed.items():
            expected[p] = off if off >= 0 else 0  # no commit yet: auto.offset.reset=earliest
        emit(event="assign", partitions=sorted(tp.partition for tp in parts),
             committed={str(p): off for p, off in committed.items()})

    def on_revoke(c, parts) -> None:
        for tp in parts:
            expected.pop(tp.partition, None)
        emit(event="revoke", partitions=sorted(tp.partition for tp in parts))

    def on_lost(c, parts) -> None:
        for tp in parts:
            expected.pop(tp.partition, None)
        emit(event="lost", partitions=sorted(tp.partition for tp in parts))

    consumer.subscribe([topic], on_assign=on_assign, on_revoke=on_revoke, on_lost=on_lost)
    emit(event="started", pid=os.getpid())
    while not stop.is_set():
        try:
            msgs = consumer.consume(num_messages=spec.get("batch", 20), timeout=0.1)
        except KafkaException as e:
            emit(event="error", error=str(e))
            continue
        to_commit: dict[int, int] = {}
        for m in msgs:
            if m.error() is not None:
                emit(event="error", error=str(m.error()))
                continue
            p, o = m.partition(), m.offset()
            if p not in expected:
                emit(event="dropped", p=p, o=o)  # fetched before a revocation
                continue
            if o != expected[p]:
                emit(event="gap", p=p, o=o, expected=expected[p])
                continue
            emit(event="record", p=p, o=o, v=m.value().decode())
            expected[p] = o + 1
            to_commit[p] = o + 1
        if to_commit and not commits_paused.is_set():
            offsets = [TopicPartition(topic, p, o) for p, o in sorted(to_commit.items())]
            try:
                result = consumer.commit(offsets=offsets, asynchronous=False)
            except KafkaException as e:
                emit(event="commit-failed", error=str(e), offsets=to_commit)
                continue
            ok = {str(tp.partition): tp.offset for tp in result if tp.error is None}
            bad = {str(tp.partition): str(tp.error) for tp in result if tp.error is not None}
            emit(event="commit", offsets=ok, errors=bad)
    closing.set()
    consumer.close()
    emit(event="closed")
    return 0


class Worker:
    """The test's side of a worker subprocess."""

    def __init__(self, broker, name: str, group: str, topic: str, **conf) -> None:
        self.name = name
        self.broker = broker
        spec = {"topic": topic, "conf": {
            "bootstrap.servers": broker.bootstrap, "group.id": group, "client.id": name,
            "enable.auto.commit": False, "auto.offset.reset": "earliest",
            "session.timeout.ms": 3000, "heartbeat.interval.ms": 300,
            "max.poll.interval.ms": 20000, "fetch.wait.max.ms": 100,
            "reconnect.backoff.max.ms": 500, **conf}}
        self.events: list[dict] = []
        self.stderr: list[str] = []
        self._cond = threading.Condition()
        self.proc = subprocess.Popen(
            [sys.executable, os.path.abspath(__file__), "--worker", json.dumps(spec)],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
            cwd=os.path.dirname(os.path.abspath(__file__)))
        self._readers = [threading.Thread(target=self._read_events, daemon=True),
                         threading.Thread(target=self._read_stderr, daemon=True)]
        for t in self._readers:
            t.start()

    def _read_events(self) -> None:
        for line in self.proc.stdout:
            with self._cond:
                self.events.append(json.loads(line))
                self._cond.notify_all()

    def _read_stderr(self) -> None:
        for line in self.proc.stderr:
            self.stderr.append(line)

    # -- commands --

    def send(self, command: str) -> None:
        self.proc.stdin.write(command + "\n")
        self.proc.stdin.flush()

    def close(self) -> None:
        """Graceful: consumer.close() (LeaveGroup for a dynamic member); exit code 0."""
        self.send("close")
        code = self.proc.wait(TIMEOUT_S)
        for t in self._readers:
            t.join(5)
        assert code == 0, f"worker {self.name} exited with {code}:\n{''.join(self.stderr)}"
        assert self.events[-1]["event"] == "closed", self.events[-5:]

    def kill(self) -> None:
        self.proc.send_signal(signal.SIGKILL)
        assert self.proc.wait(TIMEOUT_S) == -signal.SIGKILL

    def stop(self) -> None:
        """Teardown: whatever state it is in, it ends."""
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(TIMEOUT_S)
        for stream in (self.proc.stdin, self.proc.stdout, self.proc.stderr):
            with contextlib.suppress(Exception):
                stream.close()

    # -- what it has reported --

    def snapshot(self) -> list[dict]:
        with self._cond:
            return list(self.events)

    def of(self, *kinds: str) -> list[dict]:
        return [e for e in self.snapshot() if e["event"] in kinds]

    def assignment(self) -> set[int]:
        owned: set[int] = set()
        for e in self.of("assign", "revoke", "lost"):
            if e["event"] == "assign":
                owned |= set(e["partitions"])
            else:
                owned -= set(e["partitions"])
        return owned

    def describe(self) -> str:
        tail = [e for e in self.snapshot() if e["event"] != "record"][-12:]
        return (f"{self.name} (pid {self.proc.pid}, exit {self.proc.poll()}): "
                f"{len(self.of('record'))} records; last events {tail}; "
                f"stderr tail {''.join(self.stderr)[-1500:]!r}")


@pytest.fixture
def workers():
    """start(broker, name, group, topic, **conf) -> Worker; all of them end at teardown."""
    started: list[Worker] = []

    def start(broker, name: str, group: str, topic: str, **conf) -> Worker:
        w = Worker(broker, name, group, topic, **conf)
        started.append(w)
        return w

    yield start
    for w in started:
        w.stop()


# ==== helpers ==============================================================================

def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def connect(broker) -> Connection:
    return Connection(broker.host, broker.port, timeout=TIMEOUT_S)


def create_topic(broker, name: str, partitions: int) -> None:
    from confluent_kafka.admin import AdminClient, NewTopic
    admin = AdminClient({"bootstrap.servers": broker.bootstrap, "client.id": "floe-tests"})
    futures = admin.create_topics([NewTopic(name, partitions, 1)], request_timeout=TIMEOUT_S)
    futures[name].result(TIMEOUT_S)


class Produced:
    """Every record produced to one topic: values[p][offset]."""

    def __init__(self, broker, topic: str, partitions: int) -> None:
        self.broker, self.topic, self.partitions = broker, topic, partitions
        self.values: dict[int, list[str]] = {p: [] for p in range(partitions)}

    def produce(self, per_partition: int) -> None:
        from confluent_kafka import Producer
        producer = Producer({"bootstrap.servers": self.broker.bootstrap,
                             "client.id": "floe-tests", "linger.ms": 5,
                             "enable.idempotence": True})
        batch = {p: [f"{p}:{len(self.values[p]) + i}" for i in range(per_partition)]
                 for p in range(self.partitions)}
        failures = []
        for p, values in batch.items():
            for v in values:
                producer.produce(self.topic, value=v.encode(), partition=p,
                                 on_delivery=lambda err, msg: err and failures.append(err))
        assert producer.flush(TIMEOUT_S) == 0 and not failures, failures
        for p, values in batch.items():
            self.values[p].extend(values)

    def ends(self) -> dict[int, int]:
        return {p: len(v) for p, v in self.values.items()}


def wait_until(condition, what: str, workers: list[Worker] = (), broker=None) -> None:
    deadline = time.monotonic() + DEADLINE_S
    while not condition():
        if time.monotonic() > deadline:
            details = "\n".join(w.describe() for w in workers)
            broker_tail = broker.stderr_text()[-3000:] if broker is not None else ""
            pytest.fail(f"after {DEADLINE_S} s: {what}\n{details}\nbroker stderr tail:\n"
                        f"{broker_tail}")
        time.sleep(0.05)


def wait_assignment(live: dict[Worker, int], partitions: int, broker) -> None:
    """Until each live worker owns the given number of partitions, together all of them."""
    def settled() -> bool:
        owned = {w: w.assignment() for w in live}
        union = set().union(*owned.values())
        return (all(len(owned[w]) == n for w, n in live.items())
                and sum(map(len, owned.values())) == len(union) == partitions)
    wait_until(settled, f"assignment {[(w.name, n) for w, n in live.items()]}",
               list(live), broker)


def committed(broker, group: str, topic: str, partitions: int) -> dict[int, int]:
    with connect(broker) as conn:
        resp = kw.offset_fetch_groups(conn, 8, [(group, {topic: list(range(partitions))})])
    g = resp.groups[group]
    assert g.error_code == kw.NONE, resp
    return g.offsets().get(topic, {})


def wait_committed(broker, group: str, produced: Produced, workers: list[Worker]) -> None:
    """Until the group's committed offsets are the end of every partition."""
    ends = produced.ends()
    wait_until(lambda: committed(broker, group, produced.topic, produced.partitions) == ends,
               f"group {group} to commit {ends} (has "
               f"{committed(broker, group, produced.topic, produced.partitions)})",
               workers, broker)


def delivered(workers: list[Worker]) -> dict[int, list[tuple[int, str]]]:
    """Every (offset, value) processed per partition, over all workers."""
    out: dict[int, list[tuple[int, str]]] = defaultdict(list)
    for w in workers:
        for e in w.of("record"):
            out[e["p"]].append((e["o"], e["v"]))
    return out


def all_delivered(workers: list[Worker], produced: Produced) -> bool:
    got = delivered(workers)
    return all({o for o, _ in got.get(p, [])} >= set(range(len(v)))
               for p, v in produced.values.items())


def check_consumption(workers: list[Worker], produced: Produced) -> dict[int, dict[int, int]]:
    """Every record was processed with its value; each assignment resumed exactly at the
    committed offset (no 'gap' event); returns how often each offset was processed."""
    for w in workers:
        assert not w.of("gap"), (f"{w.name} got records that do not follow the committed "
                                 f"offset or the previous record: {w.of('gap')[:10]}")
        assert not w.of("committed-failed"), w.of("committed-failed")
    counts: dict[int, dict[int, int]] = {p: defaultdict(int) for p in produced.values}
    for p, records in delivered(workers).items():
        for o, v in records:
            assert v == produced.values[p][o], (p, o, v)
            counts[p][o] += 1
    for p, values in produced.values.items():
        missing = sorted(set(range(len(values))) - set(counts[p]))
        assert not missing, f"partition {p}: offsets {missing[:20]} never processed"
    return counts


def assert_lag_zero(broker, group: str, produced: Produced) -> None:
    """ListOffsets (raw) against OffsetFetch (kafka-python's admin): lag 0 everywhere."""
    topic, n = produced.topic, produced.partitions
    with connect(broker) as conn:
        ends = kw.list_offsets(conn, 6, {topic: {p: kw.LATEST_TIMESTAMP for p in range(n)}})
    end = {p: r.offset for p, r in ends[topic].items()}
    assert end == produced.ends(), end
    with kafka_python_admin(broker) as admin:
        offsets = admin.list_consumer_group_offsets(group)
    assert {tp.partition: om.offset for tp, om in offsets.items() if tp.topic == topic} == end


@contextlib.contextmanager
def kafka_python_admin(broker):
    from kafka import KafkaAdminClient
    admin = KafkaAdminClient(bootstrap_servers=broker.bootstrap, client_id="floe-tests",
                             request_timeout_ms=TIMEOUT_S * 1000,
                             api_version_auto_timeout_ms=TIMEOUT_S * 1000)
    try:
        yield admin
    finally:
        admin.close()


def describe_group(broker, group: str) -> kw.DescribedGroup:
    with connect(broker) as conn:
        (g,) = kw.describe_groups(conn, 5, [group])
    assert g.error_code == kw.NONE, g
    return g


# ==== confluent-kafka: members join, leave, crash ==========================================

@pytest.mark.parametrize("strategy", ["range", "cooperative-sticky"])
def test_members_join_leave_and_crash(broker_factory, workers, strategy):
    broker = broker_factory(GROUP_BROKER)
    topic, group, n = unique("events"), unique(f"group-{strategy}"), 12
    create_topic(broker, topic, n)
    produced = Produced(broker, topic, n)
    produced.produce(10)
    conf = {"partition.assignment.strategy": strategy}

    a = workers(broker, "worker-a", group, topic, **conf)
    b = workers(broker, "worker-b", group, topic, **conf)
    wait_assignment({a: 6, b: 6}, n, broker)

    # A member joins.
    c = workers(broker, "worker-c", group, topic, **conf)
    wait_assignment({a: 4, b: 4, c: 4}, n, broker)
    produced.produce(10)
    wait_until(lambda: all_delivered([a, b, c], produced), "records of phase 2", [a, b, c],
               broker)

    # One leaves cleanly.
    b.close()
    wait_assignment({a: 6, c: 6}, n, broker)
    produced.produce(10)
    wait_until(lambda: all_delivered([a, b, c], produced), "records of phase 3", [a, c], broker)

    # One crashes: its session expires and A takes over everything.
    c.kill()
    wait_assignment({a: 12}, n, broker)
    produced.produce(10)
    wait_committed(broker, group, produced, [a, b, c])
    a.close()

    counts = check_consumption([a, b, c], produced)
    assert_lag_zero(broker, group, produced)
    if strategy == "range":
        # Eager members commit only what they own and give everything up before rejoining,
        # so only the crashed member can leave records processed but not committed. (A
        # cooperative member may also get REBALANCE_IN_PROGRESS on a commit during
        # CompletingRebalance and hand the partition over before its next commit.)
        repeated = {(p, o) for p, per in counts.items() for o, k in per.items() if k > 1}
        c_records = {(e["p"], e["o"]) for e in c.of("record")}
        assert repeated <= c_records, sorted(repeated - c_records)[:20]
    g = describe_group(broker, group)
    assert (g.state, g.members, g.protocol_type) == ("Empty", [], "consumer"), g


# ==== confluent-kafka: static membership ===================================================

def test_static_member_restart_keeps_partitions(broker_factory, workers):
    broker = broker_factory(GROUP_BROKER)
    topic, group, n = unique("static"), unique("static-group"), 6
    create_topic(broker, topic, n)
    produced = Produced(broker, topic, n)
    conf = {"partition.assignment.strategy": "range", "session.timeout.ms": 10000,
            "heartbeat.interval.ms": 500}

    a = workers(broker, "static-a", group, topic, **{"group.instance.id": "a", **conf})
    wait_assignment({a: 6}, n, broker)  # A joins first, so A leads
    b = workers(broker, "static-b", group, topic, **{"group.instance.id": "b", **conf})
    wait_assignment({a: 3, b: 3}, n, broker)
    c = workers(broker, "static-c", group, topic, **{"group.instance.id": "c", **conf})
    wait_assignment({a: 2, b: 2, c: 2}, n, broker)
    produced.produce(5)
    wait_committed(broker, group, produced, [a, b, c])

    before = describe_group(broker, group)
    assert before.state == "Stable", before
    ids = {m.group_instance_id: m.member_id for m in before.members}
    assert sorted(ids) == ["a", "b", "c"], before
    rebalances = {w: len(w.of("assign", "revoke", "lost")) for w in (a, b)}
    c_partitions = c.assignment()

    # C restarts. A static member sends no LeaveGroup: its member stays until the session
    # times out, and the new process takes its place.
    c.close()
    still = describe_group(broker, group)
    assert sorted(m.member_id for m in still.members) == sorted(ids.values()), still
    c2 = workers(broker, "static-c2", group, topic, **{"group.instance.id": "c", **conf})
    wait_until(lambda: c2.of("assign"), "the restarted static member's assignment", [c2],
               broker)
    assert c2.assignment() == c_partitions
    # The group keeps working; by the time these records are in, a rebalance would have
    # revoked A's and B's partitions.
    produced.produce(5)
    wait_committed(broker, group, produced, [a, b, c2])

    assert {w: len(w.of("assign", "revoke", "lost")) for w in (a, b)} == rebalances, (
        f"the other members were rebalanced:\n{a.describe()}\n{b.describe()}")
    after = describe_group(broker, group)
    assert after.state == "Stable", after
    after_ids = {m.group_instance_id: m.member_id for m in after.members}
    assert (after_ids["a"], after_ids["b"]) == (ids["a"], ids["b"]), (before, after)
    assert after_ids["c"] != ids["c"] and sorted(after_ids) == ["a", "b", "c"], after
    c2_desc = after.member(after_ids["c"])
    assert set(kw.decode_consumer_assignment(c2_desc.assignment)[topic]) == c_partitions

    for w in (a, b, c2):
        w.close()
    check_consumption([a, b, c, c2], produced)
    assert_lag_zero(broker, group, produced)


# ==== confluent-kafka: the broker restarts under the group =================================

def test_broker_restart_resumes_from_committed_offsets(broker_factory, workers):
    broker = broker_factory(GROUP_BROKER)
    topic, group, n = unique("restart"), unique("restart-group"), 6
    create_topic(broker, topic, n)
    produced = Produced(broker, topic, n)
    a = workers(broker, "restart-a", group, topic)
    b = workers(broker, "restart-b", group, topic)
    wait_assignment({a: 3, b: 3}, n, broker)

    # Phase 1: consumed and committed.
    produced.produce(20)
    wait_committed(broker, group, produced, [a, b])
    committed_before = committed(broker, group, topic, n)

    # Phase 2: consumed, not committed.
    for w in (a, b):
        w.send("pause-commits")
    wait_until(lambda: all(w.of("commits-paused") for w in (a, b)), "commits paused", [a, b])
    produced.produce(10)
    wait_until(lambda: all_delivered([a, b], produced), "phase 2 records", [a, b], broker)
    assert committed(broker, group, topic, n) == committed_before

    broker.restart()  # same port and data dir; group membership is gone, offsets are not
    assert committed(broker, group, topic, n) == committed_before
    for w in (a, b):
        w.send("resume-commits")

    # Phase 3, after the restart.
    produced.produce(10)
    wait_committed(broker, group, produced, [a, b])
    for w in (a, b):
        w.close()

    counts = check_consumption([a, b], produced)
    for p in range(n):
        once = [o for o in range(20) if counts[p][o] != 1]
        assert not once, f"partition {p}: committed offsets {once} processed again"
        twice = [o for o in range(20, 30) if counts[p][o] < 2]
        assert not twice, (f"partition {p}: uncommitted offsets {twice} not processed again "
                           f"after the restart")
    for w in (a, b):
        assert w.of("lost", "revoke"), f"{w.name} kept its assignment over the restart"
    assert_lag_zero(broker, group, produced)


# ==== kafka-python ===========================================================================

class KafkaPythonMember(threading.Thread):
    """A kafka-python KafkaConsumer polling (and committing) in its own thread."""

    def __init__(self, broker, name: str, group: str, topic: str) -> None:
        super().__init__(daemon=True)
        self.broker, self.name_, self.group, self.topic = broker, name, group, topic
        self.records: list[tuple[int, int, str]] = []
        self.assigned: set[int] = set()
        self.error: BaseException | None = None
        self.stopping = threading.Event()
        self.lock = threading.Lock()

    def run(self) -> None:
        from kafka import KafkaConsumer
        try:
            consumer = KafkaConsumer(
                self.topic, bootstrap_servers=self.broker.bootstrap, group_id=self.group,
                client_id=self.name_, enable_auto_commit=False, auto_offset_reset="earliest",
                session_timeout_ms=6000, heartbeat_interval_ms=300, max_poll_interval_ms=10000,
                request_timeout_ms=15000, api_version_auto_timeout_ms=TIMEOUT_S * 1000,
                fetch_max_wait_ms=100)
            try:
                while not self.stopping.is_set():
                    batches = consumer.poll(timeout_ms=100)
                    with self.lock:
                        self.assigned = {tp.partition for tp in consumer.assignment()}
                        for tp, msgs in batches.items():
                            self.records += [(tp.partition, m.offset, m.value.decode())
                                             for m in msgs]
                    if batches:
                        consumer.commit()
            finally:
                consumer.close()  # LeaveGroup
        except BaseException as e:  # reported by the test thread
            self.error = e

    def finish(self) -> None:
        self.stopping.set()
        self.join(TIMEOUT_S)
        assert not self.is_alive(), f"{self.name_} did not stop"
        assert self.error is None, repr(self.error)


def test_kafka_python_consumer_group_and_admin(broker_factory):
    from kafka.errors import GroupIdNotFoundError, NoError, NonEmptyGroupError
    from kafka.structs import TopicPartition as KTopicPartition

    broker = broker_factory(GROUP_BROKER)
    topic, group, n = unique("kp"), unique("kp-group"), 4
    create_topic(broker, topic, n)
    produced = Produced(broker, topic, n)
    members = [KafkaPythonMember(broker, f"kp-{i}", group, topic) for i in range(2)]
    try:
        for m in members:
            m.start()

        def balanced() -> bool:
            for m in members:
                assert m.error is None, repr(m.error)
            sets = [m.assigned for m in members]
            return all(len(s) == 2 for s in sets) and sets[0] | sets[1] == set(range(n))
        wait_until(balanced, "both kafka-python members to own 2 partitions", broker=broker)

        produced.produce(25)

        def consumed() -> bool:
            got = {(p, o) for m in members for p, o, _ in m.records}
            return len(got) == 4 * 25
        wait_until(consumed, "all records by the kafka-python members", broker=broker)
        for m in members:
            for p, o, v in m.records:
                assert v == produced.values[p][o]
        wait_until(lambda: committed(broker, group, topic, n) == produced.ends(),
                   "kafka-python commits", broker=broker)

        with kafka_python_admin(broker) as admin:
            assert (group, "consumer") in admin.list_consumer_groups()
            (desc,) = admin.describe_consumer_groups([group])
            assert (desc.error_code, desc.group, desc.state, desc.protocol_type,
                    desc.protocol) == (0, group, "Stable", "consumer", "range"), desc
            assert sorted(m.client_id for m in desc.members) == ["kp-0", "kp-1"], desc
            owned = set()
            for m in desc.members:
                assert list(m.member_metadata.subscription) == [topic], m
                (t, parts), = m.member_assignment.assignment
                assert t == topic and len(parts) == 2, m
                owned |= set(parts)
            assert owned == set(range(n)), desc
            offsets = admin.list_consumer_group_offsets(group)
            assert {tp.partition: om.offset for tp, om in offsets.items()} == produced.ends()
            some = admin.list_consumer_group_offsets(
                group, partitions=[KTopicPartition(topic, 0)])
            assert {tp.partition: om.offset for tp, om in some.items()} == {0: 25}
            assert admin.delete_consumer_groups([group]) == [(group, NonEmptyGroupError)]
    finally:
        for m in members:
            m.finish()

    unknown = unique("kp-unknown")
    with kafka_python_admin(broker) as admin:
        (desc,) = admin.describe_consumer_groups([group])
        assert (desc.state, desc.members) == ("Empty", []), desc
        result = dict(admin.delete_consumer_groups([group, unknown]))
        assert result == {group: NoError, unknown: GroupIdNotFoundError}, result
        assert admin.list_consumer_group_offsets(group) == {}
        assert group not in [g for g, _ in admin.list_consumer_groups()]


# ==== kcat -G ==================================================================================

def kcat_group_consume(broker, group: str, topic: str) -> list[tuple[int, int, str]]:
    if KCAT is None:
        pytest.fail("kcat is not installed (Debian package: kcat)", pytrace=False)
    cmd = [KCAT, "-b", broker.bootstrap, "-G", group, "-q", "-e",
           "-X", "auto.offset.reset=earliest", "-X", "session.timeout.ms=6000",
           "-f", "%p %o %s\n", topic]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=DEADLINE_S)
    assert done.returncode == 0, (f"{' '.join(cmd)} exited with {done.returncode}\n"
                                  f"stderr:\n{done.stderr}\nbroker stderr:\n"
                                  f"{broker.stderr_text()[-3000:]}")
    out = []
    for line in done.stdout.splitlines():
        p, o, v = line.split(" ", 2)
        out.append((int(p), int(o), v))
    return out


def test_kcat_balanced_consumer(broker_factory):
    broker = broker_factory(GROUP_BROKER)
    topic, group, n = unique("kcat"), unique("kcat-group"), 3
    create_topic(broker, topic, n)
    produced = Produced(broker, topic, n)
    produced.produce(10)

    first = kcat_group_consume(broker, group, topic)
    assert sorted(first) == sorted((p, o, v) for p, vs in produced.values.items()
                                   for o, v in enumerate(vs))
    # kcat commits what it consumed when it closes.
    assert committed(broker, group, topic, n) == produced.ends()

    produced.produce(5)
    second = kcat_group_consume(broker, group, topic)
    assert sorted(second) == sorted((p, o, produced.values[p][o]) for p in range(n)
                                    for o in range(10, 15))
    assert committed(broker, group, topic, n) == produced.ends()
    g = describe_group(broker, group)
    assert (g.state, g.protocol_type, g.members) == ("Empty", "consumer", []), g


# ==== admin: confluent-kafka list_groups, OffsetDelete, kafka-python delete ==================

def test_list_groups_and_offset_delete_on_a_live_group(broker_factory, workers):
    from confluent_kafka.admin import AdminClient
    from kafka.errors import NoError, NonEmptyGroupError

    broker = broker_factory(GROUP_BROKER)
    topic, other, group, n = unique("admin"), unique("admin-other"), unique("admin-group"), 4
    create_topic(broker, topic, n)
    create_topic(broker, other, 1)
    produced = Produced(broker, topic, n)
    produced.produce(3)
    admin = AdminClient({"bootstrap.servers": broker.bootstrap, "client.id": "floe-tests"})
    assert [g.id for g in admin.list_groups(timeout=TIMEOUT_S)] == []
    # While the group is empty, a standalone commit (no generation, no member) is accepted.
    with connect(broker) as conn:
        assert kw.offset_commit(conn, 8, group, {other: {0: 1}}).topics == {other: {0: kw.NONE}}

    a = workers(broker, "admin-a", group, topic, **{"partition.assignment.strategy": "range"})
    b = workers(broker, "admin-b", group, topic, **{"partition.assignment.strategy": "range"})
    wait_assignment({a: 2, b: 2}, n, broker)
    wait_committed(broker, group, produced, [a, b])

    # list_groups: ListGroups + DescribeGroups.
    (g,) = [g for g in admin.list_groups(timeout=TIMEOUT_S) if g.id == group]
    assert g.error is None, g.error
    assert (g.state, g.protocol_type, g.protocol) == ("Stable", "consumer", "range")
    assert sorted(m.client_id for m in g.members) == ["admin-a", "admin-b"]
    by_client = {m.client_id: m for m in g.members}
    for w in (a, b):
        m = by_client[w.name]
        assert "127.0.0.1" in m.client_host, m.client_host
        assert kw.decode_consumer_subscription(m.metadata).topics == [topic]
        assert set(kw.decode_consumer_assignment(m.assignment)[topic]) == w.assignment()
    (only,) = admin.list_groups(group=group, timeout=TIMEOUT_S)
    assert only.id == group and only.state == "Stable"

    # OffsetDelete: refused for the subscribed topic, fine for another one.
    with connect(broker) as conn:
        # Not a standalone commit any more: the group has members.
        assert kw.offset_commit(conn, 8, group, {other: {0: 2}}).topics == {
            other: {0: kw.UNKNOWN_MEMBER_ID}}
        resp = kw.offset_delete(conn, group, {topic: list(range(n))})
        assert resp.error_code == kw.NONE, resp
        assert resp.topics == {topic: {p: kw.GROUP_SUBSCRIBED_TO_TOPIC for p in range(n)}}, resp
        resp = kw.offset_delete(conn, group, {other: [0]})
        assert (resp.error_code, resp.topics) == (kw.NONE, {other: {0: kw.NONE}}), resp
    assert committed(broker, group, topic, n) == produced.ends()

    with kafka_python_admin(broker) as kp:
        assert kp.delete_consumer_groups([group]) == [(group, NonEmptyGroupError)]
    for w in (a, b):
        w.close()

    (g,) = admin.list_groups(group=group, timeout=TIMEOUT_S)
    assert (g.state, g.members) == ("Empty", []), g
    with connect(broker) as conn:
        resp = kw.offset_delete(conn, group, {topic: [0, 1]})
        assert (resp.error_code, resp.topics) == (
            kw.NONE, {topic: {0: kw.NONE, 1: kw.NONE}}), resp
    assert committed(broker, group, topic, n) == {0: -1, 1: -1, 2: 3, 3: 3}
    with kafka_python_admin(broker) as kp:
        assert kp.delete_consumer_groups([group]) == [(group, NoError)]
    assert group not in [g.id for g in admin.list_groups(timeout=TIMEOUT_S)]


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "--worker":
        sys.exit(worker_main(json.loads(sys.argv[2])))
    sys.exit(f"usage: {sys.argv[0]} --worker SPEC (run the tests with pytest)")
