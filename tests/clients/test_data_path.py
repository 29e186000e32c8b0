"""The data path against a real floe broker: produce, fetch, list offsets, topics and
configs, idempotent producers and crash safety.

Clients: confluent-kafka-python (Debian's 1.7.0 on librdkafka 2.0.2) and raw sockets
(kafka_wire), for the byte-level checks that a client library would hide. Consumers
use manual assignment: consumer groups come with a later issue.
"""

from __future__ import annotations

import ctypes
import signal
import time
from collections import defaultdict

import pytest
import confluent_kafka
from confluent_kafka import (OFFSET_BEGINNING, TIMESTAMP_CREATE_TIME, TIMESTAMP_LOG_APPEND_TIME,
                             Consumer, KafkaError, KafkaException, Producer, TopicPartition)
from confluent_kafka.admin import (AdminClient, ConfigResource, ConfigSource, NewPartitions,
                                   NewTopic)

import kafka_wire as kw
from kafka_wire import Connection, Record

TIMEOUT_S = 30
# Upper bound on waiting for data that must come; a guard against hangs, not a measurement.
DRAIN_DEADLINE_S = 120
FAST = {"wal.linger.ms": 20}  # latency is not the point of these tests


# ---- helpers ----------------------------------------------------------------------

def client_config(broker, **extra) -> dict:
    return {"bootstrap.servers": broker.bootstrap, "client.id": "floe-tests", **extra}


# confluent-kafka-python before 1.8.2 drops a reference to None for every header whose
# value is null when Message.headers() builds its list (confluentinc/
# confluent-kafka-python#1191); enough of them free None and abort the interpreter.
_HEADERS_LEAK_NONE = tuple(int(x) for x in confluent_kafka.version()[0].split(".")[:3]) < (1, 8, 2)
_Py_IncRef = ctypes.pythonapi.Py_IncRef
_Py_IncRef.argtypes = [ctypes.py_object]


def message_headers(msg) -> list:
    """msg.headers() as a list; call once per message (it gives back the reference
    the client drops on the first call)."""
    headers = msg.headers() or []
    if _HEADERS_LEAK_NONE:
        for _, value in headers:
            if value is None:
                _Py_IncRef(None)
    return headers


def admin(broker) -> AdminClient:
    return AdminClient(client_config(broker))


def create_topic(broker, name: str, partitions: int = 1, config: dict | None = None) -> None:
    a = admin(broker)  # kept alive until the result is in: a destroyed handle fails it
    futures = a.create_topics(
        [NewTopic(name, partitions, 1, config=config or {})], request_timeout=TIMEOUT_S)
    futures[name].result(TIMEOUT_S)


def kafka_error(exc: BaseException) -> KafkaError:
    assert isinstance(exc, KafkaException), repr(exc)
    return exc.args[0]


def connect(broker) -> Connection:
    return Connection(broker.host, broker.port, timeout=TIMEOUT_S)


def new_consumer(broker, **extra) -> Consumer:
    # A group id is required by the client, but no group API is used: manual
    # assignment and no commits.
    return Consumer(client_config(broker, **{"group.id": "floe-tests-unused",
                                             "enable.auto.commit": False,
                                             "enable.auto.offset.store": False,
                                             **extra}))


def consume_exactly(broker, topic: str, counts: dict[int, int], **extra) -> dict[int, list]:
    """Reads each partition from offset 0 until it has counts[p] records; returns them.

    Fails on any error, and on records beyond the expected count once the
    partition has reached it.
    """
    consumer = new_consumer(broker, **extra)
    got: dict[int, list] = {p: [] for p in counts}
    try:
        consumer.assign([TopicPartition(topic, p, OFFSET_BEGINNING) for p in counts])
        deadline = time.monotonic() + DRAIN_DEADLINE_S
        while any(len(got[p]) < n for p, n in counts.items()):
            if time.monotonic() > deadline:
                pytest.fail(f"{topic}: after {DRAIN_DEADLINE_S} s got "
                            f"{ {p: len(v) for p, v in got.items()} } of {counts}.\n"
                            f"broker stderr:\n{broker.stderr_text()[-4000:]}")
            for msg in consumer.consume(num_messages=10000, timeout=1.0):
                assert msg.error() is None, msg.error()
                got[msg.partition()].append(msg)
        for p, n in counts.items():
            low, high = consumer.get_watermark_offsets(TopicPartition(topic, p),
                                                       timeout=TIMEOUT_S)
            assert (low, high) == (0, n), f"{topic}-{p}: watermarks {(low, high)}, expected (0, {n})"
            assert len(got[p]) == n, f"{topic}-{p}: {len(got[p])} records, expected {n}"
    finally:
        consumer.close()
    return got


def raw_produce(broker, topic: str, partition: int, records: list[Record], version: int = 9,
                **batch_kw) -> kw.ProducePartitionResponse:
    with connect(broker) as conn:
        resp = kw.produce(conn, version,
                          {topic: {partition: kw.build_record_batch(records, **batch_kw)}})
    return resp.partition(topic, partition)


def raw_fetch(broker, topic: str, partition: int, offset: int, version: int = 12,
              **kw_) -> kw.FetchPartitionResponse:
    with connect(broker) as conn:
        return kw.fetch(conn, version, {topic: {partition: offset}}, **kw_).partition(topic,
                                                                                    partition)


def assert_still_serving(broker, topic: str = "still-serving") -> None:
    """The broker is alive and a fresh client can produce and read back."""
    assert broker.is_running(), f"broker died.\nstderr:\n{broker.stderr_text()}"
    with connect(broker) as conn:
        value = f"alive-{time.monotonic_ns()}".encode()
        p = kw.produce(conn, 9, {topic: {0: kw.build_record_batch([Record(None, value)])}}
                       ).partition(topic, 0)
        assert p.error_code == kw.NONE, p
        f = kw.fetch(conn, 12, {topic: {0: p.base_offset}}).partition(topic, 0)
        assert f.error_code == kw.NONE, f
        assert [r.value for r in f.fetched()][:1] == [value]


# ---- 200,000 records, 12 partitions, every codec, idempotent ----------------------

CODECS = ["none", "gzip", "snappy", "lz4", "zstd"]
PER_CODEC = 40_000  # 5 x 40,000 = 200,000 records in all
PARTITIONS = 12


def make_record(codec: str, i: int) -> tuple[bytes | None, bytes | None, list]:
    key = None if i % 7 == 0 else f"key-{i % 1000}".encode()
    value = None if i % 11 == 0 else (f"{codec}:{i}:" + "payload," * (i % 24)).encode()
    if i % 3 == 0:
        headers = [("seq", str(i).encode()), ("empty", b""), ("null", None)]
    elif i % 3 == 1:
        headers = []
    else:
        headers = [("dup", b"1"), ("dup", b"2")]
    return key, value, headers


