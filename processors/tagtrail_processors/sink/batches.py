"""Cuts the consumed stream into batches, one per topic-partition, by size and by time.

Each partition's batch is one ClickHouse insert, flushed when it holds `batch_rows` records or its
oldest record is `batch_seconds` old. Per-partition batches keep inserts large (every insert costs
ClickHouse a fixed amount for the parts it writes in the table and each materialized view), and
make the insert token depend on one partition's offsets only, so any consumer that owns the partition
after a rebalance rebuilds the same batch.

Catching up: while a partition is behind (at least `batch_rows` more records wait on the broker), its
batch grows to `catch_up_rows` and the time limit stretches to CATCH_UP_AGE_FACTOR x `batch_seconds`, and
any batch takes up to `catch_up_rows` of what is held. At live rates nothing changes (a batch is due at
`batch_rows` or `batch_seconds`); after an outage or a burst, fewer, larger inserts drain the backlog
sooner, because ClickHouse's cost per insert is largely fixed (parts written, then merged); figures
in docs/benchmarks.md.

Batch boundaries matter for exactly once: the insert token of a batch names its offset range, so a
batch replayed after a crash must cover exactly the same offsets. When the checkpoint says a batch was
being written (a pending range), that partition's next batch ends exactly at the pending range's end.

Records are held as columns (offsets, keys, values), not as the consumer's Message objects: Messages
are tracked by Python's garbage collector, and held ones are promoted until full collections run over
and over, a large share of the consumer thread's CPU; held as columns, none run (figures in
docs/benchmarks.md).
"""

from __future__ import annotations

import bisect
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from itertools import groupby
from operator import methodcaller
from typing import overload

TopicPartitionKey = tuple[str, int]
# Held records, as a multiple of batch_rows, beyond which the fullest partitions are flushed early
# (at least two catch-up batches' worth when catching up is on).
MAX_HELD_BATCHES = 4
# While behind, a partition's batch is due by time only after this many batch_seconds.
CATCH_UP_AGE_FACTOR = 5


def no_backlog(_topic: str, _partition: int, _last: int) -> int:
    return 0


class Record:
    """One consumed record, shaped like confluent_kafka.Message (offset(), key(), value()), so tests
    and the dead-letter path can handle a single record the same way as a Message."""

    __slots__ = ("_key", "_offset", "_value")

    def __init__(self, offset: int, key: bytes | None, value: bytes | None) -> None:
        self._offset, self._key, self._value = offset, key, value

    def offset(self) -> int:
        return self._offset

    def key(self) -> bytes | None:
        return self._key

    def value(self) -> bytes | None:
        return self._value

    def __repr__(self) -> str:
        return f"Record(offset={self._offset})"


class Records(Sequence[Record]):
    """Records of one partition, in offset order, as three parallel columns. Indexing gives a Record;
    slicing gives Records without copying the bytes."""

    __slots__ = ("keys", "offsets", "values")

    def __init__(self, offsets: list[int], keys: list[bytes | None], values: list[bytes | None]) -> None:
        self.offsets, self.keys, self.values = offsets, keys, values

    @classmethod
    def of(cls, records: Iterable) -> Records:
        """From anything shaped like a Message (Record, confluent_kafka.Message)."""
        if isinstance(records, Records):
            return records
        records = list(records)
        return cls([r.offset() for r in records], [r.key() for r in records], [r.value() for r in records])

    def __len__(self) -> int:
        return len(self.offsets)

    @overload
    def __getitem__(self, index: int) -> Record: ...
    @overload
    def __getitem__(self, index: slice) -> Records: ...
    def __getitem__(self, index):
        if isinstance(index, slice):
            return Records(self.offsets[index], self.keys[index], self.values[index])
        return Record(self.offsets[index], self.keys[index], self.values[index])

    def __iter__(self) -> Iterator[Record]:
        return map(Record, self.offsets, self.keys, self.values)

    def extend(self, other: Records) -> None:
        self.offsets += other.offsets
        self.keys += other.keys
        self.values += other.values

    def cut(self, count: int) -> Records:
        """Removes and returns the first `count` records."""
        head = self[:count]
        del self.offsets[:count], self.keys[:count], self.values[:count]
        return head


_TOPIC, _PARTITION, _OFFSET, _KEY, _VALUE, _ERROR = map(methodcaller, ("topic", "partition", "offset", "key", "value", "error"))


def by_partition(messages: Sequence) -> Iterator[tuple[str, int, Records]]:
    """Consumed messages (confluent_kafka.Message or Record-like, errors already removed) as columns
    per run of one topic-partition, in consume order. Column-wise `map` instead of a per-message loop:
    this runs for every record the sink reads."""
    if not messages:
        return
    if len(set(map(_TOPIC, messages))) > 1:  # one topic is subscribed; stay correct anyway
        for message in messages:
            yield message.topic(), message.partition(), Records.of([message])
        return
    topic = messages[0].topic()
    offsets, keys, values = list(map(_OFFSET, messages)), list(map(_KEY, messages)), list(map(_VALUE, messages))
    start = 0
    for partition, run in groupby(map(_PARTITION, messages)):
        end = start + sum(1 for _ in run)
        yield topic, partition, Records(offsets[start:end], keys[start:end], values[start:end])
        start = end


def has_errors(messages: Sequence) -> bool:
    return any(map(_ERROR, messages))


