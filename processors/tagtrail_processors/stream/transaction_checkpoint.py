"""One transaction per checkpoint: the only place that decides the commit order.

Order inside a checkpoint (all in one Kafka transaction, so all or nothing):
  1. movements and dead letters, produced as batches are processed;
  2. changelog records for every item whose state changed, and the partition watermarks;
  3. the consumed input positions (send_offsets_to_transaction with the group metadata, which
     also fences a zombie instance of an older group generation);
  4. commit. Any failure before the commit returns is an abort, and the caller rewinds its
     input to the committed offsets and its state to the changelog (`Rewind`).

A checkpoint is IDLE (no transaction) or OPEN (one begun, by the first record produced since the last
commit); commit and abort need an OPEN one. Its caller's input is IN_STEP with the last commit, or
MUST_REWIND after an abort or a commit whose outcome it cannot know.
"""

from __future__ import annotations

from contextlib import nullcontext
from enum import StrEnum
from typing import Any

import structlog
from confluent_kafka import Consumer, KafkaException, Producer, TopicPartition

from tagtrail_processors.stream.call_watchdog import CallWatchdog

log = structlog.get_logger(__name__)


class Rewind(Exception):
    """The open transaction was aborted: input and state must go back to the last commit."""


class TransactionState(StrEnum):
    IDLE = "idle"  # no transaction: the next record produced begins one
    OPEN = "open"  # begun: what is produced goes out with the next commit, or not at all


class InputState(StrEnum):
    """Where the consumer's input positions and state stand against the last commit."""

    IN_STEP = "in_step"  # they continue it
    MUST_REWIND = "must_rewind"  # back to the committed offsets and the changelog before anything else


class CheckpointStateError(RuntimeError):
    """A call the checkpoint's state does not allow: a bug in the caller, not a Kafka failure."""


class Checkpoint:
    def __init__(self, producer: Producer, consumer: Consumer, timeout_s: float = 30.0,
                 watchdog: CallWatchdog | None = None, hung_after_s: float = 120.0) -> None:
        self.producer = producer
        self.consumer = consumer
        self.timeout_s = timeout_s
        self.watchdog = watchdog
        self.hung_after_s = hung_after_s
        self.state = TransactionState.IDLE

    def _watched(self, what: str):
        """A commit retries its retriable errors within `hung_after_s`; past that it is hung, not slow."""
        return self.watchdog.watch(what, self.hung_after_s) if self.watchdog is not None else nullcontext()

    def begin(self) -> None:
        """Begins a transaction unless one is open (every produce calls this)."""
        if self.state is TransactionState.IDLE:
            self.producer.begin_transaction()
            self.state = TransactionState.OPEN

    def _require_open(self, call: str) -> None:
        if self.state is not TransactionState.OPEN:
            raise CheckpointStateError(f"Checkpoint.{call}() needs an open transaction; the checkpoint is {self.state}")

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
        self._require_open("commit")
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
            self.state = TransactionState.IDLE

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
        self._require_open("abort")
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
        self.state = TransactionState.IDLE
        raise Rewind(str(err)) from (cause if isinstance(cause, BaseException) else None)
