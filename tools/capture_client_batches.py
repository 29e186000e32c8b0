#!/usr/bin/python3
"""Captures the record batches that real Kafka clients write, as test fixtures.

Starts a fake Kafka broker on a free 127.0.0.1 port that answers just enough
of the protocol for a producer (ApiVersions, Metadata, Produce), has
confluent-kafka (librdkafka) and kafka-python produce the same few records
with every codec they support, and writes the raw `records` bytes of the
Produce requests to src/protocol/testdata/<client>_<codec>.hex (hex text; one
or more batches back to back, as librdkafka may send the first record on its
own), plus manifest.txt with the records each file must decode to.

The fixtures are checked in; run this again only to refresh them:

    /usr/bin/python3 tools/capture_client_batches.py

Needs the Debian packages python3-confluent-kafka, python3-kafka,
python3-snappy, python3-lz4 and python3-zstandard.
"""

import os
import socketserver
import struct
import sys
import threading

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TESTDATA = os.path.join(REPO, "src", "protocol", "testdata")

NODE_ID = 1
CODEC_IDS = {"none": 0, "gzip": 1, "snappy": 2, "lz4": 3, "zstd": 4}
XERIAL_MAGIC = b"\x82SNAPPY\x00"

# (api key, min version, max version) this fake broker advertises; it serves
# only ApiVersions, Metadata and Produce v3-7. The rest is there because
# librdkafka derives its features from this list, as a real broker's would
# look: it compresses only when Produce v0 is listed (v7 for zstd, with Fetch
# v10), and lz4 only when FindCoordinator is. It still sends Produce v7.
API_PRODUCE, API_FETCH, API_LIST_OFFSETS, API_METADATA = 0, 1, 2, 3
API_FIND_COORDINATOR, API_API_VERSIONS = 10, 18
ADVERTISED = [
    (API_PRODUCE, 0, 7),
    (API_FETCH, 0, 11),
    (API_LIST_OFFSETS, 0, 5),
    (API_METADATA, 0, 4),
    (API_FIND_COORDINATOR, 0, 2),
    (API_API_VERSIONS, 0, 3),
]
ERROR_UNSUPPORTED_VERSION = 35

BASE_TS = 1700000000000


def expected_records(null_header_values):
    """The records every client produces. kafka-python cannot send a null
    header value, so it gets an empty one there instead."""
    null_header = None if null_header_values else b""
    return [
        dict(ts=BASE_TS, key=b"key-1", value=b"first value " + b"abcdefgh" * 32,
             headers=[("trace-id", b"0123456789abcdef"), ("empty", b"")]),
        dict(ts=BASE_TS + 5, key=None, value=b"no key " + b"0123456789" * 30, headers=[]),
        dict(ts=BASE_TS + 10, key=b"key-3", value=None, headers=[("null-value", null_header)]),
        # Earlier than the first record: a negative timestamp delta.
        dict(ts=BASE_TS - 1000, key=b"key-4", value=b"",
             headers=[("a", b"1"), ("b", b"2"), ("a", b"3")]),
        dict(ts=BASE_TS + 20, key=bytes(range(256)), value=b"binary " + bytes(range(256)) * 4,
             headers=[("bin", bytes(range(16)))]),
        # Over 32 KiB, so xerial-framed snappy needs more than one block.
        dict(ts=BASE_TS + 30, key=b"big", value=(b"a large value, repeated. " * 1500)[:36000],
             headers=[]),
    ]


class Buf:
    """Reads Kafka's big-endian primitives from a request body."""

    def __init__(self, data):
        self.data = data
        self.pos = 0

    def take(self, n):
        if n < 0 or self.pos + n > len(self.data):
            raise ValueError("truncated request")
        out = self.data[self.pos:self.pos + n]
        self.pos += n
        return out

    def int8(self):
        return struct.unpack(">b", self.take(1))[0]

    def int16(self):
        return struct.unpack(">h", self.take(2))[0]

    def int32(self):
        return struct.unpack(">i", self.take(4))[0]

    def uvarint(self):
        value, shift = 0, 0
        while True:
            b = self.take(1)[0]
            value |= (b & 0x7F) << shift
            if not b & 0x80:
                return value
            shift += 7

    def nullable_string(self):
        n = self.int16()
        return None if n < 0 else self.take(n).decode()

    def nullable_bytes(self):
        n = self.int32()
        return None if n < 0 else self.take(n)

    def tagged_fields(self):
        for _ in range(self.uvarint()):
            self.uvarint()
            self.take(self.uvarint())


def i16(v):
    return struct.pack(">h", v)


def i32(v):
    return struct.pack(">i", v)


def i64(v):
    return struct.pack(">q", v)


def string(s):
    b = s.encode()
    return i16(len(b)) + b


def uvarint(v):
    out = bytearray()
    while v >= 0x80:
        out.append((v & 0x7F) | 0x80)
        v >>= 7
    out.append(v)
    return bytes(out)


