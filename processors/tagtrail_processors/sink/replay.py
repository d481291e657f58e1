"""Crash replay: what a crashed sink was writing, found in the committed offset metadata, rebuilt exactly.

A sink that dies between a batch's BEFORE and AFTER commits (see `checkpoint`) leaves the pending
range in the metadata of each partition it was writing. Whoever owns such a partition next:
- a single-partition batch (metadata "pending FIRST-LAST", also what sinks before group inserts
  wrote): its next batch must end exactly at LAST, so the `Batcher` is told and the stream rebuilds it;
- a member of a group insert (metadata "... group P:FIRST-LAST,..."): the whole group is read back
  from Kafka, members owned by other consumers included, and written as one insert again before any
  new batch; the stream then skips what the group covered on this sink's member partitions.
Either way the insert carries the token of the first attempt, so ClickHouse keeps one copy (and
refuses, then splits, the same data the same way: `MovementWriter.write_group`).

The replay talks to small interfaces: an `OffsetStore` (committed offsets with their metadata, and the
partitions this consumer owns), a `RangeReader` (offset ranges read back) and a `Submit` (where a
rebuilt insert goes: the flusher). The Kafka ones are the sink's consumer and `consuming.KafkaRanges`.
"""

from __future__ import annotations

import bisect
from collections.abc import Callable, Iterable
from typing import Protocol

import structlog
from confluent_kafka import TopicPartition

from tagtrail_processors.sink.batches import Batcher, PartitionBatch, Records
from tagtrail_processors.sink.offset_checkpoint import GroupSpec, parse_pending_group

log = structlog.get_logger(__name__)

COMMITTED_TIMEOUT_S = 30


class OffsetStore(Protocol):
    """The consumer group's committed offsets, each with its checkpoint metadata (BEFORE: a pending
    range; AFTER: empty), and the partitions this consumer owns now. A Consumer is one."""

    def committed(self, partitions: list[TopicPartition], timeout: float) -> list[TopicPartition]: ...

    def assignment(self) -> list[TopicPartition]: ...


class RangeReader(Protocol):
    def read(self, spec: GroupSpec) -> list[PartitionBatch]:
        """The records of each (partition, first, last), as batches in `spec`'s order."""
        ...


# Takes a batch set (a list of group inserts) to write; the flusher's submit in the sink.
Submit = Callable[[list[list[PartitionBatch]]], None]


def owned_batches(owner: OffsetStore, batches: list[PartitionBatch]) -> list[PartitionBatch]:
    """The batches of partitions this consumer owns: a replayed group also holds others' members,
    whose AFTER commit is their owner's."""
    owned = {tp.partition for tp in owner.assignment()}
    return [b for b in batches if b.partition in owned]


class CrashReplay:
    def __init__(self, offsets: OffsetStore, ranges: RangeReader, batcher: Batcher) -> None:
        self.offsets = offsets
        self.ranges = ranges
        self.batcher = batcher
        # Group inserts to rebuild before anything else, and, per owned member partition, the last
        # offset they cover (the stream skips up to it).
        self._groups: set[GroupSpec] = set()
        self._through: dict[int, int] = {}

    @property
    def pending(self) -> bool:
        """A group insert waits to be rebuilt (before any new batch of its partitions)."""
        return bool(self._groups)

    def assigned(self, partitions: list[TopicPartition]) -> None:
        """Reads the committed metadata of newly assigned partitions and plans what to rebuild."""
        for tp in self.offsets.committed(partitions, timeout=COMMITTED_TIMEOUT_S):
            pending = parse_pending_group(tp.metadata)
            if not pending:
                continue
            first, last, group = pending
            if group is None:
                self.batcher.replay(tp.topic, tp.partition, last)
                log.info("replaying_pending_batch", topic=tp.topic, partition=tp.partition, first=first, last=last)
            else:
                self._groups.add(group)
                self._through[tp.partition] = last

    def replay_next(self, submit: Submit) -> None:
        """Rebuilds the next pending group insert from Kafka, members owned by other consumers
        included, and hands it to `submit` with its original members (hence its token). Its BEFORE
        metadata is already committed; AFTER is committed for the members this sink owns."""
        spec = min(self._groups)
        group = self.ranges.read(spec)
        self._groups.discard(spec)
        log.info("replaying_pending_group", partitions=[p for p, _, _ in spec], rows=sum(len(b.records) for b in group))
        submit([group])

    def unreplayed(self, partition: int, records: Records) -> Records | None:
        """The consumed `records` of `partition` a group replay did not write already (None: none)."""
        through = self._through.get(partition)
        if through is None:
            return records
        if records.offsets[-1] <= through:
            return None
        if records.offsets[0] <= through:
            records = records[bisect.bisect_right(records.offsets, through):]
        del self._through[partition]
        return records

    def revoked(self, revoked: Iterable[int], kept: set[int]) -> None:
        """Forgets revoked partitions; a group none of whose members stays here (`kept`) is replayed
        by the members' new owners."""
        for p in revoked:
            self._through.pop(p, None)
        self._groups = {g for g in self._groups if any(p in kept for p, _, _ in g)}
