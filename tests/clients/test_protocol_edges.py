"""Raw-socket protocol tests: framing, headers, versions and bad input.

No client library here: requests are built byte by byte with kafka_wire, so each
test pins one rule of the wire protocol that real clients rely on.
"""

from __future__ import annotations

import random
import socket
import struct
import time

import pytest

import kafka_wire as kw
from kafka_wire import API_VERSIONS, METADATA, Connection, Reader

CLOSE_TIMEOUT_S = 10.0  # how long a broker may take to drop a connection it must drop


def connect(broker, timeout: float = 10.0) -> Connection:
    return Connection(broker.host, broker.port, timeout=timeout)


def assert_still_serving(broker) -> None:
    """The process is alive and a new connection gets ApiVersions and Metadata answered."""
    assert broker.is_running(), f"broker died.\nstderr:\n{broker.stderr_text()}"
    with connect(broker) as conn:
        assert conn.api_versions(3).error_code == kw.NONE
        assert [b.port for b in conn.metadata(1).brokers] == [broker.port]


def assert_closed_by_broker(conn: Connection, what: str) -> None:
    conn.sock.settimeout(CLOSE_TIMEOUT_S)
    try:
        extra = conn.wait_closed_by_peer()
    except socket.timeout:
        pytest.fail(f"{what}: broker kept the connection open for {CLOSE_TIMEOUT_S:.0f} s; "
                    f"it must close it")
    assert extra == b"", f"{what}: expected no response before the close, got {extra.hex()}"


def served_ranges(broker) -> dict[int, tuple[int, int]]:
    with connect(broker) as conn:
        return conn.api_versions(3).ranges()


# ---- ApiVersions ------------------------------------------------------------------

def check_api_versions_body(resp: kw.ApiVersionsResponse, version: int) -> None:
    assert resp.error_code == kw.NONE
    keys = [k for k, _, _ in resp.api_keys]
    assert len(keys) == len(set(keys)), f"duplicate api keys: {sorted(keys)}"
    for key, lo, hi in resp.api_keys:
        assert 0 <= lo <= hi, f"api {key}: bad range {lo}..{hi}"
    ranges = resp.ranges()
    assert API_VERSIONS in ranges and METADATA in ranges, ranges
    assert ranges[API_VERSIONS][0] == 0 and ranges[API_VERSIONS][1] >= 3
    assert ranges[METADATA][0] == 0 and ranges[METADATA][1] >= 12
    if version >= 1:
        assert resp.throttle_time_ms == 0


@pytest.mark.parametrize("version", range(5))  # the layouts kafka_wire knows
def test_api_versions(broker, version):
    if version > served_ranges(broker)[API_VERSIONS][1]:
        pytest.skip(f"ApiVersions v{version} is not served")
    with connect(broker) as conn:
        cid = conn.send_request(API_VERSIONS, version, kw.encode_api_versions_request(version),
                                correlation_id=1000 + version)
        payload = conn.recv_frame()

    # The response header of ApiVersions is v0 at every version: the correlation id
    # and nothing else, so that a client can read it before it knows the versions.
    r = Reader(payload, f"ApiVersions v{version} response")
    assert r.int32() == cid
    try:
        resp = kw.decode_api_versions_response(r, version)
        r.expect_end()
    except kw.DecodeError as e:
        hint = ""
        if version >= 3 and len(payload) > 4 and payload[4] == 0:
            alt = Reader(payload[5:])
            try:
                kw.decode_api_versions_response(alt, version)
                alt.expect_end()
                hint = (" (it decodes with a v1 response header, i.e. with a tagged-field "
                        "byte after the correlation id; ApiVersions must use header v0)")
            except kw.DecodeError:
                pass
        pytest.fail(f"{e}{hint}\nresponse: {payload.hex()}")
    check_api_versions_body(resp, version)
    if version >= 3:
        # Tags 0-3 are SupportedFeatures, FinalizedFeaturesEpoch, FinalizedFeatures,
        # ZkMigrationReady; anything else is new to this test and worth a look.
        assert set(resp.tagged_fields) <= {0, 1, 2, 3}, resp.tagged_fields


def test_api_versions_same_list_at_every_version(broker):
    with connect(broker) as conn:
        lists = {v: sorted(conn.api_versions(v).api_keys) for v in range(4)}
    assert lists[0] == lists[1] == lists[2] == lists[3], lists


def test_api_versions_v3_with_empty_client_software(broker):
    # Clients may leave the (ignorable) software name/version empty.
    with connect(broker) as conn:
        cid = conn.send_request(API_VERSIONS, 3, kw.encode_api_versions_request(3, "", ""))
        r = conn.recv_response(API_VERSIONS, 3, cid)
        resp = kw.decode_api_versions_response(r, 3)
        r.expect_end()
    assert resp.error_code in (kw.NONE, 42), resp  # 42 INVALID_REQUEST is what Kafka answers


