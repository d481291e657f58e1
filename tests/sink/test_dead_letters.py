"""The sink's dead letters on the embedded cluster: reported while the mock partition can keep them,
refused loudly (never dropped) once it could not."""

from __future__ import annotations

import time

import pytest

from tagtrail.config import KafkaSettings
from tagtrail.kafka import connect, ensure_topics
from tagtrail.kafka.embedded import CapacityGuard, EmbeddedCapacityError
from tagtrail_processors.sink.batches import PartitionBatch, Record
from tagtrail_processors.sink.dead_letters import DeadLetterPublisher
from tagtrail_processors.sink.writer import Rejected


def test_dead_letters_stop_loudly_before_the_embedded_partition_would_drop_them() -> None:
    conn = connect(KafkaSettings(topic_prefix="sinkdl", partitions=2))
    ensure_topics(conn)
    assert conn.embedded is not None
    now = time.time()
    clock = lambda: now  # noqa: E731 - one instant: letters of equal size
    batch = PartitionBatch(conn.topics.movements, 1, [Record(7, b"item", b"not avro")])
    rejected = [Rejected(batch.records[0], "undecodable", "not an Avro movement")]
    probe = DeadLetterPublisher(conn, conn.producer(), clock=clock)
    probe.publish(batch, rejected)
    probe.flush(lambda _s: True, lambda _a: 0.0)
    one_letter = conn.embedded.guard._used[(conn.topics.dead_letters, 0)]
    conn.embedded.guard = CapacityGuard(capacity_bytes=2 * one_letter)
    publisher = DeadLetterPublisher(conn, conn.producer(), clock=clock)
    try:
        publisher.publish(batch, rejected * 2)
        with pytest.raises(EmbeddedCapacityError, match=r"sinkdl.deadletters\[0\] would exceed"):
            publisher.publish(batch, rejected)
        publisher.producer.flush(10)
        assert publisher.published == 2
    finally:
        conn.close()
