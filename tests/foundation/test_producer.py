"""The stages' producers: plain librdkafka on a real cluster, charged to the capacity guard on the embedded one."""

from __future__ import annotations

import pytest
from confluent_kafka import Consumer, Producer, TopicPartition

from tagtrail.config import KafkaSettings
from tagtrail.kafka import KafkaConnection, Topics, connect, ensure_topics
from tagtrail.kafka.embedded import RECORD_OVERHEAD_BYTES, CapacityGuard, EmbeddedCapacityError
from tagtrail.kafka.producer import GuardedProducer
from tests.foundation.test_kafka import consume_all
from tests.services import free_port


@pytest.fixture
def embedded():
    conn = connect(KafkaSettings(topic_prefix="guarded", partitions=4))
    ensure_topics(conn)
    yield conn
    conn.close()


def small_guard(conn: KafkaConnection, records: int, record_bytes: int) -> CapacityGuard:
    """A guard that lets exactly `records` records of `record_bytes` (key and value) into one partition."""
    assert conn.embedded is not None
    conn.embedded.guard = CapacityGuard(capacity_bytes=records * (record_bytes + RECORD_OVERHEAD_BYTES))
    return conn.embedded.guard


def test_on_a_real_cluster_a_stage_gets_librdkafkas_own_producer() -> None:
    conn = KafkaConnection(f"127.0.0.1:{free_port()}", Topics("real"), 3)  # never contacted
    for producer in (conn.producer(), conn.transactional_producer("real-tx")):
        # produce is the C method itself: no Python call per record on the production path
        assert type(producer) is Producer
        producer.purge()


def test_records_are_charged_to_the_partition_librdkafka_puts_them_in(embedded) -> None:
    producer = embedded.producer()
    assert isinstance(producer, GuardedProducer)
    landed: dict[bytes, int] = {}
    for i in range(40):
        key = f"item-{i}".encode()
        producer.produce(embedded.topics.reads, b"v" * 30, key,
                         on_delivery=lambda err, msg: landed.__setitem__(msg.key(), msg.partition()))
    producer.produce(embedded.topics.dead_letters, b"letter", b"source")  # a one-partition topic
    assert producer.flush(10) == 0
    charged = embedded.embedded.guard._used
    per_partition = {}
    for key, partition in landed.items():
        per_partition[partition] = per_partition.get(partition, 0) + len(key) + 30 + RECORD_OVERHEAD_BYTES
    assert len(per_partition) > 1  # spread over the topic's partitions, each charged its own records
    assert {p: charged[(embedded.topics.reads, p)] for p in per_partition} == per_partition
    assert charged[(embedded.topics.dead_letters, 0)] == len(b"source" + b"letter") + RECORD_OVERHEAD_BYTES


def test_the_record_that_would_cross_the_limit_is_refused_and_never_sent(embedded) -> None:
    guard = small_guard(embedded, records=3, record_bytes=10)
    producer = embedded.producer()
    topic = embedded.topics.movements
    for _ in range(3):
        producer.produce(topic, b"v" * 5, b"k" * 5, partition=1)
    with pytest.raises(EmbeddedCapacityError, match=r"guarded.movements\[1\] would exceed"):
        producer.produce(topic, b"v" * 5, b"k" * 5, partition=1)
    producer.produce(topic, b"v" * 5, b"k" * 5, partition=2)  # another partition has its own budget
    assert producer.flush(10) == 0
    assert guard.used_fraction() == 1.0
    consumer = Consumer(embedded.consumer_config("guarded-read"))
    try:
        ends = [consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=10)[1] for p in range(4)]
    finally:
        consumer.close()
    assert ends == [0, 3, 1, 0]  # the refused record never reached the cluster


def test_a_record_librdkafka_could_not_queue_is_not_charged_so_its_retry_counts_once(embedded) -> None:
    guard = small_guard(embedded, records=2, record_bytes=2)
    producer = embedded.producer(**{"queue.buffering.max.messages": 1, "linger.ms": 1000})
    topic = embedded.topics.scans
    producer.produce(topic, b"v", b"k", partition=0)
    with pytest.raises(BufferError):
        producer.produce(topic, b"v", b"k", partition=0)
    assert guard.used_fraction() == 0.5
    producer.flush(10)
    producer.produce(topic, b"v", b"k", partition=0)  # the retry after the queue drained fits
    assert guard.used_fraction() == 1.0
    producer.flush(10)


def test_the_processor_changelog_is_not_charged(embedded) -> None:
    guard = small_guard(embedded, records=1, record_bytes=2)
    producer = embedded.producer()
    for _ in range(10):  # the same keys rewritten again and again
        producer.produce(embedded.topics.processor_state, b"v", b"k", partition=0)
    assert guard.used_fraction() == 0.0
    producer.flush(10)


def test_a_transaction_with_input_offsets_commits_through_the_guarded_producer(embedded) -> None:
    topics = embedded.topics
    feeder = embedded.producer()
    feeder.produce(topics.reads, b"read", b"item-1")
    assert feeder.flush(10) == 0
    consumer = Consumer(embedded.consumer_config("guarded-tx"))
    consumer.subscribe([topics.reads])
    try:
        msgs = []
        for _ in range(20):
            msgs = [m for m in consumer.consume(10, 1.0) if not m.error()]
            if msgs:
                break
        assert msgs, "the input record was not consumed"
        producer = embedded.transactional_producer("guarded-tx")
        assert isinstance(producer, GuardedProducer)
        producer.init_transactions(10)
        producer.begin_transaction()
        producer.produce(topics.movements, b"movement", b"item-1")
        positions = [tp for tp in consumer.position(consumer.assignment()) if tp.offset >= 0]
        producer.send_offsets_to_transaction(positions, consumer.consumer_group_metadata(), 10)
        producer.commit_transaction(10)
    finally:
        consumer.close()
    # (the mock cluster keeps no transactional offset commits, so only the output can be checked here)
    got = consume_all(embedded.consumer_config("guarded-out"), topics.movements, expected=1)
    assert [(m.key(), m.value()) for m in got] == [(b"item-1", b"movement")]
    used = embedded.embedded.guard._used
    assert used[(topics.movements, embedded.partition_for(b"item-1"))] == len(b"item-1movement") + RECORD_OVERHEAD_BYTES
