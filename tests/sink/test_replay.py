"""Crash replay without Kafka or ClickHouse: the crash state sits in an in-memory offset store, the
topic in an in-memory log, and ClickHouse is a fake that keeps one copy per deduplication token (as
the real one does) and refuses a block holding a movement with an unknown action (as the movements
table's constraint does). The real-service versions are in test_sink.py and test_crash.py."""

from __future__ import annotations

import io
from dataclasses import dataclass, field

import fastavro
import pytest
from confluent_kafka import TopicPartition

from tagtrail_processors.sink.batches import Batcher, PartitionBatch, Record
from tagtrail_processors.sink.offset_checkpoint import GroupSpec, after_offsets, before_offsets
from tagtrail_processors.sink.replay import CrashReplay, owned_batches
from tagtrail_processors.sink.writer import MovementWriter, group_token
from tests.sink.helpers import MOVEMENTS, movement

TOPIC = "replay.movements"
NEVER_COMMITTED = -1001


class InMemoryOffsets:
    """The consumer group's committed offsets with their metadata, and what this consumer owns."""

    def __init__(self, owned: set[int]) -> None:
        self.owned = owned
        self.store: dict[int, tuple[int, str | None]] = {}

    def commit(self, offsets: list[TopicPartition]) -> None:
        for tp in offsets:
            self.store[tp.partition] = (tp.offset, tp.metadata)

    def committed(self, partitions: list[TopicPartition], timeout: float) -> list[TopicPartition]:
        out = []
        for tp in partitions:
            offset, metadata = self.store.get(tp.partition, (NEVER_COMMITTED, None))
            out.append(TopicPartition(tp.topic, tp.partition, offset) if metadata is None
                       else TopicPartition(tp.topic, tp.partition, offset, metadata=metadata))
        return out

    def assignment(self) -> list[TopicPartition]:
        return [TopicPartition(TOPIC, p) for p in sorted(self.owned)]

    def position(self, partition: int) -> int:
        return max(self.store.get(partition, (0, None))[0], 0)


@dataclass
class InMemoryLog:
    """The movements topic: records per partition, offsets from 0. Also the replay's RangeReader."""

    partitions: dict[int, list[Record]]
    reads: list[GroupSpec] = field(default_factory=list)

    def read(self, spec: GroupSpec) -> list[PartitionBatch]:
        self.reads.append(spec)
        return [PartitionBatch(TOPIC, p, [r for r in self.partitions[p] if first <= r.offset() <= last])
                for p, first, last in spec]

    def batch(self, partition: int, first: int, last: int) -> PartitionBatch:
        return PartitionBatch(TOPIC, partition, self.partitions[partition][first:last + 1])

    def stream_from(self, partition: int, offset: int) -> list[Record]:
        return self.partitions[partition][offset:]


class DataRefused(Exception):
    """How clickhouse-connect reports a refused block: the server's text with its code."""


@dataclass
class FakeClickHouse:
    """raw_insert as MovementWriter calls it. One copy per token; a block with a movement whose
    action is not a known one is refused whole (code 469), like the real table's constraint."""

    stored: list[str] = field(default_factory=list)  # event ids, one per stored row
    tokens: list[str] = field(default_factory=list)  # every insert attempt's token, in order
    kept: set[str] = field(default_factory=set)  # tokens of the blocks stored

    def raw_insert(self, table, columns, *, insert_block: bytes, fmt: str, settings: dict) -> None:
        token = settings["insert_deduplication_token"]
        self.tokens.append(token)
        rows = list(fastavro.reader(io.BytesIO(insert_block)))
        if any(row["action"] == "BOGUS" for row in rows):
            raise DataRefused("Code: 469. DB::Exception: Constraint `known_action` for table movements is violated")
        if token not in self.kept:
            self.kept.add(token)
            self.stored += [row["event_id"] for row in rows]


def topic_of(partitions: int, rows: int, *, bogus: tuple[int, int] | None = None) -> InMemoryLog:
    """`rows` movements per partition; `bogus`: (partition, offset) of one the table refuses."""
    log = {}
    for p in range(partitions):
        records = []
        for o in range(rows):
            extra = {"action": "BOGUS"} if (p, o) == bogus else {}
            m = movement(p * 1000 + o, **extra)
            records.append(Record(o, m.identity.item_key.encode(), MOVEMENTS.encode(m)))
        log[p] = records
    return InMemoryLog(log)


