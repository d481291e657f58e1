"""Consumer lag measured on a real broker: what the dashboard's lag panel shows."""

from __future__ import annotations

import uuid

import pytest
from confluent_kafka import OFFSET_BEGINNING, Consumer, Producer, TopicPartition
from prometheus_client import CollectorRegistry

from tagtrail.kafka import KafkaConnection
from tagtrail.observability import LagReporter, Metrics, record_consumer_lag
from tagtrail.observability.lag import partition_lags

pytestmark = pytest.mark.kafka


def produce(kafka: KafkaConnection, topic: str, per_partition: dict[int, int]) -> None:
    producer = Producer(kafka.producer_config())
    for partition, count in per_partition.items():
        for i in range(count):
            producer.produce(topic, value=f"r{i}".encode(), key=f"item-{i}".encode(), partition=partition)
    assert producer.flush(30) == 0


def assigned_consumer(kafka: KafkaConnection, topic: str, partitions: list[int]) -> Consumer:
    consumer = Consumer(kafka.consumer_config(f"lag-{uuid.uuid4().hex[:8]}"))
    consumer.assign([TopicPartition(topic, p, OFFSET_BEGINNING) for p in partitions])
    return consumer


def consume(consumer: Consumer, count: int) -> None:
    got = 0
    for _ in range(200):
        for message in consumer.consume(count - got, timeout=0.5):
            assert message.error() is None
            got += 1
        if got == count:
            return
    raise AssertionError(f"consumed only {got} of {count}")


def test_lag_is_log_end_minus_position_per_partition(kafka: KafkaConnection) -> None:
    topic = kafka.topics.reads
    produce(kafka, topic, {0: 7, 1: 5, 2: 0})
    consumer = assigned_consumer(kafka, topic, [0, 1, 2])
    try:
        metrics = Metrics(CollectorRegistry())
        before = record_consumer_lag(metrics, consumer, "process")
        assert before == {(topic, 0): 7, (topic, 1): 5, (topic, 2): 0}
        consume(consumer, 12)
        after = record_consumer_lag(metrics, consumer, "process")
        assert after == {(topic, 0): 0, (topic, 1): 0, (topic, 2): 0}
        # From the last fetch responses instead of a broker round trip: the same answer once caught up.
        assert partition_lags(consumer, cached=True) == after
        produce(kafka, topic, {2: 4})
        assert record_consumer_lag(metrics, consumer, "process")[(topic, 2)] == 4
        assert metrics.registry.get_sample_value(
            "tagtrail_consumer_lag", {"stage": "process", "topic": topic, "partition": "2"}
        ) == 4
    finally:
        consumer.close()


def test_reporter_throttles_and_drops_partitions_no_longer_assigned(kafka: KafkaConnection) -> None:
    topic = kafka.topics.movements
    produce(kafka, topic, {0: 3, 1: 2})
    consumer = assigned_consumer(kafka, topic, [0, 1])
    now = [100.0]
    metrics = Metrics(CollectorRegistry())
    reporter = LagReporter(metrics, consumer, "sink", every_s=5.0, clock=lambda: now[0])

    def lag(partition: int) -> float | None:
        return metrics.registry.get_sample_value("tagtrail_consumer_lag", {"stage": "sink", "topic": topic, "partition": str(partition)})

    try:
        assert reporter.maybe_report()
        assert (lag(0), lag(1)) == (3, 2)
        now[0] += 1.0
        assert not reporter.maybe_report()  # within the interval: no broker round trip
        consumer.assign([TopicPartition(topic, 1, OFFSET_BEGINNING)])  # as after a rebalance
        now[0] += 5.0
        assert reporter.maybe_report()
        assert lag(0) is None and lag(1) == 2
    finally:
        consumer.close()
