"""`tagtrail sink`: committed movements, business transactions and item master data from Kafka into
ClickHouse, exactly once.

Each stream (`streams`: a topic, its table, its consumer group) runs the same loop in a thread of its
own; a failure in one stops them all and is raised once each has finished what it was writing.
In each, the consumer thread reads (read_committed), cuts per-partition batches and owns every offset commit,
in the order written down in `checkpoint`; the flusher thread inserts the batch set in flight meanwhile.
While ClickHouse or the group coordinator is unreachable, writes and commits are retried with backoff
holding the offsets, and the consumer waits with its partitions paused (still polling, so the group
keeps it): nothing is skipped and nothing is committed that ClickHouse has not acknowledged.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any, Protocol

import structlog
from confluent_kafka import Consumer, KafkaException, TopicPartition

from tagtrail.config import ConfigError, SiteConfig
from tagtrail.config.site import SinkSettings
from tagtrail.kafka import KafkaConnection
from tagtrail.observability import LagReporter, Metrics
from tagtrail_processors.sink.batches import (
    Batcher,
    PartitionBatch,
    by_partition,
    pack_groups,
)
from tagtrail_processors.sink.consuming import (
    CONSUME_CHUNK,
    FETCH,
    KafkaRanges,
    without_errors,
)
from tagtrail_processors.sink.dead_letters import DeadLetterPublisher
from tagtrail_processors.sink.flusher import Flusher
from tagtrail_processors.sink.offset_checkpoint import (
    PartitionsLost,
    after_offsets,
    before_offsets,
    check_committed,
    is_lost,
)
from tagtrail_processors.sink.prepare import prepare_clickhouse
from tagtrail_processors.sink.replay import CrashReplay, owned_batches
from tagtrail_processors.sink.streams import MOVEMENTS, STREAMS, SinkStream
from tagtrail_processors.sink.writer import MAX_BATCH_ROWS, EventWriter, Stopping

log = structlog.get_logger(__name__)

STAGE = "sink"
STATS_EVERY_S = 10.0
# How long the consumer waits for an insert without polling; far below max.poll.interval.ms (300 s).
QUIET_WAIT_S = 5.0


def run_sink(site: SiteConfig, conn: KafkaConnection, clickhouse_client: Any, *, stop: threading.Event,
             metrics: Metrics | None = None, ready: threading.Event | None = None,
             streams: tuple[SinkStream, ...] = STREAMS) -> None:
    """Runs until `stop` is set; then writes what it holds if ClickHouse is up, and returns.
    `metrics` and `ready` (set once the schema is in place and every stream's partitions are assigned,
    even none) feed the service's /metrics and /readyz. A stream that fails sets `stop`, so the others
    finish their batches, and its error is raised."""
    validate(site.sink)
    parts = ReadyWhenAll(ready, len(streams))
    loops = [SinkLoop(conn, clickhouse_client, site.sink, stream=stream, stop=stop, metrics=metrics, ready=parts.part())
             for stream in streams]
    errors: list[BaseException] = []
    threads: list[threading.Thread] = []
    try:
        prepare_clickhouse(clickhouse_client, site, backoff=loops[0].backoff, stop=stop)
        threads = [threading.Thread(target=_run_loop, args=(loop, stop, errors), name=f"sink-{loop.stream.name}", daemon=True)
                   for loop in loops[1:]]
        for thread in threads:
            thread.start()
        _run_loop(loops[0], stop, errors)
    except Stopping:
        log.info("sink_stopped_while_waiting", message="offsets of unwritten batches were not committed; they are replayed on restart")
    finally:
        for thread in threads:
            thread.join()
        for loop in loops:
            loop.close()
    if errors:
        raise errors[0]


def _run_loop(loop: SinkLoop, stop: threading.Event, errors: list[BaseException]) -> None:
    """One stream's loop; its failure is kept for run_sink and stops the other streams."""
    try:
        loop.run()
    except Stopping:
        log.info("sink_stopped_while_waiting", stream=loop.stream.name,
                 message="offsets of unwritten batches were not committed; they are replayed on restart")
    except BaseException as exc:  # noqa: BLE001 - raised by run_sink once every stream has stopped
        log.error("sink_stream_failed", stream=loop.stream.name, error=str(exc))
        errors.append(exc)
        stop.set()


