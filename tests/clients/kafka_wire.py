"""A deliberately tiny Kafka wire-format toolkit for raw-protocol tests.

Independent of floe's generated codecs on purpose: a test that decodes with the
code under test proves nothing. Field layouts follow Kafka's JSON message specs
(RequestHeader, ResponseHeader, ApiVersions*, Metadata*). Decoders are strict:
they fail on a short frame and callers check that the whole frame was consumed.

To cover a new API: add its encoder and decoder here, next to the existing ones.
"""

from __future__ import annotations

import socket
import struct
import uuid
from dataclasses import dataclass, field

API_VERSIONS = 18
METADATA = 3

# First flexible version of every request, from the specs' "flexibleVersions"
# (None: never flexible). It picks the request header (v2 when flexible, else v1)
# and the response header (v1 when flexible, else v0; ApiVersions is always v0).
FLEXIBLE_FROM = {
    0: 9, 1: 12, 2: 6, 3: 9, 4: 4, 5: 2, 6: 6, 7: 3, 8: 8, 9: 6, 10: 3, 11: 6,
    12: 4, 13: 4, 14: 4, 15: 5, 16: 3, 17: None, 18: 3, 19: 5, 20: 4, 21: 2,
    22: 2, 23: 4, 24: 3, 25: 3, 26: 3, 27: 1, 28: 3, 29: 2, 30: 2, 31: 2, 32: 4,
    33: 2, 34: 2, 35: 2, 36: 2, 37: 2, 38: 2, 39: 2, 40: 2, 41: 2, 42: 2, 43: 2,
    44: 1, 45: 0, 46: 0, 47: None, 48: 1, 49: 1, 50: 0, 51: 0, 52: 0, 53: 1,
    54: 1, 55: 0, 56: 0, 57: 0, 58: 0, 59: 0, 60: 0, 61: 0, 62: 0, 63: 0, 64: 0,
    65: 0, 66: 0, 67: 0, 68: 0, 69: 0, 70: 0, 71: 0, 72: 0, 73: 0, 74: 0, 75: 0,
}

# Error codes used by the tests (Kafka's org.apache.kafka.common.protocol.Errors).
NONE = 0
UNKNOWN_TOPIC_OR_PARTITION = 3
UNSUPPORTED_VERSION = 35


def is_flexible(api_key: int, api_version: int) -> bool:
    first = FLEXIBLE_FROM.get(api_key)
    return first is not None and api_version >= first


def request_header_version(api_key: int, api_version: int) -> int:
    return 2 if is_flexible(api_key, api_version) else 1


def response_header_version(api_key: int, api_version: int) -> int:
    if api_key == API_VERSIONS:
        return 0  # so that a client can always read it, whatever it asked for
    return 1 if is_flexible(api_key, api_version) else 0


class DecodeError(Exception):
    pass


class Writer:
    def __init__(self) -> None:
        self._parts: list[bytes] = []

    def bytes(self) -> bytes:
        return b"".join(self._parts)

    def raw(self, b: bytes) -> "Writer":
        self._parts.append(b)
        return self

    def int8(self, v: int) -> "Writer":
        return self.raw(struct.pack(">b", v))

    def bool(self, v: bool) -> "Writer":
        return self.int8(1 if v else 0)

    def int16(self, v: int) -> "Writer":
        return self.raw(struct.pack(">h", v))

    def int32(self, v: int) -> "Writer":
        return self.raw(struct.pack(">i", v))

    def int64(self, v: int) -> "Writer":
        return self.raw(struct.pack(">q", v))

    def uvarint(self, v: int) -> "Writer":
        out = bytearray()
        while True:
            b = v & 0x7F
            v >>= 7
            if v:
                out.append(b | 0x80)
            else:
                out.append(b)
                return self.raw(bytes(out))

    def uuid(self, v: uuid.UUID) -> "Writer":
        return self.raw(v.bytes)

    def string(self, s: str | None, compact: bool = False) -> "Writer":
        """STRING / NULLABLE_STRING, or their COMPACT_ forms."""
        if s is None:
            return self.uvarint(0) if compact else self.int16(-1)
        b = s.encode()
        if compact:
            self.uvarint(len(b) + 1)
        else:
            self.int16(len(b))
        return self.raw(b)

    def array_len(self, n: int | None, compact: bool = False) -> "Writer":
        """The length prefix of an ARRAY (None: a null array)."""
        if compact:
            return self.uvarint(0 if n is None else n + 1)
        return self.int32(-1 if n is None else n)

    def empty_tagged_fields(self) -> "Writer":
        return self.uvarint(0)


class Reader:
    def __init__(self, data: bytes, what: str = "frame") -> None:
        self.data = data
        self.pos = 0
        self.what = what

    def remaining(self) -> int:
        return len(self.data) - self.pos

    def expect_end(self) -> None:
        if self.remaining():
            raise DecodeError(
                f"{self.what}: {self.remaining()} unread bytes at offset {self.pos}: "
                f"{self.data[self.pos:self.pos + 32].hex()}")

    def take(self, n: int) -> bytes:
        if n < 0 or self.pos + n > len(self.data):
            raise DecodeError(
                f"{self.what}: wanted {n} bytes at offset {self.pos}, have {self.remaining()}")
        b = self.data[self.pos:self.pos + n]
        self.pos += n
        return b

    def _unpack(self, fmt: str) -> int:
        return struct.unpack(fmt, self.take(struct.calcsize(fmt)))[0]

    def int8(self) -> int:
        return self._unpack(">b")

    def bool(self) -> bool:
        v = self.int8()
        if v not in (0, 1):
            raise DecodeError(f"{self.what}: boolean byte {v} at offset {self.pos - 1}")
        return bool(v)

    def int16(self) -> int:
        return self._unpack(">h")

    def int32(self) -> int:
        return self._unpack(">i")

    def int64(self) -> int:
        return self._unpack(">q")

    def uvarint(self) -> int:
        shift = value = 0
        while True:
            b = self.take(1)[0]
            value |= (b & 0x7F) << shift
            if not b & 0x80:
                return value
            shift += 7
            if shift > 28:
                raise DecodeError(f"{self.what}: unsigned varint longer than 5 bytes")

    def uuid(self) -> uuid.UUID:
        return uuid.UUID(bytes=self.take(16))

    def string(self, compact: bool = False, nullable: bool = False) -> str | None:
        n = self.uvarint() - 1 if compact else self.int16()
        if n == -1:
            if not nullable:
                raise DecodeError(f"{self.what}: null in a non-nullable string")
            return None
        if n < 0:
            raise DecodeError(f"{self.what}: string length {n}")
        return self.take(n).decode()

    def array_len(self, compact: bool = False, nullable: bool = False) -> int | None:
        n = self.uvarint() - 1 if compact else self.int32()
        if n == -1:
            if not nullable:
                raise DecodeError(f"{self.what}: null in a non-nullable array")
            return None
        if n < 0 or n > self.remaining():
            raise DecodeError(f"{self.what}: array length {n} with {self.remaining()} bytes left")
        return n

    def int32_array(self, compact: bool = False) -> list[int]:
        n = self.array_len(compact)
        return [self.int32() for _ in range(n)]

    def tagged_fields(self) -> dict[int, bytes]:
        """Reads a tagged-field section; returns the raw value of each tag."""
        fields: dict[int, bytes] = {}
        last = -1
        for _ in range(self.uvarint()):
            tag = self.uvarint()
            if tag <= last:
                raise DecodeError(f"{self.what}: tags out of order ({tag} after {last})")
            last = tag
            fields[tag] = self.take(self.uvarint())
        return fields


# ---- framing -----------------------------------------------------------------

def frame(payload: bytes) -> bytes:
    return struct.pack(">i", len(payload)) + payload


def request_header(api_key: int, api_version: int, correlation_id: int,
                   client_id: str | None = "floe-tests",
                   header_version: int | None = None) -> bytes:
    hv = request_header_version(api_key, api_version) if header_version is None else header_version
    w = Writer().int16(api_key).int16(api_version).int32(correlation_id)
    if hv >= 1:
        w.string(client_id)  # never compact, even in header v2
    if hv >= 2:
        w.empty_tagged_fields()
    return w.bytes()


def encode_request(api_key: int, api_version: int, correlation_id: int, body: bytes,
                   client_id: str | None = "floe-tests",
                   header_version: int | None = None) -> bytes:
    return frame(request_header(api_key, api_version, correlation_id, client_id,
                                header_version) + body)


def read_response_header(r: Reader, header_version: int) -> int:
    correlation_id = r.int32()
    if header_version >= 1:
        r.tagged_fields()
    return correlation_id


# ---- ApiVersions (key 18) ----------------------------------------------------

def encode_api_versions_request(version: int, software_name: str = "floe-tests",
                                software_version: str = "1.0") -> bytes:
    w = Writer()
    if version >= 3:
        w.string(software_name, compact=True).string(software_version, compact=True)
        w.empty_tagged_fields()
    return w.bytes()


