"""The processor service: consume raw reads and scans, publish movements, exactly once.

Thin I/O shell around the pure core (`tracker.PartitionTracker`, one per input partition):
a batch `consume()` loop feeds it, `checkpoint.Checkpoint` owns the transaction, and
`state_store` restores state from the changelog when partitions are assigned.

Assignment uses the range assignor on purpose: it gives partition p of both input topics to
the same instance, which the design relies on (reads and scans of one item meet in one
partition, and changelog partition p holds their state). Cooperative-sticky would not.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable

import structlog
from confluent_kafka import OFFSET_BEGINNING, OFFSET_INVALID, Consumer, KafkaException, TopicPartition

from tagtrail.config import SiteConfig
from tagtrail.events import DeadLetter
from tagtrail.events.movement import PROVISIONAL_HEADER, RETRACTED_HEADER
from tagtrail.kafka import KafkaConnection
from tagtrail.observability import LagReporter, Metrics
from tagtrail.wire import Codec, DecodeError
from tagtrail_processors.decisions.tracker import PartitionTracker, Rules
from tagtrail_processors.stream.call_watchdog import CallWatchdog
from tagtrail_processors.stream.read_decoder import TagReadDecoder
from tagtrail_processors.stream.state_store import changelog_records, restore
from tagtrail_processors.stream.transaction_checkpoint import Checkpoint, InputState, Rewind, TransactionState

log = structlog.get_logger(__name__)

STAGE = "processor"


def wall_clock_us() -> int:
    return time.time_ns() // 1000


def exit_on_hung_call(what: str, seconds: float) -> None:
    """A Kafka call hung past any timeout (see call_watchdog): exit so the supervisor restarts us.

    Nothing is lost: the hung transaction is not committed, so its input is processed again after the
    restart. os._exit, because the hung call holds the main thread and a clean shutdown would wait on it."""
    log.critical("kafka_call_hung", call=what, seconds=round(seconds, 1), exit_code=EXIT_HUNG,
                 message="a Kafka client call blocked past its timeout (librdkafka #5456/#5511); exiting so the "
                         "supervisor restarts the processor; uncommitted input is processed again, exactly once")
    os._exit(EXIT_HUNG)


EXIT_HUNG = 75  # EX_TEMPFAIL: try again, a restart fixes it

# Fetch batching. With librdkafka's defaults (fetch.min.bytes 1) the broker answers a fetch as soon as
# one record is there, so a live stream of reads produced as the ingest adapters do (linger 5 ms)
# arrives in thousands of tiny fetch responses a second, each waking the thread blocked in consume(),
# which costs the consumer several times the CPU per message (docs/benchmarks.md has the figures). The
# broker now holds a fetch until 1 MB is there or FETCH_WAIT_MS passed: a read waits at most that much
# longer before it is consumed (a backlog is served at once, as before).
FETCH_WAIT_MS = 50
FETCH_MIN_BYTES = 1_000_000


def run_processor(site: SiteConfig, conn: KafkaConnection, *, stop: threading.Event, instance_id: str = "0",
                  clock: Callable[[], int] = wall_clock_us, metrics: Metrics | None = None,
                  ready: threading.Event | None = None,
                  on_hung_call: Callable[[str, float], None] = exit_on_hung_call) -> None:
    """Runs until `stop` is set, then commits the current batch and returns. `metrics` and `ready`
    (set once partitions are assigned, even none) feed the service's /metrics and /readyz;
    `on_hung_call` hears of a transactional call blocked far past its timeout."""
    watchdog = CallWatchdog(on_hung_call)
    try:
        Processor(site, conn, instance_id=instance_id, clock=clock, metrics=metrics, ready=ready,
                  watchdog=watchdog).run(stop)
    finally:
        watchdog.close()


class Processor:
    def __init__(self, site: SiteConfig, conn: KafkaConnection, *, instance_id: str, clock: Callable[[], int],
                 metrics: Metrics | None = None, ready: threading.Event | None = None,
                 watchdog: CallWatchdog | None = None) -> None:
        self.site = site
        self.metrics = metrics
        self.ready = ready
        self.conn = conn
        self.clock = clock
        self.settings = site.processing
        self.rules = Rules.from_site(site)
        self.topics = conn.topics
        self.reads_decoder = TagReadDecoder()
        self.scan_codec = Codec("Scan")
        self.movement_codec = Codec("Movement")
        self.dead_codec = Codec("DeadLetter")
        self.trackers: dict[int, PartitionTracker] = {}
        self.written_watermarks: dict[int, int] = {}
        self.instance_id = instance_id
        txid = f"{conn.topics.prefix}.processor.{instance_id}"
        self.producer = conn.transactional_producer(
            txid, **{"transaction.timeout.ms": int(self.settings.transaction_timeout_s * 1000),
                   "message.timeout.ms": int(self.settings.transaction_timeout_s * 1000), "linger.ms": 20})
        # Static membership: a restarted instance (same id) takes its partitions back at once,
        # without waiting for the session of its previous, killed incarnation to time out.
        self.consumer = Consumer(conn.consumer_config(
            f"{conn.topics.prefix}.processor",
            **{"partition.assignment.strategy": "range", "group.instance.id": txid,
               "session.timeout.ms": int(self.settings.session_timeout_s * 1000),
               "heartbeat.interval.ms": max(500, int(self.settings.session_timeout_s * 1000) // 5),
               "fetch.wait.max.ms": FETCH_WAIT_MS, "fetch.min.bytes": FETCH_MIN_BYTES}))
        # A commit may retry retriable errors until the broker aborts the transaction at its timeout;
        # well past that, the call is hung rather than slow.
        self.checkpoint = Checkpoint(self.producer, self.consumer, watchdog=watchdog,
                                     hung_after_s=2 * self.settings.transaction_timeout_s + 60)
        self.lag = LagReporter(metrics, self.consumer, STAGE) if metrics is not None else None
        self.input_state = InputState.IN_STEP
        self.committed_positions: dict[tuple[str, int], int] = {}
        self.parked: dict[int, tuple[PartitionTracker, int | None]] = {}
        self.closing = False  # set once close() starts: an assignment served inside it is not restored
        self.movement_partitions = conn.partitions
        self.counts = {"reads": 0, "scans": 0, "movements": 0, "dead_letters": 0}

    # -- lifecycle -------------------------------------------------------------------------------
    def _check_topics(self) -> None:
        """Partition p of reads, scans and the changelog must hold the same items: refuse to start
        on topics whose partition counts differ (created by hand, or by another version)."""
        md = self.consumer.list_topics(timeout=30)
        counts = {}
        for name in (self.topics.reads, self.topics.scans, self.topics.processor_state, self.topics.movements):
            topic = md.topics.get(name)
            if topic is None or topic.error is not None:
                raise RuntimeError(f"topic {name} is missing: create the topics first (tagtrail creates them on start)")
            counts[name] = len(topic.partitions)
        inputs = {counts[self.topics.reads], counts[self.topics.scans], counts[self.topics.processor_state]}
        if len(inputs) != 1:
            raise RuntimeError("the reads, scans and processor-state topics must have the same number of partitions, "
                               f"found {counts}")
        self.movement_partitions = counts[self.topics.movements]

    def run(self, stop: threading.Event) -> None:
        self._check_topics()
        self.producer.init_transactions(60)
        self.consumer.subscribe([self.topics.reads, self.topics.scans], on_assign=self._on_assign,
                                on_revoke=self._on_revoke, on_lost=self._on_lost)
        log.info("processor_started", instance=self.instance_id, group=f"{self.topics.prefix}.processor")
        last_commit = time.monotonic()
        last_report = last_commit
        batch = self.settings.consume_batch
        try:
            while not stop.is_set():
                try:
                    msgs = self.consumer.consume(batch, timeout=0.1)
                    if self.input_state is InputState.MUST_REWIND:
                        self._rewind()
                        continue
                    if msgs:
                        self._process(msgs)
                    self._emit()
                    now = time.monotonic()
                    if now - last_commit >= self.settings.commit_every_s:
                        self._commit()
                        last_commit = now
                    if self.lag is not None:
                        self.lag.maybe_report()
                    if now - last_report >= 10:
                        log.info("processor_progress", **self.counts, partitions=sorted(self.trackers))
                        last_report = now
                except Rewind:
                    self._rewind()
            try:
                self._emit()
                self._commit()
            except Rewind:
                # The consumer's close below revokes, and a revoke commits: it must not commit input
                # positions past the aborted transaction (its movements are gone, its state is not).
                self.input_state = InputState.MUST_REWIND
                log.warning("final_commit_aborted", message="uncommitted input will be processed again on restart")
        finally:
            self.closing = True
            self.consumer.close()  # revokes: commits once more if anything is open
            self.producer.flush(10)
            log.info("processor_stopped", **self.counts)

    # -- the hot path ----------------------------------------------------------------------------
    def _process(self, msgs: list) -> None:
        now = self.clock()
        reads_topic = self.topics.reads
        decode = self.reads_decoder.decode
        trackers = self.trackers
        reads = 0
        for msg in msgs:
            if msg.error():
                log.warning("consume_error", error=msg.error().str())
                continue
            tracker = trackers.get(msg.partition())
            if tracker is None:  # never expected (on_assign restores first); never skip input either
                log.warning("partition_without_state", partition=msg.partition())
                self.trackers.update(restore(self.conn, self.rules, [msg.partition()]))
                tracker = trackers[msg.partition()]
            data = msg.value()
            if msg.topic() == reads_topic:
                reads += 1
                key = msg.key()
                try:
                    f = decode(data, key)
                except DecodeError as exc:
                    self._dead_letter(msg, "undecodable", str(exc))
                    continue
                item_key = key.decode() if key else None
                identity = None
                if item_key is None or item_key not in tracker.items:
                    identity = self.reads_decoder.identity(data, f)
                    item_key = item_key or identity.item_key
                reason = tracker.add_read(item_key, identity, f.read_point, f.first_seen, f.last_seen, f.seen_count,
                                          f.peak_rssi, f.event_id, now)
                if reason is not None:
                    self._dead_letter(msg, reason, f"TagRead {f.event_id} at {f.read_point}, first seen {f.first_seen}")
            else:
                self.counts["scans"] += 1
                try:
                    scan = self.scan_codec.decode(data)
                except DecodeError as exc:
                    self._dead_letter(msg, "undecodable", str(exc))
                    continue
                reason = tracker.add_scan(scan, now)
                if reason is not None:
                    self._dead_letter(msg, reason, f"Scan {scan.event_id} scanned at {scan.scanned_at}")
        self.counts["reads"] += reads
        if self.metrics is not None and reads:
            self.metrics.reads_smoothed(reads)

    def _emit(self) -> None:
        now = self.clock()
        topic = self.topics.movements
        produce = self.checkpoint.produce
        for tracker in self.trackers.values():
            for movement, retracted in tracker.advance(now):
                key = movement.identity.item_key.encode()
                value = self.movement_codec.encode(movement)
                headers = [RETRACTED_HEADER] if retracted else None
                if movement.provisional:
                    headers = [*(headers or ()), PROVISIONAL_HEADER]
                produce(topic, self.conn.partition_for(key, self.movement_partitions), key, value, headers)
                self.counts["movements"] += 1
                if self.metrics is not None:
                    self.metrics.movements(movement.movement_type)

    def _dead_letter(self, msg, reason: str, error: str) -> None:
        source = msg.topic()
        letter = DeadLetter(source=source, stage=STAGE, reason=reason, error=error, payload=msg.value() or b"",
                            occurred_at=self.clock(),
                            context={"partition": str(msg.partition()), "offset": str(msg.offset()),
                                     "key": (msg.key() or b"").decode(errors="replace")})
        self.checkpoint.produce(self.topics.dead_letters, 0, source.encode(), self.dead_codec.encode(letter))
        self.counts["dead_letters"] += 1
        if self.metrics is not None:
            self.metrics.dead_letter(STAGE, reason)

    # -- checkpoints -----------------------------------------------------------------------------
    def _commit(self) -> None:
        positions = self.consumer.position(self.consumer.assignment())
        moved = [tp for tp in positions if tp.offset >= 0 and self.committed_positions.get((tp.topic, tp.partition)) != tp.offset]
        for p, tracker in self.trackers.items():
            if (not tracker.dirty and not tracker.dirty_hot and not tracker.dirty_emitted
                    and self.written_watermarks.get(p) == tracker.watermark.value):
                continue
            for key, value in changelog_records(tracker):
                self.checkpoint.produce(self.topics.processor_state, p, key, value)
            self.written_watermarks[p] = tracker.watermark.value
        if moved:
            self.checkpoint.begin()
        if self.checkpoint.state is not TransactionState.OPEN:
            return
        self.checkpoint.commit(positions)
        for tp in positions:
            if tp.offset >= 0:
                self.committed_positions[(tp.topic, tp.partition)] = tp.offset

    def _rewind(self) -> None:
        """Back to the last commit: input positions from the group, state from the changelog."""
        self.input_state = InputState.IN_STEP
        assignment = self.consumer.assignment()
        committed = self.consumer.committed(assignment, timeout=30)
        for tp in committed:
            offset = tp.offset if tp.offset != OFFSET_INVALID else OFFSET_BEGINNING
            self.consumer.seek(TopicPartition(tp.topic, tp.partition, offset))
        partitions = sorted(self.trackers)
        self.trackers = restore(self.conn, self.rules, partitions)
        self.written_watermarks = {p: t.watermark.value for p, t in self.trackers.items()}
        self.committed_positions.clear()
        log.warning("rewound", partitions=partitions)

    # -- rebalances ------------------------------------------------------------------------------
    def _on_assign(self, consumer: Consumer, partitions: list[TopicPartition]) -> None:
        if self.closing:
            # a rebalance completing inside close(): nothing will be processed, so no state to restore
            log.info("partitions_assigned_while_closing", partitions=sorted(tp.partition for tp in partitions))
            return
        wanted = sorted({tp.partition for tp in partitions} - set(self.trackers))
        reused = []
        for p in wanted:
            parked = self.parked.get(p)
            if parked is not None and self._changelog_end(p) == parked[1]:
                self.trackers[p] = parked[0]  # nobody wrote its changelog since we committed: still exact
                reused.append(p)
        self.parked.clear()
        self.trackers.update(restore(self.conn, self.rules, [p for p in wanted if p not in reused]))
        for p in wanted:
            self.written_watermarks[p] = self.trackers[p].watermark.value
        log.info("partitions_assigned", partitions=sorted(self.trackers), kept_state=reused)
        if self.ready is not None:
            self.ready.set()  # an idle member with no partitions is ready too

    def _changelog_end(self, partition: int) -> int | None:
        try:
            return self.consumer.get_watermark_offsets(TopicPartition(self.topics.processor_state, partition),
                                                       timeout=10, cached=False)[1]
        except KafkaException:
            return None

    def _on_revoke(self, consumer: Consumer, partitions: list[TopicPartition]) -> None:
        """Commits what was processed so far, so the next owner starts exactly there.

        Not after an abort that was not rewound yet: the in-memory state then holds input whose
        movements were aborted, and committing it with the input positions would lose them. The
        next owner starts from the last commit instead, as after a crash."""
        if self.input_state is InputState.MUST_REWIND:
            log.warning("revoked_without_commit", partitions=sorted({tp.partition for tp in partitions}),
                        message="the open work was aborted; the next owner redoes it from the last commit")
            self.parked.clear()
            self._drop(partitions)
            return
        try:
            self._emit()
            self._commit()
            # An eager rebalance revokes everything and often hands the same partitions back: keep
            # their state with the changelog's end, to reuse it if nobody else wrote there meanwhile.
            self.parked = {p: (t, self._changelog_end(p)) for p, t in self.trackers.items()
                           if p in {tp.partition for tp in partitions}}
        except Rewind:
            self.input_state = InputState.MUST_REWIND
        except KafkaException as exc:  # e.g. fenced: the uncommitted work is redone by the next owner
            log.error("commit_on_revoke_failed", error=str(exc.args[0]))
            self.input_state = InputState.MUST_REWIND
        self._drop(partitions)

    def _on_lost(self, consumer: Consumer, partitions: list[TopicPartition]) -> None:
        self.parked.clear()
        if self.checkpoint.state is TransactionState.OPEN:
            try:
                self.checkpoint.abort()
            except Rewind:
                self.input_state = InputState.MUST_REWIND
        self._drop(partitions)

    def _drop(self, partitions: list[TopicPartition]) -> None:
        for p in {tp.partition for tp in partitions}:
            self.trackers.pop(p, None)
            self.written_watermarks.pop(p, None)
        self.committed_positions.clear()
        log.info("partitions_revoked", partitions=sorted({tp.partition for tp in partitions}))