class ReadyWhenAll:
    """`ready` is set once every part is: the sink is ready when each stream's consumer has its partitions."""

    def __init__(self, ready: threading.Event | None, parts: int) -> None:
        self.ready = ready
        self.waiting = parts
        self.lock = threading.Lock()

    def part(self) -> _ReadyPart:
        return _ReadyPart(self)

    def _one_set(self) -> None:
        with self.lock:
            self.waiting -= 1
            if self.waiting <= 0 and self.ready is not None:
                self.ready.set()


class ReadySignal(Protocol):
    def set(self) -> None: ...


class _ReadyPart:
    def __init__(self, whole: ReadyWhenAll) -> None:
        self.whole = whole
        self._set = False

    def set(self) -> None:
        if not self._set:  # every rebalance assigns again; a part counts once
            self._set = True
            self.whole._one_set()


def validate(settings: SinkSettings) -> None:
    """Batch boundaries are part of the exactly-once invariant: refuse settings that would break them.
    A ConfigError, so `tagtrail run` gives up at once instead of restarting what no restart can fix."""
    problems = []
    if not 1 <= settings.batch_rows <= MAX_BATCH_ROWS:
        problems.append(f"sink.batch_rows: must be between 1 and {MAX_BATCH_ROWS} (one insert must stay one block), got {settings.batch_rows}")
    if not 1 <= settings.catch_up_batch_rows <= MAX_BATCH_ROWS:
        # at or below batch_rows it simply has no effect
        problems.append(f"sink.catch_up_batch_rows: must be between 1 and {MAX_BATCH_ROWS}, got {settings.catch_up_batch_rows}")
    if settings.batch_seconds <= 0:
        problems.append(f"sink.batch_seconds: must be positive, got {settings.batch_seconds}")
    if settings.retry_max_backoff_s <= 0:
        problems.append(f"sink.retry_max_backoff_s: must be positive, got {settings.retry_max_backoff_s}")
    if problems:
        raise ConfigError(problems)


def exponential_backoff(cap_s: float, base_s: float = 0.25) -> Callable[[int], float]:
    return lambda attempt: min(cap_s, base_s * (2 ** min(attempt, 20)))