@dataclass
class ApiVersionsResponse:
    error_code: int
    api_keys: list[tuple[int, int, int]]  # (api_key, min_version, max_version), as sent
    throttle_time_ms: int | None = None
    tagged_fields: dict[int, bytes] = field(default_factory=dict)

    def ranges(self) -> dict[int, tuple[int, int]]:
        return {k: (lo, hi) for k, lo, hi in self.api_keys}


def decode_api_versions_response(r: Reader, version: int) -> ApiVersionsResponse:
    flexible = version >= 3
    error_code = r.int16()
    keys = []
    for _ in range(r.array_len(compact=flexible)):
        keys.append((r.int16(), r.int16(), r.int16()))
        if flexible:
            r.tagged_fields()
    resp = ApiVersionsResponse(error_code, keys)
    if version >= 1:
        resp.throttle_time_ms = r.int32()
    if flexible:
        resp.tagged_fields = r.tagged_fields()
    return resp


# ---- Metadata (key 3) --------------------------------------------------------

def encode_metadata_request(version: int, topics: list[str] | None = None,
                            allow_auto_topic_creation: bool = True) -> bytes:
    """topics=None asks for all topics (an empty array in v0, a null array in v1+)."""
    flexible = version >= 9
    w = Writer()
    if topics is None:
        w.array_len(0 if version == 0 else None, compact=flexible)
    else:
        w.array_len(len(topics), compact=flexible)
        for name in topics:
            if version >= 10:
                w.uuid(uuid.UUID(int=0))
            w.string(name, compact=flexible)
            if flexible:
                w.empty_tagged_fields()
    if version >= 4:
        w.bool(allow_auto_topic_creation)
    if 8 <= version <= 10:
        w.bool(False)  # include_cluster_authorized_operations
    if version >= 8:
        w.bool(False)  # include_topic_authorized_operations
    if flexible:
        w.empty_tagged_fields()
    return w.bytes()


@dataclass
class MetadataBroker:
    node_id: int
    host: str
    port: int
    rack: str | None = None


@dataclass
class MetadataPartition:
    error_code: int
    partition_index: int
    leader_id: int
    leader_epoch: int | None
    replica_nodes: list[int]
    isr_nodes: list[int]
    offline_replicas: list[int] | None


@dataclass
class MetadataTopic:
    error_code: int
    name: str | None
    topic_id: uuid.UUID | None
    is_internal: bool | None
    partitions: list[MetadataPartition]


@dataclass
class MetadataResponse:
    throttle_time_ms: int | None
    brokers: list[MetadataBroker]
    cluster_id: str | None
    controller_id: int | None
    topics: list[MetadataTopic]


def decode_metadata_response(r: Reader, version: int) -> MetadataResponse:
    flexible = version >= 9
    throttle = r.int32() if version >= 3 else None

    brokers = []
    for _ in range(r.array_len(compact=flexible)):
        b = MetadataBroker(r.int32(), r.string(compact=flexible), r.int32())
        if version >= 1:
            b.rack = r.string(compact=flexible, nullable=True)
        if flexible:
            r.tagged_fields()
        brokers.append(b)

    cluster_id = r.string(compact=flexible, nullable=True) if version >= 2 else None
    controller_id = r.int32() if version >= 1 else None

    topics = []
    for _ in range(r.array_len(compact=flexible)):
        error_code = r.int16()
        name = r.string(compact=flexible, nullable=version >= 12)
        topic_id = r.uuid() if version >= 10 else None
        is_internal = r.bool() if version >= 1 else None
        partitions = []
        for _ in range(r.array_len(compact=flexible)):
            p_error, index, leader = r.int16(), r.int32(), r.int32()
            epoch = r.int32() if version >= 7 else None
            replicas = r.int32_array(compact=flexible)
            isr = r.int32_array(compact=flexible)
            offline = r.int32_array(compact=flexible) if version >= 5 else None
            if flexible:
                r.tagged_fields()
            partitions.append(MetadataPartition(p_error, index, leader, epoch, replicas, isr,
                                                offline))
        if version >= 8:
            r.int32()  # topic_authorized_operations
        if flexible:
            r.tagged_fields()
        topics.append(MetadataTopic(error_code, name, topic_id, is_internal, partitions))

    if 8 <= version <= 10:
        r.int32()  # cluster_authorized_operations
    if flexible:
        r.tagged_fields()
    return MetadataResponse(throttle, brokers, cluster_id, controller_id, topics)


# ---- one connection ------------------------------------------------------------

class ConnectionClosed(Exception):
    pass


class Connection:
    """A blocking client connection; every read is bounded by `timeout` seconds."""

    def __init__(self, host: str, port: int, timeout: float = 10.0) -> None:
        self.sock = socket.create_connection((host, port), timeout=timeout)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self._next_correlation_id = 1

    def close(self) -> None:
        self.sock.close()

    def __enter__(self) -> "Connection":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def next_correlation_id(self) -> int:
        cid = self._next_correlation_id
        self._next_correlation_id += 1
        return cid

    def send_raw(self, data: bytes) -> None:
        self.sock.sendall(data)

    def send_request(self, api_key: int, api_version: int, body: bytes,
                     correlation_id: int | None = None, **header_kw) -> int:
        cid = self.next_correlation_id() if correlation_id is None else correlation_id
        self.send_raw(encode_request(api_key, api_version, cid, body, **header_kw))
        return cid

    def _recv_exact(self, n: int) -> bytes:
        buf = bytearray()
        while len(buf) < n:
            try:
                chunk = self.sock.recv(n - len(buf))
            except ConnectionResetError as e:
                raise ConnectionClosed(f"connection reset after {len(buf)} of {n} bytes") from e
            if not chunk:
                raise ConnectionClosed(f"connection closed after {len(buf)} of {n} bytes")
            buf += chunk
        return bytes(buf)

    def recv_frame(self) -> bytes:
        (size,) = struct.unpack(">i", self._recv_exact(4))
        if size < 0:
            raise DecodeError(f"negative response frame size {size}")
        return self._recv_exact(size)

    def recv_response(self, api_key: int, api_version: int, correlation_id: int) -> Reader:
        """Reads one response frame, checks its correlation id, returns a reader at the body."""
        r = Reader(self.recv_frame(), f"response to api {api_key} v{api_version}")
        got = read_response_header(r, response_header_version(api_key, api_version))
        if got != correlation_id:
            raise DecodeError(f"correlation id {got}, expected {correlation_id}")
        return r

    def api_versions(self, version: int = 3) -> ApiVersionsResponse:
        cid = self.send_request(API_VERSIONS, version, encode_api_versions_request(version))
        r = self.recv_response(API_VERSIONS, version, cid)
        resp = decode_api_versions_response(r, version)
        r.expect_end()
        return resp

    def metadata(self, version: int, topics: list[str] | None = None,
                 allow_auto_topic_creation: bool = True) -> MetadataResponse:
        cid = self.send_request(METADATA, version,
                                encode_metadata_request(version, topics,
                                                        allow_auto_topic_creation))
        r = self.recv_response(METADATA, version, cid)
        resp = decode_metadata_response(r, version)
        r.expect_end()
        return resp

    def wait_closed_by_peer(self) -> bytes:
        """Reads until the peer closes; returns what arrived first.

        Raises socket.timeout if the peer keeps the connection open past the timeout.
        """
        received = bytearray()
        while True:
            try:
                chunk = self.sock.recv(65536)
            except ConnectionResetError:
                return bytes(received)
            if not chunk:
                return bytes(received)
            received += chunk


# ==== data path: record batches, Produce, Fetch, ListOffsets ==========================
#
# Independent of floe's codecs like the rest of this file. Layouts follow Kafka's
# ProduceRequest/Response, FetchRequest/Response, ListOffsetsRequest/Response specs and
# the record batch v2 format (DefaultRecordBatch / DefaultRecord in Kafka's clients).

PRODUCE = 0
FETCH = 1
LIST_OFFSETS = 2

OFFSET_OUT_OF_RANGE = 1
CORRUPT_MESSAGE = 2
MESSAGE_TOO_LARGE = 10
INVALID_TOPIC_EXCEPTION = 17
TOPIC_ALREADY_EXISTS = 36
INVALID_CONFIG = 40
INVALID_RECORD = 87

# ListOffsets special timestamps.
LATEST_TIMESTAMP = -1
EARLIEST_TIMESTAMP = -2
MAX_TIMESTAMP = -3          # v7+
EARLIEST_LOCAL_TIMESTAMP = -4  # v8+

# Record batch attributes: the low 3 bits are the codec.
COMPRESSION_NONE, COMPRESSION_GZIP, COMPRESSION_SNAPPY, COMPRESSION_LZ4, COMPRESSION_ZSTD = range(5)
CODEC_IDS = {"none": 0, "gzip": 1, "snappy": 2, "lz4": 3, "zstd": 4}
ATTR_TIMESTAMP_LOG_APPEND = 0x08
ATTR_TRANSACTIONAL = 0x10
ATTR_CONTROL = 0x20


# ---- CRC-32C (Castagnoli), table-driven; Python's stdlib has only CRC-32 -----------

def _crc32c_table() -> list[int]:
    table = []
    for n in range(256):
        c = n
        for _ in range(8):
            c = (c >> 1) ^ 0x82F63B78 if c & 1 else c >> 1
        table.append(c)
    return table


