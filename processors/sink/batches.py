"""Cuts the consumed stream into batches, one per topic-partition, by size and by time.

Each partition's batch is one ClickHouse insert, flushed when it holds `batch_rows` records or its
oldest record is `batch_seconds` old. Per-partition batches keep inserts large (every insert costs
ClickHouse a fixed ~50-100 ms for the parts it writes in the table and each materialized view), and
make the insert token depend on one partition's offsets only, so any consumer that owns the partition
after a rebalance rebuilds the same batch.

Batch boundaries matter for exactly once: the insert token of a batch names its offset range, so a
batch replayed after a crash must cover exactly the same offsets. When the checkpoint says a batch was
being written (a pending range), that partition's next batch ends exactly at the pending range's end.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

TopicPartitionKey = tuple[str, int]
# Held records, as a multiple of batch_rows, beyond which the fullest partitions are flushed early.
MAX_HELD_BATCHES = 4


class Record:
    """A consumed record. Shaped like confluent_kafka.Message (offset(), key(), value()), so the sink
    keeps the consumer's Message objects as they are and tests can build records directly."""

    __slots__ = ("_key", "_offset", "_value")

    def __init__(self, offset: int, key: bytes | None, value: bytes | None) -> None:
        self._offset, self._key, self._value = offset, key, value

    def offset(self) -> int:
        return self._offset

    def key(self) -> bytes | None:
        return self._key

    def value(self) -> bytes | None:
        return self._value


@dataclass
class PartitionBatch:
    topic: str
    partition: int
    records: list[Record]

    @property
    def first(self) -> int:
        return self.records[0].offset()

    @property
    def last(self) -> int:
        return self.records[-1].offset()

    @property
    def token(self) -> str:
        """ClickHouse insert deduplication token: the same offsets always give the same token."""
        return f"{self.topic}-{self.partition}-{self.first}-{self.last}"


@dataclass
class _Buffer:
    records: list[Record] = field(default_factory=list)
    started: float = 0.0


@dataclass
class Batcher:
    batch_rows: int
    batch_seconds: float
    clock: Callable[[], float] = time.monotonic
    _buffers: dict[TopicPartitionKey, _Buffer] = field(default_factory=dict)
    _replay_end: dict[TopicPartitionKey, int] = field(default_factory=dict)
    _rows: int = 0

    @property
    def rows(self) -> int:
        return self._rows

    def add(self, topic: str, partition: int, record: Record) -> None:
        self.extend(topic, partition, [record])

    def extend(self, topic: str, partition: int, records: list[Record]) -> None:
        buffer = self._buffers.get((topic, partition))
        if buffer is None:
            buffer = self._buffers[(topic, partition)] = _Buffer(started=self.clock())
        elif not buffer.records:
            buffer.started = self.clock()
        buffer.records.extend(records)
        self._rows += len(records)

    def replay(self, topic: str, partition: int, last: int) -> None:
        """The next batch of this partition must end at `last` (a pending range from the checkpoint)."""
        self._replay_end[(topic, partition)] = last

    def forget(self, partitions: Iterable[TopicPartitionKey]) -> None:
        """Partitions taken away by a rebalance: their new owner re-reads from the committed offset."""
        for tp in partitions:
            buffer = self._buffers.pop(tp, None)
            self._rows -= len(buffer.records) if buffer else 0
            self._replay_end.pop(tp, None)

    def due(self) -> bool:
        now = self.clock()
        return self._rows >= MAX_HELD_BATCHES * self.batch_rows or any(
            self._due(tp, b, now) for tp, b in self._buffers.items() if b.records
        )

    def take(self, *, everything: bool = False) -> list[PartitionBatch]:
        """Removes and returns the batches ready to write (all of them with `everything`, e.g. when
        stopping). A replayed partition waits until its whole pending range has been read again;
        records beyond a batch's end stay for the next batch."""
        now = self.clock()
        crowded = self._rows >= MAX_HELD_BATCHES * self.batch_rows
        by_size = sorted(self._buffers.items(), key=lambda kv: -len(kv[1].records))
        batches = []
        for rank, (tp, buffer) in enumerate(by_size):
            if not buffer.records:
                continue
            replay_end = self._replay_end.get(tp)
            if replay_end is not None:
                if not self._replay_complete(tp):
                    continue
                cut = sum(1 for r in buffer.records if r.offset() <= replay_end)
                del self._replay_end[tp]
            elif everything or self._due(tp, buffer, now) or (crowded and rank < len(by_size) // 2 + 1):
                cut = min(len(buffer.records), self.batch_rows)
            else:
                continue
            ready, buffer.records = buffer.records[:cut], buffer.records[cut:]
            buffer.started = now
            self._rows -= len(ready)
            if ready:
                batches.append(PartitionBatch(tp[0], tp[1], ready))
        return batches

    def _due(self, tp: TopicPartitionKey, buffer: _Buffer, now: float) -> bool:
        if tp in self._replay_end:
            return self._replay_complete(tp)
        return len(buffer.records) >= self.batch_rows or now - buffer.started >= self.batch_seconds

    def _replay_complete(self, tp: TopicPartitionKey) -> bool:
        buffer = self._buffers.get(tp)
        return bool(buffer and buffer.records) and buffer.records[-1].offset() >= self._replay_end[tp]