class SinkLoop:
    def __init__(
        self,
        conn: KafkaConnection,
        client: Any,
        settings: SinkSettings,
        *,
        stop: threading.Event,
        stream: SinkStream = MOVEMENTS,
        clock: Callable[[], float] = time.monotonic,
        metrics: Metrics | None = None,
        ready: ReadySignal | None = None,
    ) -> None:
        self.client = client
        self.ready = ready
        self.settings = settings
        self.stop = stop
        self.clock = clock
        self.stream = stream
        self.topic = stream.topic(conn.topics)
        self.group_id = stream.group_id(conn.topics)
        self.backoff = exponential_backoff(settings.retry_max_backoff_s)
        membership = {"group.instance.id": f"{self.group_id}.{settings.instance_id}"} if settings.instance_id else {}
        self.consumer = Consumer(conn.consumer_config(self.group_id, **FETCH, **membership))
        self.batcher = Batcher(settings.batch_rows, settings.batch_seconds, clock=clock,
                               catch_up_rows=settings.catch_up_batch_rows, backlog=self._backlog, align=True)
        self.group_rows = max(settings.batch_rows, settings.catch_up_batch_rows)
        self.replay = CrashReplay(self.consumer, KafkaRanges(conn, self.topic, self.group_id, stop=stop), self.batcher)
        self.producer = conn.producer()
        self.writer = EventWriter(client, wait=lambda s: not stop.wait(s), backoff=self.backoff, stream=stream)
        self.dead_letters = DeadLetterPublisher(conn, self.producer, metrics=metrics)
        self.flusher = Flusher(self.writer, self.dead_letters, wait=lambda s: not stop.wait(s), backoff=self.backoff,
                               metrics=metrics)
        self.lag = LagReporter(metrics, self.consumer, STAGE) if metrics is not None else None
        self._stats_at = clock()
        self._stats_rows = 0
        self._closing = False

    # -- main loop ------------------------------------------------------------------------------
    def run(self) -> None:
        self.consumer.subscribe([self.topic], on_assign=self._assigned, on_revoke=self._revoked, on_lost=self._revoked)
        log.info("sink_started", stream=self.stream.name, topic=self.topic, group=self.group_id, batch_rows=self.settings.batch_rows,
                 batch_seconds=self.settings.batch_seconds, catch_up_batch_rows=self.settings.catch_up_batch_rows)
        while not self.stop.is_set():
            self._add(self.consumer.consume(num_messages=CONSUME_CHUNK, timeout=0.05))
            self._finish(self.flusher.collect())
            self._report_lag()
            if self.flusher.busy:
                if self.batcher.rows >= self.batcher.held_limit:
                    self._wait_for_flusher()  # ClickHouse is behind: stop reading until it catches up
                continue
            if self.replay.pending:
                self.replay.replay_next(self._submit)  # before any new batch of those partitions
                continue
            if self.batcher.due():
                self._start(self.batcher.take())
        self._wait_for_flusher()
        if self.batcher.rows and not self.flusher.busy:
            self._start(self.batcher.take(everything=True))
            self._wait_for_flusher()

    def _start(self, batches: list[PartitionBatch]) -> None:
        """Checkpoint step 1 (BEFORE), then the inserts (groups of partitions) in the flusher thread."""
        if not batches:
            return
        groups = pack_groups(batches, self.group_rows)
        try:
            self._commit(before_offsets(groups))
        except PartitionsLost as exc:
            log.info("partitions_lost_before_write", error=str(exc), batches=len(batches))
            return
        self._submit(groups)

    def _submit(self, groups: list[list[PartitionBatch]]) -> None:
        """The inserts of a batch set (new, or a replayed group) to the flusher thread."""
        self._started_at = self.clock()
        self.flusher.submit(groups)

    def _finish(self, batches: list[PartitionBatch] | None) -> None:
        """Checkpoint step 4 (AFTER) for a batch set ClickHouse acknowledged (for a replayed group:
        the members this sink owns; their owners commit the others)."""
        if not batches:
            return
        mine = owned_batches(self.consumer, batches)
        try:
            if mine:
                self._commit(after_offsets(mine))
        except PartitionsLost as exc:
            log.info("partitions_lost_after_write", error=str(exc), message="the new owner replays; ClickHouse drops the repeat")
        self._stats(sum(len(b.records) for b in batches), len(batches))

    def _wait_for_flusher(self) -> None:
        """Waits quietly for an insert of normal length; polls with the partitions paused only once
        the wait gets long (ClickHouse down). Pausing drops librdkafka's prefetched messages, which it
        fetches again on resume: pausing every 0.1 s during each insert re-read the backlog over and over."""
        quiet_until = self.clock() + QUIET_WAIT_S
        while self.flusher.in_flight is not None:
            quiet = self.clock() < quiet_until
            batches = self.flusher.collect(timeout=0.1 if quiet else 0.0)
            if batches is not None:
                self._finish(batches)
                return
            if not quiet:
                self._keep_alive(0.1)
            self._report_lag()  # most telling while ClickHouse is down and the sink waits here

    def _commit(self, offsets: list) -> None:
        attempt = 0
        while True:
            try:
                check_committed(self.consumer.commit(offsets=offsets, asynchronous=False))
                return
            except KafkaException as exc:
                if is_lost(exc):
                    raise PartitionsLost(str(exc)) from exc
                delay = self.backoff(attempt)
                attempt += 1
                log.warning("offset_commit_failed_retrying", attempt=attempt, retry_in_s=delay, error=str(exc))
                deadline = self.clock() + delay
                while self.clock() < deadline:
                    if self.stop.is_set():
                        raise Stopping() from exc
                    self._keep_alive(min(0.2, delay))

    def _keep_alive(self, seconds: float) -> None:
        """Waits with the partitions paused but polling, so a long wait does not cost the group
        membership. Records of partitions assigned during the poll itself are kept."""
        assignment = self.consumer.assignment()
        if assignment:
            self.consumer.pause(assignment)
        try:
            msg = self.consumer.poll(seconds)
            if msg is not None:
                self._add([msg])
        finally:
            assignment = self.consumer.assignment()
            if assignment:
                self.consumer.resume(assignment)

    def _add(self, messages: list) -> None:
        extend, unreplayed = self.batcher.extend, self.replay.unreplayed
        for topic, partition, records in by_partition(without_errors(messages)):
            fresh = unreplayed(partition, records)  # a group replay wrote what it covered
            if fresh is not None:
                extend(topic, partition, fresh)

    # -- rebalance ------------------------------------------------------------------------------
    def _assigned(self, consumer: Consumer, partitions: list) -> None:
        """Plans the crash replay of newly assigned partitions from their committed metadata.

        Not while closing: a rebalance that completes inside close() (a killed member's session
        expiring, say) still delivers its assignment, but nothing will be consumed from it, and the
        committed-offsets read would fail on the handle being torn down, ending a clean stop in error."""
        if self._closing or self.stop.is_set():
            log.info("partitions_assigned_while_stopping", topic=self.topic, partitions=[tp.partition for tp in partitions])
            return
        self.replay.assigned(partitions)
        log.info("partitions_assigned", topic=self.topic, partitions=[tp.partition for tp in partitions])
        if self.ready is not None:
            self.ready.set()  # an idle member with no partitions is ready too

    def _revoked(self, consumer: Consumer, partitions: list) -> None:
        """Finishes the batch set in flight and commits it while the partitions are still ours, then
        drops the buffered records of the revoked partitions: the new owner re-reads them."""
        while self.flusher.in_flight is not None and not self.stop.is_set():
            try:
                batches = self.flusher.collect(timeout=0.1)
            except Stopping:
                break
            mine = owned_batches(consumer, batches or [])
            if mine:
                try:
                    check_committed(consumer.commit(offsets=after_offsets(mine), asynchronous=False))
                except KafkaException as exc:
                    log.info("commit_on_revoke_failed", error=str(exc), message="the new owner replays; ClickHouse drops the repeat")
        self.batcher.forget((tp.topic, tp.partition) for tp in partitions)
        revoked = {tp.partition for tp in partitions}
        self.replay.revoked(revoked, kept={tp.partition for tp in consumer.assignment()} - revoked)
        log.info("partitions_revoked", topic=self.topic, partitions=[tp.partition for tp in partitions])

    # -- bookkeeping ----------------------------------------------------------------------------
    def _backlog(self, topic: str, partition: int, last: int) -> int:
        """Records after `last` on the broker, from the high watermark of the latest fetch response
        (no request). Transaction markers count too: an estimate, good enough to tell behind from live."""
        try:
            _low, high = self.consumer.get_watermark_offsets(TopicPartition(topic, partition), cached=True)
        except KafkaException:
            return 0
        return max(0, high - last - 1)

    def _report_lag(self) -> None:
        if self.lag is not None:
            self.lag.maybe_report()

    def _stats(self, rows: int, partitions: int) -> None:
        self._stats_rows += rows
        log.debug("batches_written", rows=rows, partitions=partitions, seconds=round(self.clock() - self._started_at, 3))
        now = self.clock()
        if now - self._stats_at >= STATS_EVERY_S:
            log.info("sink_progress", topic=self.topic, rows=self._stats_rows, rows_per_s=round(self._stats_rows / (now - self._stats_at)),
                     inserted_total=self.writer.inserted_rows, dead_letters_total=self.dead_letters.published)
            self._stats_at, self._stats_rows = now, 0

    def close(self) -> None:
        self._closing = True
        try:
            self.consumer.close()
        except Exception as exc:  # noqa: BLE001 - closing must not hide the error that ended the loop
            log.warning("consumer_close_failed", error=str(exc))
        self.producer.flush(10)
