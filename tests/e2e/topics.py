"""Reading a whole topic back as a user would: read_committed, from the beginning to its end."""

from __future__ import annotations

import time
import uuid

from confluent_kafka import Consumer, KafkaError, KafkaException, TopicPartition

TRANSIENT = {KafkaError.NOT_LEADER_FOR_PARTITION, KafkaError.LEADER_NOT_AVAILABLE,
             KafkaError.UNKNOWN_TOPIC_OR_PART, KafkaError._TIMED_OUT, KafkaError._TRANSPORT}


def read_all(bootstrap: str, topic: str, *, timeout_s: float = 30.0) -> list:
    """Every committed record of `topic` (all partitions), once each."""
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": f"e2e-check-{uuid.uuid4()}",
                         "enable.auto.commit": False, "isolation.level": "read_committed",
                         "auto.offset.reset": "earliest"})
    try:
        partitions = consumer.list_topics(topic, timeout=10).topics[topic].partitions
        ends = {p: _end_offset(consumer, topic, p) for p in partitions}
        consumer.assign([TopicPartition(topic, p, 0) for p in partitions])
        out, deadline = [], time.monotonic() + timeout_s
        last_data = time.monotonic()
        while time.monotonic() < deadline:
            for msg in consumer.consume(1000, 0.5):
                last_data = time.monotonic()
                if not msg.error():
                    out.append(msg)
            if time.monotonic() - last_data > 5.0:  # only aborted data or markers left
                return out
            positions = consumer.position([TopicPartition(topic, p) for p in partitions])
            # read_committed stops at the last stable offset; transaction markers count as offsets
            if all(tp.offset >= ends[tp.partition] for tp in positions if ends[tp.partition] > 0):
                return out
        raise AssertionError(f"could not read {topic} to its end within {timeout_s} s")
    finally:
        consumer.close()


def _end_offset(consumer: Consumer, topic: str, partition: int, timeout_s: float = 20.0) -> int:
    """The partition's end, asked again while the broker answers with a retriable error (a topic
    just created, a leader being elected: NOT_LEADER_FOR_PARTITION)."""
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            return consumer.get_watermark_offsets(TopicPartition(topic, partition), timeout=10, cached=False)[1]
        except KafkaException as exc:
            transient = exc.args[0].retriable() or exc.args[0].code() in TRANSIENT
            if not transient or time.monotonic() > deadline:
                raise
            time.sleep(0.2)
