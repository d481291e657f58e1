"""One batch set in flight: a set whose insert has finished stays in flight until the consumer thread
collects it and commits its AFTER offsets; only then may the next set start (its BEFORE commit).

The insert's timing is the test's: the fake writer blocks until the test lets each insert through.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field

import pytest
from confluent_kafka import TopicPartition

from tagtrail.config.site import SinkSettings
from tagtrail.kafka import KafkaConnection
from tagtrail.kafka.topics import Topics
from tagtrail_processors.sink import sink_service as app
from tagtrail_processors.sink.batches import PartitionBatch, Record
from tagtrail_processors.sink.flusher import Flusher
from tagtrail_processors.sink.offset_checkpoint import parse_pending

TOPIC = "burst.movements"
# a safety net for a broken test, never a timing the test relies on
HANG_S = 30.0


class GatedWriter:
    """A MovementWriter whose inserts wait while the test holds its gate."""

    def __init__(self) -> None:
        self._gate = threading.Event()
        self.written: list[tuple[int, int]] = []  # (partition, offset) of every row stored

    def let_through(self) -> None:
        self._gate.set()

    def hold(self) -> None:
        self._gate.clear()

    def write_group(self, group: list[PartitionBatch]) -> dict[int, list]:
        assert self._gate.wait(timeout=HANG_S), "the test never let this insert through"
        for batch in group:
            self.written += [(batch.partition, o) for o in batch.records.offsets]
        return {b.partition: [] for b in group}


class NoDeadLetters:
    def publish(self, batch, rejected) -> None:
        raise AssertionError(f"no record of this test is rejected, got {rejected}")

    def flush(self, wait, backoff) -> None:
        pass


def flusher_for(writer: GatedWriter) -> Flusher:
    return Flusher(writer, NoDeadLetters(), wait=lambda _s: True, backoff=lambda _a: 0.0)


def batch(partition: int, first: int, rows: int) -> PartitionBatch:
    return PartitionBatch(TOPIC, partition, [Record(o, b"k", b"v") for o in range(first, first + rows)])


def test_a_finished_set_stays_in_flight_until_it_is_collected() -> None:
    writer = GatedWriter()
    flusher = flusher_for(writer)
    first = batch(0, 0, 3)
    flusher.submit([[first]])
    assert flusher.busy and flusher.collect() is None  # inserting

    writer.let_through()
    assert flusher.written(timeout=HANG_S)
    writer.hold()
    assert flusher.busy, "an inserted but uncollected set is still in flight: its AFTER commit is not done"
    with pytest.raises(RuntimeError, match="still in flight"):
        flusher.submit([[batch(0, 3, 3)]])

    assert flusher.collect() == [first]  # the refused submit lost nothing
    assert not flusher.busy and flusher.collect() is None  # handed back once, never twice
    second = batch(0, 3, 3)
    flusher.submit([[second]])
    writer.let_through()
    assert flusher.collect(timeout=HANG_S) == [second]
    assert writer.written == [(0, o) for o in range(6)]


def test_a_failed_insert_is_raised_once_and_frees_the_flusher() -> None:
    class FailingWriter(GatedWriter):
        def write_group(self, group):
            super().write_group(group)
            raise ConnectionError("clickhouse went away")

    writer = FailingWriter()
    flusher = flusher_for(writer)
    flusher.submit([[batch(1, 0, 2)]])
    writer.let_through()
    assert flusher.written(timeout=HANG_S) and flusher.busy
    with pytest.raises(ConnectionError, match="went away"):
        flusher.collect()
    assert not flusher.busy and flusher.collect() is None


# -- the sink loop through the interleaving that crashed it --------------------------------------

class Message:
    def __init__(self, partition: int, offset: int) -> None:
        self._partition, self._offset = partition, offset

    def error(self):
        return None

    def topic(self) -> str:
        return TOPIC

    def partition(self) -> int:
        return self._partition

    def offset(self) -> int:
        return self._offset

    def key(self) -> bytes:
        return f"01/00614141123452/21/{self._offset}".encode()

    def value(self) -> bytes:
        return b"movement"


@dataclass
class BurstConsumer:
    """The sink's consumer over one burst: `chunks` are handed out one per consume() call; when they
    are used up the sink is told to stop (it then writes what it holds). Commits are recorded."""

    chunks: list[list[Message]]
    partitions: int
    stop: threading.Event
    commits: list[list[TopicPartition]] = field(default_factory=list)

    def subscribe(self, topics, on_assign, on_revoke, on_lost) -> None:
        on_assign(self, [TopicPartition(TOPIC, p) for p in range(self.partitions)])

    def committed(self, partitions, timeout):
        return [TopicPartition(tp.topic, tp.partition, -1001) for tp in partitions]

    def assignment(self):
        return [TopicPartition(TOPIC, p) for p in range(self.partitions)]

    def consume(self, num_messages, timeout):
        if not self.chunks:
            self.stop.set()
            return []
        return self.chunks.pop(0)

    def poll(self, timeout):
        return None

    def pause(self, partitions) -> None:
        pass

    def resume(self, partitions) -> None:
        pass

    def get_watermark_offsets(self, tp, cached=False):
        return 0, 0

    def commit(self, offsets, asynchronous):
        assert asynchronous is False
        self.commits.append(list(offsets))
        return offsets

    def close(self) -> None:
        pass


class Producer:
    def __init__(self, _config) -> None:
        pass

    def flush(self, _timeout) -> int:
        return 0


class InsertEndsRightAfterCollect(Flusher):
    """The crash's interleaving, made certain: whenever the loop's collect() finds the insert still
    running, the insert finishes just after (before the loop looks at `busy` and the batcher)."""

    def collect(self, timeout: float = 0.0):
        batches = super().collect(timeout)
        if batches is None and self.busy and not self.written():
            self.writer.let_through()
            assert self.written(timeout=HANG_S)
            self.writer.hold()
        return batches


def test_a_burst_never_submits_on_top_of_a_finished_uncollected_set(monkeypatch) -> None:
    """One reader report of 10,000 distinct tags: 10,000 movements arrive at once. Each batch is due
    as soon as it is read, and each insert ends between the loop's collect() and its next submit."""
    partitions, rows, chunk = 3, 10_000, app.CONSUME_CHUNK
    messages = [Message(i % partitions, i // partitions) for i in range(rows)]
    by_partition = {p: [m for m in messages if m.partition() == p] for p in range(partitions)}
    chunks = [part[i:i + chunk] for i in range(0, max(map(len, by_partition.values())), chunk)
              for part in by_partition.values() if part[i:i + chunk]]
    stop = threading.Event()
    consumer = BurstConsumer(chunks, partitions, stop)
    monkeypatch.setattr(app, "Consumer", lambda _config: consumer)
    monkeypatch.setattr(KafkaConnection, "producer", lambda _conn, **_overrides: Producer(None))
    settings = SinkSettings(batch_rows=chunk, catch_up_batch_rows=chunk, batch_seconds=3600.0)
    conn = KafkaConnection("unused:9092", Topics("burst"), partitions)
    loop = app.SinkLoop(conn, client=None, settings=settings, stop=stop, clock=lambda: 0.0)
    writer = GatedWriter()
    loop.flusher = InsertEndsRightAfterCollect(writer, NoDeadLetters(), wait=lambda _s: True, backoff=lambda _a: 0.0)

    loop.run()  # raised "a batch set is still in flight; collect it first" before the fix

    assert sorted(writer.written) == sorted((m.partition(), m.offset()) for m in messages)  # each row once
    pending: dict[int, int] = {}  # partition -> first offset of the set in flight (BEFORE committed)
    committed = {p: 0 for p in range(partitions)}
    for offsets in consumer.commits:  # one synchronous commit call each
        if all(parse_pending(tp.metadata) for tp in offsets):
            assert not pending, "a BEFORE commit while the previous set's AFTER commit is not done"
            for tp in offsets:
                assert tp.offset == committed[tp.partition], "a BEFORE commit skipped or repeated offsets"
                pending[tp.partition] = tp.offset
        else:
            assert {tp.partition for tp in offsets} == set(pending), "an AFTER commit of another set"
            for tp in offsets:
                assert tp.offset > pending.pop(tp.partition)
                committed[tp.partition] = tp.offset
    assert not pending
    assert committed == {p: len(by_partition[p]) for p in range(partitions)}


@pytest.mark.kafka
@pytest.mark.parametrize("clickhouse_target", ["chdb"], indirect=True)
def test_a_burst_of_10000_distinct_tags_is_stored_once_by_a_live_sink(kafka, clickhouse_target, clickhouse):
    """The field report: a live sink, then one reader report's 10,000 distinct tags at once. Small
    batches make many sets, each due while the one before is finishing."""
    from tests.sink.helpers import SinkThread, committed_lag, count, movement, produce_movements, site_for, wait_until

    site = site_for(kafka, clickhouse_target.settings, batch_rows=300, catch_up_batch_rows=300, batch_seconds=0.02)
    burst = [movement(i) for i in range(10_000)]
    with SinkThread(site, kafka, clickhouse) as sink:
        wait_until(lambda: count(clickhouse, "SELECT count() FROM movements") == 0, 60, "the sink's schema in place")
        produce_movements(kafka, burst)
        wait_until(lambda: committed_lag(kafka) == 0 or not sink.thread.is_alive(), 120, "the burst stored and committed")
    assert count(clickhouse, "SELECT count() FROM movements") == len(burst)
    assert count(clickhouse, "SELECT uniqExact(event_id) FROM movements") == len(burst)
