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

Batches of several partitions can share one insert (a group: ClickHouse's cost per insert is largely
fixed). Each member's BEFORE metadata then also names the whole group ("group P:FIRST-LAST,..."), so
whichever consumer owns any member after a crash can rebuild the identical insert, reading the other
members' ranges straight from Kafka if another consumer owns them now; two consumers replaying the
same group send the same token, and ClickHouse keeps one.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from confluent_kafka import KafkaError, KafkaException, TopicPartition

from tagtrail_processors.sink.batches import PartitionBatch

_PENDING = re.compile(r"^tagtrail-sink/1 pending (\d+)-(\d+)(?: group ((?:\d+:\d+-\d+,)*\d+:\d+-\d+))?$")
_MEMBER = re.compile(r"(\d+):(\d+)-(\d+)")

# (partition, first, last) of each member of a group insert, in partition order
GroupSpec = tuple[tuple[int, int, int], ...]

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


def pending_metadata(first: int, last: int, group: GroupSpec | None = None) -> str:
    text = f"tagtrail-sink/1 pending {first}-{last}"
    if group and len(group) > 1:
        text += " group " + ",".join(f"{p}:{f}-{last_}" for p, f, last_ in group)
    return text


def parse_pending(metadata: str | None) -> tuple[int, int] | None:
    pending = parse_pending_group(metadata)
    return pending[:2] if pending else None


def parse_pending_group(metadata: str | None) -> tuple[int, int, GroupSpec | None] | None:
    """(first, last, group or None) of the batch a crashed sink was writing, or None."""
    match = _PENDING.match(metadata or "")
    if not match:
        return None
    group = tuple((int(p), int(f), int(l)) for p, f, l in _MEMBER.findall(match.group(3))) if match.group(3) else None
    return int(match.group(1)), int(match.group(2)), group


def group_spec(group: Sequence[PartitionBatch]) -> GroupSpec:
    return tuple((b.partition, b.first, b.last) for b in group)


def before_offsets(groups: Sequence[Sequence[PartitionBatch]]) -> list[TopicPartition]:
    out = []
    for group in groups:
        spec = group_spec(group)
        out += [TopicPartition(b.topic, b.partition, b.first, metadata=pending_metadata(b.first, b.last, spec)) for b in group]
    return out


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
