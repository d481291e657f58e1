"""Which transactions are open: the `<prefix>.transactions` topic read back, kept in memory.

The topic is the only record: the service keeps no file, so it never loses track across restarts,
and several instances agree. Before each open or close the book reads the topic on to its current
end (read_committed), so a record another instance committed, or one whose commit this instance could
not confirm, is seen before the next decision. A site's transactions are few (a handful per door and
shift), so every version is kept: the latest recorded_at of a transaction_id is its state, and the
event_id index lets a retried request find the record its first attempt made.
"""

from __future__ import annotations

import threading
import time

import structlog
from confluent_kafka import OFFSET_BEGINNING, Consumer, KafkaError, KafkaException, TopicPartition

from tagtrail.events import BusinessTransaction
from tagtrail.kafka import KafkaConnection, ensure_topics
from tagtrail.wire import Codec, DecodeError

log = structlog.get_logger(__name__)


class BookUnavailable(RuntimeError):
    """The transactions topic could not be read to its end in time."""


class TransactionBook:
    def __init__(self, conn: KafkaConnection, *, timeout_s: float = 10.0) -> None:
        self.conn = conn
        self.topic = conn.topics.transactions
        self.timeout_s = timeout_s
        self._codec = Codec("BusinessTransaction")
        self._latest: dict[str, BusinessTransaction] = {}
        self._by_event: dict[str, BusinessTransaction] = {}
        self._consumer: Consumer | None = None
        self._partitions: list[int] = []
        self._next: dict[int, int] = {}
        self._lock = threading.Lock()

    def close(self) -> None:
        if self._consumer is not None:
            self._consumer.close()
            self._consumer = None

    # -- questions (call catch_up first) ----------------------------------------------------
    def current(self, transaction_id: str) -> BusinessTransaction | None:
        return self._latest.get(transaction_id)

    def made_by(self, event_id: str) -> BusinessTransaction | None:
        return self._by_event.get(event_id)

    def all(self) -> list[BusinessTransaction]:
        return sorted(self._latest.values(), key=lambda t: (t.opened_at, t.transaction_id))

    def note(self, record: BusinessTransaction) -> None:
        """A record this process just committed (the consumer sees it again later; noting is idempotent)."""
        with self._lock:
            self._apply(record)

    # -- reading ----------------------------------------------------------------------------
    def catch_up(self) -> None:
        """Reads every partition up to the high watermark it has now. Raises BookUnavailable."""
        with self._lock:
            consumer = self._open()
            deadline = time.monotonic() + self.timeout_s
            highs = self._high_watermarks(consumer, deadline)
            while any(self._next.get(p, 0) < high for p, high in highs.items()):
                if time.monotonic() > deadline:
                    raise BookUnavailable(f"reading {self.topic} did not finish in {self.timeout_s} s")
                for msg in consumer.consume(500, timeout=0.2):
                    err = msg.error()
                    if err is not None:
                        if err.code() == KafkaError._PARTITION_EOF:
                            # read_committed: transaction markers end a partition without a message
                            self._next[msg.partition()] = max(self._next.get(msg.partition(), 0), msg.offset())
                        elif err.fatal():
                            raise BookUnavailable(f"{self.topic} consumer failed: {err.str()}")
                        continue
                    self._next[msg.partition()] = msg.offset() + 1
                    try:
                        self._apply(self._codec.decode(msg.value()))
                    except DecodeError as exc:  # not ours to fix here; the sink dead-letters it
                        log.warning("transaction_record_unreadable", topic=self.topic, partition=msg.partition(),
                                    offset=msg.offset(), error=str(exc))

    def _high_watermarks(self, consumer: Consumer, deadline: float) -> dict[int, int]:
        """Each partition's end; asked again while a new topic's partitions have no leader yet."""
        while True:
            try:
                return {p: consumer.get_watermark_offsets(TopicPartition(self.topic, p), timeout=self.timeout_s,
                                                          cached=False)[1] for p in self._partitions}
            except KafkaException as exc:
                if not exc.args[0].retriable() and exc.args[0].code() != KafkaError.NOT_LEADER_FOR_PARTITION \
                        or time.monotonic() > deadline:
                    raise BookUnavailable(f"cannot read {self.topic}: {exc}") from exc
                time.sleep(0.1)

    def _open(self) -> Consumer:
        if self._consumer is None:
            group = f"{self.conn.topics.prefix}.scan-transactions-reader"
            self._consumer = Consumer(self.conn.consumer_config(group, **{"enable.partition.eof": True,
                                                                         "fetch.wait.max.ms": 50}))
        if not self._partitions:
            try:
                ensure_topics(self.conn, [s for s in self.conn.topics.specs() if s.name == self.topic],
                              timeout_s=self.timeout_s)
                meta = self._consumer.list_topics(self.topic, timeout=self.timeout_s)
            except Exception as exc:  # creating or describing it failed: Kafka unreachable
                raise BookUnavailable(f"cannot read {self.topic}: {exc}") from exc
            topic = meta.topics.get(self.topic)
            partitions = sorted(topic.partitions) if topic is not None and topic.error is None else []
            if not partitions:
                raise BookUnavailable(f"the topic {self.topic} has no partitions yet")
            self._consumer.assign([TopicPartition(self.topic, p, OFFSET_BEGINNING) for p in partitions])
            self._partitions = partitions
            log.info("transaction_book_reading", topic=self.topic, partitions=len(partitions))
        return self._consumer

    def _apply(self, record: BusinessTransaction) -> None:
        self._by_event[record.event_id] = record
        known = self._latest.get(record.transaction_id)
        if known is None or record.recorded_at >= known.recorded_at:
            self._latest[record.transaction_id] = record