def event_ids(partition: int, first: int, last: int) -> list[str]:
    """The event ids `topic_of` gave these offsets."""
    return [f"ev-{partition * 1000 + o:08d}" for o in range(first, last + 1)]


def writer_for(clickhouse: FakeClickHouse) -> MovementWriter:
    return MovementWriter(clickhouse, wait=lambda _s: True, backoff=lambda _a: 0.0)


@dataclass
class RestartedSink:
    """The replay's part of a sink that starts on a crash state, in the loop's order: assignment,
    pending groups first, then the stream (minus what a group replay wrote) cut into batches."""

    log: InMemoryLog
    offsets: InMemoryOffsets
    clickhouse: FakeClickHouse
    batch_rows: int = 1000
    written: list[list[PartitionBatch]] = field(default_factory=list)  # each insert, in order
    rejected: dict[int, list] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.batcher = Batcher(self.batch_rows, batch_seconds=3600.0, clock=lambda: 0.0, align=True)
        self.replay = CrashReplay(self.offsets, self.log, self.batcher)
        self.writer = writer_for(self.clickhouse)

    def submit(self, groups: list[list[PartitionBatch]]) -> None:
        for group in groups:
            self.written.append(group)
            for partition, refused in self.writer.write_group(group).items():
                self.rejected.setdefault(partition, []).extend(refused)
            self.offsets.commit(after_offsets(owned_batches(self.offsets, group)))

    def start(self) -> None:
        self.replay.assigned(self.offsets.assignment())
        # the consumer fetches from the offsets committed at assignment, a group replay or not
        positions = {p: self.offsets.position(p) for p in self.offsets.owned}
        while self.replay.pending:
            self.replay.replay_next(self.submit)
        for p in sorted(self.offsets.owned):
            stream = self.log.stream_from(p, positions[p])
            fresh = self.replay.unreplayed(p, PartitionBatch(TOPIC, p, stream).records) if stream else None
            if fresh is not None:
                self.batcher.extend(TOPIC, p, fresh)
        while self.batcher.rows:
            self.submit([[b] for b in self.batcher.take(everything=True)])


def crash_during(offsets: InMemoryOffsets, groups: list[list[PartitionBatch]]) -> None:
    """A sink died between BEFORE and AFTER of these group inserts: only BEFORE is committed."""
    offsets.commit(before_offsets(groups))


# -- pending single-partition batch ---------------------------------------------------------------

@pytest.mark.parametrize("metadata", ["written today", "written before group inserts"])
@pytest.mark.parametrize("landed", [False, True])
def test_a_pending_single_partition_batch_is_rebuilt_exactly_and_stored_once(metadata, landed):
    log = topic_of(partitions=1, rows=40)
    offsets = InMemoryOffsets(owned={0})
    pending = log.batch(0, 5, 24)
    if metadata == "written today":
        crash_during(offsets, [[pending]])
    else:  # the exact text the first sink version committed; today's sinks still read it
        offsets.store[0] = (5, "tagtrail-sink/1 pending 5-24")
    clickhouse = FakeClickHouse()
    if landed:
        writer_for(clickhouse).write(pending)
    clickhouse.stored = event_ids(0, 0, 4) + clickhouse.stored  # committed before the crash

    sink = RestartedSink(log, offsets, clickhouse, batch_rows=8)  # today's batches are smaller
    sink.start()

    first = sink.written[0]
    assert [(b.first, b.last, b.solo) for b in first] == [(5, 24, True)]
    assert first[0].token == pending.token == f"{TOPIC}-0-5-24"  # the crashed attempt's token
    assert sorted(clickhouse.stored) == event_ids(0, 0, 39)  # every movement once
    assert offsets.store[0] == (40, "")  # AFTER of the last batch
    assert log.reads == []  # a single-partition batch is rebuilt by the stream itself


# -- pending group insert, members owned by other consumers ---------------------------------------