_CRC32C_TABLE = _crc32c_table()


def crc32c(data: bytes, crc: int = 0) -> int:
    crc ^= 0xFFFFFFFF
    table = _CRC32C_TABLE
    for b in data:
        crc = table[(crc ^ b) & 0xFF] ^ (crc >> 8)
    return crc ^ 0xFFFFFFFF


# ---- zigzag varints (records use signed varints) -------------------------------------

def _zigzag(v: int) -> int:
    return (v << 1) ^ (v >> 63)


def encode_varint(v: int) -> bytes:
    return Writer().uvarint(_zigzag(v) & 0xFFFFFFFFFFFFFFFF).bytes()


def _read_varint(r: Reader) -> int:
    shift = value = 0
    while True:
        b = r.take(1)[0]
        value |= (b & 0x7F) << shift
        if not b & 0x80:
            break
        shift += 7
        if shift > 63:
            raise DecodeError(f"{r.what}: varint longer than 10 bytes")
    return (value >> 1) ^ -(value & 1)


# ---- record batch v2 ----------------------------------------------------------------

@dataclass
class Record:
    key: bytes | None
    value: bytes | None
    headers: list[tuple[str, bytes | None]] = field(default_factory=list)
    timestamp_delta: int = 0
    offset_delta: int | None = None  # None: its index in the batch


def encode_record(rec: Record, offset_delta: int) -> bytes:
    body = bytearray()
    body += b"\x00"  # attributes (unused)
    body += encode_varint(rec.timestamp_delta)
    body += encode_varint(offset_delta)
    for part in (rec.key, rec.value):
        if part is None:
            body += encode_varint(-1)
        else:
            body += encode_varint(len(part)) + part
    body += encode_varint(len(rec.headers))
    for hk, hv in rec.headers:
        kb = hk.encode()
        body += encode_varint(len(kb)) + kb
        body += encode_varint(-1) if hv is None else encode_varint(len(hv)) + hv
    return encode_varint(len(body)) + bytes(body)


def compress(codec: int, data: bytes) -> bytes:
    if codec == COMPRESSION_NONE:
        return data
    if codec == COMPRESSION_GZIP:
        import gzip
        return gzip.compress(data)
    if codec == COMPRESSION_SNAPPY:
        import snappy
        return snappy.compress(data)
    if codec == COMPRESSION_LZ4:
        import lz4.frame
        return lz4.frame.compress(data)
    if codec == COMPRESSION_ZSTD:
        import zstandard
        return zstandard.ZstdCompressor().compress(data)
    raise ValueError(f"codec {codec}")


_XERIAL_MAGIC = b"\x82SNAPPY\x00"


def decompress(codec: int, data: bytes) -> bytes:
    if codec == COMPRESSION_NONE:
        return data
    if codec == COMPRESSION_GZIP:
        import gzip
        return gzip.decompress(data)
    if codec == COMPRESSION_SNAPPY:
        import snappy
        if data.startswith(_XERIAL_MAGIC):  # xerial framing (Java clients): 16-byte header, chunks
            r = Reader(data[16:], "xerial snappy")
            out = bytearray()
            while r.remaining():
                out += snappy.decompress(r.take(r.int32()))
            return bytes(out)
        return snappy.decompress(data)
    if codec == COMPRESSION_LZ4:
        import lz4.frame
        return lz4.frame.decompress(data)
    if codec == COMPRESSION_ZSTD:
        import zstandard
        return zstandard.ZstdDecompressor().decompressobj().decompress(data)
    raise DecodeError(f"unknown compression codec {codec}")


def build_record_batch(records: list[Record], *, base_offset: int = 0, base_timestamp: int = 0,
                       max_timestamp: int | None = None, producer_id: int = -1,
                       producer_epoch: int = -1, base_sequence: int = -1,
                       attributes: int = 0, compression: int = COMPRESSION_NONE,
                       partition_leader_epoch: int = -1, magic: int = 2,
                       corrupt_crc: bool = False) -> bytes:
    """One record batch v2; max_timestamp defaults to the largest record timestamp."""
    encoded = b"".join(encode_record(rec, i if rec.offset_delta is None else rec.offset_delta)
                       for i, rec in enumerate(records))
    last_offset_delta = max((i if rec.offset_delta is None else rec.offset_delta)
                            for i, rec in enumerate(records)) if records else 0
    if max_timestamp is None:
        max_timestamp = base_timestamp + max((r.timestamp_delta for r in records), default=0)
    attrs = (attributes & ~0x07) | compression
    after_crc = (Writer().int16(attrs).int32(last_offset_delta).int64(base_timestamp)
                 .int64(max_timestamp).int64(producer_id).int16(producer_epoch)
                 .int32(base_sequence).int32(len(records)).bytes()
                 + compress(compression, encoded))
    crc = crc32c(after_crc)
    if corrupt_crc:
        crc ^= 0xDEADBEEF
    after_length = (Writer().int32(partition_leader_epoch).int8(magic).raw(struct.pack(">I", crc))
                    .bytes() + after_crc)
    return Writer().int64(base_offset).int32(len(after_length)).bytes() + after_length


def build_message_set_v1(key: bytes | None, value: bytes | None, timestamp: int = 0,
                         offset: int = 0) -> bytes:
    """A magic 1 (pre-0.11) message set of one uncompressed message."""
    import zlib
    w = Writer().int8(1).int8(0).int64(timestamp)
    for part in (key, value):
        if part is None:
            w.int32(-1)
        else:
            w.int32(len(part)).raw(part)
    body = w.bytes()
    msg = struct.pack(">I", zlib.crc32(body)) + body
    return Writer().int64(offset).int32(len(msg)).raw(msg).bytes()


@dataclass
class FetchedRecord:
    offset: int
    timestamp: int
    key: bytes | None
    value: bytes | None
    headers: list[tuple[str, bytes | None]]


@dataclass
class RecordBatch:
    base_offset: int
    partition_leader_epoch: int
    magic: int
    crc: int
    attributes: int
    last_offset_delta: int
    base_timestamp: int
    max_timestamp: int
    producer_id: int
    producer_epoch: int
    base_sequence: int
    records: list[FetchedRecord]

    @property
    def compression(self) -> int:
        return self.attributes & 0x07

    @property
    def log_append_time(self) -> bool:
        return bool(self.attributes & ATTR_TIMESTAMP_LOG_APPEND)

    @property
    def last_offset(self) -> int:
        return self.base_offset + self.last_offset_delta


def _decode_records(data: bytes, count: int, base_offset: int, base_timestamp: int,
                    what: str) -> list[FetchedRecord]:
    r = Reader(data, what)
    out = []
    for _ in range(count):
        length = _read_varint(r)
        rr = Reader(r.take(length), what + " record")
        rr.int8()  # attributes
        ts_delta = _read_varint(rr)
        off_delta = _read_varint(rr)
        parts = []
        for _ in range(2):
            n = _read_varint(rr)
            parts.append(None if n < 0 else rr.take(n))
        headers = []
        for _ in range(_read_varint(rr)):
            hk = rr.take(_read_varint(rr)).decode()
            n = _read_varint(rr)
            headers.append((hk, None if n < 0 else rr.take(n)))
        rr.expect_end()
        out.append(FetchedRecord(base_offset + off_delta, base_timestamp + ts_delta,
                                 parts[0], parts[1], headers))
    r.expect_end()
    return out


def parse_record_batches(data: bytes, allow_partial_tail: bool = True) -> list[RecordBatch]:
    """Every whole batch in `data`; checks magic 2 and the CRC-32C of each.

    A fetch response may end with a partial batch; it is dropped when allowed.
    """
    batches = []
    r = Reader(data, "records")
    while r.remaining():
        if r.remaining() < 12:
            if allow_partial_tail:
                break
            raise DecodeError(f"records: {r.remaining()} trailing bytes")
        base_offset = r.int64()
        length = r.int32()
        if length > r.remaining():
            if allow_partial_tail:
                break
            raise DecodeError(f"records: batch length {length} with {r.remaining()} bytes left")
        br = Reader(r.take(length), f"batch at offset {base_offset}")
        leader_epoch = br.int32()
        magic = br.int8()
        if magic != 2:
            raise DecodeError(f"batch at offset {base_offset}: magic {magic}")
        crc = struct.unpack(">I", br.take(4))[0]
        rest = br.data[br.pos:]
        if crc32c(rest) != crc:
            raise DecodeError(f"batch at offset {base_offset}: CRC-32C mismatch")
        attrs = br.int16()
        last_offset_delta = br.int32()
        base_ts, max_ts = br.int64(), br.int64()
        pid, epoch, seq = br.int64(), br.int16(), br.int32()
        count = br.int32()
        payload = decompress(attrs & 0x07, br.take(br.remaining()))
        recs = _decode_records(payload, count, base_offset, base_ts,
                               f"batch at offset {base_offset}")
        if attrs & ATTR_TIMESTAMP_LOG_APPEND:
            for rec in recs:  # LogAppendTime: every record carries the batch's max timestamp
                rec.timestamp = max_ts
        batches.append(RecordBatch(base_offset, leader_epoch, magic, crc, attrs,
                                   last_offset_delta, base_ts, max_ts, pid, epoch, seq, recs))
    return batches


