"""confluent-kafka (Debian's python3-confluent-kafka on librdkafka 2.0.2) against floe."""

from __future__ import annotations

import signal

import confluent_kafka
import pytest
from confluent_kafka import Consumer, KafkaError, Producer
from confluent_kafka.admin import AdminClient

TIMEOUT_S = 10


def client_config(broker, **extra) -> dict:
    return {"bootstrap.servers": broker.bootstrap, "client.id": "floe-tests", **extra}


def cluster_metadata(broker):
    return AdminClient(client_config(broker)).list_topics(timeout=TIMEOUT_S)


def check_cluster(md, broker, node_id=None) -> None:
    assert md.cluster_id, "cluster id must be a non-empty string"
    assert len(md.brokers) == 1, md.brokers
    (bid, b), = md.brokers.items()
    assert b.id == bid and bid >= 0
    if node_id is not None:
        assert bid == node_id
    assert (b.host, b.port) == ("127.0.0.1", broker.port)
    assert md.controller_id == bid
    assert md.orig_broker_id == bid


def test_admin_list_topics(broker):
    md = cluster_metadata(broker)
    check_cluster(md, broker)
    assert md.topics == {}


def test_admin_list_topics_with_configured_node_id(broker_factory):
    broker = broker_factory({"node.id": 3})
    check_cluster(cluster_metadata(broker), broker, node_id=3)


def test_cluster_id_is_stable_across_restart(broker):
    before = cluster_metadata(broker)
    broker.restart()  # same data dir, same port; graceful stop must exit 0
    after = cluster_metadata(broker)
    check_cluster(after, broker)
    assert after.cluster_id == before.cluster_id
    assert list(after.brokers) == list(before.brokers)


def test_cluster_id_survives_a_crash(broker):
    before = cluster_metadata(broker)
    assert broker.kill(signal.SIGKILL) == -signal.SIGKILL
    broker.start()  # same data dir, same port
    after = cluster_metadata(broker)
    check_cluster(after, broker)
    assert after.cluster_id == before.cluster_id


def test_admin_describe_cluster(broker):
    admin = AdminClient(client_config(broker))
    if not hasattr(admin, "describe_cluster"):
        pytest.skip(f"confluent-kafka {confluent_kafka.version()[0]} has no "
                    "AdminClient.describe_cluster (added in 2.3.0)")
    desc = admin.describe_cluster(request_timeout=TIMEOUT_S).result(TIMEOUT_S)
    assert desc.cluster_id == cluster_metadata(broker).cluster_id
    assert [(n.host, n.port) for n in desc.nodes] == [("127.0.0.1", broker.port)]
    assert desc.controller is not None and desc.controller.id == desc.nodes[0].id


def test_unknown_topic(broker_factory):
    broker = broker_factory({"auto.create.topics.enable": False})
    md = AdminClient(client_config(broker)).list_topics(topic="no-such-topic", timeout=TIMEOUT_S)
    check_cluster(md, broker)
    assert list(md.topics) == ["no-such-topic"]
    err = md.topics["no-such-topic"].error
    assert err is not None and err.code() == KafkaError.UNKNOWN_TOPIC_OR_PART, err


def test_producer_list_topics(broker):
    producer = Producer(client_config(broker))
    try:
        md = producer.list_topics(timeout=TIMEOUT_S)
        check_cluster(md, broker)
        assert md.topics == {}
    finally:
        assert producer.flush(TIMEOUT_S) == 0


def test_consumer_list_topics(broker):
    consumer = Consumer(client_config(broker, **{"group.id": "floe-tests",
                                                 "enable.auto.commit": False}))
    try:
        md = consumer.list_topics(timeout=TIMEOUT_S)
        check_cluster(md, broker)
        assert md.topics == {}
    finally:
        consumer.close()