@pytest.mark.parametrize("codec", CODECS)
def test_idempotent_producer_round_trip(broker_factory, codec):
    broker = broker_factory(FAST)
    topic = f"rt-{codec}"
    create_topic(broker, topic, PARTITIONS)

    delivered: dict[int, int] = {}  # record index -> offset from the delivery report
    errors: list[str] = []

    def on_delivery(err, msg, i):
        if err is not None:
            errors.append(f"record {i}: {err}")
        else:
            delivered[i] = msg.offset()

    producer = Producer(client_config(broker, **{
        "enable.idempotence": True, "acks": "all", "compression.type": codec,
        "linger.ms": 5, "message.timeout.ms": 60000}))
    for i in range(PER_CODEC):
        key, value, headers = make_record(codec, i)
        while True:
            try:
                producer.produce(topic, value=value, key=key, headers=headers or None,
                                 partition=i % PARTITIONS,
                                 on_delivery=lambda err, msg, i=i: on_delivery(err, msg, i))
                break
            except BufferError:
                producer.poll(0.05)
        if i % 1000 == 0:
            producer.poll(0)
    assert producer.flush(DRAIN_DEADLINE_S) == 0, "records still undelivered"
    assert errors == [], errors[:20]
    assert len(delivered) == PER_CODEC

    expected: dict[int, list[int]] = defaultdict(list)  # partition -> record indexes in order
    for i in range(PER_CODEC):
        expected[i % PARTITIONS].append(i)
    got = consume_exactly(broker, topic, {p: len(v) for p, v in expected.items()})

    for p, indexes in expected.items():
        for offset, (i, msg) in enumerate(zip(indexes, got[p])):
            key, value, headers = make_record(codec, i)
            where = f"{topic}-{p} offset {offset} (record {i})"
            assert msg.offset() == offset, f"{where}: offset {msg.offset()}"
            assert delivered[i] == offset, f"{where}: delivery report said {delivered[i]}"
            assert msg.key() == key, f"{where}: key {msg.key()!r}, expected {key!r}"
            assert msg.value() == value, f"{where}: value {msg.value()!r}, expected {value!r}"
            got_headers = message_headers(msg)
            assert got_headers == headers, f"{where}: headers {got_headers!r}"
            assert msg.timestamp()[0] == TIMESTAMP_CREATE_TIME, f"{where}: {msg.timestamp()}"

    # The producer's codec reached the broker and comes back unchanged (topic
    # compression.type is `producer`). librdkafka 2.0.2 sends lz4 only to brokers
    # that serve FindCoordinator, so an uncompressed lz4 batch is not an error.
    batches = raw_fetch(broker, topic, 0, 0).batches()
    assert batches
    codecs_seen = {b.compression for b in batches}
    allowed = {kw.CODEC_IDS[codec]} | ({kw.COMPRESSION_NONE} if codec == "lz4" else set())
    assert codecs_seen <= allowed | {kw.COMPRESSION_NONE}, codecs_seen
    if codec != "lz4":
        assert kw.CODEC_IDS[codec] in codecs_seen, f"no {codec} batch: {codecs_seen}"
    for b in batches:
        assert b.producer_id >= 0 and b.base_sequence >= 0, b  # idempotent batches


# ---- crash safety ----------------------------------------------------------------

def test_sigterm_as_soon_as_it_listens_is_a_clean_stop(broker_factory):
    """Scripts (and these tests) send SIGTERM as soon as the broker logs that it
    listens. It must then already handle the signal: a clean stop, exit code 0,
    never death by SIGTERM (which is what happened once, when the log line came
    before the signal handler)."""
    b = broker_factory(start=False)
    for _ in range(10):
        b.start()
        assert b.stop() == 0


def test_acknowledged_records_survive_sigkill(broker_factory):
    broker = broker_factory(FAST)
    topic, partitions = "crash", 4
    create_topic(broker, topic, partitions)

    acked: dict[bytes, tuple[int, int]] = {}  # value -> (partition, offset)
    failed: dict[bytes, str] = {}

    def on_delivery(err, msg):
        if err is not None:
            failed[msg.value()] = str(err)
        else:
            acked[msg.value()] = (msg.partition(), msg.offset())

    producer = Producer(client_config(broker, **{
        "enable.idempotence": True, "acks": "all", "linger.ms": 5,
        "message.timeout.ms": 120000, "retry.backoff.ms": 50,
        "reconnect.backoff.ms": 50, "reconnect.backoff.max.ms": 500}))
    total, window = 60_000, 3_000
    # Acknowledged counts at which the broker dies.
    kill_after = [5_000, 14_000, 23_000, 32_000, 41_000, 50_000]
    in_flight_at_kill = []
    sent = 0
    while sent < total:
        # Keep `window` records unacknowledged so that every kill lands mid-stream.
        while sent < total and sent - len(acked) - len(failed) < window:
            value = f"v{sent:08d}".encode()
            try:
                producer.produce(topic, value=value, key=value[-2:], partition=sent % partitions,
                                 on_delivery=on_delivery)
            except BufferError:
                break
            sent += 1
        producer.poll(0.01)
        if kill_after and len(acked) >= kill_after[0]:
            kill_after.pop(0)
            in_flight_at_kill.append(sent - len(acked) - len(failed))
            assert broker.kill(signal.SIGKILL) == -signal.SIGKILL
            broker.start()  # same data dir and port
    assert kill_after == [], f"the broker was not killed at {kill_after} acknowledged records"
    # Every kill hit a stream with records sent but not yet acknowledged.
    assert all(n > 0 for n in in_flight_at_kill), in_flight_at_kill
    remaining = producer.flush(DRAIN_DEADLINE_S)
    assert remaining == 0, f"{remaining} records undelivered"

    # Read everything back: every acknowledged record once, nothing twice.
    consumer = new_consumer(broker)
    counts = {}
    for p in range(partitions):
        low, high = consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=TIMEOUT_S)
        assert low == 0
        counts[p] = high
    consumer.close()
    got = consume_exactly(broker, topic, counts)
    seen: dict[bytes, tuple[int, int]] = {}
    for p, msgs in got.items():
        for offset, msg in enumerate(msgs):
            assert msg.offset() == offset, f"{topic}-{p}: offset {msg.offset()} at position {offset}"
            v = msg.value()
            assert v not in seen, f"{v!r} stored twice: at {seen[v]} and {(p, offset)}"
            seen[v] = (p, offset)
            assert int(v[1:]) % partitions == p, f"{v!r} in partition {p}"
    missing = [v for v in acked if v not in seen]
    assert missing == [], f"{len(missing)} acknowledged records lost, e.g. {missing[:10]}"
    moved = [(v, acked[v], seen[v]) for v in acked if acked[v] != seen[v]]
    assert moved == [], f"acknowledged at one offset, read at another: {moved[:10]}"
    # Per partition, records keep the order they were sent in.
    for p, msgs in got.items():
        values = [m.value() for m in msgs]
        assert values == sorted(values), f"{topic}-{p}: out of order"
    assert failed == {}, f"{len(failed)} deliveries failed: {list(failed.items())[:10]}"

    # New produces continue right after the last offset, through a crash and a clean restart.
    for restart in (lambda: (broker.kill(signal.SIGKILL), broker.start()), broker.restart):
        restart()
        producer = Producer(client_config(broker, **{"enable.idempotence": True, "acks": "all"}))
        after: dict[int, int] = {}
        for p in range(partitions):
            producer.produce(topic, value=b"after", partition=p,
                             on_delivery=lambda err, msg: after.__setitem__(
                                 msg.partition(), msg.offset() if err is None else err))
        assert producer.flush(TIMEOUT_S) == 0
        assert after == counts, f"offsets after restart {after}, expected {counts}"
        counts = {p: n + 1 for p, n in counts.items()}


# ---- bad input over raw sockets ---------------------------------------------------------

@pytest.fixture
def bad_input_broker(broker_factory):
    broker = broker_factory({**FAST, "auto.create.topics.enable": False})
    create_topic(broker, "good", 2)
    create_topic(broker, "still-serving", 1)
    create_topic(broker, "small", 1, {"max.message.bytes": "1024"})
    return broker


def one_record(value: bytes = b"v") -> bytes:
    return kw.build_record_batch([Record(b"k", value)], base_timestamp=int(time.time() * 1000))


@pytest.mark.parametrize("version", [3, 7, 9, 11])
def test_produce_corrupt_crc(bad_input_broker, version):
    broker = bad_input_broker
    batch = kw.build_record_batch([Record(b"k", b"v")], corrupt_crc=True)
    with connect(broker) as conn:
        p = kw.produce(conn, version, {"good": {0: batch}}).partition("good", 0)
        assert p.error_code == kw.CORRUPT_MESSAGE, p
        # The connection stays usable: errors travel in responses.
        p = kw.produce(conn, version, {"good": {0: one_record()}}).partition("good", 0)
        assert p.error_code == kw.NONE, p
    assert_still_serving(broker)


