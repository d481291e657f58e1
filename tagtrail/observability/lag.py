"""Consumer lag as the consumer itself sees it: log end minus position, per assigned partition.

Kafka's own group tooling needs admin rights and a separate process; the consumer already knows its
position, and one watermark query per partition gives the end. Reporting from inside the service
means lag is scraped with the other metrics and needs no extra deployment.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import structlog
from confluent_kafka import KafkaError, KafkaException, TopicPartition

from tagtrail.observability.metrics import Metrics

log = structlog.get_logger(__name__)


# The group coordinator is not ready yet: a fresh broker creates and loads __consumer_offsets when the
# first group asks, and answers OffsetFetch with these until then (every site sees it at its first start).
# librdkafka does not flag them retriable on committed(), so they are named here.
COORDINATOR_NOT_READY = frozenset({KafkaError.NOT_COORDINATOR, KafkaError.COORDINATOR_LOAD_IN_PROGRESS,
                                   KafkaError.COORDINATOR_NOT_AVAILABLE, KafkaError._WAIT_COORD,
                                   KafkaError._TIMED_OUT, KafkaError.REQUEST_TIMED_OUT, KafkaError._TRANSPORT})
FIRST_RETRY_PAUSE_S = 0.05


@dataclass
class LagReading:
    """Lag per assigned (topic, partition) that could be measured now, and the assigned partitions whose
    start is not known yet (no position, and the coordinator could not give their committed offset within
    the timeout): those are measured at a later report, not guessed."""

    lags: dict[tuple[str, int], int] = field(default_factory=dict)
    pending: set[tuple[str, int]] = field(default_factory=set)


def coordinator_not_ready(error: Any) -> bool:
    return isinstance(error, KafkaError) and (error.retriable() or error.code() in COORDINATOR_NOT_READY)


def committed_offsets(
    consumer: Any,
    partitions: list[TopicPartition],
    *,
    timeout_s: float,
    clock: Callable[[], float] = time.monotonic,
    pause: Callable[[float], None] = time.sleep,
) -> dict[tuple[str, int], int] | None:
    """The group's committed offset per partition, asking again while the coordinator is not ready, for
    at most `timeout_s`. None when it still is not at the deadline; any other error raises."""
    deadline = clock() + timeout_s
    wait = FIRST_RETRY_PAUSE_S
    while True:
        remaining = deadline - clock()
        try:
            answered = consumer.committed(partitions, timeout=max(remaining, 0.001))
            error = next((tp.error for tp in answered if tp.error is not None), None)
            if error is None:
                return {(tp.topic, tp.partition): tp.offset for tp in answered}
        except KafkaException as exc:
            error = exc.args[0] if exc.args else None
        if not coordinator_not_ready(error):
            raise KafkaException(error)
        remaining = deadline - clock()
        if remaining <= 0:
            log.info("consumer_lag_coordinator_not_ready", error=error.str(), partitions=len(partitions))
            return None
        pause(min(wait, remaining))
        wait *= 2


def measure_lags(
    consumer: Any,
    *,
    timeout_s: float = 1.0,
    cached: bool = False,
    clock: Callable[[], float] = time.monotonic,
    pause: Callable[[float], None] = time.sleep,
) -> LagReading:
    """Lag per assigned (topic, partition). With read_committed the end is the last stable offset.

    A partition not consumed yet counts from its committed offset, or from the log start when the
    group has none (tagtrail consumers start at `earliest`). While the group coordinator cannot give
    committed offsets yet (a broker just started), those partitions are `pending`, the others measured.
    `cached=True` takes the end from the last fetch response instead of asking the broker (no round
    trip, but up to a fetch behind).
    """
    reading = LagReading()
    assigned = consumer.assignment()
    if not assigned:
        return reading
    positions = {(tp.topic, tp.partition): tp.offset for tp in consumer.position(assigned)}
    unknown = [TopicPartition(t, p) for (t, p), offset in positions.items() if offset < 0]
    if unknown:
        committed = committed_offsets(consumer, unknown, timeout_s=timeout_s, clock=clock, pause=pause)
        if committed is None:
            reading.pending = {(tp.topic, tp.partition) for tp in unknown}
            positions = {key: offset for key, offset in positions.items() if key not in reading.pending}
        else:
            positions.update(committed)
    for (topic, partition), offset in positions.items():
        tp = TopicPartition(topic, partition)
        low, high = consumer.get_watermark_offsets(tp, cached=True) if cached else (-1, -1)
        if high < 0:  # not cached (nothing fetched yet) or asked not to use the cache
            low, high = consumer.get_watermark_offsets(tp, timeout=timeout_s, cached=False)
        start = offset if offset >= 0 else low
        reading.lags[(topic, partition)] = max(high - start, 0)
    return reading


def partition_lags(consumer: Any, *, timeout_s: float = 1.0, cached: bool = False) -> dict[tuple[str, int], int]:
    """The lags `measure_lags` could measure now (pending partitions left out)."""
    return measure_lags(consumer, timeout_s=timeout_s, cached=cached).lags


class LagReporter:
    """Publishes a consumer's lag at most every `every_s`; call `maybe_report()` from the poll loop."""

    def __init__(
        self,
        metrics: Metrics,
        consumer: Any,
        stage: str,
        *,
        every_s: float = 5.0,
        cached: bool = False,
        timeout_s: float = 1.0,
        clock: Callable[[], float] = time.monotonic,
        pause: Callable[[float], None] = time.sleep,
    ) -> None:
        self.metrics = metrics
        self.consumer = consumer
        self.stage = stage
        self.every_s = every_s
        self.cached = cached
        self.timeout_s = timeout_s
        self.clock = clock
        self.pause = pause
        self._next = clock()
        self._reported: set[tuple[str, int]] = set()

    def maybe_report(self) -> bool:
        now = self.clock()
        if now < self._next:
            return False
        self._next = now + self.every_s
        self.report()
        return True

    def report(self) -> None:
        """Never raises into the poll loop: a partition whose start the coordinator cannot give yet keeps
        its last published lag (or none) until a later report measures it."""
        try:
            reading = measure_lags(self.consumer, timeout_s=self.timeout_s, cached=self.cached, clock=self.clock,
                                   pause=self.pause)
        except KafkaException as exc:
            log.warning("consumer_lag_unavailable", stage=self.stage, error=str(exc.args[0]) if exc.args else "unknown")
            return
        still_assigned = reading.lags.keys() | reading.pending
        for topic, partition in self._reported - still_assigned:
            self.metrics.forget_partition(self.stage, topic, partition)
        for (topic, partition), lag in reading.lags.items():
            self.metrics.consumer_lag(self.stage, topic, partition, lag)
        self._reported = (self._reported & reading.pending) | set(reading.lags)


def record_consumer_lag(metrics: Metrics, consumer: Any, stage: str, *, timeout_s: float = 1.0) -> dict[tuple[str, int], int]:
    """One-shot report (no throttling), returning what it published (pending partitions left out)."""
    lags = partition_lags(consumer, timeout_s=timeout_s)
    for (topic, partition), lag in lags.items():
        metrics.consumer_lag(stage, topic, partition, lag)
    return lags
