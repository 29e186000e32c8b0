"""kafka-python (Debian's python3-kafka, 2.0.2) against floe.

kafka-python 2.0.2 learns the broker's API versions with ApiVersions v0 and then
guesses a Kafka release from them (KafkaConnection._infer_broker_version_from_api_versions):
Metadata v5 means >= 1.0, Fetch v8 >= 2.0, Fetch v10 >= 2.1, ListOffsets v5 >= 2.2,
Fetch v11 >= 2.3, Produce v8 >= 2.4, DescribeAcls v2 >= 2.5. Its admin client reads
metadata with the highest version both sides know (Metadata v5 here).
"""

from __future__ import annotations

import contextlib

from kafka import KafkaAdminClient, KafkaClient, KafkaConsumer

TIMEOUT_MS = 10_000
FETCH, METADATA, PRODUCE = 1, 3, 0


def common_config(broker) -> dict:
    return {"bootstrap_servers": broker.bootstrap, "client_id": "floe-tests",
            "request_timeout_ms": TIMEOUT_MS + 1000, "api_version_auto_timeout_ms": TIMEOUT_MS}


@contextlib.contextmanager
def admin_client(broker):
    admin = KafkaAdminClient(api_version=None, **common_config(broker))  # probes with ApiVersions
    try:
        yield admin
    finally:
        admin.close()


def test_admin_describe_cluster(broker):
    with admin_client(broker) as admin:
        cluster = admin.describe_cluster()
    assert cluster["cluster_id"], cluster
    assert len(cluster["brokers"]) == 1, cluster
    b = cluster["brokers"][0]
    assert (b["host"], b["port"]) == ("127.0.0.1", broker.port)
    assert b["node_id"] >= 0
    assert b["rack"] is None
    assert cluster["controller_id"] == b["node_id"]


def test_admin_describe_cluster_with_node_id_and_rack(broker_factory):
    broker = broker_factory({"node.id": 9, "broker.rack": "zone-b"})
    with admin_client(broker) as admin:
        cluster = admin.describe_cluster()
    assert [(b["node_id"], b["host"], b["port"], b["rack"]) for b in cluster["brokers"]] == [
        (9, "127.0.0.1", broker.port, "zone-b")]
    assert cluster["controller_id"] == 9


def test_admin_list_topics(broker):
    with admin_client(broker) as admin:
        assert admin.list_topics() == []
        assert admin.describe_topics() == []


def test_client_check_version(broker):
    client = KafkaClient(api_version=None, **common_config(broker))
    try:
        version = client.check_version(timeout=TIMEOUT_MS / 1000)
        api = client.get_api_versions()
    finally:
        client.close()

    assert api is not None, "ApiVersions v0 was not answered"
    assert api[METADATA][1] >= 12 and api[18][1] >= 3, api
    # With what the broker advertises, kafka-python must not guess a release older
    # than the newest one whose marker APIs are all served.
    assert version >= (1, 0, 0), (version, api)
    if FETCH in api and api[FETCH][1] >= 8:
        assert version >= (2, 0, 0), (version, api)
    if PRODUCE in api and api[PRODUCE][1] >= 8:
        assert version >= (2, 4, 0), (version, api)


def test_consumer_topics(broker):
    consumer = KafkaConsumer(group_id=None, **common_config(broker))
    try:
        assert consumer.topics() == set()
    finally:
        consumer.close()
