"""Consumer lag measured on a real broker: what the dashboard's lag panel shows."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field

import pytest
from confluent_kafka import (
    OFFSET_BEGINNING,
    OFFSET_INVALID,
    Consumer,
    KafkaError,
    KafkaException,
    Producer,
    TopicPartition,
)
from prometheus_client import CollectorRegistry

from tagtrail.kafka import KafkaConnection
from tagtrail.observability import LagReporter, Metrics, record_consumer_lag
from tagtrail.observability.lag import measure_lags, partition_lags

# A fresh broker's coordinator loads __consumer_offsets first: the real-broker tests wait for it this long.
COORDINATOR_READY_S = 60.0


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


@pytest.mark.kafka
def test_lag_is_log_end_minus_position_per_partition(kafka: KafkaConnection) -> None:
    topic = kafka.topics.reads
    produce(kafka, topic, {0: 7, 1: 5, 2: 0})
    consumer = assigned_consumer(kafka, topic, [0, 1, 2])
    try:
        metrics = Metrics(CollectorRegistry())
        before = record_consumer_lag(metrics, consumer, "process", timeout_s=COORDINATOR_READY_S)  # fresh broker: may wait
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


@pytest.mark.kafka
def test_reporter_throttles_and_drops_partitions_no_longer_assigned(kafka: KafkaConnection) -> None:
    topic = kafka.topics.movements
    produce(kafka, topic, {0: 3, 1: 2})
    consumer = assigned_consumer(kafka, topic, [0, 1])
    now = [100.0]
    metrics = Metrics(CollectorRegistry())
    reporter = LagReporter(metrics, consumer, "sink", every_s=5.0, timeout_s=COORDINATOR_READY_S, clock=lambda: now[0])

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


NOT_COORDINATOR = KafkaException(KafkaError(KafkaError.NOT_COORDINATOR, "Failed to get committed offsets: Broker: Not coordinator"))


@dataclass
class CoordinatorLoadingConsumer:
    """A consumer on a broker that just started: committed() answers NOT_COORDINATOR `refusals` times
    (librdkafka raises it unflagged as retriable), then the group's offsets. Time passes only in pause()."""

    ends: dict[int, int]
    committed_at: dict[int, int]
    consumed: dict[int, int] = field(default_factory=dict)  # partitions with a position already
    refusals: int = 1
    now: float = 0.0
    asked: int = 0
    pauses: list[float] = field(default_factory=list)

    def assignment(self) -> list[TopicPartition]:
        return [TopicPartition("reads", p) for p in self.ends]

    def position(self, partitions: list[TopicPartition]) -> list[TopicPartition]:
        return [TopicPartition(tp.topic, tp.partition, self.consumed.get(tp.partition, OFFSET_INVALID)) for tp in partitions]

    def committed(self, partitions: list[TopicPartition], timeout: float) -> list[TopicPartition]:
        self.asked += 1
        if self.asked <= self.refusals:
            raise NOT_COORDINATOR
        return [TopicPartition(tp.topic, tp.partition, self.committed_at[tp.partition]) for tp in partitions]

    def get_watermark_offsets(self, tp: TopicPartition, timeout: float | None = None, cached: bool = False) -> tuple[int, int]:
        return 0, self.ends[tp.partition]

    def clock(self) -> float:
        return self.now

    def pause(self, seconds: float) -> None:
        self.pauses.append(seconds)
        self.now += seconds


def test_a_coordinator_still_loading_is_asked_again_within_the_timeout() -> None:
    consumer = CoordinatorLoadingConsumer(ends={0: 10, 1: 4}, committed_at={0: 3, 1: OFFSET_INVALID}, refusals=1)
    reading = measure_lags(consumer, timeout_s=1.0, clock=consumer.clock, pause=consumer.pause)
    assert reading.lags == {("reads", 0): 7, ("reads", 1): 4} and not reading.pending
    assert consumer.asked == 2 and len(consumer.pauses) == 1 and consumer.now <= 1.0


def test_the_reporter_survives_a_coordinator_not_ready_and_reports_those_partitions_later() -> None:
    consumer = CoordinatorLoadingConsumer(ends={0: 10, 1: 4}, committed_at={1: 1}, consumed={0: 6}, refusals=10**6)
    metrics = Metrics(CollectorRegistry())
    reporter = LagReporter(metrics, consumer, "process", timeout_s=1.0, clock=consumer.clock, pause=consumer.pause)

    def lag(partition: int) -> float | None:
        return metrics.registry.get_sample_value("tagtrail_consumer_lag", {"stage": "process", "topic": "reads", "partition": str(partition)})

    reporter.report()  # the coordinator never answers within the timeout: no exception, partition 0 measured
    assert (lag(0), lag(1)) == (4, None)
    assert consumer.now == pytest.approx(1.0)  # gave up at its timeout, not later
    consumer.refusals = consumer.asked  # the coordinator has loaded
    reporter.report()
    assert (lag(0), lag(1)) == (4, 3)
    consumer.refusals = consumer.asked + 10**6  # loading again (a coordinator moved): the last lag stays
    reporter.report()
    assert (lag(0), lag(1)) == (4, 3)


def test_an_error_that_is_not_about_the_coordinator_is_not_retried() -> None:
    consumer = CoordinatorLoadingConsumer(ends={0: 10}, committed_at={0: 0})
    consumer.committed = lambda partitions, timeout: (_ for _ in ()).throw(  # type: ignore[method-assign]
        KafkaException(KafkaError(KafkaError.GROUP_AUTHORIZATION_FAILED)))
    with pytest.raises(KafkaException, match="GROUP_AUTHORIZATION_FAILED"):
        measure_lags(consumer, timeout_s=1.0, clock=consumer.clock, pause=consumer.pause)
    assert consumer.pauses == []