def test_produce_truncated_batch(bad_input_broker):
    broker = bad_input_broker
    batch = one_record(b"x" * 100)
    with connect(broker) as conn:
        p = kw.produce(conn, 9, {"good": {0: batch[:-10]}}).partition("good", 0)
        assert p.error_code in (kw.CORRUPT_MESSAGE, kw.INVALID_RECORD), p
    assert_still_serving(broker)


def test_produce_message_too_large(bad_input_broker):
    broker = bad_input_broker
    big = kw.build_record_batch([Record(None, bytes(200) + bytes([i])) for i in range(10)])
    assert len(big) > 1024
    with connect(broker) as conn:
        p = kw.produce(conn, 9, {"small": {0: big}}).partition("small", 0)
        assert p.error_code == kw.MESSAGE_TOO_LARGE, p
        p = kw.produce(conn, 9, {"small": {0: one_record()}}).partition("small", 0)
        assert p.error_code == kw.NONE and p.base_offset == 0, p
    assert_still_serving(broker)


def test_produce_unknown_topic_without_auto_create(bad_input_broker):
    broker = bad_input_broker
    with connect(broker) as conn:
        p = kw.produce(conn, 9, {"no-such-topic": {0: one_record()}}).partition("no-such-topic", 0)
        assert p.error_code == kw.UNKNOWN_TOPIC_OR_PARTITION, p
        md = conn.metadata(9, ["no-such-topic"], allow_auto_topic_creation=False)
        assert md.topics[0].error_code == kw.UNKNOWN_TOPIC_OR_PARTITION, md.topics
        # And a partition that does not exist in a topic that does.
        p = kw.produce(conn, 9, {"good": {7: one_record()}}).partition("good", 7)
        assert p.error_code == kw.UNKNOWN_TOPIC_OR_PARTITION, p
    assert_still_serving(broker)


@pytest.mark.parametrize("name", ["bad/name", "a" * 250, "..", "sp ace"])
def test_produce_invalid_topic_name(broker_factory, name):
    broker = broker_factory(FAST)  # auto-create on: the name itself must be refused
    with connect(broker) as conn:
        p = kw.produce(conn, 9, {name: {0: one_record()}}).partition(name, 0)
        assert p.error_code == kw.INVALID_TOPIC_EXCEPTION, p
    assert_still_serving(broker)
    md = admin(broker).list_topics(timeout=TIMEOUT_S)
    assert name not in md.topics


def test_fetch_past_high_watermark(bad_input_broker):
    broker = bad_input_broker
    assert raw_produce(broker, "good", 0, [Record(None, b"a"), Record(None, b"b")]).error_code == 0
    with connect(broker) as conn:
        for version in (4, 7, 11, 12):
            f = kw.fetch(conn, version, {"good": {0: 3}}).partition("good", 0)
            assert f.error_code == kw.OFFSET_OUT_OF_RANGE, (version, f)
            assert f.high_watermark in (-1, 2), f
            f = kw.fetch(conn, version, {"good": {0: -5}}).partition("good", 0)
            assert f.error_code == kw.OFFSET_OUT_OF_RANGE, (version, f)
            # At the high watermark itself: no error, no records.
            f = kw.fetch(conn, version, {"good": {0: 2}}).partition("good", 0)
            assert f.error_code == kw.NONE and f.high_watermark == 2 and f.fetched() == [], f
    assert_still_serving(broker)


def test_produce_magic_1_batch(bad_input_broker):
    broker = bad_input_broker
    with connect(broker) as conn:
        p = kw.produce(conn, 3, {"good": {0: kw.build_message_set_v1(b"k", b"v")}}
                       ).partition("good", 0)
        assert p.error_code in (kw.INVALID_RECORD, kw.CORRUPT_MESSAGE), p
        p = kw.produce(conn, 9, {"good": {0: kw.build_record_batch([Record(None, b"v")], magic=1)}}
                       ).partition("good", 0)
        assert p.error_code in (kw.INVALID_RECORD, kw.CORRUPT_MESSAGE), p
    assert_still_serving(broker)


@pytest.mark.parametrize("version", [0, 1, 2])
def test_produce_old_versions_refused(bad_input_broker, version):
    broker = bad_input_broker
    with connect(broker) as conn:
        resp = kw.produce(conn, version, {"good": {0: kw.build_message_set_v1(None, b"v"),
                                                   1: one_record()}})
        for index in (0, 1):
            assert resp.partition("good", index).error_code == kw.UNSUPPORTED_VERSION, resp
    assert_still_serving(broker)
    with connect(broker) as conn:  # nothing was stored
        f = kw.fetch(conn, 12, {"good": {0: 0, 1: 0}})
        assert f.partition("good", 0).high_watermark == 0
        assert f.partition("good", 1).high_watermark == 0


def test_per_partition_errors_in_one_request(bad_input_broker):
    broker = bad_input_broker
    good = kw.build_record_batch([Record(b"k0", b"good-0"), Record(None, b"good-1")])
    corrupt = kw.build_record_batch([Record(b"k", b"bad")], corrupt_crc=True)
    big = kw.build_record_batch([Record(None, bytes(2000))])
    with connect(broker) as conn:
        resp = kw.produce(conn, 9, {
            "good": {0: good, 1: corrupt, 5: one_record()},
            "small": {0: big},
            "no-such-topic": {0: one_record()},
        })
        assert resp.partition("good", 0).error_code == kw.NONE, resp
        assert resp.partition("good", 0).base_offset == 0, resp
        assert resp.partition("good", 1).error_code == kw.CORRUPT_MESSAGE, resp
        assert resp.partition("good", 5).error_code == kw.UNKNOWN_TOPIC_OR_PARTITION, resp
        assert resp.partition("small", 0).error_code == kw.MESSAGE_TOO_LARGE, resp
        assert resp.partition("no-such-topic", 0).error_code == kw.UNKNOWN_TOPIC_OR_PARTITION, resp

        f = kw.fetch(conn, 12, {"good": {0: 0, 1: 0}, "small": {0: 0}})
        assert [(r.offset, r.key, r.value) for r in f.partition("good", 0).fetched()] == [
            (0, b"k0", b"good-0"), (1, None, b"good-1")]
        assert f.partition("good", 0).high_watermark == 2
        assert f.partition("good", 1).high_watermark == 0
        assert f.partition("small", 0).high_watermark == 0
    assert_still_serving(broker)


def test_raw_produce_fetch_every_version(bad_input_broker):
    """Produce v3-v11 and Fetch v4-v12 agree on offsets and bytes."""
    broker = bad_input_broker
    with connect(broker) as conn:
        expected = []
        for n, version in enumerate(range(3, 12)):
            recs = [Record(f"k{version}".encode(), f"v{version}-{j}".encode(),
                           [("h", f"{j}".encode())], timestamp_delta=j) for j in range(3)]
            p = kw.produce(conn, version, {"good": {1: kw.build_record_batch(
                recs, base_timestamp=1_700_000_000_000)}}).partition("good", 1)
            assert p.error_code == kw.NONE and p.base_offset == 3 * n, (version, p)
            if version >= 2:
                assert p.log_append_time_ms == -1, p  # CreateTime topic
            if version >= 5:
                assert p.log_start_offset == 0, p
            expected += [(3 * n + j, r.key, r.value, r.headers, 1_700_000_000_000 + j)
                         for j, r in enumerate(recs)]
        for version in range(4, 13):
            f = kw.fetch(conn, version, {"good": {1: 0}}).partition("good", 1)
            assert f.error_code == kw.NONE and f.high_watermark == len(expected), f
            assert f.last_stable_offset == len(expected)
            got = [(r.offset, r.key, r.value, r.headers, r.timestamp) for r in f.fetched()]
            assert got == expected, version
            # A fetch from the middle of a batch may return the whole batch; the
            # records from the fetch offset on are there.
            f = kw.fetch(conn, version, {"good": {1: 4}}).partition("good", 1)
            assert [r.offset for r in f.fetched() if r.offset >= 4] == list(range(4, len(expected)))


