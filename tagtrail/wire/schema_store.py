"""Where a decoder finds the writer schema behind a single-object fingerprint.

Without a schema registry, an old reader meeting a newer writer's fingerprint has nothing to
resolve against. Writers therefore publish each schema they use to a compacted topic keyed by
fingerprint; a reader that meets an unknown fingerprint reads that topic once more and retries.
"""

from __future__ import annotations

import json
import uuid
from functools import cache
from importlib import resources
from typing import Protocol

from tagtrail.wire.schemas import EVENT_TYPES, SchemaRef, bundled_schema


class SchemaStore(Protocol):
    def register(self, ref: SchemaRef) -> None: ...

    def lookup(self, fingerprint: bytes) -> SchemaRef | None: ...


class LocalSchemaStore:
    """The schemas this build ships, the previous versions it ships (avro/previous/, so that records
    still in a topic from before an upgrade decode), plus any registered in this process."""

    def __init__(self) -> None:
        self._by_fingerprint: dict[bytes, SchemaRef] = {}
        for ref in previous_schemas():
            self.register(ref)
        for name in EVENT_TYPES:
            self.register(bundled_schema(name))

    def register(self, ref: SchemaRef) -> None:
        self._by_fingerprint[ref.fingerprint] = ref

    def lookup(self, fingerprint: bytes) -> SchemaRef | None:
        return self._by_fingerprint.get(fingerprint)


@cache
def previous_schemas() -> tuple[SchemaRef, ...]:
    """Earlier versions of the bundled schemas, named types inlined (schemas/tagtrail_schemas/avro/previous/)."""
    folder = resources.files("tagtrail_schemas") / "avro" / "previous"
    if not folder.is_dir():
        return ()
    return tuple(SchemaRef.from_schema(json.loads(f.read_text())) for f in sorted(folder.iterdir(), key=lambda f: f.name)
            if f.name.endswith(".avsc"))


class KafkaSchemaStore(LocalSchemaStore):
    """A LocalSchemaStore that shares schemas through a compacted Kafka topic."""

    def __init__(self, client_config: dict[str, str], topic: str, timeout_s: float = 10.0) -> None:
        super().__init__()
        self._config = dict(client_config)
        self._topic = topic
        self._timeout_s = timeout_s
        self._published: set[bytes] = set()

    def publish(self, ref: SchemaRef) -> None:
        """Make `ref` known to every reader; waits for the broker's acknowledgement."""
        from confluent_kafka import Producer

        self.register(ref)
        if ref.fingerprint in self._published:
            return
        producer = Producer({**self._config, "acks": "all", "enable.idempotence": True})
        errors: list[str] = []
        producer.produce(
            self._topic,
            key=ref.fingerprint.hex().encode(),
            value=ref.canonical.encode(),
            on_delivery=lambda err, _msg: errors.append(str(err)) if err else None,
        )
        remaining = producer.flush(self._timeout_s)
        if remaining or errors:
            raise RuntimeError(f"could not publish schema {ref.name} to topic {self._topic!r}: {errors or 'timeout'}")
        self._published.add(ref.fingerprint)

    def lookup(self, fingerprint: bytes) -> SchemaRef | None:
        found = super().lookup(fingerprint)
        if found is None:
            self._refresh()
            found = super().lookup(fingerprint)
        return found

    def _refresh(self) -> None:
        from confluent_kafka import OFFSET_BEGINNING, Consumer, TopicPartition

        consumer = Consumer(
            {
                **self._config,
                "group.id": f"tagtrail-schema-reader-{uuid.uuid4()}",
                "enable.auto.commit": False,
                "auto.offset.reset": "earliest",
            }
        )
        try:
            metadata = consumer.list_topics(self._topic, timeout=self._timeout_s)
            partitions = metadata.topics.get(self._topic)
            if partitions is None or partitions.error is not None:
                return
            assignment = []
            ends = {}
            for p in partitions.partitions:
                _low, high = consumer.get_watermark_offsets(TopicPartition(self._topic, p), timeout=self._timeout_s)
                if high > 0:
                    ends[p] = high
                    assignment.append(TopicPartition(self._topic, p, OFFSET_BEGINNING))
            if not assignment:
                return
            consumer.assign(assignment)
            while ends:
                msg = consumer.poll(self._timeout_s)
                if msg is None:
                    break
                if msg.error():
                    continue
                if msg.value():
                    self.register(SchemaRef.from_schema(msg.value().decode()))
                if msg.offset() + 1 >= ends.get(msg.partition(), 0):
                    ends.pop(msg.partition(), None)
        finally:
            consumer.close()
