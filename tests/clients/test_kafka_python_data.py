"""Produce and consume with kafka-python (Debian's python3-kafka, 2.0.2) and kcat
(Debian's, on librdkafka 2.0.2) against a real floe broker.

Consumers use manual assignment (kafka-python: assign() without a group id; kcat -C
without -G): consumer groups come with a later issue.
"""

from __future__ import annotations

import contextlib
import re
import shutil
import subprocess
import time

import pytest
from kafka import KafkaAdminClient, KafkaConsumer, KafkaProducer, TopicPartition
from kafka.admin import NewTopic

import kafka_wire as kw

TIMEOUT_MS = 20_000
DRAIN_DEADLINE_S = 60  # a guard against hangs, not a measurement
FAST = {"wal.linger.ms": 20}
KCAT = shutil.which("kcat") or shutil.which("kafkacat")


def common_config(broker) -> dict:
    return {"bootstrap_servers": broker.bootstrap, "client_id": "floe-tests",
            "request_timeout_ms": TIMEOUT_MS + 1000, "api_version_auto_timeout_ms": TIMEOUT_MS}


def create_topic(broker, name: str, partitions: int, configs: dict | None = None) -> None:
    admin = KafkaAdminClient(**common_config(broker))
    try:
        admin.create_topics([NewTopic(name, partitions, 1, topic_configs=configs or {})],
                            timeout_ms=TIMEOUT_MS)
    finally:
        admin.close()


@contextlib.contextmanager
def assigned_consumer(broker, topic: str, partitions: list[int], **extra):
    consumer = KafkaConsumer(group_id=None, enable_auto_commit=False,
                             auto_offset_reset="earliest", consumer_timeout_ms=1000,
                             **common_config(broker), **extra)
    try:
        tps = [TopicPartition(topic, p) for p in partitions]
        consumer.assign(tps)
        consumer.seek_to_beginning(*tps)
        yield consumer
    finally:
        consumer.close()


def read_all(consumer, expected: int) -> list:
    out = []
    deadline = time.monotonic() + DRAIN_DEADLINE_S
    while len(out) < expected and time.monotonic() < deadline:
        for records in consumer.poll(timeout_ms=1000, max_records=5000).values():
            out.extend(records)
    return out


def record(i: int) -> tuple[bytes | None, bytes | None, list]:
    # kafka-python refuses a record with neither key nor value.
    key = None if i % 5 == 0 else f"k{i}".encode()
    value = None if i % 7 == 3 and key is not None else (f"value {i} " * (1 + i % 9)).encode()
    headers = [("i", str(i).encode()), ("empty", b"")] if i % 2 else []
    return key, value, headers