def test_api_versions_unsupported_version_gets_v0_error_response(broker):
    with connect(broker) as conn:
        # A newer client than the broker: ApiVersions at a version it has never heard
        # of, with the flexible header (v2) that such a client uses.
        body = kw.encode_api_versions_request(3, "future-client", "99.0")
        conn.send_request(API_VERSIONS, 127, body, correlation_id=4242)
        payload = conn.recv_frame()
        r = Reader(payload, "ApiVersions v127 response")
        assert r.int32() == 4242
        resp = kw.decode_api_versions_response(r, 0)  # answered in the v0 layout
        r.expect_end()
        assert resp.error_code == kw.UNSUPPORTED_VERSION, payload.hex()
        ranges = resp.ranges()
        assert API_VERSIONS in ranges, ranges
        assert ranges[API_VERSIONS][0] == 0 and ranges[API_VERSIONS][1] >= 3

        # The client then retries on the same connection at a version both know.
        assert conn.api_versions(3).error_code == kw.NONE
    assert_still_serving(broker)


def test_request_split_across_many_writes(broker):
    request = kw.encode_request(API_VERSIONS, 3, 77, kw.encode_api_versions_request(3))
    with connect(broker) as conn:
        for i in range(0, len(request), 3):
            conn.send_raw(request[i:i + 3])
            time.sleep(0.005)  # lets the broker see each piece as a separate read
        r = Reader(conn.recv_frame())
        assert r.int32() == 77
        kw.decode_api_versions_response(r, 3)
        r.expect_end()


# ---- pipelining -------------------------------------------------------------------

def test_pipelined_requests_answered_in_order(broker):
    rng = random.Random(20240601)
    requests = []  # (api_key, version, correlation_id)
    for i in range(50):
        if i % 2 == 0:
            requests.append((API_VERSIONS, rng.randrange(0, 4)))
        else:
            requests.append((METADATA, rng.randrange(0, 13)))
    # Distinct, unordered correlation ids: the broker must echo them, not count.
    cids = rng.sample(range(1, 1 << 30), len(requests))
    wire = bytearray()
    for (key, version), cid in zip(requests, cids):
        body = (kw.encode_api_versions_request(version) if key == API_VERSIONS
                else kw.encode_metadata_request(version))
        wire += kw.encode_request(key, version, cid, body)

    with connect(broker) as conn:
        conn.send_raw(bytes(wire))  # one write
        for n, ((key, version), cid) in enumerate(zip(requests, cids)):
            r = conn.recv_response(key, version, cid)  # checks the correlation id
            if key == API_VERSIONS:
                check_api_versions_body(kw.decode_api_versions_response(r, version), version)
            else:
                md = kw.decode_metadata_response(r, version)
                assert [b.port for b in md.brokers] == [broker.port], f"response #{n}"
            r.expect_end()


def test_pipelined_responses_sent_before_closing_on_bad_request(broker):
    # Requests before the bad one were accepted; their clients are owed an answer.
    good = [kw.encode_request(API_VERSIONS, v, 500 + v, kw.encode_api_versions_request(v))
            for v in range(4)]
    bad = kw.encode_request(4, 0, 999, b"")  # LeaderAndIsr: never served to clients
    with connect(broker) as conn:
        conn.send_raw(b"".join(good) + bad)
        for v in range(4):
            r = conn.recv_response(API_VERSIONS, v, 500 + v)
            kw.decode_api_versions_response(r, v)
            r.expect_end()
        assert_closed_by_broker(conn, "LeaderAndIsr after pipelined ApiVersions")
    assert_still_serving(broker)


# ---- frame size limit -------------------------------------------------------------

@pytest.fixture
def small_frame_broker(broker_factory):
    return broker_factory({"socket.request.max.bytes": 1024})


def test_frame_over_socket_request_max_bytes_closes_connection(small_frame_broker):
    broker = small_frame_broker
    with connect(broker) as conn:
        conn.send_raw(struct.pack(">i", 2000) + bytes(range(100)))
        assert_closed_by_broker(conn, "frame of 2000 bytes with socket.request.max.bytes=1024")
    assert_still_serving(broker)


def test_frame_of_exactly_socket_request_max_bytes_is_served(small_frame_broker):
    broker = small_frame_broker
    # Pad the client id so that the frame (without its 4-byte length) is 1024 bytes:
    # the limit is inclusive, as in Kafka.
    overhead = len(kw.request_header(API_VERSIONS, 1, 1, ""))
    request = kw.encode_request(API_VERSIONS, 1, 1, b"", client_id="x" * (1024 - overhead))
    assert len(request) == 4 + 1024
    with connect(broker) as conn:
        conn.send_raw(request)
        r = conn.recv_response(API_VERSIONS, 1, 1)
        check_api_versions_body(kw.decode_api_versions_response(r, 1), 1)
        r.expect_end()


# ---- bad input --------------------------------------------------------------------

def _random_frame() -> bytes:
    rng = random.Random(7)
    body = bytearray(rng.getrandbits(8) for _ in range(64))
    body[0:2] = b"\xff\x9c"  # api key -100: decodes as no request at all
    return kw.frame(bytes(body))


