"""Reports records the sink cannot store on the dead-letter topic (stage "sink"), byte for byte.

Dead letters are flushed before the batch's offsets are committed, so a refused record is never
acknowledged without being reported. After a crash mid-batch the replay may report it a second time
(dead letters are at least once).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence

import structlog
from confluent_kafka import Producer

from tagtrail.events import DeadLetter
from tagtrail.kafka import KafkaConnection
from tagtrail.observability import Metrics
from tagtrail.wire import Codec
from tagtrail_processors.sink.batches import PartitionBatch
from tagtrail_processors.sink.writer import Rejected, Stopping

log = structlog.get_logger(__name__)

STAGE = "sink"


class DeadLetterPublisher:
    def __init__(self, conn: KafkaConnection, producer: Producer, *, clock: Callable[[], float] = time.time,
                 metrics: Metrics | None = None) -> None:
        self.conn = conn
        self.metrics = metrics
        self.producer = producer
        self.codec = Codec("DeadLetter")
        self.clock = clock
        self._pending: dict[int, tuple[bytes, bytes]] = {}
        self._reasons: dict[int, str] = {}  # counted by reason once Kafka acknowledged the letter
        self._failed: dict[int, str] = {}
        self._seq = 0
        self.published = 0

    def publish(self, batch: PartitionBatch, rejected: Sequence[Rejected]) -> None:
        for item in rejected:
            letter = DeadLetter(
                source=batch.topic,
                stage=STAGE,
                reason=item.reason,
                error=item.error,
                payload=item.record.value() or b"",
                occurred_at=int(self.clock() * 1_000_000),
                context={
                    "topic": batch.topic,
                    "partition": str(batch.partition),
                    "offset": str(item.record.offset()),
                    "key": (item.record.key() or b"").decode("utf-8", "replace"),
                },
            )
            value = self.codec.encode(letter)
            self._seq += 1
            self._pending[self._seq] = (batch.topic.encode(), value)
            self._reasons[self._seq] = item.reason
            self._produce(self._seq)
            log.warning("dead_letter", stage=STAGE, reason=item.reason, partition=batch.partition,
                        offset=item.record.offset(), error=item.error[:300])

    def _produce(self, seq: int) -> None:
        key, value = self._pending[seq]

        def delivered(err, _msg, seq=seq):
            if err is None:
                self._pending.pop(seq, None)
                self.published += 1
                reason = self._reasons.pop(seq, None)
                if self.metrics is not None and reason is not None:
                    self.metrics.dead_letter(STAGE, reason)
            else:
                self._failed[seq] = str(err)

        self.producer.produce(self.conn.topics.dead_letters, key=key, value=value, on_delivery=delivered)

    def flush(self, wait: Callable[[float], bool], backoff: Callable[[int], float]) -> None:
        """Returns once every dead letter is acknowledged by Kafka; retries failed ones."""
        attempt = 0
        while self._pending:
            self.producer.flush(5.0)
            if self._failed:
                failed, self._failed = self._failed, {}
                log.warning("dead_letter_delivery_failed_retrying", count=len(failed), error=next(iter(failed.values())))
                if not wait(backoff(attempt)):
                    raise Stopping()
                attempt += 1
                for seq in failed:
                    if seq in self._pending:
                        self._produce(seq)
            elif self._pending and not wait(0.0):
                raise Stopping()
