"""Moves spooled records to Kafka and removes them from the spool only once Kafka confirmed them.

The producer (idempotent, acks=all) is shared: the reader threads `pump` right after they
append, so the work of publishing is spread over the threads that create it (one publisher
thread alone would get a 1/N share of the GIL against N busy readers), and the publisher
thread pumps whatever is left, e.g. a backlog built while Kafka was away. At most
`max_in_flight` records are handed to librdkafka at once, so an outage costs bounded memory:
the rest waits on disk. A record whose delivery fails is appended to the spool again before
its old copy is released.

Delivery reports are the hot path (one per record, on whichever thread polls): a success only
appends its (segment, topic) code to a list - list.append is atomic, so no lock per record -
and `_drain_acks` confirms them to the spool and the metrics in batches, once per poll.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Callable
from typing import Any

import structlog
from confluent_kafka import KafkaError, KafkaException, Producer
from confluent_kafka.admin import AdminClient

from tagtrail.kafka import KafkaConnection
from tagtrail_ingest.llrp.adapter_metrics import AdapterMetrics
from tagtrail_ingest.llrp.spool import Spool

log = structlog.get_logger(__name__)

TOPIC_READS = 0
TOPIC_DEAD_LETTERS = 1


class Publisher:
    def __init__(self, conn: KafkaConnection, spool: Spool, metrics: AdapterMetrics, *,
                 max_in_flight: int = 50_000, stall_s: float = 120.0,
                 producer_overrides: dict[str, Any] | None = None) -> None:
        self.conn = conn
        self.spool = spool
        self.metrics = metrics
        self.max_in_flight = max_in_flight
        self.topics = {TOPIC_READS: conn.topics.reads, TOPIC_DEAD_LETTERS: conn.topics.dead_letters}
        self._overrides = producer_overrides or {}
        self._fatal: KafkaError | None = None
        self._callbacks: dict[tuple[int, int], Callable[[KafkaError | None, Any], None]] = {}
        self._lock = threading.Lock()
        self._acks: list[int] = []  # (segment << 1) | topic of each confirmed record, not yet counted
        self._acks_lock = threading.Lock()  # one drainer at a time takes a prefix of _acks
        self._replace_lock = threading.Lock()
        self._kafka_down_logged = False
        self.stall_s = stall_s
        self._last_report = time.monotonic()  # last delivery report, good or bad
        self._retired: list[Producer] = []  # replaced producers still owing delivery reports
        self._up_since: float | None = None  # since when a probe has found Kafka answering
        self._next_probe = 0.0
        self.producer = self._new_producer()
        metrics.in_flight_now = lambda: len(self.producer)

    def _new_producer(self) -> Producer:
        return self.conn.producer(error_cb=self._on_error, **self._overrides)

    def _on_error(self, err: KafkaError) -> None:
        if err.fatal():
            log.error("kafka_producer_fatal", error=err.str())
            self._fatal = err
        elif err.code() in (KafkaError._ALL_BROKERS_DOWN, KafkaError._TRANSPORT):
            if not self._kafka_down_logged:
                self._kafka_down_logged = True
                log.warning("kafka_unreachable_spooling", error=err.str(), spool_bytes=self.spool.bytes_used)
        else:
            log.warning("kafka_producer_error", code=err.name(), error=err.str())

    def _callback(self, segment: int, topic: int) -> Callable[[KafkaError | None, Any], None]:
        """One callback per (segment, topic), reused for every record: no closure per message."""
        key = (segment, topic)
        cb = self._callbacks.get(key)
        if cb is None:
            def cb(err: KafkaError | None, msg: Any, segment: int = segment, topic: int = topic,
                   ack: Callable[[int], None] = self._acks.append, code: int = (segment << 1) | topic) -> None:
                if err is None:
                    ack(code)
                else:
                    self._delivered(err, msg, segment, topic)
            with self._lock:
                self._callbacks[key] = cb
                if len(self._callbacks) > 256:
                    for old in [k for k in self._callbacks if k[0] < segment - 64]:
                        del self._callbacks[old]
        return cb

    def _delivered(self, err: KafkaError, msg: Any, segment: int, topic: int) -> None:
        """A failed delivery: the record goes back into the spool before its old copy is released."""
        self._last_report = time.monotonic()
        with self._lock:
            self.metrics.delivery_failures += 1
        log.warning("kafka_delivery_failed_respooled", topic=msg.topic(), error=err.str())
        self.spool.append([(topic, msg.key(), msg.value())], force=True)
        self.spool.confirm(segment)

    def _drain_acks(self) -> None:
        """Counts the successful deliveries reported since the last drain: metrics, then the spool."""
        acks = self._acks
        if not acks:
            return
        with self._acks_lock:
            n = len(acks)
            batch = acks[:n]
            del acks[:n]  # atomic, like the appends: records reported meanwhile stay for the next drain
        self._last_report = time.monotonic()
        counts = Counter(batch)
        with self._lock:
            for code, count in counts.items():
                if code & 1 == TOPIC_READS:
                    self.metrics.delivered_reads += count
                else:
                    self.metrics.delivered_dead_letters += count
        if self._kafka_down_logged:
            self._kafka_down_logged = False
            log.info("kafka_reachable_again", spool_bytes=self.spool.bytes_used)
        for code, count in counts.items():
            self.spool.confirm(code >> 1, count)

    def pump(self, limit: int = 5000) -> int:
        """Hands up to `limit` spooled records to the producer (fewer if too many are in flight);
        serves delivery reports. Safe from any thread."""
        producer = self.producer
        if self._fatal is not None:
            return 0  # the publisher thread replaces the producer first
        room = self.max_in_flight - len(producer)
        entries = self.spool.read(min(room, limit)) if room > 0 else []
        topics = self.topics
        cb_for = cb = None  # records come in runs of one segment and topic: look the callback up per run
        for segment, topic_code, key, value in entries:
            topic = topics[topic_code]
            if cb_for != (segment, topic_code):
                cb_for = (segment, topic_code)
                cb = self._callback(segment, topic_code)
            while True:
                try:
                    producer.produce(topic, value, key, on_delivery=cb)
                    break
                except BufferError:
                    producer.poll(0.05)
                    self._drain_acks()
                except KafkaException as exc:  # e.g. the producer went fatal: keep the record for the next one
                    log.warning("kafka_produce_refused_respooled", topic=topic, error=str(exc))
                    self.spool.append([(topic_code, key, value)], force=True)
                    self.spool.confirm(segment)
                    break
        producer.poll(0)
        self._drain_acks()
        return len(entries)

    def run(self, stop: threading.Event, *, flush_timeout_s: float = 10.0) -> None:
        """Until stop: pump what the reader threads left. Then flush for a while; the rest stays spooled."""
        while not stop.is_set():
            if self._fatal is not None:
                self._replace_producer()
            elif self._stalled():
                # librdkafka can keep an idempotent partition draining after a broker restart until
                # message.timeout.ms: a new producer sends the records again now (same event ids).
                log.warning("kafka_delivery_stalled", in_flight=len(self.producer), stalled_s=round(self.stall_s))
                self._replace_producer()
            if not self.pump():
                self.producer.poll(0.02)
            self._poll_retired()
            self._drain_acks()
        deadline = time.monotonic() + flush_timeout_s
        while len(self.producer) > 0 and time.monotonic() < deadline:
            self.producer.poll(0.1)
            self._poll_retired()
            self._drain_acks()
        self._drain_acks()
        if len(self.producer):
            log.warning("kafka_unconfirmed_at_stop", records=len(self.producer),
                        message="left in the spool; they are sent again on the next start")

    def close(self) -> None:
        """Drops the producer now rather than at some garbage collection (its callbacks refer back
        here), so a stopped adapter stops talking to the brokers. Call after run() returned."""
        self._callbacks.clear()
        self.producer = None  # type: ignore[assignment]

    def _stalled(self) -> bool:
        """Records in flight, Kafka answering for stall_s, and still no delivery report."""
        now = time.monotonic()
        if not len(self.producer) or now - self._last_report <= self.stall_s:
            self._up_since = None
            return False
        if now >= self._next_probe:
            self._next_probe = now + 5.0
            self._up_since = (self._up_since or now) if self._kafka_up() else None
        return self._up_since is not None and now - max(self._up_since, self._last_report) > self.stall_s

    def _kafka_up(self) -> bool:
        """Asks a fresh client (a producer's own metadata may be cached from before an outage)."""
        probe = AdminClient(self.conn.base())
        try:
            return bool(probe.list_topics(timeout=2.0).brokers)
        except KafkaException:
            return False

    def _poll_retired(self) -> None:
        """Purged in-flight records are reported only when their request ends: keep serving the
        old producer's reports (which re-spool them) until it owes none."""
        for old in list(self._retired):
            old.poll(0)
            if len(old) == 0:
                self._retired.remove(old)

    def _replace_producer(self) -> None:
        """After a fatal idempotence error the producer is unusable: purge it (its records are
        re-spooled by their failed deliveries) and start a new one."""
        with self._replace_lock:
            old = self.producer
            self.producer = self._new_producer()
            old.purge(in_queue=True, in_flight=True)
            old.poll(0.5)
            self._drain_acks()
            if len(old):
                self._retired.append(old)
            self._fatal = None
            self._up_since = None
            self._last_report = time.monotonic()
            log.warning("kafka_producer_replaced")