def _read_nullable_bytes(r: Reader, compact: bool) -> bytes | None:
    n = r.uvarint() - 1 if compact else r.int32()
    if n == -1:
        return None
    if n < 0:
        raise DecodeError(f"{r.what}: bytes length {n}")
    return r.take(n)


def _write_nullable_bytes(w: Writer, b: bytes | None, compact: bool) -> None:
    if b is None:
        w.uvarint(0) if compact else w.int32(-1)
    else:
        w.uvarint(len(b) + 1) if compact else w.int32(len(b))
        w.raw(b)


# ---- Produce (key 0) ------------------------------------------------------------------

def encode_produce_request(version: int, topics: dict[str, dict[int, bytes | None]],
                           acks: int = -1, timeout_ms: int = 10000,
                           transactional_id: str | None = None) -> bytes:
    """topics: {name: {partition: records bytes}}, in the order given."""
    flexible = version >= 9
    w = Writer()
    if version >= 3:
        w.string(transactional_id, compact=flexible)
    w.int16(acks).int32(timeout_ms)
    w.array_len(len(topics), compact=flexible)
    for name, parts in topics.items():
        w.string(name, compact=flexible)
        w.array_len(len(parts), compact=flexible)
        for index, records in parts.items():
            w.int32(index)
            _write_nullable_bytes(w, records, flexible)
            if flexible:
                w.empty_tagged_fields()
        if flexible:
            w.empty_tagged_fields()
    if flexible:
        w.empty_tagged_fields()
    return w.bytes()


@dataclass
class ProducePartitionResponse:
    index: int
    error_code: int
    base_offset: int
    log_append_time_ms: int | None = None
    log_start_offset: int | None = None
    record_errors: list[tuple[int, str | None]] = field(default_factory=list)
    error_message: str | None = None


@dataclass
class ProduceResponse:
    topics: dict[str, dict[int, ProducePartitionResponse]]
    throttle_time_ms: int | None = None

    def partition(self, topic: str, index: int) -> ProducePartitionResponse:
        return self.topics[topic][index]


def decode_produce_response(r: Reader, version: int) -> ProduceResponse:
    flexible = version >= 9
    topics: dict[str, dict[int, ProducePartitionResponse]] = {}
    for _ in range(r.array_len(compact=flexible)):
        name = r.string(compact=flexible)
        parts = topics.setdefault(name, {})
        for _ in range(r.array_len(compact=flexible)):
            p = ProducePartitionResponse(r.int32(), r.int16(), r.int64())
            if version >= 2:
                p.log_append_time_ms = r.int64()
            if version >= 5:
                p.log_start_offset = r.int64()
            if version >= 8:
                for _ in range(r.array_len(compact=flexible)):
                    p.record_errors.append((r.int32(), r.string(compact=flexible, nullable=True)))
                    if flexible:
                        r.tagged_fields()
                p.error_message = r.string(compact=flexible, nullable=True)
            if flexible:
                r.tagged_fields()
            parts[p.index] = p
        if flexible:
            r.tagged_fields()
    resp = ProduceResponse(topics)
    if version >= 1:
        resp.throttle_time_ms = r.int32()
    if flexible:
        r.tagged_fields()
    return resp


# ---- Fetch (key 1), v4-v12 ---------------------------------------------------------

def encode_fetch_request(version: int, topics: dict[str, dict[int, int]],
                         max_wait_ms: int = 0, min_bytes: int = 1,
                         max_bytes: int = 0x7FFFFFFF, partition_max_bytes: int = 1 << 20,
                         isolation_level: int = 0) -> bytes:
    """topics: {name: {partition: fetch offset}}; v4-v12 (topics by name)."""
    if not 4 <= version <= 12:
        raise ValueError("this encoder covers Fetch v4-v12")
    flexible = version >= 12
    w = Writer().int32(-1).int32(max_wait_ms).int32(min_bytes).int32(max_bytes)
    w.int8(isolation_level)
    if version >= 7:
        w.int32(0).int32(-1)  # session id, epoch: no fetch session
    w.array_len(len(topics), compact=flexible)
    for name, parts in topics.items():
        w.string(name, compact=flexible)
        w.array_len(len(parts), compact=flexible)
        for index, offset in parts.items():
            w.int32(index)
            if version >= 9:
                w.int32(-1)  # current leader epoch
            w.int64(offset)
            if version >= 12:
                w.int32(-1)  # last fetched epoch
            if version >= 5:
                w.int64(-1)  # log start offset (followers only)
            w.int32(partition_max_bytes)
            if flexible:
                w.empty_tagged_fields()
        if flexible:
            w.empty_tagged_fields()
    if version >= 7:
        w.array_len(0, compact=flexible)  # forgotten topics
    if version >= 11:
        w.string("", compact=flexible)  # rack id
    if flexible:
        w.empty_tagged_fields()
    return w.bytes()


@dataclass
class FetchPartitionResponse:
    index: int
    error_code: int
    high_watermark: int
    last_stable_offset: int
    log_start_offset: int | None
    aborted_transactions: list[tuple[int, int]] | None
    preferred_read_replica: int | None
    records: bytes | None

    def batches(self) -> list[RecordBatch]:
        return parse_record_batches(self.records or b"")

    def fetched(self) -> list[FetchedRecord]:
        return [rec for b in self.batches() for rec in b.records]


@dataclass
class FetchResponse:
    throttle_time_ms: int
    error_code: int
    session_id: int
    topics: dict[str, dict[int, FetchPartitionResponse]]

    def partition(self, topic: str, index: int) -> FetchPartitionResponse:
        return self.topics[topic][index]


def decode_fetch_response(r: Reader, version: int) -> FetchResponse:
    flexible = version >= 12
    throttle = r.int32()
    error_code = r.int16() if version >= 7 else 0
    session_id = r.int32() if version >= 7 else 0
    topics: dict[str, dict[int, FetchPartitionResponse]] = {}
    for _ in range(r.array_len(compact=flexible)):
        name = r.string(compact=flexible)
        parts = topics.setdefault(name, {})
        for _ in range(r.array_len(compact=flexible)):
            index, err, hw, lso = r.int32(), r.int16(), r.int64(), r.int64()
            lso_start = r.int64() if version >= 5 else None
            aborted = None
            n = r.array_len(compact=flexible, nullable=True)
            if n is not None:
                aborted = []
                for _ in range(n):
                    aborted.append((r.int64(), r.int64()))
                    if flexible:
                        r.tagged_fields()
            preferred = r.int32() if version >= 11 else None
            records = _read_nullable_bytes(r, flexible)
            if flexible:
                r.tagged_fields()
            parts[index] = FetchPartitionResponse(index, err, hw, lso, lso_start, aborted,
                                                  preferred, records)
        if flexible:
            r.tagged_fields()
    if flexible:
        r.tagged_fields()
    return FetchResponse(throttle, error_code, session_id, topics)


# ---- ListOffsets (key 2) -------------------------------------------------------------

def encode_list_offsets_request(version: int, topics: dict[str, dict[int, int]],
                                isolation_level: int = 0, max_num_offsets: int = 1) -> bytes:
    """topics: {name: {partition: timestamp}} (or a LATEST/EARLIEST/... constant)."""
    flexible = version >= 6
    w = Writer().int32(-1)
    if version >= 2:
        w.int8(isolation_level)
    w.array_len(len(topics), compact=flexible)
    for name, parts in topics.items():
        w.string(name, compact=flexible)
        w.array_len(len(parts), compact=flexible)
        for index, ts in parts.items():
            w.int32(index)
            if version >= 4:
                w.int32(-1)  # current leader epoch
            w.int64(ts)
            if version == 0:
                w.int32(max_num_offsets)
            if flexible:
                w.empty_tagged_fields()
        if flexible:
            w.empty_tagged_fields()
    if version >= 10:
        w.int32(10000)
    if flexible:
        w.empty_tagged_fields()
    return w.bytes()


@dataclass
class ListOffsetsPartitionResponse:
    index: int
    error_code: int
    old_style_offsets: list[int] | None = None
    timestamp: int | None = None
    offset: int | None = None
    leader_epoch: int | None = None


def decode_list_offsets_response(r: Reader, version: int
                                 ) -> dict[str, dict[int, ListOffsetsPartitionResponse]]:
    flexible = version >= 6
    if version >= 2:
        r.int32()  # throttle
    topics: dict[str, dict[int, ListOffsetsPartitionResponse]] = {}
    for _ in range(r.array_len(compact=flexible)):
        name = r.string(compact=flexible)
        parts = topics.setdefault(name, {})
        for _ in range(r.array_len(compact=flexible)):
            p = ListOffsetsPartitionResponse(r.int32(), r.int16())
            if version == 0:
                p.old_style_offsets = [r.int64() for _ in range(r.array_len())]
            else:
                p.timestamp, p.offset = r.int64(), r.int64()
            if version >= 4:
                p.leader_epoch = r.int32()
            if flexible:
                r.tagged_fields()
            parts[p.index] = p
        if flexible:
            r.tagged_fields()
    if flexible:
        r.tagged_fields()
    return topics