class FakeBroker(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self):
        super().__init__(("127.0.0.1", 0), Connection)
        self.port = self.server_address[1]
        self.lock = threading.Lock()
        self.topics = set()
        self.captured = {}  # topic -> [records bytes, in arrival order]
        self.next_offset = {}
        self.errors = []

    def records_for(self, topic):
        with self.lock:
            return list(self.captured.get(topic, []))


class Connection(socketserver.BaseRequestHandler):
    def handle(self):
        sock = self.request
        try:
            while True:
                size_bytes = self.read_exact(sock, 4)
                if size_bytes is None:
                    return
                (size,) = struct.unpack(">i", size_bytes)
                body = self.read_exact(sock, size)
                if body is None:
                    return
                response = self.dispatch(Buf(body))
                if response is not None:
                    sock.sendall(i32(len(response)) + response)
        except (ConnectionError, ValueError) as e:
            self.server.errors.append(repr(e))

    @staticmethod
    def read_exact(sock, n):
        data = b""
        while len(data) < n:
            chunk = sock.recv(n - len(data))
            if not chunk:
                return None
            data += chunk
        return data

    def dispatch(self, req):
        api_key, version, correlation_id = req.int16(), req.int16(), req.int32()
        req.nullable_string()  # client id
        if api_key == API_API_VERSIONS:
            if version >= 3:
                req.tagged_fields()  # request header v2
            # The ApiVersions response header never has tagged fields, so
            # that a client can read it before knowing what the broker speaks.
            return i32(correlation_id) + self.api_versions(version)
        if api_key == API_METADATA and version <= 4:
            return i32(correlation_id) + self.metadata(req, version)
        if api_key == API_PRODUCE and 3 <= version <= 7:
            body = self.produce(req, version)
            return None if body is None else i32(correlation_id) + body
        raise ValueError(f"unexpected request: api {api_key} v{version}")

    def api_versions(self, version):
        if version > 3:
            # Answer in v0 so the client retries with a version we speak.
            body = i16(ERROR_UNSUPPORTED_VERSION) + i32(len(ADVERTISED))
            return body + b"".join(i16(k) + i16(lo) + i16(hi) for k, lo, hi in ADVERTISED)
        if version == 3:
            body = i16(0) + uvarint(len(ADVERTISED) + 1)
            body += b"".join(i16(k) + i16(lo) + i16(hi) + uvarint(0) for k, lo, hi in ADVERTISED)
            return body + i32(0) + uvarint(0)
        body = i16(0) + i32(len(ADVERTISED))
        body += b"".join(i16(k) + i16(lo) + i16(hi) for k, lo, hi in ADVERTISED)
        return body + (i32(0) if version >= 1 else b"")

    def metadata(self, req, version):
        count = req.int32()
        requested = None if count < 0 else [req.nullable_string() for _ in range(count)]
        with self.server.lock:
            if requested:
                self.server.topics.update(requested)
            topics = sorted(self.server.topics) if not requested else requested
        out = i32(0) if version >= 3 else b""  # throttle time
        out += i32(1) + i32(NODE_ID) + string("127.0.0.1") + i32(self.server.port)
        if version >= 1:
            out += i16(-1)  # rack
        if version >= 2:
            out += i16(-1)  # cluster id
        if version >= 1:
            out += i32(NODE_ID)  # controller
        out += i32(len(topics))
        for name in topics:
            out += i16(0) + string(name)
            if version >= 1:
                out += b"\x00"  # not internal
            out += i32(1)  # one partition, led by this broker
            out += i16(0) + i32(0) + i32(NODE_ID) + i32(1) + i32(NODE_ID) + i32(1) + i32(NODE_ID)
        return out

    def produce(self, req, version):
        req.nullable_string()  # transactional id
        acks = req.int16()
        req.int32()  # timeout
        answers = []
        for _ in range(req.int32()):
            topic = req.nullable_string()
            parts = []
            for _ in range(req.int32()):
                partition = req.int32()
                records = req.nullable_bytes()
                with self.server.lock:
                    self.server.captured.setdefault(topic, []).append(records)
                    base = self.server.next_offset.get(topic, 0)
                    self.server.next_offset[topic] = base + 1000
                parts.append((partition, base))
            answers.append((topic, parts))
        if acks == 0:
            return None
        out = i32(len(answers))
        for topic, parts in answers:
            out += string(topic) + i32(len(parts))
            for partition, base in parts:
                out += i32(partition) + i16(0) + i64(base) + i64(-1)
                if version >= 5:
                    out += i64(0)  # log start offset
        return out + i32(0)


def produce_librdkafka(port, topic, codec, records):
    from confluent_kafka import Producer

    errors = []

    def on_delivery(err, msg):
        if err is not None:
            errors.append(err)

    producer = Producer({
        "bootstrap.servers": f"127.0.0.1:{port}",
        "compression.type": codec,
        "linger.ms": 200,  # every record in one batch
        "acks": 1,
        "enable.idempotence": False,
    })
    for r in records:
        producer.produce(topic, value=r["value"], key=r["key"], partition=0, timestamp=r["ts"],
                         headers=r["headers"], on_delivery=on_delivery)
    left = producer.flush(30)
    if left or errors:
        raise RuntimeError(f"librdkafka {codec}: {left} undelivered, errors {errors}")