GARBAGE = {
    "random-bytes-in-a-frame": _random_frame(),
    "http-request": b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n",
    "negative-length": struct.pack(">i", -1) + b"\x00" * 16,
    "zero-length": struct.pack(">i", 0),
    "header-shorter-than-its-fields": kw.frame(b"\x00\x12\x00"),
    "client-id-longer-than-frame": kw.frame(struct.pack(">hhih", API_VERSIONS, 1, 5, 200) + b"ab"),
    "metadata-body-truncated": kw.encode_request(METADATA, 1, 6, struct.pack(">i", 5)),
    "metadata-v9-bad-compact-array": kw.encode_request(METADATA, 9, 8, b"\xff\xff\xff\xff\x7f"),
}


@pytest.mark.parametrize("name", list(GARBAGE))
def test_garbage_closes_connection_and_broker_keeps_serving(broker, name):
    with connect(broker) as conn:
        conn.send_raw(GARBAGE[name])
        assert_closed_by_broker(conn, f"garbage {name!r} ({GARBAGE[name][:40].hex()})")
    assert_still_serving(broker)


UNSERVED = ["leader-and-isr", "api-key-1000", "first-unserved-client-api",
            "metadata-above-max-version"]

# APIs a Kafka client may send to a broker, in key order (controller-only APIs left out).
CLIENT_API_KEYS = [0, 1, 2, 3, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23,
                   24, 25, 26, 28, 29, 30, 31, 32, 33, 35, 36, 37, 42, 44, 47, 48, 49, 50, 51,
                   60, 61, 65, 66, 68, 69]


@pytest.mark.parametrize("case", UNSERVED)
def test_unserved_request_closes_connection(broker, case):
    ranges = served_ranges(broker)
    if case == "leader-and-isr":
        key, version = 4, 0
    elif case == "api-key-1000":
        key, version = 1000, 0
    elif case == "first-unserved-client-api":
        unserved = [k for k in CLIENT_API_KEYS if k not in ranges]
        if not unserved:
            pytest.skip("every client API is served")
        key, version = unserved[0], 0
    else:
        key, version = METADATA, ranges[METADATA][1] + 1
    assert key not in ranges or version > ranges[key][1]

    with connect(broker) as conn:
        conn.send_request(key, version, b"\x00" * 8)
        assert_closed_by_broker(conn, f"api key {key} v{version}, which the broker does not serve")
    assert_still_serving(broker)


# ---- Metadata ---------------------------------------------------------------------

def check_single_broker(md: kw.MetadataResponse, version: int, broker, node_id=None,
                        rack=None) -> None:
    assert len(md.brokers) == 1, md.brokers
    b = md.brokers[0]
    assert (b.host, b.port) == ("127.0.0.1", broker.port)
    assert b.node_id >= 0
    if node_id is not None:
        assert b.node_id == node_id
    if version >= 1:
        assert b.rack == rack
        assert md.controller_id == b.node_id
    else:
        assert b.rack is None and md.controller_id is None
    if version >= 2:
        assert md.cluster_id, "cluster id must be a non-empty string from Metadata v2"
    if version >= 3:
        assert md.throttle_time_ms == 0


@pytest.mark.parametrize("version", range(13))
def test_metadata_all_topics(broker, version):
    with connect(broker) as conn:
        md = conn.metadata(version)
    check_single_broker(md, version, broker)
    assert md.topics == []


def test_metadata_same_answer_at_every_version(broker):
    with connect(broker) as conn:
        mds = {v: conn.metadata(v) for v in range(13)}
    assert len({(md.brokers[0].node_id, md.brokers[0].host, md.brokers[0].port)
                for md in mds.values()}) == 1
    assert len({mds[v].cluster_id for v in range(2, 13)}) == 1
    assert len({mds[v].controller_id for v in range(1, 13)}) == 1


@pytest.mark.parametrize("version", [0, 1, 4, 9, 12])
def test_metadata_reports_configured_node_id_and_rack(broker_factory, version):
    broker = broker_factory({"node.id": 7, "broker.rack": "rack-a"})
    with connect(broker) as conn:
        md = conn.metadata(version)
    check_single_broker(md, version, broker, node_id=7, rack="rack-a" if version >= 1 else None)


@pytest.mark.parametrize("version", [1, 4, 9, 12])
def test_metadata_empty_topic_list_returns_no_topics(broker, version):
    with connect(broker) as conn:
        md = conn.metadata(version, topics=[])
    check_single_broker(md, version, broker)
    assert md.topics == []


@pytest.mark.parametrize("version", [0, 1, 4, 9, 10, 12])
def test_metadata_unknown_topic(broker_factory, version):
    broker = broker_factory({"auto.create.topics.enable": False})
    with connect(broker) as conn:
        md = conn.metadata(version, topics=["no-such-topic"], allow_auto_topic_creation=False)
    check_single_broker(md, version, broker)
    assert [(t.name, t.error_code, t.partitions) for t in md.topics] == [
        ("no-such-topic", kw.UNKNOWN_TOPIC_OR_PARTITION, [])]