def _roundtrip(conn: "Connection", api_key: int, version: int, body: bytes, decode):
    cid = conn.send_request(api_key, version, body)
    r = conn.recv_response(api_key, version, cid)
    resp = decode(r, version)
    r.expect_end()
    return resp


def produce(conn: "Connection", version: int, topics: dict[str, dict[int, bytes | None]],
            **kw) -> ProduceResponse:
    return _roundtrip(conn, PRODUCE, version, encode_produce_request(version, topics, **kw),
                      decode_produce_response)


def fetch(conn: "Connection", version: int, topics: dict[str, dict[int, int]],
          **kw) -> FetchResponse:
    return _roundtrip(conn, FETCH, version, encode_fetch_request(version, topics, **kw),
                      decode_fetch_response)


def list_offsets(conn: "Connection", version: int, topics: dict[str, dict[int, int]],
                 **kw) -> dict[str, dict[int, ListOffsetsPartitionResponse]]:
    return _roundtrip(conn, LIST_OFFSETS, version,
                      encode_list_offsets_request(version, topics, **kw),
                      decode_list_offsets_response)


# ---- InitProducerId (key 22), non-transactional ---------------------------------------

INIT_PRODUCER_ID = 22
INCREMENTAL_ALTER_CONFIGS = 44
OUT_OF_ORDER_SEQUENCE_NUMBER = 45
DUPLICATE_SEQUENCE_NUMBER = 46
INVALID_PRODUCER_EPOCH = 47


def encode_init_producer_id_request(version: int, transactional_id: str | None = None,
                                    transaction_timeout_ms: int = 60000,
                                    producer_id: int = -1, producer_epoch: int = -1) -> bytes:
    flexible = version >= 2
    w = Writer().string(transactional_id, compact=flexible).int32(transaction_timeout_ms)
    if version >= 3:
        w.int64(producer_id).int16(producer_epoch)
    if flexible:
        w.empty_tagged_fields()
    return w.bytes()


@dataclass
class InitProducerIdResponse:
    throttle_time_ms: int
    error_code: int
    producer_id: int
    producer_epoch: int


def decode_init_producer_id_response(r: Reader, version: int) -> InitProducerIdResponse:
    resp = InitProducerIdResponse(r.int32(), r.int16(), r.int64(), r.int16())
    if version >= 2:
        r.tagged_fields()
    return resp


def init_producer_id(conn: "Connection", version: int = 4, **kw) -> InitProducerIdResponse:
    return _roundtrip(conn, INIT_PRODUCER_ID, version,
                      encode_init_producer_id_request(version, **kw),
                      decode_init_producer_id_response)


# ---- IncrementalAlterConfigs (key 44) -------------------------------------------------

RESOURCE_TOPIC = 2
RESOURCE_BROKER = 4
CONFIG_SET, CONFIG_DELETE, CONFIG_APPEND, CONFIG_SUBTRACT = range(4)


def encode_incremental_alter_configs_request(
        version: int, resources: list[tuple[int, str, list[tuple[str, int, str | None]]]],
        validate_only: bool = False) -> bytes:
    """resources: [(resource type, name, [(config name, operation, value)])]."""
    flexible = version >= 1
    w = Writer().array_len(len(resources), compact=flexible)
    for rtype, name, configs in resources:
        w.int8(rtype).string(name, compact=flexible)
        w.array_len(len(configs), compact=flexible)
        for cname, op, value in configs:
            w.string(cname, compact=flexible).int8(op).string(value, compact=flexible)
            if flexible:
                w.empty_tagged_fields()
        if flexible:
            w.empty_tagged_fields()
    w.bool(validate_only)
    if flexible:
        w.empty_tagged_fields()
    return w.bytes()


def decode_incremental_alter_configs_response(r: Reader, version: int
                                              ) -> list[tuple[int, str | None, int, str]]:
    """[(error code, error message, resource type, resource name)]."""
    flexible = version >= 1
    r.int32()  # throttle
    out = []
    for _ in range(r.array_len(compact=flexible)):
        out.append((r.int16(), r.string(compact=flexible, nullable=True), r.int8(),
                    r.string(compact=flexible)))
        if flexible:
            r.tagged_fields()
    if flexible:
        r.tagged_fields()
    return out


def incremental_alter_configs(conn: "Connection", version: int, resources, **kw):
    return _roundtrip(conn, INCREMENTAL_ALTER_CONFIGS, version,
                      encode_incremental_alter_configs_request(version, resources, **kw),
                      decode_incremental_alter_configs_response)


# ---- DeleteRecords (key 21) -----------------------------------------------------------

DELETE_RECORDS = 21


def encode_delete_records_request(version: int, topics: dict[str, dict[int, int]],
                                  timeout_ms: int = 10000) -> bytes:
    """topics: {name: {partition: offset to delete before (-1: the high watermark)}}."""
    flexible = version >= 2
    w = Writer().array_len(len(topics), compact=flexible)
    for name, parts in topics.items():
        w.string(name, compact=flexible).array_len(len(parts), compact=flexible)
        for index, offset in parts.items():
            w.int32(index).int64(offset)
            if flexible:
                w.empty_tagged_fields()
        if flexible:
            w.empty_tagged_fields()
    w.int32(timeout_ms)
    if flexible:
        w.empty_tagged_fields()
    return w.bytes()


def decode_delete_records_response(r: Reader, version: int
                                   ) -> dict[str, dict[int, tuple[int, int]]]:
    """{name: {partition: (error code, low watermark)}}."""
    flexible = version >= 2
    r.int32()  # throttle
    topics: dict[str, dict[int, tuple[int, int]]] = {}
    for _ in range(r.array_len(compact=flexible)):
        parts = topics.setdefault(r.string(compact=flexible), {})
        for _ in range(r.array_len(compact=flexible)):
            index, low = r.int32(), r.int64()
            parts[index] = (r.int16(), low)
            if flexible:
                r.tagged_fields()
        if flexible:
            r.tagged_fields()
    if flexible:
        r.tagged_fields()
    return topics


def delete_records(conn: "Connection", version: int, topics: dict[str, dict[int, int]], **kw):
    return _roundtrip(conn, DELETE_RECORDS, version,
                      encode_delete_records_request(version, topics, **kw),
                      decode_delete_records_response)


# ==== consumer groups: FindCoordinator, JoinGroup, SyncGroup, Heartbeat, LeaveGroup,
# OffsetCommit, OffsetFetch, ListGroups, DescribeGroups, DeleteGroups, OffsetDelete ======
#
# Layouts follow Kafka's <Api>Request/Response JSON specs, and ConsumerProtocolSubscription /
# ConsumerProtocolAssignment for the bytes that consumers put in JoinGroup and SyncGroup.

OFFSET_COMMIT = 8
OFFSET_FETCH = 9
FIND_COORDINATOR = 10
JOIN_GROUP = 11
HEARTBEAT = 12
LEAVE_GROUP = 13
SYNC_GROUP = 14
DESCRIBE_GROUPS = 15
LIST_GROUPS = 16
DELETE_GROUPS = 42
OFFSET_DELETE = 47

OFFSET_METADATA_TOO_LARGE = 12
COORDINATOR_NOT_AVAILABLE = 15
NOT_COORDINATOR = 16
ILLEGAL_GENERATION = 22
INCONSISTENT_GROUP_PROTOCOL = 23
INVALID_GROUP_ID = 24
UNKNOWN_MEMBER_ID = 25
INVALID_SESSION_TIMEOUT = 26
REBALANCE_IN_PROGRESS = 27
INVALID_REQUEST = 42
NON_EMPTY_GROUP = 68
GROUP_ID_NOT_FOUND = 69
MEMBER_ID_REQUIRED = 79
GROUP_MAX_SIZE_REACHED = 81
FENCED_INSTANCE_ID = 82
GROUP_SUBSCRIBED_TO_TOPIC = 86  # Kafka's Errors (93 is UNACCEPTABLE_CREDENTIAL)

COORDINATOR_GROUP = 0        # FindCoordinator key types
COORDINATOR_TRANSACTION = 1


def _read_bytes(r: Reader, compact: bool) -> bytes:
    b = _read_nullable_bytes(r, compact)
    if b is None:
        raise DecodeError(f"{r.what}: null in non-nullable bytes")
    return b


class PendingResponse:
    """A request that has been sent and whose response is read later (JoinGroup and
    SyncGroup wait for the rest of the group, so a test sends one, then acts as
    another member on another connection)."""

    def __init__(self, conn: "Connection", api_key: int, version: int, correlation_id: int,
                 decode) -> None:
        self.conn, self.api_key, self.version = conn, api_key, version
        self.correlation_id, self._decode = correlation_id, decode

    def result(self):
        r = self.conn.recv_response(self.api_key, self.version, self.correlation_id)
        resp = self._decode(r, self.version)
        r.expect_end()
        return resp