@dataclass
class PartitionBatch:
    """`solo`: a replayed pending batch that was written on its own, so it must be again (its token)."""

    topic: str
    partition: int
    records: Records
    solo: bool = False

    def __post_init__(self) -> None:
        if not isinstance(self.records, Records):
            self.records = Records.of(self.records)

    @property
    def first(self) -> int:
        return self.records.offsets[0]

    @property
    def last(self) -> int:
        return self.records.offsets[-1]

    @property
    def token(self) -> str:
        """ClickHouse insert deduplication token: the same offsets always give the same token."""
        return f"{self.topic}-{self.partition}-{self.first}-{self.last}"


def pack_groups(batches: Sequence[PartitionBatch], max_rows: int) -> list[list[PartitionBatch]]:
    """A set's batches as group inserts of at most `max_rows` rows (a batch larger than that alone),
    members in partition order; solo batches (replays of single inserts) stay alone."""
    groups: list[list[PartitionBatch]] = []
    current: list[PartitionBatch] = []
    rows = 0
    for batch in sorted(batches, key=lambda b: (b.topic, b.partition)):
        if batch.solo:
            if current:
                groups.append(current)
                current, rows = [], 0
            groups.append([batch])
            continue
        size = len(batch.records)
        if current and rows + size > max_rows:
            groups.append(current)
            current, rows = [], 0
        current.append(batch)
        rows += size
    if current:
        groups.append(current)
    return groups


@dataclass
class _Buffer:
    records: Records = field(default_factory=lambda: Records([], [], []))
    started: float = 0.0


@dataclass
class Batcher:
    """`backlog(topic, partition, last_held_offset)` says how many records still wait on the broker
    after the last one held; `catch_up_rows` (None: off) is the batch size while behind; `align`
    takes every held partition along when one is due."""

    batch_rows: int
    batch_seconds: float
    clock: Callable[[], float] = time.monotonic
    catch_up_rows: int | None = None
    backlog: Callable[[str, int, int], int] = no_backlog
    align: bool = False  # take every held partition when one is due (for group inserts)
    _buffers: dict[TopicPartitionKey, _Buffer] = field(default_factory=dict)
    _replay_end: dict[TopicPartitionKey, int] = field(default_factory=dict)
    _rows: int = 0

    @property
    def rows(self) -> int:
        return self._rows

    @property
    def held_limit(self) -> int:
        """Rows held beyond which the consumer stops reading until the insert in flight is done."""
        return max(MAX_HELD_BATCHES * self.batch_rows, 2 * self._max_rows)

    @property
    def _max_rows(self) -> int:
        return max(self.batch_rows, self.catch_up_rows or 0)

    def add(self, topic: str, partition: int, record: Record) -> None:
        self.extend(topic, partition, [record])

    def extend(self, topic: str, partition: int, records: Records | Sequence[Record]) -> None:
        records = Records.of(records)
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
        return self._rows >= self.held_limit or any(
            self._due(tp, b, now) for tp, b in self._buffers.items() if b.records
        )

    def take(self, *, everything: bool = False) -> list[PartitionBatch]:
        """Removes and returns the batches ready to write (all of them with `everything`, e.g. when
        stopping). A replayed partition waits until its whole pending range has been read again;
        records beyond a batch's end stay for the next batch."""
        now = self.clock()
        crowded = self._rows >= self.held_limit
        by_size = sorted(self._buffers.items(), key=lambda kv: -len(kv[1].records))
        # One partition due takes the others along (they would be due within batch_seconds anyway):
        # the sink writes a set as few group inserts, so this saves inserts and delays nothing.
        due = {tp for tp, b in by_size if b.records and tp not in self._replay_end and self._due(tp, b, now)}
        along = self.align and bool(due)
        batches = []
        for rank, (tp, buffer) in enumerate(by_size):
            if not buffer.records:
                continue
            replay_end = self._replay_end.get(tp)
            solo = replay_end is not None
            if solo:
                if not self._replay_complete(tp):
                    continue
                cut = bisect.bisect_right(buffer.records.offsets, replay_end)  # offsets ascend within a partition
                del self._replay_end[tp]
            elif everything or along or tp in due or (crowded and rank < len(by_size) // 2 + 1):
                cut = min(len(buffer.records), self._max_rows)
            else:
                continue
            ready = buffer.records.cut(cut)
            buffer.started = now
            self._rows -= len(ready)
            if ready:
                batches.append(PartitionBatch(tp[0], tp[1], ready, solo=solo))
        return batches

    def _due(self, tp: TopicPartitionKey, buffer: _Buffer, now: float) -> bool:
        if tp in self._replay_end:
            return self._replay_complete(tp)
        held, age = len(buffer.records), now - buffer.started
        if self._behind(tp, buffer):
            return held >= self._max_rows or age >= CATCH_UP_AGE_FACTOR * self.batch_seconds
        return held >= self.batch_rows or age >= self.batch_seconds

    def _behind(self, tp: TopicPartitionKey, buffer: _Buffer) -> bool:
        if not self.catch_up_rows or self.catch_up_rows <= self.batch_rows:
            return False
        return self.backlog(tp[0], tp[1], buffer.records.offsets[-1]) >= self.batch_rows

    def _replay_complete(self, tp: TopicPartitionKey) -> bool:
        buffer = self._buffers.get(tp)
        return bool(buffer and buffer.records) and buffer.records.offsets[-1] >= self._replay_end[tp]
