"""Creates the topic layout where it is missing; leaves existing topics alone."""

from __future__ import annotations

import structlog
from confluent_kafka import KafkaException
from confluent_kafka.admin import AdminClient, NewTopic

from tagtrail.kafka.clients import KafkaConnection
from tagtrail.kafka.topics import TopicSpec

log = structlog.get_logger(__name__)


def ensure_topics(conn: KafkaConnection, specs: list[TopicSpec] | None = None, timeout_s: float = 30.0) -> None:
    specs = specs if specs is not None else conn.topics.specs()
    if conn.embedded is not None:
        for spec in specs:
            conn.embedded.create_topic(spec.name, spec.partitions or conn.partitions)
        return
    admin = AdminClient(conn.base())
    existing = set(admin.list_topics(timeout=timeout_s).topics)
    wanted = [
        NewTopic(
            spec.name,
            num_partitions=spec.partitions or conn.partitions,
            replication_factor=conn.replication_factor,
            config={"cleanup.policy": "compact"} if spec.compacted else {},
        )
        for spec in specs
        if spec.name not in existing
    ]
    if not wanted:
        return
    for name, future in admin.create_topics(wanted, request_timeout=timeout_s).items():
        try:
            future.result()
            log.info("topic_created", topic=name)
        except KafkaException as exc:
            if exc.args[0].name() != "TOPIC_ALREADY_EXISTS":
                raise RuntimeError(f"could not create topic {name!r}: {exc.args[0].str()}") from exc