def _send(conn: "Connection", api_key: int, version: int, body: bytes, decode) -> PendingResponse:
    return PendingResponse(conn, api_key, version, conn.send_request(api_key, version, body),
                           decode)


# ---- embedded consumer protocol (JoinGroup metadata, SyncGroup assignment) -----------

@dataclass
class ConsumerSubscription:
    version: int
    topics: list[str]
    user_data: bytes | None = None
    owned_partitions: dict[str, list[int]] = field(default_factory=dict)
    generation_id: int = -1
    rack_id: str | None = None


def encode_consumer_subscription(topics: list[str], version: int = 0,
                                 user_data: bytes | None = None,
                                 owned_partitions: dict[str, list[int]] | None = None,
                                 generation_id: int = -1, rack_id: str | None = None) -> bytes:
    w = Writer().int16(version).array_len(len(topics))
    for t in topics:
        w.string(t)
    _write_nullable_bytes(w, user_data, False)
    if version >= 1:
        owned = owned_partitions or {}
        w.array_len(len(owned))
        for t, parts in owned.items():
            w.string(t).array_len(len(parts))
            for p in parts:
                w.int32(p)
    if version >= 2:
        w.int32(generation_id)
    if version >= 3:
        w.string(rack_id)
    return w.bytes()


def decode_consumer_subscription(data: bytes) -> ConsumerSubscription:
    """Reads the fields of the version it names; newer versions may carry more (ignored)."""
    r = Reader(data, "consumer subscription")
    version = r.int16()
    sub = ConsumerSubscription(version, [r.string() for _ in range(r.array_len())])
    sub.user_data = _read_nullable_bytes(r, False)
    if version >= 1:
        for _ in range(r.array_len()):
            topic = r.string()
            sub.owned_partitions[topic] = r.int32_array()
    if version >= 2:
        sub.generation_id = r.int32()
    if version >= 3:
        sub.rack_id = r.string(nullable=True)
    return sub


def encode_consumer_assignment(partitions: dict[str, list[int]], version: int = 0,
                               user_data: bytes | None = None) -> bytes:
    w = Writer().int16(version).array_len(len(partitions))
    for t, parts in partitions.items():
        w.string(t).array_len(len(parts))
        for p in parts:
            w.int32(p)
    _write_nullable_bytes(w, user_data, False)
    return w.bytes()


def decode_consumer_assignment(data: bytes) -> dict[str, list[int]]:
    """{topic: partitions}; an empty assignment (zero bytes) is {}."""
    if not data:
        return {}
    r = Reader(data, "consumer assignment")
    r.int16()  # version
    out: dict[str, list[int]] = {}
    for _ in range(r.array_len()):
        out.setdefault(r.string(), []).extend(r.int32_array())
    _read_nullable_bytes(r, False)
    return out


# ---- FindCoordinator (key 10) -----------------------------------------------------------

def encode_find_coordinator_request(version: int, key: str | None = None, key_type: int = 0,
                                    keys: list[str] | None = None) -> bytes:
    """v0-3 take one `key`; v4+ take `keys` (CoordinatorKeys)."""
    flexible = version >= 3
    w = Writer()
    if version <= 3:
        w.string(key, compact=flexible)
    if version >= 1:
        w.int8(key_type)
    if version >= 4:
        w.array_len(len(keys or []), compact=flexible)
        for k in keys or []:
            w.string(k, compact=flexible)
    if flexible:
        w.empty_tagged_fields()
    return w.bytes()


@dataclass
class Coordinator:
    key: str | None  # None before v4 (one coordinator per request)
    node_id: int
    host: str
    port: int
    error_code: int
    error_message: str | None = None


@dataclass
class FindCoordinatorResponse:
    throttle_time_ms: int | None
    coordinators: list[Coordinator]

    @property
    def error_code(self) -> int:  # v0-3
        return self.coordinators[0].error_code


def decode_find_coordinator_response(r: Reader, version: int) -> FindCoordinatorResponse:
    flexible = version >= 3
    throttle = r.int32() if version >= 1 else None
    coordinators = []
    if version <= 3:
        error_code = r.int16()
        message = r.string(compact=flexible, nullable=True) if version >= 1 else None
        node_id, host, port = r.int32(), r.string(compact=flexible), r.int32()
        coordinators.append(Coordinator(None, node_id, host, port, error_code, message))
    else:
        for _ in range(r.array_len(compact=True)):
            key, node_id = r.string(compact=True), r.int32()
            host, port, error_code = r.string(compact=True), r.int32(), r.int16()
            message = r.string(compact=True, nullable=True)
            r.tagged_fields()
            coordinators.append(Coordinator(key, node_id, host, port, error_code, message))
    if flexible:
        r.tagged_fields()
    return FindCoordinatorResponse(throttle, coordinators)


def find_coordinator(conn: "Connection", version: int, **kw) -> FindCoordinatorResponse:
    return _roundtrip(conn, FIND_COORDINATOR, version,
                      encode_find_coordinator_request(version, **kw),
                      decode_find_coordinator_response)


# ---- JoinGroup (key 11) -----------------------------------------------------------------

def encode_join_group_request(version: int, group_id: str, session_timeout_ms: int,
                              member_id: str, protocol_type: str,
                              protocols: list[tuple[str, bytes]],
                              rebalance_timeout_ms: int = -1,
                              group_instance_id: str | None = None,
                              reason: str | None = None) -> bytes:
    """rebalance_timeout_ms=-1: the session timeout (what v0 implies)."""
    flexible = version >= 6
    if rebalance_timeout_ms < 0:
        rebalance_timeout_ms = session_timeout_ms
    w = Writer().string(group_id, compact=flexible).int32(session_timeout_ms)
    if version >= 1:
        w.int32(rebalance_timeout_ms)
    w.string(member_id, compact=flexible)
    if version >= 5:
        w.string(group_instance_id, compact=flexible)
    w.string(protocol_type, compact=flexible)
    w.array_len(len(protocols), compact=flexible)
    for name, metadata in protocols:
        w.string(name, compact=flexible)
        _write_nullable_bytes(w, metadata, flexible)
        if flexible:
            w.empty_tagged_fields()
    if version >= 8:
        w.string(reason, compact=flexible)
    if flexible:
        w.empty_tagged_fields()
    return w.bytes()


@dataclass
class JoinGroupMember:
    member_id: str
    group_instance_id: str | None
    metadata: bytes


@dataclass
class JoinGroupResponse:
    throttle_time_ms: int | None
    error_code: int
    generation_id: int
    protocol_type: str | None
    protocol_name: str | None
    leader: str
    skip_assignment: bool
    member_id: str
    members: list[JoinGroupMember]


def decode_join_group_response(r: Reader, version: int) -> JoinGroupResponse:
    flexible = version >= 6
    throttle = r.int32() if version >= 2 else None
    error_code, generation = r.int16(), r.int32()
    protocol_type = r.string(compact=flexible, nullable=True) if version >= 7 else None
    protocol_name = r.string(compact=flexible, nullable=version >= 7)
    leader = r.string(compact=flexible)
    skip = r.bool() if version >= 9 else False
    member_id = r.string(compact=flexible)
    members = []
    for _ in range(r.array_len(compact=flexible)):
        mid = r.string(compact=flexible)
        instance = r.string(compact=flexible, nullable=True) if version >= 5 else None
        members.append(JoinGroupMember(mid, instance, _read_bytes(r, flexible)))
        if flexible:
            r.tagged_fields()
    if flexible:
        r.tagged_fields()
    return JoinGroupResponse(throttle, error_code, generation, protocol_type, protocol_name,
                             leader, skip, member_id, members)


def send_join_group(conn: "Connection", version: int, *args, **kw) -> PendingResponse:
    return _send(conn, JOIN_GROUP, version, encode_join_group_request(version, *args, **kw),
                 decode_join_group_response)


def join_group(conn: "Connection", version: int, *args, **kw) -> JoinGroupResponse:
    return send_join_group(conn, version, *args, **kw).result()


# ---- SyncGroup (key 14) -----------------------------------------------------------------

def encode_sync_group_request(version: int, group_id: str, generation_id: int, member_id: str,
                              assignments: dict[str, bytes] | None = None,
                              group_instance_id: str | None = None,
                              protocol_type: str | None = None,
                              protocol_name: str | None = None) -> bytes:
    """assignments: {member id: assignment bytes} (the leader's; followers send none)."""
    flexible = version >= 4
    w = Writer().string(group_id, compact=flexible).int32(generation_id)
    w.string(member_id, compact=flexible)
    if version >= 3:
        w.string(group_instance_id, compact=flexible)
    if version >= 5:
        w.string(protocol_type, compact=flexible).string(protocol_name, compact=flexible)
    assignments = assignments or {}
    w.array_len(len(assignments), compact=flexible)
    for mid, data in assignments.items():
        w.string(mid, compact=flexible)
        _write_nullable_bytes(w, data, flexible)
        if flexible:
            w.empty_tagged_fields()
    if flexible:
        w.empty_tagged_fields()
    return w.bytes()


@dataclass
class SyncGroupResponse:
    throttle_time_ms: int | None
    error_code: int
    protocol_type: str | None
    protocol_name: str | None
    assignment: bytes


