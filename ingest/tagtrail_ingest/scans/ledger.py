"""The upload ledger: which uploads were answered, and with what verdict, kept on Kafka.

Why Kafka and not a local file: the verdict record is produced in the SAME Kafka transaction as
the upload's scans and dead letters, so it is committed exactly when they are. A local file
written after Kafka confirmed leaves a window (crash after the commit, before the write) in which
a retried upload is published twice; here there is none, and the record survives a restart or a
move to another machine with nothing but Kafka. The topic (`<prefix>.scan-uploads`, compacted,
keyed `<device_id>/<upload_id>`) is private to the scan service, so its values are plain JSON
verdicts rather than a shared Avro event.

At start the ledger reads the topic to its end (read_committed) and keeps key -> offset in memory
(about 150 bytes an upload) plus the most recent verdicts; an older verdict is fetched by offset
when its upload is replayed. After a publish whose outcome is unknown (Kafka failed during the
commit) the ledger is marked stale and reads on to the end before the next lookup, so an upload
that did get committed is found rather than published again.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict

import structlog
from confluent_kafka import OFFSET_BEGINNING, Consumer, KafkaError, KafkaException, TopicPartition

from tagtrail.kafka import KafkaConnection, TopicSpec, ensure_topics

log = structlog.get_logger(__name__)

RECENT_VERDICTS = 256  # a verdict of 500 scans is ~45 KB; replays are mostly prompt retries


class LedgerUnavailable(RuntimeError):
    """Kafka could not be read in time, so whether an upload was answered before is unknown."""


def ledger_spec(conn: KafkaConnection) -> TopicSpec:
    return TopicSpec(
        f"{conn.topics.prefix}.scan-uploads", "device_id/upload_id",
        "scan service: verdict of each answered upload (idempotency record)", compacted=True, partitions=1,
    )


class UploadLedger:
    def __init__(self, conn: KafkaConnection, *, timeout_s: float = 10.0) -> None:
        self.conn = conn
        self.topic = ledger_spec(conn).name
        self.timeout_s = timeout_s
        self.loaded = False
        self._index: dict[str, tuple[int, int]] = {}
        self._recent: OrderedDict[str, bytes] = OrderedDict()
        self._read_lock = threading.Lock()  # the consumers; held while catching up
        self._index_lock = threading.Lock()  # index and recent verdicts; held only briefly
        self._stale = True
        self._consumer: Consumer | None = None
        self._fetcher: Consumer | None = None
        self._partitions: list[int] = []
        self._next: dict[int, int] = {}
        self._eof: dict[int, int] = {}

    def open(self) -> None:
        """Creates the topic if needed and reads it to the end. Raises LedgerUnavailable; may be
        called again (by the next upload) when Kafka was unreachable at start."""
        with self._read_lock:
            if self.loaded:
                return
            try:
                ensure_topics(self.conn, [ledger_spec(self.conn)], timeout_s=self.timeout_s)
            except Exception as exc:
                raise LedgerUnavailable(f"cannot create the upload ledger topic {self.topic}: {exc}") from exc
            if self._consumer is None:
                group = f"{self.conn.topics.prefix}.scan-ledger-reader"
                settings = {"enable.partition.eof": True, "queued.max.messages.kbytes": 4096, "fetch.wait.max.ms": 50}
                self._consumer = Consumer(self.conn.consumer_config(group, **settings))
                self._fetcher = Consumer(self.conn.consumer_config(group, **settings))
            if not self._partitions:
                try:
                    meta = self._consumer.list_topics(self.topic, timeout=self.timeout_s)
                except KafkaException as exc:
                    raise LedgerUnavailable(f"cannot read the upload ledger {self.topic}: {exc}") from exc
                partitions = sorted(meta.topics[self.topic].partitions)
                if not partitions:
                    raise LedgerUnavailable(f"the upload ledger topic {self.topic} has no partitions yet")
                self._consumer.assign([TopicPartition(self.topic, p, OFFSET_BEGINNING) for p in partitions])
                self._partitions = partitions
            self._catch_up()
            self.loaded = True
        log.info("upload_ledger_loaded", topic=self.topic, uploads=len(self))

    def close(self) -> None:
        for consumer in (self._consumer, self._fetcher):
            if consumer is not None:
                consumer.close()
        self._consumer = self._fetcher = None

    def mark_stale(self) -> None:
        self._stale = True

    def lookup(self, key: str) -> bytes | None:
        """The stored verdict of upload `key` (`device_id/upload_id`), or None if never answered."""
        with self._read_lock:
            if self._stale:
                self._catch_up()
            with self._index_lock:
                where = self._index.get(key)
                value = self._recent.get(key)
            if where is None or value is not None:
                return value
            return self._fetch(key, *where)

    def record(self, key: str, partition: int, offset: int, verdict: bytes) -> None:
        """Notes an upload this process just committed (the consumer will also see it later).
        Called from the publishing thread, so it never waits for a catch-up in progress."""
        with self._index_lock:
            self._index[key] = (partition, offset)
            self._remember(key, verdict)

    def __len__(self) -> int:
        with self._index_lock:
            return len(self._index)

    # -- reading --------------------------------------------------------------------------
    def _remember(self, key: str, verdict: bytes) -> None:
        self._recent[key] = verdict
        self._recent.move_to_end(key)
        while len(self._recent) > RECENT_VERDICTS:
            self._recent.popitem(last=False)

    def _catch_up(self) -> None:
        """Reads until every partition's position reaches the high watermark seen at the start.
        With read_committed the last offsets may be transaction markers that are never returned;
        the end-of-partition event's offset covers them."""
        assert self._consumer is not None
        deadline = time.monotonic() + self.timeout_s
        try:
            highs = {
                p: self._consumer.get_watermark_offsets(TopicPartition(self.topic, p), timeout=self.timeout_s, cached=False)[1]
                for p in self._partitions
            }
        except KafkaException as exc:
            raise LedgerUnavailable(f"cannot read the upload ledger {self.topic}: {exc}") from exc
        while any(max(self._next.get(p, 0), self._eof.get(p, 0)) < high for p, high in highs.items()):
            if time.monotonic() > deadline:
                raise LedgerUnavailable(f"reading the upload ledger {self.topic} did not finish in {self.timeout_s} s")
            for msg in self._consumer.consume(1000, timeout=0.2):
                err = msg.error()
                if err is not None:
                    if err.code() == KafkaError._PARTITION_EOF:
                        self._eof[msg.partition()] = msg.offset()
                    elif err.fatal():
                        raise LedgerUnavailable(f"upload ledger consumer failed: {err.str()}")
                    continue
                key = msg.key().decode("utf-8", "replace") if msg.key() else ""
                self._next[msg.partition()] = msg.offset() + 1
                with self._index_lock:
                    if self._index.setdefault(key, (msg.partition(), msg.offset())) == (msg.partition(), msg.offset()):
                        self._remember(key, msg.value())
        self._stale = False

    def _fetch(self, key: str, partition: int, offset: int) -> bytes:
        assert self._fetcher is not None
        self._fetcher.assign([TopicPartition(self.topic, partition, offset)])
        deadline = time.monotonic() + self.timeout_s
        while time.monotonic() < deadline:
            msg = self._fetcher.poll(0.2)
            if msg is None or msg.error() is not None:
                continue
            if msg.key() and msg.key().decode("utf-8", "replace") == key:
                with self._index_lock:
                    self._remember(key, msg.value())
                return msg.value()
        raise LedgerUnavailable(f"could not fetch the stored verdict of upload {key} in {self.timeout_s} s")