def test_acks_zero_and_one(bad_input_broker):
    broker = bad_input_broker
    with connect(broker) as conn:
        p = kw.produce(conn, 9, {"good": {0: one_record(b"acks1")}}, acks=1).partition("good", 0)
        assert p.error_code == kw.NONE and p.base_offset == 0
        # acks=0: no response at all; the next response on the connection is for
        # the next request.
        conn.send_request(kw.PRODUCE, 9, kw.encode_produce_request(
            9, {"good": {0: one_record(b"acks0")}}, acks=0))
        deadline = time.monotonic() + DRAIN_DEADLINE_S
        while True:  # the acks=0 record becomes visible once committed
            f = kw.fetch(conn, 12, {"good": {0: 0}}, max_wait_ms=500).partition("good", 0)
            if f.high_watermark >= 2 or time.monotonic() > deadline:
                break
        assert [r.value for r in f.fetched()] == [b"acks1", b"acks0"]


def test_produce_timeout_answers_request_timed_out_and_still_commits(broker_factory):
    # A long linger makes the commit outlast the request's timeout_ms: the
    # producer hears REQUEST_TIMED_OUT (7, retriable), the batch commits anyway.
    broker = broker_factory({"wal.linger.ms": 1500})
    create_topic(broker, "slow", 1)
    with connect(broker) as conn:
        p = kw.produce(conn, 9, {"slow": {0: one_record(b"late")}}, timeout_ms=50).partition("slow", 0)
        assert p.error_code == 7, p
        deadline = time.monotonic() + DRAIN_DEADLINE_S
        while True:
            f = kw.fetch(conn, 12, {"slow": {0: 0}}, max_wait_ms=500).partition("slow", 0)
            if f.high_watermark >= 1 or time.monotonic() > deadline:
                break
        assert [r.value for r in f.fetched()] == [b"late"]


def test_lost_object_is_a_storage_error_not_a_crash(broker_factory):
    # An object that vanished from the store (an operator's mistake, a bucket
    # policy) makes fetches of its batches fail with KAFKA_STORAGE_ERROR (56);
    # other partitions and the broker keep working.
    broker = broker_factory(FAST)
    create_topic(broker, "lost", 1)
    create_topic(broker, "kept", 1)
    assert raw_produce(broker, "lost", 0, [Record(b"k", b"gone")]).error_code == kw.NONE
    lost = broker.object_keys()
    assert len(lost) == 1
    assert raw_produce(broker, "kept", 0, [Record(b"k", b"here")]).error_code == kw.NONE
    broker.stop()
    broker.delete_object(lost[0])
    broker.start()  # an empty object cache: the read goes to the store
    with connect(broker) as conn:
        f = kw.fetch(conn, 12, {"lost": {0: 0}, "kept": {0: 0}})
        assert f.partition("lost", 0).error_code == 56, f
        kept = f.partition("kept", 0)
        assert kept.error_code == kw.NONE and [r.value for r in kept.fetched()] == [b"here"]


# ---- ListOffsets ---------------------------------------------------------------------

T0 = 1_700_000_000_000  # in the past: within any message.timestamp.* bound


def produce_timestamped(broker, topic: str) -> None:
    """Offsets and timestamps: batch A 0..2 = T0+0,+10,+20; batch B 3..4 = T0-10,+5;
    batch C 5..6 = T0+30,+25 (out of order across and within batches)."""
    for deltas in ([0, 10, 20], [-10, 5], [30, 25]):
        recs = [Record(None, f"ts{d}".encode(), timestamp_delta=d - deltas[0]) for d in deltas]
        p = raw_produce(broker, topic, 0, recs, base_timestamp=T0 + deltas[0])
        assert p.error_code == kw.NONE, p


# (query timestamp, expected offset, expected timestamp): the first offset whose
# timestamp is at or after the query, as Kafka answers it.
TIME_QUERIES = [
    (T0 - 100, 0, T0), (T0, 0, T0), (T0 + 5, 1, T0 + 10), (T0 + 15, 2, T0 + 20),
    (T0 + 21, 5, T0 + 30), (T0 + 26, 5, T0 + 30), (T0 + 30, 5, T0 + 30),
]


def test_list_offsets_raw_every_version(broker_factory):
    broker = broker_factory(FAST)
    create_topic(broker, "lo", 2)
    produce_timestamped(broker, "lo")
    with connect(broker) as conn:
        for version in range(0, 9):
            resp = kw.list_offsets(conn, version, {"lo": {0: kw.EARLIEST_TIMESTAMP,
                                                          1: kw.EARLIEST_TIMESTAMP}})
            latest = kw.list_offsets(conn, version, {"lo": {0: kw.LATEST_TIMESTAMP,
                                                            1: kw.LATEST_TIMESTAMP}})
            for p, (lo, hi) in {0: (0, 7), 1: (0, 0)}.items():
                e, l = resp["lo"][p], latest["lo"][p]
                assert e.error_code == l.error_code == kw.NONE, (version, e, l)
                if version == 0:
                    assert e.old_style_offsets == [lo], (version, e)
                    assert l.old_style_offsets == [hi], (version, l)
                else:
                    assert (e.offset, l.offset) == (lo, hi), (version, e, l)
            if version == 0:
                continue
            for ts, offset, found_ts in TIME_QUERIES:
                r = kw.list_offsets(conn, version, {"lo": {0: ts}})["lo"][0]
                assert r.error_code == kw.NONE
                assert (r.offset, r.timestamp) == (offset, found_ts), (version, ts - T0, r)
            r = kw.list_offsets(conn, version, {"lo": {0: T0 + 31, 1: T0}})["lo"]
            assert (r[0].offset, r[0].timestamp) == (-1, -1), (version, r[0])  # none that late
            assert (r[1].offset, r[1].timestamp) == (-1, -1), (version, r[1])  # empty
            if version >= 7:
                r = kw.list_offsets(conn, version, {"lo": {0: kw.MAX_TIMESTAMP}})["lo"][0]
                assert (r.error_code, r.offset, r.timestamp) == (0, 5, T0 + 30), (version, r)
            if version >= 8:
                r = kw.list_offsets(conn, version, {"lo": {0: kw.EARLIEST_LOCAL_TIMESTAMP}}
                                    )["lo"][0]
                assert (r.error_code, r.offset) == (0, 0), (version, r)
        r = kw.list_offsets(conn, 5, {"lo": {9: kw.LATEST_TIMESTAMP},
                                      "no-such": {0: kw.LATEST_TIMESTAMP}})
        assert r["lo"][9].error_code == kw.UNKNOWN_TOPIC_OR_PARTITION
        assert r["no-such"][0].error_code == kw.UNKNOWN_TOPIC_OR_PARTITION


def test_list_offsets_confluent(broker_factory):
    broker = broker_factory(FAST)
    create_topic(broker, "lo", 1)
    produce_timestamped(broker, "lo")
    consumer = new_consumer(broker)
    try:
        assert consumer.get_watermark_offsets(TopicPartition("lo", 0), timeout=TIMEOUT_S) == (0, 7)
        for ts, offset, _ in TIME_QUERIES + [(T0 + 31, -1, None)]:
            (tp,) = consumer.offsets_for_times([TopicPartition("lo", 0, ts)], timeout=TIMEOUT_S)
            assert tp.error is None and tp.offset == offset, (ts - T0, tp)
    finally:
        consumer.close()

    # Timestamps a librdkafka producer sets come back, and a time query finds them.
    producer = Producer(client_config(broker, **{"linger.ms": 0}))
    for i, delta in enumerate([100, 300, 200]):
        producer.produce("lo", value=f"p{i}".encode(), partition=0, timestamp=T0 + delta)
        producer.flush(TIMEOUT_S)  # one batch each
    consumer = new_consumer(broker)
    try:
        (tp,) = consumer.offsets_for_times([TopicPartition("lo", 0, T0 + 150)], timeout=TIMEOUT_S)
        assert tp.offset == 8, tp  # offsets 7, 8, 9 = +100, +300, +200
        (tp,) = consumer.offsets_for_times([TopicPartition("lo", 0, T0 + 250)], timeout=TIMEOUT_S)
        assert tp.offset == 8, tp
    finally:
        consumer.close()
    got = consume_exactly(broker, "lo", {0: 10})
    assert [m.timestamp() for m in got[0][7:]] == [
        (TIMESTAMP_CREATE_TIME, T0 + d) for d in (100, 300, 200)]