def decode_sync_group_response(r: Reader, version: int) -> SyncGroupResponse:
    flexible = version >= 4
    throttle = r.int32() if version >= 1 else None
    error_code = r.int16()
    ptype = pname = None
    if version >= 5:
        ptype = r.string(compact=True, nullable=True)
        pname = r.string(compact=True, nullable=True)
    assignment = _read_bytes(r, flexible)
    if flexible:
        r.tagged_fields()
    return SyncGroupResponse(throttle, error_code, ptype, pname, assignment)


def send_sync_group(conn: "Connection", version: int, *args, **kw) -> PendingResponse:
    return _send(conn, SYNC_GROUP, version, encode_sync_group_request(version, *args, **kw),
                 decode_sync_group_response)


def sync_group(conn: "Connection", version: int, *args, **kw) -> SyncGroupResponse:
    return send_sync_group(conn, version, *args, **kw).result()


# ---- Heartbeat (key 12) -----------------------------------------------------------------

def encode_heartbeat_request(version: int, group_id: str, generation_id: int, member_id: str,
                             group_instance_id: str | None = None) -> bytes:
    flexible = version >= 4
    w = Writer().string(group_id, compact=flexible).int32(generation_id)
    w.string(member_id, compact=flexible)
    if version >= 3:
        w.string(group_instance_id, compact=flexible)
    if flexible:
        w.empty_tagged_fields()
    return w.bytes()


def decode_heartbeat_response(r: Reader, version: int) -> int:
    """The error code."""
    if version >= 1:
        r.int32()  # throttle
    error_code = r.int16()
    if version >= 4:
        r.tagged_fields()
    return error_code


def heartbeat(conn: "Connection", version: int, *args, **kw) -> int:
    return _roundtrip(conn, HEARTBEAT, version, encode_heartbeat_request(version, *args, **kw),
                      decode_heartbeat_response)


# ---- LeaveGroup (key 13) ----------------------------------------------------------------

def encode_leave_group_request(version: int, group_id: str,
                               members: list[tuple[str, str | None]],
                               reason: str | None = None) -> bytes:
    """members: [(member id, group instance id)]; v0-2 carry exactly one member id."""
    flexible = version >= 4
    w = Writer().string(group_id, compact=flexible)
    if version <= 2:
        if len(members) != 1:
            raise ValueError("LeaveGroup v0-2 carry exactly one member id")
        w.string(members[0][0])
    else:
        w.array_len(len(members), compact=flexible)
        for mid, instance in members:
            w.string(mid, compact=flexible).string(instance, compact=flexible)
            if version >= 5:
                w.string(reason, compact=flexible)
            if flexible:
                w.empty_tagged_fields()
    if flexible:
        w.empty_tagged_fields()
    return w.bytes()


@dataclass
class LeaveGroupResponse:
    throttle_time_ms: int | None
    error_code: int
    members: list[tuple[str, str | None, int]]  # (member id, instance id, error code), v3+


def decode_leave_group_response(r: Reader, version: int) -> LeaveGroupResponse:
    flexible = version >= 4
    throttle = r.int32() if version >= 1 else None
    error_code = r.int16()
    members = []
    if version >= 3:
        for _ in range(r.array_len(compact=flexible)):
            members.append((r.string(compact=flexible), r.string(compact=flexible, nullable=True),
                            r.int16()))
            if flexible:
                r.tagged_fields()
    if flexible:
        r.tagged_fields()
    return LeaveGroupResponse(throttle, error_code, members)


def leave_group(conn: "Connection", version: int, *args, **kw) -> LeaveGroupResponse:
    return _roundtrip(conn, LEAVE_GROUP, version,
                      encode_leave_group_request(version, *args, **kw),
                      decode_leave_group_response)


# ---- OffsetCommit (key 8) ---------------------------------------------------------------

def _commit_entry(value: int | tuple) -> tuple[int, str | None, int]:
    """(offset, metadata, leader epoch) from an offset or a shorter tuple."""
    if not isinstance(value, tuple):
        value = (value,)
    offset, metadata, epoch = value + (None, "", -1)[len(value):]
    return offset, metadata, epoch


def encode_offset_commit_request(version: int, group_id: str,
                                 topics: dict[str, dict[int, int | tuple]],
                                 generation_id: int = -1, member_id: str = "",
                                 group_instance_id: str | None = None,
                                 retention_time_ms: int = -1,
                                 commit_timestamp: int = -1) -> bytes:
    """topics: {name: {partition: offset | (offset, metadata) | (offset, metadata, leader
    epoch)}}; metadata defaults to "" and the leader epoch to -1."""
    flexible = version >= 8
    w = Writer().string(group_id, compact=flexible)
    if version >= 1:
        w.int32(generation_id).string(member_id, compact=flexible)
    if version >= 7:
        w.string(group_instance_id, compact=flexible)
    if 2 <= version <= 4:
        w.int64(retention_time_ms)
    w.array_len(len(topics), compact=flexible)
    for name, parts in topics.items():
        w.string(name, compact=flexible).array_len(len(parts), compact=flexible)
        for index, value in parts.items():
            offset, metadata, epoch = _commit_entry(value)
            w.int32(index).int64(offset)
            if version >= 6:
                w.int32(epoch)
            if version == 1:
                w.int64(commit_timestamp)
            w.string(metadata, compact=flexible)
            if flexible:
                w.empty_tagged_fields()
        if flexible:
            w.empty_tagged_fields()
    if flexible:
        w.empty_tagged_fields()
    return w.bytes()


@dataclass
class OffsetCommitResponse:
    throttle_time_ms: int | None
    topics: dict[str, dict[int, int]]  # {name: {partition: error code}}

    def errors(self) -> set[int]:
        return {e for parts in self.topics.values() for e in parts.values()}


def decode_offset_commit_response(r: Reader, version: int) -> OffsetCommitResponse:
    flexible = version >= 8
    throttle = r.int32() if version >= 3 else None
    topics: dict[str, dict[int, int]] = {}
    for _ in range(r.array_len(compact=flexible)):
        parts = topics.setdefault(r.string(compact=flexible), {})
        for _ in range(r.array_len(compact=flexible)):
            index = r.int32()
            parts[index] = r.int16()
            if flexible:
                r.tagged_fields()
        if flexible:
            r.tagged_fields()
    if flexible:
        r.tagged_fields()
    return OffsetCommitResponse(throttle, topics)


def offset_commit(conn: "Connection", version: int, *args, **kw) -> OffsetCommitResponse:
    return _roundtrip(conn, OFFSET_COMMIT, version,
                      encode_offset_commit_request(version, *args, **kw),
                      decode_offset_commit_response)


# ---- OffsetFetch (key 9) ----------------------------------------------------------------

def _write_offset_fetch_topics(w: Writer, topics: dict[str, list[int]] | None,
                               flexible: bool) -> None:
    if topics is None:
        w.array_len(None, compact=flexible)
        return
    w.array_len(len(topics), compact=flexible)
    for name, parts in topics.items():
        w.string(name, compact=flexible).array_len(len(parts), compact=flexible)
        for p in parts:
            w.int32(p)
        if flexible:
            w.empty_tagged_fields()


def encode_offset_fetch_request(version: int, group_id: str,
                                topics: dict[str, list[int]] | None,
                                require_stable: bool = False) -> bytes:
    """v0-7, one group; topics=None (v2+): every committed offset of the group."""
    if version >= 8:
        raise ValueError("OffsetFetch v8+ take groups: use encode_offset_fetch_groups_request")
    flexible = version >= 6
    w = Writer().string(group_id, compact=flexible)
    _write_offset_fetch_topics(w, topics, flexible)
    if version >= 7:
        w.bool(require_stable)
    if flexible:
        w.empty_tagged_fields()
    return w.bytes()


def encode_offset_fetch_groups_request(version: int,
                                       groups: list[tuple[str, dict[str, list[int]] | None]],
                                       require_stable: bool = False) -> bytes:
    """v8+: [(group id, topics or None for all)]; v9 sends a null member id, epoch -1."""
    if version < 8:
        raise ValueError("OffsetFetch v0-7 take one group: use encode_offset_fetch_request")
    w = Writer().array_len(len(groups), compact=True)
    for group_id, topics in groups:
        w.string(group_id, compact=True)
        if version >= 9:
            w.string(None, compact=True).int32(-1)
        _write_offset_fetch_topics(w, topics, True)
        w.empty_tagged_fields()
    w.bool(require_stable)
    w.empty_tagged_fields()
    return w.bytes()


@dataclass
class OffsetFetchPartition:
    committed_offset: int
    committed_leader_epoch: int | None
    metadata: str | None
    error_code: int


@dataclass
class OffsetFetchGroup:
    error_code: int
    topics: dict[str, dict[int, OffsetFetchPartition]]

    def offsets(self) -> dict[str, dict[int, int]]:
        return {t: {p: v.committed_offset for p, v in parts.items()}
                for t, parts in self.topics.items()}


