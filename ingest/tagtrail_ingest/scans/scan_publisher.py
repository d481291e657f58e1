"""Publishes each upload's records in a Kafka transaction, several uploads per transaction.

An upload (its scans, its dead letters and its ledger verdict) is committed all or nothing, and
the HTTP answer waits for the commit: nothing is acknowledged that Kafka does not hold
(acks=all, idempotent producer), and read_committed consumers never see half an upload.

One thread owns the producer. It takes every upload waiting when it is free and commits them in
one transaction (group commit): under load, a commit's cost (a few ms on the broker) is shared by
all uploads that arrived meanwhile, while a lone upload is committed at once.

When a transaction fails (Kafka down, commit timed out) every upload in it gets `KafkaUnavailable`
(HTTP 503). The transaction is aborted; if even the abort fails, the producer is dropped and a new
one with the same transactional.id is initialised, which makes the coordinator abort the old
transaction. If the commit had in fact gone through, the ledger will find the verdict when the
device retries (`on_uncertain` marks it stale).
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass, field

import structlog
from confluent_kafka import KafkaException, Producer

from tagtrail.kafka import KafkaConnection

log = structlog.get_logger(__name__)


class KafkaUnavailable(RuntimeError):
    """Kafka did not confirm the upload in time; none of it is visible to read_committed readers."""


@dataclass(frozen=True)
class Record:
    topic: str
    key: bytes
    value: bytes
    partitions: int  # of the topic; the publisher no longer needs it (the producer knows the cluster's topics)


@dataclass
class PendingUpload:
    records: list[Record]
    ledger: Record
    future: Future = field(default_factory=Future)


class TransactionalPublisher:
    def __init__(
        self,
        conn: KafkaConnection,
        *,
        transactional_id: str,
        timeout_s: float,
        on_uncertain: Callable[[], None] = lambda: None,
        max_group_records: int = 50_000,
    ) -> None:
        self.conn = conn
        self.transactional_id = transactional_id
        self.timeout_s = timeout_s
        self.on_uncertain = on_uncertain
        self.max_group_records = max_group_records
        self._queue: queue.Queue[PendingUpload] = queue.Queue()
        self._producer: Producer | None = None
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._run, name="scan-publisher", daemon=True)
        self._next_init = 0.0

    @property
    def ready(self) -> bool:
        return self._producer is not None

    def start(self) -> None:
        try:
            self._init(time.monotonic() + self.timeout_s)
        except KafkaUnavailable as exc:
            log.warning("kafka_unavailable_at_start", error=str(exc))
        self._thread.start()

    def close(self, timeout_s: float = 30.0) -> None:
        """Commits what is queued, then stops."""
        self._stopping.set()
        if self._thread.is_alive():
            self._thread.join(timeout_s)
        while not self._queue.empty():
            self._queue.get_nowait().future.set_exception(KafkaUnavailable("the scan service is stopping"))
        if self._producer is not None:
            self._producer.flush(5)
            self._producer = None

    def submit(self, records: list[Record], ledger: Record) -> Future:
        """Queues an upload; the future resolves to the ledger record's (partition, offset)."""
        if self._stopping.is_set():
            raise KafkaUnavailable("the scan service is stopping")
        pending = PendingUpload(records, ledger)
        self._queue.put(pending)
        return pending.future

    def reachable(self, timeout_s: float = 2.0) -> bool:
        producer = self._producer
        if producer is None:
            return False
        try:
            # Metadata of the scans topic alone: listing every topic of a cluster with thousands costs
            # CPU while holding the GIL, on every readiness check (docs/benchmarks.md has the figure).
            return bool(producer.list_topics(self.conn.topics.scans, timeout=timeout_s).brokers)
        except KafkaException:
            return False

    # -- the publishing thread ------------------------------------------------------------
    def _run(self) -> None:
        while True:
            try:
                first = self._queue.get(timeout=0.2)
            except queue.Empty:
                if self._stopping.is_set():
                    return
                if self._producer is None and time.monotonic() >= self._next_init:
                    self._try_init()
                continue
            group = [first]
            size = len(first.records) + 1
            while size < self.max_group_records:
                try:
                    more = self._queue.get_nowait()
                except queue.Empty:
                    break
                group.append(more)
                size += len(more.records) + 1
            self._commit(group)

    def _try_init(self) -> None:
        try:
            self._init(time.monotonic() + min(self.timeout_s, 5.0))
        except KafkaUnavailable:
            self._next_init = time.monotonic() + 2.0

    def _init(self, deadline: float) -> Producer:
        if self._producer is None:
            producer = self.conn.transactional_producer(
                self.transactional_id, **{"queue.buffering.max.messages": 500_000, "linger.ms": 2})
            try:
                producer.init_transactions(max(0.1, deadline - time.monotonic()))
            except KafkaException as exc:
                producer.purge()
                raise KafkaUnavailable(f"Kafka transaction init failed: {exc.args[0].str()}") from exc
            self._producer = producer
            log.info("scan_publisher_ready", transactional_id=self.transactional_id)
        return self._producer

    def _commit(self, group: list[PendingUpload]) -> None:
        deadline = time.monotonic() + self.timeout_s
        offsets: dict[int, tuple[int, int]] = {}
        producer = None
        try:
            producer = self._init(deadline)
            producer.begin_transaction()
            for i, pending in enumerate(group):
                for record in pending.records:
                    self._produce(producer, record, deadline)
                self._produce(producer, pending.ledger, deadline, lambda err, msg, i=i: _note(offsets, i, err, msg))
            producer.commit_transaction(max(0.1, deadline - time.monotonic()))
            producer.poll(0)
        except Exception as exc:  # any failure: the uploads were not committed (or not surely)
            reason = exc.args[0].str() if isinstance(exc, KafkaException) else str(exc)
            log.warning("scan_publish_failed", uploads=len(group), error=reason)
            self._recover(producer)
            self.on_uncertain()
            for pending in group:
                pending.future.set_exception(KafkaUnavailable(f"Kafka did not confirm the upload: {reason}"))
            return
        for i, pending in enumerate(group):
            pending.future.set_result(offsets.get(i))

    def _produce(self, producer: Producer, record: Record, deadline: float, on_delivery=None) -> None:
        while True:
            try:
                if on_delivery is None:
                    producer.produce(record.topic, record.value, record.key)
                else:
                    producer.produce(record.topic, record.value, record.key, on_delivery=on_delivery)
                return
            except BufferError:
                if time.monotonic() > deadline:
                    raise KafkaUnavailable("producer queue stayed full") from None
                producer.poll(0.05)

    def _recover(self, producer: Producer | None) -> None:
        if producer is None:
            return
        try:
            producer.abort_transaction(min(self.timeout_s, 5.0))
            return
        except Exception as exc:  # abort failed too: start over with a fresh producer (fences the old one)
            log.warning("scan_producer_reset", error=str(exc))
        producer.purge(in_queue=True, in_flight=True)
        self._producer = None
        self._next_init = 0.0


def _note(offsets: dict[int, tuple[int, int]], i: int, err, msg) -> None:
    if err is None:
        offsets[i] = (msg.partition(), msg.offset())