# ---- admin ---------------------------------------------------------------------------

def describe_topic_configs(broker, topic: str) -> dict:
    res = ConfigResource(ConfigResource.Type.TOPIC, topic)
    a = admin(broker)
    return a.describe_configs([res], request_timeout=TIMEOUT_S)[res].result(TIMEOUT_S)


def test_admin_topics_lifecycle(broker_factory):
    broker = broker_factory(FAST)
    a = admin(broker)

    fs = a.create_topics([NewTopic("t1", 3, 1, config={"retention.ms": "3600000",
                                                       "max.message.bytes": "500000"}),
                          NewTopic("t2", 1, 1)], request_timeout=TIMEOUT_S)
    for f in fs.values():
        assert f.result(TIMEOUT_S) is None
    # validate_only creates nothing.
    fs = a.create_topics([NewTopic("t3", 2, 1)], validate_only=True, request_timeout=TIMEOUT_S)
    fs["t3"].result(TIMEOUT_S)
    md = a.list_topics(timeout=TIMEOUT_S)
    assert sorted(md.topics) == ["t1", "t2"]
    assert sorted(md.topics["t1"].partitions) == [0, 1, 2]

    # Already exists; bad partition count; unknown config; invalid name.
    cases = {
        "t1": (NewTopic("t1", 1, 1), KafkaError.TOPIC_ALREADY_EXISTS),
        "t4": (NewTopic("t4", 1, 1, config={"no.such.config": "1"}), KafkaError.INVALID_CONFIG),
        "bad/name": (NewTopic("bad/name", 1, 1), KafkaError.TOPIC_EXCEPTION),
    }
    for name, (nt, code) in cases.items():
        with pytest.raises(KafkaException) as e:
            a.create_topics([nt], request_timeout=TIMEOUT_S)[name].result(TIMEOUT_S)
        assert kafka_error(e.value).code() == code, (name, kafka_error(e.value))
    with pytest.raises(KafkaException) as e:
        a.create_topics([NewTopic("t5", 0, 1)], request_timeout=TIMEOUT_S)["t5"].result(TIMEOUT_S)
    assert kafka_error(e.value).code() == KafkaError.INVALID_PARTITIONS, kafka_error(e.value)
    assert sorted(a.list_topics(timeout=TIMEOUT_S).topics) == ["t1", "t2"]

    # Configs: what was set is dynamic; the rest are Kafka's defaults.
    cfg = describe_topic_configs(broker, "t1")
    assert cfg["retention.ms"].value == "3600000"
    assert cfg["retention.ms"].source == ConfigSource.DYNAMIC_TOPIC_CONFIG.value
    assert not cfg["retention.ms"].is_default
    assert cfg["max.message.bytes"].value == "500000"
    for name, value in {"cleanup.policy": "delete", "compression.type": "producer",
                        "message.timestamp.type": "CreateTime",
                        "min.insync.replicas": "1"}.items():
        assert cfg[name].value == value, (name, cfg[name])
        assert cfg[name].source == ConfigSource.DEFAULT_CONFIG.value, (name, cfg[name])
        assert cfg[name].is_default, (name, cfg[name])

    # AlterConfigs replaces a topic's whole set of overrides, as Kafka does.
    res = ConfigResource(ConfigResource.Type.TOPIC, "t1", set_config={"retention.ms": "7200000"})
    a.alter_configs([res], request_timeout=TIMEOUT_S)[res].result(TIMEOUT_S)
    cfg = describe_topic_configs(broker, "t1")
    assert cfg["retention.ms"].value == "7200000"
    assert cfg["max.message.bytes"].value == "1048588", cfg["max.message.bytes"]
    assert cfg["max.message.bytes"].source == ConfigSource.DEFAULT_CONFIG.value
    res = ConfigResource(ConfigResource.Type.TOPIC, "t1", set_config={"no.such.config": "1"})
    with pytest.raises(KafkaException) as e:
        a.alter_configs([res], request_timeout=TIMEOUT_S)[res].result(TIMEOUT_S)
    assert kafka_error(e.value).code() == KafkaError.INVALID_CONFIG

    # CreatePartitions: 3 -> 6, and the new partitions take records.
    fs = a.create_partitions([NewPartitions("t1", 6)], request_timeout=TIMEOUT_S)
    fs["t1"].result(TIMEOUT_S)
    assert sorted(a.list_topics("t1", timeout=TIMEOUT_S).topics["t1"].partitions) == list(range(6))
    with pytest.raises(KafkaException) as e:  # shrinking is refused
        a.create_partitions([NewPartitions("t1", 2)], request_timeout=TIMEOUT_S)["t1"].result(
            TIMEOUT_S)
    assert kafka_error(e.value).code() == KafkaError.INVALID_PARTITIONS
    p = raw_produce(broker, "t1", 5, [Record(None, b"in-new-partition")])
    assert (p.error_code, p.base_offset) == (0, 0), p

    # DeleteTopics; the name can be used again and starts from offset 0.
    p = raw_produce(broker, "t2", 0, [Record(None, b"x"), Record(None, b"y")])
    assert (p.error_code, p.base_offset) == (0, 0)
    a.delete_topics(["t2"], request_timeout=TIMEOUT_S)["t2"].result(TIMEOUT_S)
    assert sorted(a.list_topics(timeout=TIMEOUT_S).topics) == ["t1"]
    with pytest.raises(KafkaException) as e:
        a.delete_topics(["t2"], request_timeout=TIMEOUT_S)["t2"].result(TIMEOUT_S)
    assert kafka_error(e.value).code() == KafkaError.UNKNOWN_TOPIC_OR_PART
    create_topic(broker, "t2", 1)
    p = raw_produce(broker, "t2", 0, [Record(None, b"z")])
    assert (p.error_code, p.base_offset) == (0, 0), p
    assert [r.value for r in raw_fetch(broker, "t2", 0, 0).fetched()] == [b"z"]

    # Topics and configs survive a restart.
    broker.restart()
    md = admin(broker).list_topics(timeout=TIMEOUT_S)
    assert sorted(md.topics) == ["t1", "t2"] and len(md.topics["t1"].partitions) == 6
    assert describe_topic_configs(broker, "t1")["retention.ms"].value == "7200000"


def test_admin_broker_configs(broker_factory):
    broker = broker_factory({**FAST, "num.partitions": 3})
    res = ConfigResource(ConfigResource.Type.BROKER, "1")
    a = admin(broker)
    cfg = a.describe_configs([res], request_timeout=TIMEOUT_S)[res].result(TIMEOUT_S)
    assert cfg["num.partitions"].value == "3"
    assert cfg["num.partitions"].source == ConfigSource.STATIC_BROKER_CONFIG.value
    assert cfg["auto.create.topics.enable"].value == "true"
    # num.partitions is the default for auto-created topics.
    p = raw_produce(broker, "auto-created-2", 0, [Record(None, b"x")])
    assert p.error_code == kw.NONE, p
    md = admin(broker).list_topics(timeout=TIMEOUT_S)
    assert len(md.topics["auto-created-2"].partitions) == 3, md.topics


