"""The checkpoint's transaction lifecycle (IDLE, OPEN) on a recording fake producer: which calls each
state allows, what each transition sends to Kafka, and the clear error for a call in the wrong state."""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest
from confluent_kafka import KafkaError, KafkaException, TopicPartition

from tagtrail_processors.stream.transaction_checkpoint import (
    Checkpoint,
    CheckpointStateError,
    Rewind,
    TransactionState,
)


@dataclass
class RecordingProducer:
    """The transactional calls a Checkpoint makes, in order; `fail_commit` raises on the next commits."""

    calls: list[str] = field(default_factory=list)
    fail_commit: list[KafkaException] = field(default_factory=list)

    def begin_transaction(self) -> None:
        self.calls.append("begin")

    def produce(self, topic, value, key, partition, headers) -> None:
        self.calls.append(f"produce {topic}")

    def send_offsets_to_transaction(self, offsets, metadata, timeout) -> None:
        self.calls.append(f"send_offsets {[(tp.partition, tp.offset) for tp in offsets]}")

    def commit_transaction(self, timeout) -> None:
        if self.fail_commit:
            raise self.fail_commit.pop(0)
        self.calls.append("commit")

    def abort_transaction(self, timeout) -> None:
        self.calls.append("abort")


class GroupConsumer:
    def consumer_group_metadata(self) -> str:
        return "group-metadata"


def kafka_error(*, retriable: bool = False, fatal: bool = False) -> KafkaException:
    return KafkaException(KafkaError(KafkaError._STATE, "broker says no", fatal=fatal, retriable=retriable))


@pytest.fixture
def producer() -> RecordingProducer:
    return RecordingProducer()


@pytest.fixture
def checkpoint(producer: RecordingProducer) -> Checkpoint:
    return Checkpoint(producer, GroupConsumer())


def test_the_first_record_begins_the_transaction_and_later_ones_join_it(checkpoint, producer):
    assert checkpoint.state is TransactionState.IDLE
    checkpoint.produce("movements", 0, b"k", b"v")
    checkpoint.produce("movements", 1, b"k", b"v")
    checkpoint.begin()  # already open: nothing more
    assert checkpoint.state is TransactionState.OPEN
    assert producer.calls == ["begin", "produce movements", "produce movements"]


def test_commit_sends_the_positions_and_ends_the_transaction(checkpoint, producer):
    checkpoint.produce("movements", 0, b"k", b"v")
    checkpoint.commit([TopicPartition("reads", 0, 42), TopicPartition("reads", 1, -1001)])  # never-read partition left out
    assert checkpoint.state is TransactionState.IDLE
    assert producer.calls[-2:] == ["send_offsets [(0, 42)]", "commit"]

    checkpoint.produce("movements", 0, b"k", b"v")  # the next record opens the next transaction
    assert checkpoint.state is TransactionState.OPEN and producer.calls[-2] == "begin"


@pytest.mark.parametrize("call", ["commit", "abort"])
def test_commit_or_abort_without_an_open_transaction_is_refused_by_name(checkpoint, producer, call):
    with pytest.raises(CheckpointStateError, match=rf"Checkpoint\.{call}\(\) needs an open transaction; the checkpoint is idle"):
        checkpoint.commit([]) if call == "commit" else checkpoint.abort()
    assert producer.calls == []  # nothing reached Kafka
    assert checkpoint.state is TransactionState.IDLE


def test_a_retriable_commit_error_is_retried_within_the_transaction(checkpoint, producer):
    checkpoint.begin()
    producer.fail_commit = [kafka_error(retriable=True)]
    checkpoint.commit([TopicPartition("reads", 0, 7)])
    assert producer.calls == ["begin", "send_offsets [(0, 7)]", "commit"]
    assert checkpoint.state is TransactionState.IDLE


def test_a_failed_commit_aborts_and_asks_for_a_rewind_then_a_new_transaction_can_begin(checkpoint, producer):
    checkpoint.begin()
    producer.fail_commit = [kafka_error()]
    with pytest.raises(Rewind, match="broker says no"):
        checkpoint.commit([TopicPartition("reads", 0, 7)])
    assert producer.calls[-1] == "abort"
    assert checkpoint.state is TransactionState.IDLE
    checkpoint.begin()
    assert checkpoint.state is TransactionState.OPEN and producer.calls[-1] == "begin"


def test_a_fatal_commit_error_propagates_as_it_is_and_leaves_no_transaction_open(checkpoint, producer):
    checkpoint.begin()
    fatal = kafka_error(fatal=True)
    producer.fail_commit = [fatal]
    with pytest.raises(KafkaException) as raised:
        checkpoint.commit([])
    assert raised.value is fatal and "abort" not in producer.calls
    assert checkpoint.state is TransactionState.IDLE


def test_abort_of_an_open_transaction_asks_for_a_rewind(checkpoint, producer):
    checkpoint.produce("movements", 0, b"k", b"v")
    with pytest.raises(Rewind):
        checkpoint.abort()
    assert producer.calls[-1] == "abort" and checkpoint.state is TransactionState.IDLE
    with pytest.raises(CheckpointStateError):
        checkpoint.abort()  # aborted once: nothing left to abort
