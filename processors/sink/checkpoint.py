"""Where the sink records which batch it is writing: the consumer group's offset commit metadata.

Commit order for every batch (the exactly-once protocol of ClickHouse's Kafka Connect sink, with the
state kept next to the offsets instead of in a separate store):

1. BEFORE: commit offset = first offset of the batch, metadata "pending FIRST-LAST".
2. Insert into ClickHouse with the insert deduplication token TOPIC-PARTITION-FIRST-LAST.
3. Produce dead letters and flush the producer.
4. AFTER: commit offset = LAST + 1, empty metadata.

A sink that dies between 1 and 4 restarts at FIRST, sees the pending range, rebuilds exactly that
batch and inserts it with the same token: ClickHouse drops the repeat (in the table and in every
materialized view), or stores it if the first attempt never landed. Nothing is inserted before step 1,
so a crash before it just re-reads a batch that never reached ClickHouse.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from confluent_kafka import KafkaError, KafkaException, TopicPartition
from tagtrail.processors.sink.batches import PartitionBatch

_PENDING = re.compile(r"^tagtrail-sink/1 pending (\d+)-(\d+)$")

# Commit errors meaning this consumer no longer owns the partitions: the new owner replays them.
PARTITIONS_LOST = {
    KafkaError.ILLEGAL_GENERATION,
    KafkaError.UNKNOWN_MEMBER_ID,
    KafkaError.REBALANCE_IN_PROGRESS,
    KafkaError.FENCED_INSTANCE_ID,
    KafkaError._ASSIGNMENT_LOST,
}


class PartitionsLost(Exception):
    """The group took these partitions away mid-batch; drop the batch, never skip its offsets."""


def pending_metadata(first: int, last: int) -> str:
    return f"tagtrail-sink/1 pending {first}-{last}"


def parse_pending(metadata: str | None) -> tuple[int, int] | None:
    match = _PENDING.match(metadata or "")
    return (int(match.group(1)), int(match.group(2))) if match else None


def before_offsets(batches: Sequence[PartitionBatch]) -> list[TopicPartition]:
    return [TopicPartition(b.topic, b.partition, b.first, metadata=pending_metadata(b.first, b.last)) for b in batches]


def after_offsets(batches: Sequence[PartitionBatch]) -> list[TopicPartition]:
    return [TopicPartition(b.topic, b.partition, b.last + 1, metadata="") for b in batches]


def commit_error(exc: KafkaException) -> KafkaError | None:
    err = exc.args[0] if exc.args else None
    return err if isinstance(err, KafkaError) else None


def check_committed(result: list[TopicPartition] | None) -> None:
    """A synchronous commit can succeed as a request yet fail per partition."""
    for tp in result or []:
        if tp.error is not None:
            raise KafkaException(tp.error)


def is_lost(exc: KafkaException) -> bool:
    err = commit_error(exc)
    return err is not None and err.code() in PARTITIONS_LOST