def test_log_append_time_topic(broker_factory):
    broker = broker_factory(FAST)
    create_topic(broker, "lat", 1, {"message.timestamp.type": "LogAppendTime"})
    before = int(time.time() * 1000)
    producer = Producer(client_config(broker))
    producer.produce("lat", value=b"old", partition=0, timestamp=1000)
    producer.produce("lat", value=b"old2", partition=0, timestamp=2000)
    assert producer.flush(TIMEOUT_S) == 0
    p = raw_produce(broker, "lat", 0, [Record(None, b"raw")], base_timestamp=3000)
    assert p.error_code == kw.NONE
    after = int(time.time() * 1000)
    # The broker's clock, not the producer's: within the produce calls (1 s of slack
    # for clock granularity).
    assert before - 1000 <= p.log_append_time_ms <= after + 1000, p
    got = consume_exactly(broker, "lat", {0: 3})
    for m in got[0]:
        kind, ts = m.timestamp()
        assert kind == TIMESTAMP_LOG_APPEND_TIME, m.timestamp()
        assert before - 1000 <= ts <= after + 1000, (m.value(), ts, before, after)
    for b in raw_fetch(broker, "lat", 0, 0).batches():
        assert b.log_append_time, b
        assert before - 1000 <= b.max_timestamp <= after + 1000, b


def test_topic_compression_type_gzip(broker_factory):
    broker = broker_factory(FAST)
    create_topic(broker, "gz", 1, {"compression.type": "gzip"})
    producer = Producer(client_config(broker, **{"compression.type": "none"}))
    values = [f"value-{i}-".encode() * 20 for i in range(100)]
    for i, v in enumerate(values):
        producer.produce("gz", key=str(i).encode(), value=v, partition=0,
                         headers=[("i", str(i).encode())])
    assert producer.flush(TIMEOUT_S) == 0
    batches = []
    offset = 0
    while offset < len(values):
        bs = raw_fetch(broker, "gz", 0, offset).batches()
        assert bs
        batches += bs
        offset = bs[-1].last_offset + 1
    assert {b.compression for b in batches} == {kw.COMPRESSION_GZIP}
    recs = [r for b in batches for r in b.records]
    assert [(r.offset, r.key, r.value, r.headers) for r in recs] == [
        (i, str(i).encode(), v, [("i", str(i).encode())]) for i, v in enumerate(values)]
    got = consume_exactly(broker, "gz", {0: len(values)})
    assert [m.value() for m in got[0]] == values


# ---- fetch ---------------------------------------------------------------------------

def test_fetch_long_poll_raw(broker_factory):
    broker = broker_factory({"wal.linger.ms": 50})
    create_topic(broker, "lp", 2)
    with connect(broker) as waiting:
        # Parks at the end of an empty partition, then a record arrives from
        # another connection: the waiting fetch returns it.
        cid = waiting.send_request(kw.FETCH, 12, kw.encode_fetch_request(
            12, {"lp": {0: 0, 1: 0}}, max_wait_ms=30000, min_bytes=1))
        time.sleep(0.5)  # lets the fetch park first; not a measurement
        p = raw_produce(broker, "lp", 1, [Record(b"k", b"woken")])
        assert p.error_code == kw.NONE
        r = waiting.recv_response(kw.FETCH, 12, cid)
        resp = kw.decode_fetch_response(r, 12)
        r.expect_end()
        assert [x.value for x in resp.partition("lp", 1).fetched()] == [b"woken"]
        assert resp.partition("lp", 1).high_watermark == 1
        assert resp.partition("lp", 0).fetched() == []


def test_fetch_long_poll_consumer(broker_factory):
    broker = broker_factory({"wal.linger.ms": 50})
    create_topic(broker, "lp", 1)
    consumer = new_consumer(broker, **{"fetch.wait.max.ms": 5000})
    try:
        consumer.assign([TopicPartition("lp", 0, OFFSET_BEGINNING)])
        assert consumer.poll(1.0) is None  # waiting at the end
        producer = Producer(client_config(broker))
        producer.produce("lp", value=b"later", partition=0)
        assert producer.flush(TIMEOUT_S) == 0
        deadline = time.monotonic() + DRAIN_DEADLINE_S
        msg = None
        while msg is None and time.monotonic() < deadline:
            msg = consumer.poll(1.0)
        assert msg is not None and msg.error() is None, msg
        assert (msg.offset(), msg.value()) == (0, b"later")
    finally:
        consumer.close()


def test_fetch_returns_a_whole_batch_bigger_than_the_limits(broker_factory):
    """KIP-74: the first batch comes back whole whatever partition/response max bytes say."""
    broker = broker_factory(FAST)
    create_topic(broker, "big", 1)
    first = [Record(f"k{i}".encode(), bytes([i]) * 300) for i in range(30)]
    second = [Record(None, b"second")]
    assert raw_produce(broker, "big", 0, first).error_code == kw.NONE
    assert raw_produce(broker, "big", 0, second).error_code == kw.NONE
    for version in (4, 11, 12):
        f = raw_fetch(broker, "big", 0, 0, version, max_bytes=100, partition_max_bytes=100)
        assert f.error_code == kw.NONE
        batches = f.batches()
        assert len(batches) >= 1, version
        assert [(r.key, r.value) for r in batches[0].records] == [(r.key, r.value) for r in first]
    # The second batch on its own.
    f = raw_fetch(broker, "big", 0, 30, max_bytes=10, partition_max_bytes=10)
    assert [r.value for r in f.fetched()] == [b"second"]
    # And a client with a small max.partition.fetch.bytes reads everything.
    got = consume_exactly(broker, "big", {0: 31}, **{"max.partition.fetch.bytes": 512,
                                                     "fetch.max.bytes": 1024,
                                                     "message.max.bytes": 1000})
    assert [m.value() for m in got[0]] == [r.value for r in first + second]


# ---- idempotence over raw sockets -----------------------------------------------------

def test_idempotent_sequence_and_epoch_checks(broker_factory):
    broker = broker_factory(FAST)
    create_topic(broker, "idem", 1)
    with connect(broker) as conn:
        first = kw.init_producer_id(conn, 4)
        second = kw.init_producer_id(conn, 1)
        assert first.error_code == second.error_code == kw.NONE, (first, second)
        assert first.producer_id >= 0 and first.producer_epoch >= 0, first
        assert second.producer_id != first.producer_id, (first, second)
        pid, epoch = first.producer_id, first.producer_epoch

    def batch(seq: int, n: int, ep: int = epoch) -> bytes:
        return kw.build_record_batch([Record(None, f"{ep}:{seq + j}".encode()) for j in range(n)],
                                     producer_id=pid, producer_epoch=ep, base_sequence=seq)

    def send(conn, b: bytes) -> kw.ProducePartitionResponse:
        return kw.produce(conn, 9, {"idem": {0: b}}).partition("idem", 0)

    def assert_duplicate(p, offset: int) -> None:
        # Kafka answers a retry of a batch it has with the original offset (librdkafka
        # also takes DUPLICATE_SEQUENCE_NUMBER as success); it is not stored again.
        assert p.error_code in (kw.NONE, kw.DUPLICATE_SEQUENCE_NUMBER), p
        if p.error_code == kw.NONE:
            assert p.base_offset == offset, p

    with connect(broker) as conn:
        p = send(conn, batch(0, 3))
        assert (p.error_code, p.base_offset) == (kw.NONE, 0), p
        assert_duplicate(send(conn, batch(0, 3)), 0)
        p = send(conn, batch(3, 2))
        assert (p.error_code, p.base_offset) == (kw.NONE, 3), p
        assert_duplicate(send(conn, batch(0, 3)), 0)  # still among the last 5 batches
        assert send(conn, batch(9, 1)).error_code == kw.OUT_OF_ORDER_SEQUENCE_NUMBER  # a gap

    # Producer state is durable: after a crash the same retry is still a duplicate
    # and the next sequence continues.
    assert broker.kill(signal.SIGKILL) == -signal.SIGKILL
    broker.start()
    with connect(broker) as conn:
        assert_duplicate(send(conn, batch(3, 2)), 3)
        p = send(conn, batch(5, 1))
        assert (p.error_code, p.base_offset) == (kw.NONE, 5), p
        assert send(conn, batch(7, 1)).error_code == kw.OUT_OF_ORDER_SEQUENCE_NUMBER

        # A higher epoch starts again at sequence 0 (the Java client bumps the epoch of
        # an idempotent producer itself); then the old epoch is fenced.
        assert send(conn, batch(1, 1, epoch + 1)).error_code == kw.OUT_OF_ORDER_SEQUENCE_NUMBER
        p = send(conn, batch(0, 2, epoch + 1))
        assert (p.error_code, p.base_offset) == (kw.NONE, 6), p
        assert send(conn, batch(6, 1)).error_code == kw.INVALID_PRODUCER_EPOCH

        f = kw.fetch(conn, 12, {"idem": {0: 0}}).partition("idem", 0)
        assert f.high_watermark == 8
        assert [(r.offset, r.value) for r in f.fetched()] == [
            (0, b"0:0"), (1, b"0:1"), (2, b"0:2"), (3, b"0:3"), (4, b"0:4"), (5, b"0:5"),
            (6, f"{epoch + 1}:0".encode()), (7, f"{epoch + 1}:1".encode())]
        assert all(b.producer_id == pid for b in f.batches())


