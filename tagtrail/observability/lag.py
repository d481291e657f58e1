"""Consumer lag as the consumer itself sees it: log end minus position, per assigned partition.

Kafka's own group tooling needs admin rights and a separate process; the consumer already knows its
position, and one watermark query per partition gives the end. Reporting from inside the service
means lag is scraped with the other metrics and needs no extra deployment.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import structlog
from confluent_kafka import KafkaException, TopicPartition

from tagtrail.observability.metrics import Metrics

log = structlog.get_logger(__name__)


def partition_lags(consumer: Any, *, timeout_s: float = 1.0, cached: bool = False) -> dict[tuple[str, int], int]:
    """Lag per assigned (topic, partition). With read_committed the end is the last stable offset.

    A partition not consumed yet counts from its committed offset, or from the log start when the
    group has none (tagtrail consumers start at `earliest`). `cached=True` takes the end from the
    last fetch response instead of asking the broker (no round trip, but up to a fetch behind).
    """
    lags: dict[tuple[str, int], int] = {}
    assigned = consumer.assignment()
    if not assigned:
        return lags
    positions = {(tp.topic, tp.partition): tp.offset for tp in consumer.position(assigned)}
    unknown = [TopicPartition(t, p) for (t, p), offset in positions.items() if offset < 0]
    if unknown:
        for tp in consumer.committed(unknown, timeout=timeout_s):
            positions[(tp.topic, tp.partition)] = tp.offset
    for (topic, partition), offset in positions.items():
        tp = TopicPartition(topic, partition)
        low, high = consumer.get_watermark_offsets(tp, cached=True) if cached else (-1, -1)
        if high < 0:  # not cached (nothing fetched yet) or asked not to use the cache
            low, high = consumer.get_watermark_offsets(tp, timeout=timeout_s, cached=False)
        start = offset if offset >= 0 else low
        lags[(topic, partition)] = max(high - start, 0)
    return lags


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
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.metrics = metrics
        self.consumer = consumer
        self.stage = stage
        self.every_s = every_s
        self.cached = cached
        self.clock = clock
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
        try:
            lags = partition_lags(self.consumer, cached=self.cached)
        except KafkaException as exc:
            log.warning("consumer_lag_unavailable", stage=self.stage, error=str(exc.args[0]) if exc.args else "unknown")
            return
        for topic, partition in self._reported - lags.keys():
            self.metrics.forget_partition(self.stage, topic, partition)
        for (topic, partition), lag in lags.items():
            self.metrics.consumer_lag(self.stage, topic, partition, lag)
        self._reported = set(lags)


def record_consumer_lag(metrics: Metrics, consumer: Any, stage: str) -> dict[tuple[str, int], int]:
    """One-shot report (no throttling), returning what it published."""
    lags = partition_lags(consumer)
    for (topic, partition), lag in lags.items():
        metrics.consumer_lag(stage, topic, partition, lag)
    return lags
