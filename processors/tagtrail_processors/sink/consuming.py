"""How the sink reads Kafka: fetch sizes, chunk size, the error events among messages, and reading
given offset ranges back (what a crash replay rebuilds a group insert from).
"""

from __future__ import annotations

import bisect
import threading

import structlog
from confluent_kafka import Consumer, TopicPartition

from tagtrail.kafka import KafkaConnection
from tagtrail_processors.sink.batches import (
    PartitionBatch,
    Records,
    by_partition,
    has_errors,
)
from tagtrail_processors.sink.offset_checkpoint import GroupSpec
from tagtrail_processors.sink.writer import Stopping

log = structlog.get_logger(__name__)

# Small chunks: a chunk's Message objects are freed before Python's collector runs, so none are promoted
# to older generations and no full collection runs (figures in docs/benchmarks.md).
CONSUME_CHUNK = 500
# Larger fetches than librdkafka's defaults: a local broker hands out far more messages a second.
FETCH = {"fetch.max.bytes": 100 * 1024 * 1024, "max.partition.fetch.bytes": 10 * 1024 * 1024, "queued.min.messages": 1_000_000}


def without_errors(messages: list) -> list:
    """Consumed messages minus the error events librdkafka hands out among them, which are logged."""
    if not has_errors(messages):
        return messages
    for m in messages:
        if m.error() is not None:
            log.warning("kafka_consume_error", error=str(m.error()))
    return [m for m in messages if m.error() is None]


class KafkaRanges:
    """Reads offset ranges of one topic with a consumer of its own (no group membership, nothing
    committed), as read_committed sees them: exactly what the original batches held."""

    def __init__(self, conn: KafkaConnection, topic: str, group_id: str, *, stop: threading.Event) -> None:
        self.conn = conn
        self.topic = topic
        self.group_id = f"{group_id}.replay"
        self.stop = stop

    def read(self, spec: GroupSpec) -> list[PartitionBatch]:
        """The records of each (partition, first, last) of `spec`, as batches in `spec`'s order."""
        reader = Consumer(self.conn.consumer_config(self.group_id, **FETCH))
        try:
            reader.assign([TopicPartition(self.topic, p, first) for p, first, _ in spec])
            last = {p: last for p, _, last in spec}
            got: dict[int, Records] = {p: Records([], [], []) for p, _, _ in spec}
            waiting = set(last)
            while waiting:
                if self.stop.is_set():
                    raise Stopping()
                for _topic, p, records in by_partition(without_errors(reader.consume(num_messages=CONSUME_CHUNK, timeout=0.5))):
                    if p in waiting:
                        got[p].extend(records[:bisect.bisect_right(records.offsets, last[p])])
                        if records.offsets[-1] >= last[p]:
                            waiting.discard(p)
            return [PartitionBatch(self.topic, p, got[p]) for p, _, _ in spec]
        finally:
            reader.close()
