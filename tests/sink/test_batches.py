"""Batch boundaries: size, time, and exact replay of a pending range (no Kafka needed)."""

from __future__ import annotations

import io

import fastavro

from tagtrail_processors.sink.batches import (
    Batcher,
    PartitionBatch,
    Record,
    by_partition,
    pack_groups,
)
from tagtrail_processors.sink.container import ContainerWriter
from tagtrail_processors.sink.framing import EventFraming
from tagtrail_processors.sink.offset_checkpoint import (
    before_offsets,
    parse_pending,
    parse_pending_group,
    pending_metadata,
)
from tests.sink.helpers import MOVEMENTS, movement


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def records(first: int, last: int) -> list[Record]:
    return [Record(o, b"k", b"v") for o in range(first, last + 1)]


def test_partition_batch_cut_by_size_then_by_time():
    clock = Clock()
    batcher = Batcher(batch_rows=100, batch_seconds=1.0, clock=clock)
    batcher.extend("t", 0, records(0, 149))
    batcher.extend("t", 1, records(0, 9))
    assert batcher.due()
    (full,) = batcher.take()
    assert (full.partition, full.first, full.last) == (0, 0, 99)
    assert not batcher.due()
    clock.now = 1.5
    assert batcher.due()
    got = {(b.partition, b.first, b.last) for b in batcher.take()}
    assert got == {(0, 100, 149), (1, 0, 9)}
    assert batcher.rows == 0


def test_a_partition_behind_gets_larger_batches_and_live_ones_keep_the_normal_limits():
    clock = Clock()
    waiting = {0: 10_000, 1: 0}  # partition 0 has a backlog on the broker; partition 1 is live
    batcher = Batcher(batch_rows=100, batch_seconds=1.0, clock=clock, catch_up_rows=300,
                      backlog=lambda _topic, partition, _last: waiting[partition])
    batcher.extend("t", 0, records(0, 249))
    batcher.extend("t", 1, records(0, 49))
    assert not batcher.due()  # 250 < 300 while behind; 50 < 100 live
    clock.now = 1.5
    (live,) = batcher.take()  # the live partition is due by time as usual; the one behind waits
    assert (live.partition, live.first, live.last) == (1, 0, 49)
    batcher.extend("t", 0, records(250, 349))
    (big,) = batcher.take()
    assert (big.partition, big.first, big.last) == (0, 0, 299)  # one insert of catch_up_rows
    clock.now = 10.0  # a partition behind is still flushed by time, later: 5 x batch_seconds
    (aged,) = batcher.take()
    assert (aged.first, aged.last) == (300, 349)
    waiting[0] = 0  # caught up: everything held goes in one batch (up to catch_up_rows) once due
    batcher.extend("t", 0, records(350, 499))
    (rest,) = batcher.take()
    assert (rest.first, rest.last) == (350, 499)
    assert batcher.rows == 0


def test_catching_up_raises_the_held_limit_to_two_catch_up_batches():
    assert Batcher(batch_rows=100, batch_seconds=1.0).held_limit == 400
    assert Batcher(batch_rows=100, batch_seconds=1.0, catch_up_rows=1000).held_limit == 2000
    # a catch-up size at or below batch_rows changes nothing
    off = Batcher(batch_rows=100, batch_seconds=1.0, catch_up_rows=50, backlog=lambda *_: 10**6)
    off.extend("t", 0, records(0, 149))
    (first,) = off.take()
    assert (first.first, first.last) == (0, 99)


def test_pending_range_is_rebuilt_exactly_even_when_more_was_read():
    clock = Clock()
    batcher = Batcher(batch_rows=10, batch_seconds=1.0, clock=clock)
    batcher.replay("t", 2, last=24)  # the crashed run was writing 5..24 (larger than today's batch_rows)
    batcher.extend("t", 2, records(5, 19))
    clock.now = 5.0
    assert batcher.take() == []  # the range is not complete yet: wait, whatever the time
    batcher.extend("t", 2, records(20, 40))
    (replayed,) = batcher.take()
    assert (replayed.first, replayed.last) == (5, 24)
    assert replayed.token == "t-2-5-24"
    (rest,) = batcher.take(everything=True)
    assert (rest.first, rest.last) == (25, 34)