# ---- IncrementalAlterConfigs and Metadata auto-creation over raw sockets -------------------

def test_incremental_alter_configs(broker_factory):
    broker = broker_factory(FAST)
    create_topic(broker, "iac", 1, {"max.message.bytes": "500000"})
    with connect(broker) as conn:
        for version in (0, 1):
            resp = kw.incremental_alter_configs(conn, version, [
                (kw.RESOURCE_TOPIC, "iac", [("retention.ms", kw.CONFIG_SET, str(3600000 + version)),
                                            ("max.message.bytes", kw.CONFIG_DELETE, None)])])
            assert [(e, t, n) for e, _, t, n in resp] == [(0, kw.RESOURCE_TOPIC, "iac")], resp
        cfg = describe_topic_configs(broker, "iac")
        assert cfg["retention.ms"].value == "3600001"
        assert cfg["retention.ms"].source == ConfigSource.DYNAMIC_TOPIC_CONFIG.value
        assert cfg["max.message.bytes"].value == "1048588"
        assert cfg["max.message.bytes"].source == ConfigSource.DEFAULT_CONFIG.value

        # validate_only changes nothing; bad names and values are refused per resource.
        resp = kw.incremental_alter_configs(conn, 1, [
            (kw.RESOURCE_TOPIC, "iac", [("retention.ms", kw.CONFIG_SET, "1")])], validate_only=True)
        assert resp[0][0] == kw.NONE, resp
        assert describe_topic_configs(broker, "iac")["retention.ms"].value == "3600001"
        for name, value, error in [("no.such.config", "1", kw.INVALID_CONFIG),
                                   ("retention.ms", "not-a-number", kw.INVALID_CONFIG)]:
            resp = kw.incremental_alter_configs(conn, 1, [
                (kw.RESOURCE_TOPIC, "iac", [(name, kw.CONFIG_SET, value)])])
            assert resp[0][0] == error, resp
        resp = kw.incremental_alter_configs(conn, 1, [
            (kw.RESOURCE_TOPIC, "no-such-topic", [("retention.ms", kw.CONFIG_SET, "1")])])
        assert resp[0][0] == kw.UNKNOWN_TOPIC_OR_PARTITION, resp
        assert describe_topic_configs(broker, "iac")["retention.ms"].value == "3600001"
    assert_still_serving(broker)


def test_produce_follows_topic_config_changes(broker_factory):
    # The produce path resolves a topic's settings once per topic snapshot;
    # a config change must reach the very next request on the same connection.
    # A second topic with a small limit, produced to alternately, must keep its own.
    broker = broker_factory(FAST)
    create_topic(broker, "changing", 1)
    create_topic(broker, "small", 1, {"max.message.bytes": "1024"})
    big = kw.build_record_batch([Record(None, bytes(200) + bytes([i])) for i in range(10)])
    assert len(big) > 1024
    with connect(broker) as conn:
        def produce_big(topic="changing"):
            return kw.produce(conn, 9, {topic: {0: big}}).partition(topic, 0).error_code
        assert produce_big() == kw.NONE
        assert produce_big("small") == kw.MESSAGE_TOO_LARGE
        for change, expected in [(("max.message.bytes", kw.CONFIG_SET, "1024"), kw.MESSAGE_TOO_LARGE),
                                 (("max.message.bytes", kw.CONFIG_DELETE, None), kw.NONE),
                                 (("max.message.bytes", kw.CONFIG_SET, "1000"), kw.MESSAGE_TOO_LARGE)]:
            resp = kw.incremental_alter_configs(conn, 1, [(kw.RESOURCE_TOPIC, "changing", [change])])
            assert resp[0][0] == kw.NONE, resp
            assert produce_big() == expected, change
            assert produce_big("small") == kw.MESSAGE_TOO_LARGE
        # Deleted and created again under the same name without the limit.
        a = admin(broker)
        a.delete_topics(["small"], request_timeout=TIMEOUT_S)["small"].result(TIMEOUT_S)
        create_topic(broker, "small", 1)
        assert produce_big("small") == kw.NONE
        # More topics than the per-thread cache holds, in turn, twice round:
        # each keeps its own limit however the entries are reused.
        for i in range(10):
            create_topic(broker, f"many-{i}", 1, {"max.message.bytes": "1024"} if i % 2 == 0 else {})
        for _ in range(2):
            for i in range(10):
                expected = kw.MESSAGE_TOO_LARGE if i % 2 == 0 else kw.NONE
                assert produce_big(f"many-{i}") == expected, i


def test_incremental_alter_configs_append_to_a_list(broker_factory):
    broker = broker_factory(FAST)
    create_topic(broker, "iac", 1)
    with connect(broker) as conn:
        # APPEND to a list config starts from its current (here: default) value.
        resp = kw.incremental_alter_configs(conn, 1, [
            (kw.RESOURCE_TOPIC, "iac", [("cleanup.policy", kw.CONFIG_APPEND, "compact")])])
        assert resp[0][0] == kw.NONE, resp
        assert describe_topic_configs(broker, "iac")["cleanup.policy"].value == "delete,compact"
        resp = kw.incremental_alter_configs(conn, 1, [
            (kw.RESOURCE_TOPIC, "iac", [("cleanup.policy", kw.CONFIG_SUBTRACT, "delete")])])
        assert resp[0][0] == kw.NONE, resp
        assert describe_topic_configs(broker, "iac")["cleanup.policy"].value == "compact"


def test_metadata_auto_creates_topics(broker_factory):
    broker = broker_factory({**FAST, "num.partitions": 4})
    with connect(broker) as conn:
        md = conn.metadata(9, ["auto-md"], allow_auto_topic_creation=True)
        (t,) = md.topics
        # Kafka answers the creating request with LEADER_NOT_AVAILABLE or the topic itself.
        assert t.error_code in (kw.NONE, 5), t
        md = conn.metadata(9, ["auto-md"], allow_auto_topic_creation=False)
        (t,) = md.topics
        assert t.error_code == kw.NONE and len(t.partitions) == 4, t

        md = conn.metadata(9, ["not-created"], allow_auto_topic_creation=False)
        assert md.topics[0].error_code == kw.UNKNOWN_TOPIC_OR_PARTITION
        md = conn.metadata(9, ["bad/name"], allow_auto_topic_creation=True)
        assert md.topics[0].error_code == kw.INVALID_TOPIC_EXCEPTION
        md = conn.metadata(9, None)
        assert sorted(t.name for t in md.topics) == ["auto-md"]


# ---- DeleteRecords, response size limits, backpressure ------------------------------------