@pytest.mark.parametrize("codec", ["gzip", None, "snappy", "lz4", "zstd"])
def test_producer_consumer_round_trip(broker_factory, codec):
    broker = broker_factory(FAST)
    topic, partitions, n = f"kp-{codec or 'none'}", 3, 3000
    create_topic(broker, topic, partitions)
    producer = KafkaProducer(acks="all", compression_type=codec, linger_ms=5,
                             **common_config(broker))
    futures = []
    try:
        for i in range(n):
            key, value, headers = record(i)
            futures.append(producer.send(topic, key=key, value=value, headers=headers,
                                         partition=i % partitions))
        producer.flush(timeout=DRAIN_DEADLINE_S)
        metas = [f.get(timeout=DRAIN_DEADLINE_S) for f in futures]
    finally:
        producer.close(timeout=10)
    # Each partition's offsets run 0, 1, 2... in send order.
    for p in range(partitions):
        assert [m.offset for m in metas[p::partitions]] == list(range(len(metas[p::partitions])))

    with assigned_consumer(broker, topic, list(range(partitions))) as consumer:
        got = read_all(consumer, n)
        assert len(got) == n, f"read {len(got)} of {n}"
        ends = consumer.end_offsets([TopicPartition(topic, p) for p in range(partitions)])
        assert sorted(ends.values()) == [n // partitions] * partitions, ends
    # The batches are stored and served as kafka-python compressed them (this is also
    # the suite's lz4 check: librdkafka 2.0.2 sends lz4 only to brokers that serve
    # FindCoordinator).
    with kw.Connection(broker.host, broker.port, timeout=20) as conn:
        f = kw.fetch(conn, 12, {topic: {0: 0}}).partition(topic, 0)
    # kafka-python sends a batch uncompressed when compressing does not shrink it (a
    # batch of one short record, when the linger timer fires early), so "none" may
    # appear beside the codec; anything else may not.
    compressions = {b.compression for b in f.batches()}
    assert kw.CODEC_IDS[codec or "none"] in compressions, compressions
    assert compressions <= {kw.CODEC_IDS[codec or "none"], kw.CODEC_IDS["none"]}, compressions
    by_partition: dict[int, list] = {p: [] for p in range(partitions)}
    for rec in got:
        by_partition[rec.partition].append(rec)
    for p, recs in by_partition.items():
        assert [r.offset for r in recs] == list(range(len(recs)))
        for r, i in zip(recs, range(p, n, partitions)):
            key, value, headers = record(i)
            assert (r.key, r.value, list(r.headers)) == (key, value, headers), (p, r.offset)


def test_offsets_for_times_and_watermarks(broker_factory):
    broker = broker_factory(FAST)
    create_topic(broker, "kt", 1)
    base = 1_700_000_000_000
    producer = KafkaProducer(acks="all", linger_ms=0, **common_config(broker))
    try:
        # Separate batches, timestamps out of order: offsets 0..3 = +0, +300, +100, +200.
        for delta in (0, 300, 100, 200):
            producer.send("kt", value=str(delta).encode(), partition=0,
                          timestamp_ms=base + delta).get(timeout=DRAIN_DEADLINE_S)
    finally:
        producer.close(timeout=10)
    tp = TopicPartition("kt", 0)
    with assigned_consumer(broker, "kt", [0]) as consumer:
        assert consumer.beginning_offsets([tp]) == {tp: 0}
        assert consumer.end_offsets([tp]) == {tp: 4}
        for ts, offset in ((base - 1, 0), (base + 50, 1), (base + 250, 1), (base + 300, 1)):
            found = consumer.offsets_for_times({tp: ts})[tp]
            assert found is not None and found.offset == offset, (ts - base, found)
        assert consumer.offsets_for_times({tp: base + 301})[tp] is None
        got = read_all(consumer, 4)
        assert [(r.offset, r.timestamp, r.value) for r in got] == [
            (i, base + d, str(d).encode()) for i, d in enumerate((0, 300, 100, 200))]


# ---- kcat --------------------------------------------------------------------------

def run_kcat(broker, args: list[str], stdin: str | None = None) -> str:
    if KCAT is None:
        pytest.fail("kcat is not installed (Debian package: kcat)", pytrace=False)
    cmd = [KCAT, "-b", broker.bootstrap, *args]
    done = subprocess.run(cmd, input=stdin, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, (
        f"{' '.join(cmd)} exited with {done.returncode}\nstdout:\n{done.stdout}\n"
        f"stderr:\n{done.stderr}\nbroker stderr:\n{broker.stderr_text()[-4000:]}")
    return done.stdout


@pytest.mark.parametrize("codec", ["none", "gzip"])
def test_kcat_round_trip(broker_factory, codec):
    # kcat -P to a new topic auto-creates it, with num.partitions partitions.
    broker = broker_factory({**FAST, "num.partitions": 2})
    lines = [f"key{i}:value {i}" for i in range(500)]
    for p in (0, 1):
        run_kcat(broker, ["-P", "-t", "kc", "-p", str(p), "-K:", "-X",
                          f"compression.codec={codec}", "-X", "acks=all"],
                 "".join(line + "\n" for line in lines[p::2]))
    for p in (0, 1):
        out = run_kcat(broker, ["-C", "-t", "kc", "-p", str(p), "-o", "beginning", "-e",
                                "-f", "%p|%o|%k|%s\n"])
        expected = [f"{p}|{o}|{line.replace(':', '|', 1)}" for o, line in
                    enumerate(lines[p::2])]
        assert out.splitlines() == expected

    # Headers and a tail read from an offset.
    run_kcat(broker, ["-P", "-t", "kc", "-p", "0", "-K:", "-H", "h1=v1", "-H", "h2=v2"],
             "hk:with headers\n")
    out = run_kcat(broker, ["-C", "-t", "kc", "-p", "0", "-o", "250", "-e",
                            "-f", "%o|%k|%s|%h\n"])
    assert out.splitlines() == ["250|hk|with headers|h1=v1,h2=v2"]


def test_request_latency_is_logged_per_api(broker_factory):
    # Every request.stats.interval.ms the broker logs, per API, how many
    # requests it answered since the last such line and how long they took
    # (last byte read to response written); at shutdown, the rest.
    broker = broker_factory({**FAST, "request.stats.interval.ms": 200})
    run_kcat(broker, ["-P", "-t", "stats", "-p", "0", "-X", "acks=all"], "".join(f"r{i}\n" for i in range(10)))
    assert run_kcat(broker, ["-C", "-t", "stats", "-p", "0", "-o", "beginning", "-e", "-f", "%s\n"]).split() == [
        f"r{i}" for i in range(10)]
    periodic_re = re.compile(r"requests answered in the last 200 ms \(read to written\): (.*)$", re.M)
    api_re = re.compile(r"(\w+) (\d+) p50 ([\d.]+) p99 ([\d.]+) p99\.9 ([\d.]+) max ([\d.]+) ms")

    def answered(lines: list[str]) -> dict[str, int]:
        counts: dict[str, int] = {}
        for line in lines:
            entries = api_re.findall(line)
            assert entries and len(entries) == line.count(";") + 1, line
            for name, n, p50, p99, p999, longest in entries:
                assert 0 <= float(p50) <= float(p99) <= float(p999) <= float(longest), line
                counts[name] = counts.get(name, 0) + int(n)
        return counts

    # Lines come every 200 ms while requests are answered: wait for the
    # produce's and the fetch's to be logged (a hang guard, not a timing).
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        counts = answered(periodic_re.findall(broker.stderr_text()))
        if counts.get("Produce") and counts.get("Fetch"):
            break
        time.sleep(0.05)
    assert counts.get("Produce", 0) >= 1, broker.stderr_text()
    assert counts.get("Fetch", 0) >= 1, broker.stderr_text()
    assert counts.get("Metadata", 0) >= 2, broker.stderr_text()  # one per kcat at least

    broker.stop()
    shutdown = re.findall(r"requests answered since the last such line \(read to written\): (.*)$",
                          broker.stderr_text(), re.M)
    assert len(shutdown) == 1, broker.stderr_text()
    # Whatever came after the last periodic line (perhaps nothing: "none").
    if shutdown[0] != "none":
        answered(shutdown)