@pytest.mark.parametrize("landed", [False, True])
def test_a_pending_group_is_rebuilt_whole_by_each_member_owner_and_stored_once(landed):
    log = topic_of(partitions=3, rows=15)
    offsets = InMemoryOffsets(owned=set())
    group = [log.batch(p, 0, 9) for p in range(3)]
    crash_during(offsets, [group])
    clickhouse = FakeClickHouse()
    if landed:
        writer_for(clickhouse).write_group(group)

    mine = RestartedSink(log, offsets, clickhouse)
    mine.offsets.owned = {0}  # partitions 1 and 2 went to another consumer
    mine.start()

    (replayed, *rest) = mine.written
    assert [(b.partition, b.first, b.last) for b in replayed] == [(0, 0, 9), (1, 0, 9), (2, 0, 9)]
    assert group_token(replayed) == group_token(group)  # read back from Kafka, members of others included
    assert log.reads == [((0, 0, 9), (1, 0, 9), (2, 0, 9))]
    assert [(b.partition, b.first, b.last) for g in rest for b in g] == [(0, 10, 14)]  # the stream skipped 0..9
    assert offsets.store[0] == (15, "")
    assert offsets.store[1][0] == offsets.store[2][0] == 0, "AFTER of others' members is their owner's"

    theirs = RestartedSink(log, InMemoryOffsets(owned={1, 2}), clickhouse)
    theirs.offsets.store = offsets.store
    theirs.start()
    assert group_token(theirs.written[0]) == group_token(group)  # the same insert again: ClickHouse keeps one
    assert sorted(clickhouse.stored) == sorted(e for p in range(3) for e in event_ids(p, 0, 14))
    assert {p: offsets.store[p] for p in range(3)} == {p: (15, "") for p in range(3)}


def test_a_group_none_of_whose_members_stays_is_left_to_their_new_owners():
    log = topic_of(partitions=2, rows=5)
    offsets = InMemoryOffsets(owned={0, 1})
    crash_during(offsets, [[log.batch(0, 0, 4), log.batch(1, 0, 4)]])
    replay = CrashReplay(offsets, log, Batcher(10, 3600.0))
    replay.assigned(offsets.assignment())

    replay.revoked({0}, kept={1})
    assert replay.pending  # partition 1 is still here
    replay.revoked({1}, kept=set())
    assert not replay.pending
    assert replay.unreplayed(0, log.batch(0, 0, 4).records) is not None  # a new owner's stream is not skipped


# -- a group ClickHouse refused, written member by member -----------------------------------------

@pytest.mark.parametrize("crashed_after", ["the first member", "every member"])
def test_a_refused_group_is_split_member_by_member_again_and_nothing_is_stored_twice(crashed_after):
    log = topic_of(partitions=2, rows=10, bogus=(1, 6))
    offsets = InMemoryOffsets(owned={0, 1})
    group = [log.batch(0, 0, 9), log.batch(1, 0, 9)]
    crash_during(offsets, [group])
    clickhouse = FakeClickHouse()
    crashed = writer_for(clickhouse)
    if crashed_after == "the first member":
        crashed.write(group[0])  # the group was refused, member 0 stored alone, then the crash
    else:
        crashed.write_group(group)
    attempted = list(clickhouse.tokens)

    sink = RestartedSink(log, offsets, clickhouse)
    sink.start()

    replay_tokens = clickhouse.tokens[len(attempted):]
    assert replay_tokens[0] == group_token(group)  # refused again, the same data the same way
    if crashed_after == "every member":
        assert replay_tokens == attempted  # every split insert repeats a token ClickHouse has
    good = [e for p in range(2) for e in event_ids(p, 0, 9) if e != "ev-00001006"]
    assert sorted(clickhouse.stored) == sorted(good)
    assert [r.record.offset() for r in sink.rejected[1]] == [6]  # for the dead letters, once
    assert sink.rejected[0] == []
    assert {p: offsets.store[p] for p in range(2)} == {0: (10, ""), 1: (10, "")}


# -- nothing pending --------------------------------------------------------------------------------

def test_nothing_pending_after_a_clean_stop_or_on_a_new_group():
    log = topic_of(partitions=2, rows=12)
    offsets = InMemoryOffsets(owned={0, 1})
    offsets.commit(after_offsets([log.batch(0, 0, 3)]))  # partition 0: AFTER; partition 1: never committed
    clickhouse = FakeClickHouse()
    clickhouse.stored = event_ids(0, 0, 3)

    sink = RestartedSink(log, offsets, clickhouse, batch_rows=5)
    sink.start()

    assert log.reads == [] and not sink.replay.pending
    assert all(not b.solo for g in sink.written for b in g)  # batches cut by size, none held to a range
    assert sorted(clickhouse.stored) == sorted(event_ids(0, 0, 11) + event_ids(1, 0, 11))
    assert offsets.store == {0: (12, ""), 1: (12, "")}
