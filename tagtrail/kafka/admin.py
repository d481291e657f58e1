"""Creates the topic layout where it is missing; leaves existing topics alone."""

from __future__ import annotations

import threading
import time

import structlog
from confluent_kafka import KafkaException
from confluent_kafka.admin import AdminClient, NewTopic

from tagtrail.kafka.clients import KafkaConnection
from tagtrail.kafka.topics import TopicSpec

log = structlog.get_logger(__name__)


class TopicWaitStopped(Exception):
    """`stop` was set while waiting for the broker: a SIGTERM at start-up ends the wait, not only its timeout."""


def ensure_topics(conn: KafkaConnection, specs: list[TopicSpec] | None = None, timeout_s: float = 30.0, *,
                  stop: threading.Event | None = None) -> None:
    """Creates the missing topics of `specs` (the site's layout by default), waiting up to `timeout_s` for
    the broker; raises TopicWaitStopped as soon as `stop` is set during that wait."""
    specs = specs if specs is not None else conn.topics.specs()
    if conn.embedded is not None:
        for spec in specs:
            conn.embedded.create_topic(spec.name, spec.partitions or conn.partitions)
        return
    admin = AdminClient(conn.base())
    try:
        _create_missing(admin, conn, specs, timeout_s, stop)
    finally:
        admin.poll(0)  # librdkafka's log lines wait in the client's queue until served


def _list_topics(admin: AdminClient, timeout_s: float, stop: threading.Event | None) -> set[str]:
    """Asks in short rounds, serving the client's log queue between them, so a broker that cannot
    be reached is logged (librdkafka's "Connect to ... failed") while we wait, not after; a stop is
    seen between rounds."""
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            return set(admin.list_topics(timeout=max(0.1, min(0.5, deadline - time.monotonic()))).topics)
        except KafkaException:
            admin.poll(0)
            if stop is not None and stop.is_set():
                raise TopicWaitStopped("stopped while waiting for the Kafka broker") from None
            if time.monotonic() >= deadline:
                raise


def _create_missing(admin: AdminClient, conn: KafkaConnection, specs: list[TopicSpec], timeout_s: float,
                    stop: threading.Event | None) -> None:
    existing = _list_topics(admin, timeout_s, stop)
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