def test_forgotten_partitions_are_dropped():
    batcher = Batcher(batch_rows=10, batch_seconds=1.0, clock=Clock())
    batcher.extend("t", 0, records(0, 4))
    batcher.extend("t", 1, records(0, 4))
    batcher.forget([("t", 0)])
    assert batcher.rows == 5
    assert [b.partition for b in batcher.take(everything=True)] == [1]


def test_one_partition_due_takes_the_others_along_when_aligned():
    clock = Clock()
    batcher = Batcher(batch_rows=100, batch_seconds=1.0, clock=clock, align=True)
    batcher.extend("t", 0, records(0, 119))
    batcher.extend("t", 1, records(0, 9))
    batcher.extend("t", 2, records(0, 4))
    got = {(b.partition, b.first, b.last) for b in batcher.take()}
    assert got == {(0, 0, 99), (1, 0, 9), (2, 0, 4)}  # not one insert per partition per second


def test_batches_are_packed_into_group_inserts_in_partition_order_and_replays_stay_alone():
    def batch(p: int, n: int, solo: bool = False) -> PartitionBatch:
        return PartitionBatch("t", p, records(10, 9 + n), solo=solo)

    groups = pack_groups([batch(2, 60), batch(0, 30), batch(1, 30), batch(3, 5, solo=True), batch(4, 150)], max_rows=100)
    assert [[(b.partition, len(b.records)) for b in g] for g in groups] == [
        [(0, 30), (1, 30)], [(2, 60)], [(3, 5)], [(4, 150)]]
    # every member's BEFORE metadata names the whole group, so any owner can rebuild it
    offsets = before_offsets(groups[:1])
    assert [parse_pending_group(tp.metadata) for tp in offsets] == [
        (10, 39, ((0, 10, 39), (1, 10, 39))), (10, 39, ((0, 10, 39), (1, 10, 39)))]
    assert parse_pending_group(before_offsets(groups[1:2])[0].metadata) == (10, 69, None)


def test_pending_metadata_round_trip():
    assert parse_pending(pending_metadata(17, 4242)) == (17, 4242)
    assert parse_pending("") is None and parse_pending(None) is None and parse_pending("something else") is None


def test_container_is_a_valid_avro_file_and_deterministic():
    framing = EventFraming()
    events = [movement(i) for i in range(3)]
    messages = [MOVEMENTS.encode(m) for m in events]
    assert framing.all_bundled(messages)
    data = ContainerWriter().build(messages, "seed")
    assert data == ContainerWriter().build(messages, "seed")
    decoded = list(fastavro.reader(io.BytesIO(data)))
    assert [r["event_id"] for r in decoded] == [m.event_id for m in events]
    assert [r["_single_object_header"] for r in decoded] == [framing.header] * 3
    assert decoded[1]["identity"]["item_key"] == events[1].identity.item_key


def test_batches_of_tombstones_or_foreign_messages_are_not_sent_as_they_are():
    framing = EventFraming()
    good = MOVEMENTS.encode(movement(0))
    assert not framing.all_bundled([good, None])
    assert not framing.all_bundled([good, framing.header])  # header without a body
    assert not framing.all_bundled([good, b"\x00" + good[1:]])


class Message(Record):
    def __init__(self, topic: str, partition: int, offset: int) -> None:
        super().__init__(offset, b"k%d" % offset, b"v%d" % offset)
        self._topic, self._partition = topic, partition

    def topic(self) -> str:
        return self._topic

    def partition(self) -> int:
        return self._partition


def test_consumed_messages_become_runs_of_one_partition_in_consume_order():
    messages = [Message("t", 0, 5), Message("t", 0, 6), Message("t", 1, 0), Message("t", 0, 7)]
    runs = [(topic, partition, records.offsets, records.keys) for topic, partition, records in by_partition(messages)]
    assert runs == [("t", 0, [5, 6], [b"k5", b"k6"]), ("t", 1, [0], [b"k0"]), ("t", 0, [7], [b"k7"])]
    batcher = Batcher(batch_rows=10, batch_seconds=1.0, clock=Clock())
    for topic, partition, records in by_partition(messages):
        batcher.extend(topic, partition, records)
    got = {b.partition: [(r.offset(), r.value()) for r in b.records] for b in batcher.take(everything=True)}
    assert got == {0: [(5, b"v5"), (6, b"v6"), (7, b"v7")], 1: [(0, b"v0")]}