@dataclass
class OffsetFetchResponse:
    throttle_time_ms: int | None
    error_code: int  # top level, v2-7 (0 otherwise)
    topics: dict[str, dict[int, OffsetFetchPartition]]  # v0-7
    groups: dict[str, OffsetFetchGroup]  # v8+

    def offsets(self) -> dict[str, dict[int, int]]:
        return OffsetFetchGroup(self.error_code, self.topics).offsets()


def _read_offset_fetch_topics(r: Reader, version: int, flexible: bool
                              ) -> dict[str, dict[int, OffsetFetchPartition]]:
    topics: dict[str, dict[int, OffsetFetchPartition]] = {}
    for _ in range(r.array_len(compact=flexible)):
        parts = topics.setdefault(r.string(compact=flexible), {})
        for _ in range(r.array_len(compact=flexible)):
            index, offset = r.int32(), r.int64()
            epoch = r.int32() if version >= 5 else None
            metadata = r.string(compact=flexible, nullable=True)
            parts[index] = OffsetFetchPartition(offset, epoch, metadata, r.int16())
            if flexible:
                r.tagged_fields()
        if flexible:
            r.tagged_fields()
    return topics


def decode_offset_fetch_response(r: Reader, version: int) -> OffsetFetchResponse:
    flexible = version >= 6
    throttle = r.int32() if version >= 3 else None
    topics: dict[str, dict[int, OffsetFetchPartition]] = {}
    groups: dict[str, OffsetFetchGroup] = {}
    error_code = 0
    if version <= 7:
        topics = _read_offset_fetch_topics(r, version, flexible)
        if version >= 2:
            error_code = r.int16()
    else:
        for _ in range(r.array_len(compact=True)):
            group_id = r.string(compact=True)
            group_topics = _read_offset_fetch_topics(r, version, True)
            groups[group_id] = OffsetFetchGroup(r.int16(), group_topics)
            r.tagged_fields()
    if flexible:
        r.tagged_fields()
    return OffsetFetchResponse(throttle, error_code, topics, groups)


def offset_fetch(conn: "Connection", version: int, group_id: str,
                 topics: dict[str, list[int]] | None, **kw) -> OffsetFetchResponse:
    return _roundtrip(conn, OFFSET_FETCH, version,
                      encode_offset_fetch_request(version, group_id, topics, **kw),
                      decode_offset_fetch_response)


def offset_fetch_groups(conn: "Connection", version: int,
                        groups: list[tuple[str, dict[str, list[int]] | None]],
                        **kw) -> OffsetFetchResponse:
    return _roundtrip(conn, OFFSET_FETCH, version,
                      encode_offset_fetch_groups_request(version, groups, **kw),
                      decode_offset_fetch_response)


# ---- ListGroups (key 16) ----------------------------------------------------------------

def encode_list_groups_request(version: int, states_filter: list[str] | None = None,
                               types_filter: list[str] | None = None) -> bytes:
    flexible = version >= 3
    w = Writer()
    if version >= 4:
        w.array_len(len(states_filter or []), compact=True)
        for s in states_filter or []:
            w.string(s, compact=True)
    if version >= 5:
        w.array_len(len(types_filter or []), compact=True)
        for t in types_filter or []:
            w.string(t, compact=True)
    if flexible:
        w.empty_tagged_fields()
    return w.bytes()


@dataclass
class ListedGroup:
    group_id: str
    protocol_type: str
    group_state: str | None = None  # v4+
    group_type: str | None = None   # v5+


@dataclass
class ListGroupsResponse:
    throttle_time_ms: int | None
    error_code: int
    groups: list[ListedGroup]

    def by_id(self) -> dict[str, ListedGroup]:
        return {g.group_id: g for g in self.groups}


def decode_list_groups_response(r: Reader, version: int) -> ListGroupsResponse:
    flexible = version >= 3
    throttle = r.int32() if version >= 1 else None
    error_code = r.int16()
    groups = []
    for _ in range(r.array_len(compact=flexible)):
        g = ListedGroup(r.string(compact=flexible), r.string(compact=flexible))
        if version >= 4:
            g.group_state = r.string(compact=True)
        if version >= 5:
            g.group_type = r.string(compact=True)
        if flexible:
            r.tagged_fields()
        groups.append(g)
    if flexible:
        r.tagged_fields()
    return ListGroupsResponse(throttle, error_code, groups)


def list_groups(conn: "Connection", version: int, **kw) -> ListGroupsResponse:
    return _roundtrip(conn, LIST_GROUPS, version, encode_list_groups_request(version, **kw),
                      decode_list_groups_response)


# ---- DescribeGroups (key 15) ------------------------------------------------------------

def encode_describe_groups_request(version: int, groups: list[str],
                                   include_authorized_operations: bool = False) -> bytes:
    flexible = version >= 5
    w = Writer().array_len(len(groups), compact=flexible)
    for g in groups:
        w.string(g, compact=flexible)
    if version >= 3:
        w.bool(include_authorized_operations)
    if flexible:
        w.empty_tagged_fields()
    return w.bytes()


@dataclass
class DescribedMember:
    member_id: str
    group_instance_id: str | None
    client_id: str
    client_host: str
    metadata: bytes
    assignment: bytes


@dataclass
class DescribedGroup:
    error_code: int
    group_id: str
    state: str
    protocol_type: str
    protocol_data: str
    members: list[DescribedMember]
    authorized_operations: int | None = None

    def member(self, member_id: str) -> DescribedMember:
        (m,) = [m for m in self.members if m.member_id == member_id]
        return m


def decode_describe_groups_response(r: Reader, version: int) -> list[DescribedGroup]:
    flexible = version >= 5
    if version >= 1:
        r.int32()  # throttle
    groups = []
    for _ in range(r.array_len(compact=flexible)):
        error_code, group_id = r.int16(), r.string(compact=flexible)
        state, ptype = r.string(compact=flexible), r.string(compact=flexible)
        pdata = r.string(compact=flexible)
        members = []
        for _ in range(r.array_len(compact=flexible)):
            mid = r.string(compact=flexible)
            instance = r.string(compact=flexible, nullable=True) if version >= 4 else None
            client_id, host = r.string(compact=flexible), r.string(compact=flexible)
            members.append(DescribedMember(mid, instance, client_id, host,
                                           _read_bytes(r, flexible), _read_bytes(r, flexible)))
            if flexible:
                r.tagged_fields()
        g = DescribedGroup(error_code, group_id, state, ptype, pdata, members)
        if version >= 3:
            g.authorized_operations = r.int32()
        if flexible:
            r.tagged_fields()
        groups.append(g)
    if flexible:
        r.tagged_fields()
    return groups


def describe_groups(conn: "Connection", version: int, groups: list[str],
                    **kw) -> list[DescribedGroup]:
    return _roundtrip(conn, DESCRIBE_GROUPS, version,
                      encode_describe_groups_request(version, groups, **kw),
                      decode_describe_groups_response)


# ---- DeleteGroups (key 42) --------------------------------------------------------------

def encode_delete_groups_request(version: int, groups: list[str]) -> bytes:
    flexible = version >= 2
    w = Writer().array_len(len(groups), compact=flexible)
    for g in groups:
        w.string(g, compact=flexible)
    if flexible:
        w.empty_tagged_fields()
    return w.bytes()


def decode_delete_groups_response(r: Reader, version: int) -> dict[str, int]:
    """{group id: error code}."""
    flexible = version >= 2
    r.int32()  # throttle
    out: dict[str, int] = {}
    for _ in range(r.array_len(compact=flexible)):
        group_id = r.string(compact=flexible)
        out[group_id] = r.int16()
        if flexible:
            r.tagged_fields()
    if flexible:
        r.tagged_fields()
    return out


def delete_groups(conn: "Connection", version: int, groups: list[str]) -> dict[str, int]:
    return _roundtrip(conn, DELETE_GROUPS, version,
                      encode_delete_groups_request(version, groups),
                      decode_delete_groups_response)


# ---- OffsetDelete (key 47, v0 only, never flexible) --------------------------------------

def encode_offset_delete_request(group_id: str, topics: dict[str, list[int]]) -> bytes:
    w = Writer().string(group_id).array_len(len(topics))
    for name, parts in topics.items():
        w.string(name).array_len(len(parts))
        for p in parts:
            w.int32(p)
    return w.bytes()


@dataclass
class OffsetDeleteResponse:
    error_code: int
    throttle_time_ms: int
    topics: dict[str, dict[int, int]]  # {name: {partition: error code}}


def decode_offset_delete_response(r: Reader, version: int) -> OffsetDeleteResponse:
    error_code, throttle = r.int16(), r.int32()
    topics: dict[str, dict[int, int]] = {}
    for _ in range(r.array_len()):
        parts = topics.setdefault(r.string(), {})
        for _ in range(r.array_len()):
            index = r.int32()
            parts[index] = r.int16()
    return OffsetDeleteResponse(error_code, throttle, topics)


def offset_delete(conn: "Connection", group_id: str,
                  topics: dict[str, list[int]]) -> OffsetDeleteResponse:
    return _roundtrip(conn, OFFSET_DELETE, 0, encode_offset_delete_request(group_id, topics),
                      decode_offset_delete_response)
