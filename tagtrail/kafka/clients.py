"""Builds librdkafka client settings for each role from the site's Kafka settings."""

from __future__ import annotations

import zlib
from dataclasses import dataclass, field
from typing import Any

import structlog
from confluent_kafka import Producer

from tagtrail.config import KafkaSettings
from tagtrail.config.secrets import redact, resolve_value
from tagtrail.kafka.client_log import LibrdkafkaLog
from tagtrail.kafka.embedded import EmbeddedKafka
from tagtrail.kafka.producer import open_producer
from tagtrail.kafka.topics import Topics

log = structlog.get_logger(__name__)


@dataclass
class KafkaConnection:
    """Everything a stage needs to talk to Kafka. `embedded` is set when running on the mock cluster;
    stages make their producers with `producer()` / `transactional_producer()`, which apply what that
    cluster needs, so no stage has to know which cluster it is on."""

    bootstrap_servers: str
    topics: Topics
    partitions: int
    replication_factor: int = 1
    client: dict[str, str] = field(default_factory=dict)
    embedded: EmbeddedKafka | None = None
    client_log: LibrdkafkaLog = field(default_factory=LibrdkafkaLog)

    def base(self) -> dict[str, Any]:
        """Settings every client shares; `logger` turns librdkafka's stderr lines into log events."""
        return {"bootstrap.servers": self.bootstrap_servers, **self.client, "logger": self.client_log}

    def producer_config(self, **overrides: Any) -> dict[str, Any]:
        """Idempotent, acks=all: a send counts only when every in-sync replica has it."""
        return {
            **self.base(),
            "acks": "all",
            "enable.idempotence": True,
            "linger.ms": 5,
            "compression.type": "lz4",
            "message.timeout.ms": 300_000,
            **overrides,
        }

    def transactional_producer_config(self, transactional_id: str, **overrides: Any) -> dict[str, Any]:
        # librdkafka requires message.timeout.ms <= transaction.timeout.ms.
        # metadata.recovery.strategy=none: when every broker is down at once (a one-broker site restarting
        # Kafka), librdkafka >= 2.10 starts a re-bootstrap that decommissions the known brokers, and a
        # decommissioned broker can stay cached as group coordinator: send_offsets_to_transaction then
        # waits for it for ever, ignoring its timeout (librdkafka issues #5511 and #5456, open as of
        # 2.16). Measured here: with re-bootstrap the processor stopped for good after a broker restart;
        # without it, it carried on (tests/e2e/test_stage_bugs.py). The producer still reconnects to
        # the brokers it knows; only a cluster whose every broker changed address needs a restart.
        return self.producer_config(
            **{"transactional.id": transactional_id, "transaction.timeout.ms": 60_000, "message.timeout.ms": 60_000,
               "metadata.recovery.strategy": "none", **overrides}
        )

    def producer(self, **overrides: Any) -> Producer:
        """A producer with `producer_config(**overrides)` on this cluster."""
        return open_producer(self, self.producer_config(**overrides))

    def transactional_producer(self, transactional_id: str, **overrides: Any) -> Producer:
        """A producer with `transactional_producer_config(...)` on this cluster; call init_transactions first."""
        return open_producer(self, self.transactional_producer_config(transactional_id, **overrides))

    def consumer_config(self, group_id: str, **overrides: Any) -> dict[str, Any]:
        """read_committed and manual commits: downstream sees only committed transactions."""
        config = {
            **self.base(),
            "group.id": group_id,
            "enable.auto.commit": False,
            "auto.offset.reset": "earliest",
            "isolation.level": "read_committed",
            "enable.partition.eof": False,
        }
        if self.embedded is not None:
            # The mock cluster waits a whole session timeout before a restarted member rejoins.
            config["session.timeout.ms"] = 6000
            config["heartbeat.interval.ms"] = 1000
        return {**config, **overrides}

    def partition_for(self, key: bytes, partitions: int | None = None) -> int:
        """librdkafka's default partitioner for keyed messages (consistent_random = crc32)."""
        return zlib.crc32(key) % (partitions or self.partitions)

    def close(self) -> None:
        if self.embedded is not None:
            self.embedded.close()
            self.embedded = None


def connect(settings: KafkaSettings) -> KafkaConnection:
    """Connects to the configured brokers, or starts the embedded mock cluster when none are set."""
    client = {k: resolve_value(f"kafka.client.{k}", v) for k, v in settings.client.items()}
    topics = Topics(settings.topic_prefix)
    if settings.embedded:
        embedded = EmbeddedKafka()
        log.warning(
            "embedded_kafka_not_durable",
            bootstrap_servers=embedded.bootstrap_servers,
            message="Running on librdkafka's in-process mock cluster: NOT DURABLE, evaluation only. "
            "All events are lost when this process exits. Set kafka.bootstrap_servers for real use.",
        )
        return KafkaConnection(embedded.bootstrap_servers, topics, settings.partitions, 1, client, embedded)
    log.info("kafka", bootstrap_servers=settings.bootstrap_servers, client=redact(client))
    return KafkaConnection(settings.bootstrap_servers, topics, settings.partitions, settings.replication_factor, client)