def produce_kafka_python(port, topic, codec, records):
    from kafka import KafkaProducer

    producer = KafkaProducer(
        bootstrap_servers=f"127.0.0.1:{port}",
        # Fixed rather than probed: 2.1 is the first with zstd, and it makes
        # kafka-python send Produce v7 with record batch v2.
        api_version=(2, 1, 0),
        compression_type=None if codec == "none" else codec,
        linger_ms=200,
        batch_size=1024 * 1024,
        acks=1,
    )
    futures = [producer.send(topic, value=r["value"], key=r["key"], partition=0,
                             timestamp_ms=r["ts"], headers=r["headers"]) for r in records]
    producer.flush(30)
    for f in futures:
        f.get(timeout=30)
    producer.close(10)


def batches(buffer):
    """Yields each batch of a buffer of concatenated v2 batches."""
    pos = 0
    while pos < len(buffer):
        (length,) = struct.unpack_from(">i", buffer, pos + 8)
        yield buffer[pos:pos + 12 + length]
        pos += 12 + length


def check_capture(name, codec, data):
    for batch in batches(data):
        magic = batch[16]
        (attributes,) = struct.unpack_from(">h", batch, 21)
        if magic != 2:
            raise RuntimeError(f"{name}: magic {magic}, expected 2")
        if attributes & 7 != CODEC_IDS[codec]:
            raise RuntimeError(f"{name}: codec bits {attributes & 7}, expected {codec}")


def field(b):
    """A byte field of the manifest: null, hex:<bytes>, or for a long
    repetitive value rep:<length>:<hex of the repeated unit>."""
    if b is None:
        return "null"
    if len(b) > 256:
        for period in range(1, 65):
            unit = b[:period]
            if (unit * (len(b) // period + 1))[:len(b)] == b:
                return f"rep:{len(b)}:{unit.hex()}"
    return "hex:" + b.hex()


def record_set_lines(name, records):
    lines = [f"records {name}"]
    for r in records:
        parts = ["record", str(r["ts"]), field(r["key"]), field(r["value"]), str(len(r["headers"]))]
        for k, v in r["headers"]:
            parts += [field(k.encode()), field(v)]
        lines.append(" ".join(parts))
    return lines


def write_hex(path, data):
    text = data.hex()
    with open(path, "w") as f:
        for i in range(0, len(text), 96):
            f.write(text[i:i + 96] + "\n")


def main():
    import confluent_kafka
    import kafka

    clients = [
        ("librdkafka", f"librdkafka-{confluent_kafka.libversion()[0]}", produce_librdkafka,
         ["none", "gzip", "snappy", "lz4", "zstd"], True),
        ("kafka_python", f"kafka-python-{kafka.__version__}", produce_kafka_python,
         ["gzip", "snappy", "lz4", "zstd"], False),
    ]
    os.makedirs(TESTDATA, exist_ok=True)
    broker = FakeBroker()
    thread = threading.Thread(target=broker.serve_forever, daemon=True)
    thread.start()
    manifest = [
        "# What each captured file must decode to; written by tools/capture_client_batches.py.",
        "# records <set>: starts a record set, one line per record, in order:",
        "#   record <timestamp> <key> <value> <header count> [<header key> <header value>]...",
        "#   a byte field is null, hex:<bytes in hex>, or rep:<length>:<hex> (the unit repeated",
        "#   and cut to length bytes)",
        "# capture <file> <client> <codec> <set>: a file of concatenated batches holding that set.",
    ]
    for prefix, _, _, _, null_header_values in clients:
        manifest += record_set_lines(prefix, expected_records(null_header_values))
    try:
        for prefix, client, produce, codecs, null_header_values in clients:
            records = expected_records(null_header_values)
            for codec in codecs:
                topic = f"capture-{prefix}-{codec}"
                with broker.lock:
                    broker.topics.add(topic)
                produce(broker.port, topic, codec, records)
                data = b"".join(broker.records_for(topic))
                if not data:
                    raise RuntimeError(f"{client} {codec}: nothing captured")
                name = f"{prefix}_{codec}.hex"
                check_capture(name, codec, data)
                write_hex(os.path.join(TESTDATA, name), data)
                manifest.append(f"capture {name} {client} {codec} {prefix}")
                count = sum(1 for _ in batches(data))
                xerial = data[61:61 + len(XERIAL_MAGIC)] == XERIAL_MAGIC  # after the header
                print(f"{name}: {len(data)} bytes in {count} batch(es)"
                      + (", xerial framing" if xerial else ""))
    finally:
        broker.shutdown()
        broker.server_close()
        thread.join()
    if broker.errors:
        sys.exit(f"the fake broker failed: {broker.errors}")
    with open(os.path.join(TESTDATA, "manifest.txt"), "w") as f:
        f.write("\n".join(manifest) + "\n")


if __name__ == "__main__":
    main()
