"""Real Kafka: topic layout, the exactly-once produce path, and the embedded evaluation cluster."""

from __future__ import annotations

import time

import pytest
from confluent_kafka import Consumer, Producer
from confluent_kafka.admin import AdminClient, ConfigResource

from tagtrail.config import KafkaSettings
from tagtrail.kafka import connect, ensure_topics
from tagtrail.kafka.embedded import EmbeddedCapacityError
from tagtrail.wire import Codec
from tests.foundation.test_schemas import EXAMPLES


def consume_all(config: dict, topic: str, expected: int, timeout_s: float = 30.0) -> list:
    consumer = Consumer(config)
    consumer.subscribe([topic])
    got = []
    deadline = time.monotonic() + timeout_s
    try:
        while len(got) < expected and time.monotonic() < deadline:
            for msg in consumer.consume(500, 0.5):
                if not msg.error():
                    got.append(msg)
    finally:
        consumer.close()
    return got


@pytest.mark.kafka
def test_topic_layout_is_created_with_partitions_and_compaction(kafka) -> None:
    admin = AdminClient(kafka.base())
    topics = admin.list_topics(timeout=10).topics
    assert len(topics[kafka.topics.reads].partitions) == 3
    assert len(topics[kafka.topics.dead_letters].partitions) == 1
    resource = ConfigResource(ConfigResource.Type.TOPIC, kafka.topics.processor_state)
    config = admin.describe_configs([resource])[resource].result()
    assert config["cleanup.policy"].value == "compact"
    ensure_topics(kafka)  # a second run leaves existing topics alone


@pytest.mark.kafka
def test_read_committed_consumers_see_only_committed_transactions(kafka) -> None:
    codec = Codec("Movement")
    event = EXAMPLES["Movement"]
    producer = Producer(kafka.transactional_producer_config("tagtrail-test-tx"))
    producer.init_transactions(30)
    producer.begin_transaction()
    producer.produce(kafka.topics.movements, key=b"aborted", value=codec.encode(event))
    producer.abort_transaction(30)
    producer.begin_transaction()
    producer.produce(kafka.topics.movements, key=event.identity.item_key.encode(), value=codec.encode(event))
    producer.commit_transaction(30)

    got = consume_all(kafka.consumer_config("tagtrail-test"), kafka.topics.movements, expected=1)
    time.sleep(0.5)
    assert [m.key() for m in got] == [event.identity.item_key.encode()]
    assert codec.decode(got[0].value()) == event
    assert got[0].partition() == kafka.partition_for(event.identity.item_key.encode())


def test_embedded_cluster_serves_real_kafka_protocol_with_transactions() -> None:
    conn = connect(KafkaSettings(topic_prefix="demo", partitions=6))
    try:
        assert conn.embedded is not None
        ensure_topics(conn)
        md = AdminClient(conn.base()).list_topics(timeout=10)
        assert len(md.topics[conn.topics.reads].partitions) == 6
        codec = Codec("TagRead")
        producer = Producer(conn.transactional_producer_config("demo-tx"))
        producer.init_transactions(10)
        producer.begin_transaction()
        for i in range(100):
            event = EXAMPLES["TagRead"]
            producer.produce(conn.topics.reads, key=f"item-{i}".encode(), value=codec.encode(event))
        producer.commit_transaction(10)
        got = consume_all(conn.consumer_config("demo"), conn.topics.reads, expected=100)
        assert len(got) == 100
    finally:
        conn.close()


def test_embedded_capacity_guard_refuses_before_data_would_be_dropped() -> None:
    conn = connect(KafkaSettings(topic_prefix="demo"))
    try:
        guard = conn.embedded.guard
        accepted = 0
        with pytest.raises(EmbeddedCapacityError, match=r"demo.reads\[0\] would exceed"):
            while True:
                guard.charge("demo.reads", 0, 1000)
                accepted += 1000
        # Refused before the mock partition's 5 MiB, yet most of the safe budget was usable.
        assert 0.9 * guard.capacity_bytes < accepted < 5 * 1024 * 1024
        guard.charge("demo.reads", 1, 1000)  # other partitions have their own budget
        assert 0.9 < guard.used_fraction() <= 1.0
    finally:
        conn.close()


def test_the_embedded_clusters_own_librdkafka_lines_are_structured_log_events() -> None:
    """The handle that hosts the mock cluster logs too (at debug level: its "no bootstrap.servers"
    notice); under --log-json every stderr line must still parse, so its lines are log events."""
    import json
    import subprocess
    import sys

    script = (
        "from tagtrail.structured_logs import configure_logging\n"
        "from tagtrail.kafka.embedded import EmbeddedKafka\n"
        "configure_logging(level='debug', json=True)\n"
        "cluster = EmbeddedKafka(log_level=7)\n"
        "cluster.create_topic('t', 1)\n"
        "cluster.close()\n"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    events = [json.loads(line) for line in lines]  # a raw `%5|...|CONFWARN|...` line would not parse
    assert any(e.get("client") == "embedded-cluster" and e.get("facility") == "CONFWARN" for e in events), lines