def test_delete_records_moves_the_log_start(broker_factory):
    broker = broker_factory(FAST)
    create_topic(broker, "dr", 2)
    for start in (0, 5):  # two batches of five
        p = raw_produce(broker, "dr", 0, [Record(None, f"r{start + i}".encode())
                                          for i in range(5)])
        assert (p.error_code, p.base_offset) == (kw.NONE, start), p
    with connect(broker) as conn:
        resp = kw.delete_records(conn, 2, {"dr": {0: 7, 1: 1}, "no-such": {0: 0}})
        assert resp["dr"][0] == (kw.NONE, 7), resp
        assert resp["dr"][1][0] == kw.OFFSET_OUT_OF_RANGE, resp  # past the high watermark
        assert resp["no-such"][0][0] == kw.UNKNOWN_TOPIC_OR_PARTITION, resp
        assert kw.delete_records(conn, 0, {"dr": {0: 3}})["dr"][0] == (kw.NONE, 7)  # never back

    def check(conn) -> None:
        lo = kw.list_offsets(conn, 5, {"dr": {0: kw.EARLIEST_TIMESTAMP}})["dr"][0]
        assert (lo.error_code, lo.offset) == (kw.NONE, 7), lo
        f = kw.fetch(conn, 12, {"dr": {0: 6}}).partition("dr", 0)
        assert f.error_code == kw.OFFSET_OUT_OF_RANGE, f
        f = kw.fetch(conn, 12, {"dr": {0: 7}}).partition("dr", 0)
        assert f.error_code == kw.NONE and f.log_start_offset == 7, f
        # The batch holding offset 7 comes back whole; a reader skips what is below it.
        assert [(r.offset, r.value) for r in f.fetched() if r.offset >= 7] == [
            (7, b"r7"), (8, b"r8"), (9, b"r9")]

    with connect(broker) as conn:
        check(conn)
        assert kw.delete_records(conn, 1, {"dr": {0: -1}})["dr"][0] == (kw.NONE, 10)  # to the end
        lo = kw.list_offsets(conn, 5, {"dr": {0: kw.EARLIEST_TIMESTAMP}})["dr"][0]
        assert lo.offset == 10
        p = kw.produce(conn, 9, {"dr": {0: one_record(b"after")}}).partition("dr", 0)
        assert (p.error_code, p.base_offset, p.log_start_offset) == (kw.NONE, 10, 10), p
    broker.restart()
    with connect(broker) as conn:
        lo = kw.list_offsets(conn, 5, {"dr": {0: kw.EARLIEST_TIMESTAMP}})["dr"][0]
        assert lo.offset == 10, lo


def test_fetch_response_max_bytes_across_partitions(broker_factory):
    broker = broker_factory(FAST)
    create_topic(broker, "mb", 3)
    for p in range(3):
        for _ in range(2):  # two ~6 KB batches per partition
            r = raw_produce(broker, "mb", p, [Record(None, bytes(600)) for _ in range(10)])
            assert r.error_code == kw.NONE
    with connect(broker) as conn:
        resp = kw.fetch(conn, 12, {"mb": {0: 0, 1: 0, 2: 0}}, max_bytes=15000)
        sizes = [len(resp.partition("mb", p).records or b"") for p in range(3)]
        batches = [len(resp.partition("mb", p).batches()) for p in range(3)]
        assert batches[0] >= 1, (sizes, batches)  # the first batch always comes back (KIP-74)
        assert sum(sizes) <= 15000, (sizes, batches)
        # Without a limit, everything.
        resp = kw.fetch(conn, 12, {"mb": {0: 0, 1: 0, 2: 0}})
        assert [len(resp.partition("mb", p).fetched()) for p in range(3)] == [20, 20, 20]


def test_fetch_response_puts_the_oldest_records_first(broker_factory):
    """Partitions with records come first, by the timestamp of their first record returned;
    the rest follow in request order; topics keep the request's order."""
    broker = broker_factory(FAST)
    create_topic(broker, "ord", 6)
    create_topic(broker, "ord-other", 2)
    t0 = int(time.time() * 1000)
    for partition, delta in [(0, 50), (2, 10), (3, 40), (4, 20), (2, 100)]:
        r = raw_produce(broker, "ord", partition, [Record(None, b"v%d" % delta)], base_timestamp=t0 + delta)
        assert r.error_code == kw.NONE
    r = raw_produce(broker, "ord-other", 1, [Record(None, b"x")], base_timestamp=t0 + 30)
    assert r.error_code == kw.NONE
    with connect(broker) as conn:
        resp = kw.fetch(conn, 12, {"ord-other": {0: 0, 1: 0}, "ord": {p: 0 for p in range(6)}})
        assert list(resp.topics) == ["ord-other", "ord"]
        assert list(resp.topics["ord-other"]) == [1, 0]
        assert list(resp.topics["ord"]) == [2, 4, 3, 0, 1, 5]
        assert [len(resp.partition("ord", p).fetched()) for p in range(6)] == [1, 0, 2, 1, 1, 0]
        # From partition 2's second batch on, its first record is the youngest.
        resp = kw.fetch(conn, 12, {"ord": {p: 1 if p == 2 else 0 for p in range(6)}})
        assert list(resp.topics["ord"]) == [4, 3, 0, 2, 1, 5]
        assert [r.value for r in resp.partition("ord", 2).fetched()] == [b"v100"]


def test_backpressure_with_a_small_wal_buffer(broker_factory):
    """Past wal.buffer.max.bytes produce requests wait; nothing is lost or reordered."""
    broker = broker_factory({"wal.linger.ms": 5, "wal.object.max.bytes": 65536,
                             "wal.buffer.max.bytes": 131072})
    create_topic(broker, "bp", 4)
    n = 20_000
    errors: list[str] = []
    producer = Producer(client_config(broker, **{"enable.idempotence": True, "acks": "all",
                                                 "linger.ms": 2}))
    for i in range(n):
        while True:
            try:
                producer.produce("bp", value=f"{i:06d}".encode() + bytes(500), partition=i % 4,
                                 on_delivery=lambda err, msg: err and errors.append(str(err)))
                break
            except BufferError:
                producer.poll(0.05)
    assert producer.flush(DRAIN_DEADLINE_S) == 0
    assert errors == [], errors[:10]
    got = consume_exactly(broker, "bp", {p: n // 4 for p in range(4)})
    for p, msgs in got.items():
        assert [int(m.value()[:6]) for m in msgs] == list(range(p, n, 4))


# ---- pipelined produce order ------------------------------------------------------------

def test_pipelined_produces_keep_their_order_when_one_waits_for_a_new_topic(broker):
    """Two produce requests in one write: the first also names a topic the broker has never
    seen (auto-created: a metadata store round trip), the second only a topic it knows.
    The second must not reach the log first: its batch gets the later offset."""
    known = "order-known"
    with connect(broker) as conn:
        warm = kw.produce(conn, 9, {known: {0: kw.build_record_batch([Record(None, b"warm")])}})
        assert warm.partition(known, 0).error_code == kw.NONE
        for round_ in range(5):
            fresh = f"order-fresh-{round_}"
            first = kw.encode_produce_request(9, {
                fresh: {0: kw.build_record_batch([Record(None, b"fresh")])},
                known: {0: kw.build_record_batch([Record(None, b"first-%d" % round_)])}})
            second = kw.encode_produce_request(9, {
                known: {0: kw.build_record_batch([Record(None, b"second-%d" % round_)])}})
            c1, c2 = conn.next_correlation_id(), conn.next_correlation_id()
            conn.send_raw(kw.encode_request(kw.PRODUCE, 9, c1, first) +
                          kw.encode_request(kw.PRODUCE, 9, c2, second))
            r1 = kw.decode_produce_response(conn.recv_response(kw.PRODUCE, 9, c1), 9)
            r2 = kw.decode_produce_response(conn.recv_response(kw.PRODUCE, 9, c2), 9)
            p1, p2 = r1.partition(known, 0), r2.partition(known, 0)
            assert r1.partition(fresh, 0).error_code == kw.NONE
            assert (p1.error_code, p2.error_code) == (kw.NONE, kw.NONE)
            assert p1.base_offset < p2.base_offset, (round_, p1, p2)
        got = kw.fetch(conn, 12, {known: {0: 0}}).partition(known, 0)
        values = [r.value for r in got.fetched()]
        assert values == [b"warm"] + [v for i in range(5) for v in (b"first-%d" % i, b"second-%d" % i)]
