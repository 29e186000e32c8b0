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
