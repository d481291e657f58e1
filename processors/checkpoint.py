"""One transaction per checkpoint: the only place that decides the commit order.

Order inside a checkpoint (all in one Kafka transaction, so all or nothing):
  1. movements and dead letters, produced as batches are processed;
  2. changelog records for every item whose state changed, and the partition watermarks;
  3. the consumed input positions (send_offsets_to_transaction with the group metadata, which
     also fences a zombie instance of an older group generation);
  4. commit. Any failure before the commit returns is an abort, and the caller rewinds its
     input to the committed offsets and its state to the changelog (`Rewind`).
"""

from __future__ import annotations

from contextlib import nullcontext
from typing import Any

import structlog
from confluent_kafka import Consumer, KafkaException, Producer, TopicPartition

from tagtrail.processors.call_watchdog import CallWatchdog

log = structlog.get_logger(__name__)


class Rewind(Exception):
    """The open transaction was aborted: input and state must go back to the last commit."""


class Checkpoint:
    def __init__(self, producer: Producer, consumer: Consumer, timeout_s: float = 30.0,
                 watchdog: CallWatchdog | None = None, hung_after_s: float = 120.0) -> None:
        self.producer = producer
        self.consumer = consumer
        self.timeout_s = timeout_s
        self.watchdog = watchdog
        self.hung_after_s = hung_after_s
        self.open = False

    def _watched(self, what: str):
        """A commit retries its retriable errors within `hung_after_s`; past that it is hung, not slow."""
        return self.watchdog.watch(what, self.hung_after_s) if self.watchdog is not None else nullcontext()

    def begin(self) -> None:
        if not self.open:
            self.producer.begin_transaction()
            self.open = True

    def produce(self, topic: str, partition: int, key: bytes | None, value: bytes | None,
                headers: list[tuple[str, bytes]] | None = None) -> None:
        self.begin()
        while True:
            try:
                self.producer.produce(topic, value, key, partition=partition, headers=headers)
                return
            except BufferError:
                self.producer.poll(0.05)  # the local queue is full: let deliveries drain it

    def commit(self, positions: list[TopicPartition]) -> None:
        """Commits everything produced since `begin` together with the input `positions`."""
        if not self.open:
            return
        try:
            offsets = [tp for tp in positions if tp.offset >= 0]
            with self._watched("send_offsets_to_transaction + commit_transaction"):
                if offsets:
                    self.producer.send_offsets_to_transaction(offsets, self.consumer.consumer_group_metadata(),
                                                              self.timeout_s)
                self._commit_with_retry()
        except KafkaException as exc:
            self.abort(exc)
        finally:
            self.open = False

    def _commit_with_retry(self) -> None:
        while True:
            try:
                self.producer.commit_transaction(self.timeout_s)
                return
            except KafkaException as exc:
                err = exc.args[0]
                if err.retriable():
                    continue
                raise

    def abort(self, cause: Any = None) -> None:
        """Aborts the open transaction and raises Rewind (fatal errors propagate as they are)."""
        err = getattr(cause, "args", [None])[0] if cause is not None else None
        if err is not None and hasattr(err, "fatal") and err.fatal():
            raise cause
        log.warning("transaction_aborted", error=str(err) if err is not None else None)
        try:
            with self._watched("abort_transaction"):
                self.producer.abort_transaction(self.timeout_s)
        except KafkaException as exc:
            if exc.args[0].fatal():
                raise
        self.open = False
        raise Rewind(str(err)) from (cause if isinstance(cause, BaseException) else None)
