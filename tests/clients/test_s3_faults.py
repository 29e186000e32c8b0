"""The broker on s3:// while the store misbehaves (tests/s3/fake_s3.py's fault rules):
a tenth of the PUTs fail, some of them after the object was written (a lost response),
and GETs are slow. An idempotent producer's acknowledged records must all be read back
exactly once, and the broker's memory must stay bounded.

Runs only under tests/s3/s3_servers.py with FLOE_TEST_OBJECT_STORE=fake (the ctest
entry clients.s3.faults); other runs skip it.
"""

from __future__ import annotations

import json
import os
import subprocess
import urllib.request

import pytest
from confluent_kafka import Producer, TopicPartition

from conftest import FLOE_BIN, OBJECT_STORE
from test_data_path import client_config, consume_exactly, create_topic, new_consumer

pytestmark = pytest.mark.skipif(OBJECT_STORE != "fake",
                                reason="needs fake_s3.py's fault rules (FLOE_TEST_OBJECT_STORE=fake)")

MiB = 1024 * 1024
DRAIN_DEADLINE_S = 180


def fake_control(path: str, body: dict | None = None) -> dict:
    url = os.environ["FLOE_TEST_FAKE_S3_URL"] + path
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(url, data=data, method="GET" if body is None else "POST",
                                 headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=10) as r:
        return json.loads(r.read() or b"{}")


def rss_bytes(pid: int, field: str = "VmRSS") -> int:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1]) * 1024
    raise AssertionError(f"no {field} for {pid}")


@pytest.fixture
def faults():
    fake_control("/__fault", {"clear": True})
    yield lambda rule: fake_control("/__fault", rule)
    fake_control("/__fault", {"clear": True})


def test_idempotent_producer_through_failing_puts_and_slow_gets(broker_factory, faults):
    # One attempt per S3 request, so every injected failure reaches the WAL
    # uploader (which retries) and, past its attempts, the producer (which
    # retries idempotently); the S3 client's own retries are tested elsewhere.
    # Small objects: many PUTs, so a tenth of them is a fair number of faults.
    broker = broker_factory({"wal.linger.ms": 50, "wal.object.max.bytes": 512 * 1024,
                             "wal.buffer.max.bytes": 32 * MiB,
                             "cache.max.bytes": 16 * MiB}, start=False)
    broker.s3_settings = {"max.attempts": 1}
    broker.start()
    topic, partitions = "faulty", 12
    create_topic(broker, topic, partitions)

    faults({"operations": ["PutObject"], "rate": 0.05, "status": 500, "seed": 11})
    faults({"operations": ["PutObject"], "rate": 0.03, "after_write": True, "status": 503,
            "code": "SlowDown", "seed": 12})
    faults({"operations": ["PutObject"], "rate": 0.02, "after_write": True, "reset": True,
            "seed": 13})
    faults({"operations": ["GetObject"], "rate": 0.5, "delay_ms": 200, "seed": 14})

    acked: dict[bytes, tuple[int, int]] = {}
    failed: dict[bytes, str] = {}

    def on_delivery(err, msg):
        if err is not None:
            failed[msg.value()[:12]] = str(err)
        else:
            acked[msg.value()[:12]] = (msg.partition(), msg.offset())

    producer = Producer(client_config(broker, **{
        "enable.idempotence": True, "acks": "all", "linger.ms": 5,
        "message.timeout.ms": 150000, "retry.backoff.ms": 50}))
    total = 60_000
    pad = b"x" * 1000
    pid = broker.proc.pid
    rss_samples = []
    for i in range(total):
        value = f"v{i:011d}".encode() + pad
        while True:
            try:
                producer.produce(topic, value=value, partition=i % partitions, on_delivery=on_delivery)
                break
            except BufferError:
                producer.poll(0.05)
        if i % 5000 == 0:
            producer.poll(0)
            rss_samples.append(rss_bytes(pid))
    remaining = producer.flush(DRAIN_DEADLINE_S)
    assert remaining == 0, f"{remaining} records undelivered"
    assert failed == {}, f"{len(failed)} deliveries failed: {list(failed.items())[:5]}"

    stats = fake_control("/__stats")
    injected = sum(r["fired"] for r in fake_control("/__fault")["rules"]
                   if "PutObject" in r["rule"].get("operations", []))
    assert injected >= 5, f"only {injected} PUT faults fired: the test did not test much ({stats})"
    assert "failed, attempt" in broker.stderr_text(), "no upload failure reached the WAL uploader"

    # Read everything back with slow GETs and a cache too small to hold it.
    consumer = new_consumer(broker)
    counts = {}
    for p in range(partitions):
        low, high = consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=30)
        assert low == 0
        counts[p] = high
    consumer.close()
    assert sum(counts.values()) == total, f"{sum(counts.values())} records stored, {total} sent"
    got = consume_exactly(broker, topic, counts)
    seen = {}
    for p, msgs in got.items():
        for offset, msg in enumerate(msgs):
            v = msg.value()[:12]
            assert v not in seen, f"{v!r} stored twice: at {seen[v]} and {(p, offset)}"
            seen[v] = (p, offset)
            assert acked[v] == (p, offset), f"{v!r} acknowledged at {acked[v]}, read at {(p, offset)}"
    assert len(seen) == total

    # Bounded memory: the WAL buffer (32 MiB) and cache (16 MiB) plus what a
    # broker needs anyway, however many uploads failed; and no growth from the
    # first samples to the last.
    peak = rss_bytes(pid, "VmHWM")
    print(f"PUT faults {injected}; store requests {fake_control('/__stats')['operations']}; "
          f"RSS samples {[round(r / MiB) for r in rss_samples]} MiB, peak {peak / MiB:.0f} MiB")
    assert peak < 400 * MiB, f"peak RSS {peak / MiB:.0f} MiB"
    settled = max(rss_samples[1:4])
    assert rss_samples[-1] < settled + 96 * MiB, (
        f"RSS grew from {settled / MiB:.0f} to {rss_samples[-1] / MiB:.0f} MiB: {rss_samples}")


@pytest.mark.parametrize("problem", ["missing bucket", "wrong secret"])
def test_a_misconfigured_store_stops_the_broker_at_start(tmp_path, problem):
    bucket = "no-such-bucket" if problem == "missing bucket" else os.environ["FLOE_TEST_S3_BUCKET"]
    secret = "wrong-secret-9f3b" if problem == "wrong secret" else os.environ["FLOE_TEST_FAKE_S3_SECRET_KEY"]
    env = dict(os.environ, AWS_ACCESS_KEY_ID=os.environ["FLOE_TEST_FAKE_S3_ACCESS_KEY"],
               AWS_SECRET_ACCESS_KEY=secret, AWS_EC2_METADATA_DISABLED="true")
    url = f"s3://{bucket}/x?endpoint={os.environ['FLOE_TEST_FAKE_S3_URL']}"
    proc = subprocess.run([str(FLOE_BIN), "serve", "--data-dir", str(tmp_path),
                           "--listeners=PLAINTEXT://127.0.0.1:0", f"--object.store={url}"],
                          env=env, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 1, proc.stderr
    assert "cannot open the stores" in proc.stderr, proc.stderr
    expected = "bucket does not exist" if problem == "missing bucket" else "SignatureDoesNotMatch"
    assert expected in proc.stderr, proc.stderr
    assert secret not in proc.stderr, "the secret is in the log"
