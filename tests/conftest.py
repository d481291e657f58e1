"""Session-wide real services and per-test isolation (topic prefixes, data folders)."""

from __future__ import annotations

import os
import uuid
from pathlib import Path

import pytest

from tagtrail.config import KafkaSettings
from tagtrail.kafka import KafkaConnection, connect, ensure_topics
from tagtrail.structured_logs import configure_logging
from tests.services import ClickHouseServer, KafkaBroker, start_clickhouse, start_kafka

configure_logging(level=os.environ.get("TAGTRAIL_TEST_LOG_LEVEL", "warning"), json=False)


@pytest.fixture(scope="session")
def kafka_broker(tmp_path_factory: pytest.TempPathFactory):
    """A real Apache Kafka broker: KAFKA_BOOTSTRAP_SERVERS if set, else one started from the official jars."""
    external = os.environ.get("KAFKA_BOOTSTRAP_SERVERS")
    if external:
        yield KafkaBroker(external, managed=False)
        return
    broker = start_kafka(tmp_path_factory.mktemp("kafka"))
    try:
        yield broker
    finally:
        broker.stop()


@pytest.fixture
def topic_prefix() -> str:
    """A fresh topic namespace per test, so tests sharing the broker never see each other's events."""
    return f"t{uuid.uuid4().hex[:10]}"


@pytest.fixture
def kafka(kafka_broker: KafkaBroker, topic_prefix: str) -> KafkaConnection:
    """A connection to the real broker with this test's topics created (3 partitions each)."""
    conn = connect(KafkaSettings(bootstrap_servers=kafka_broker.bootstrap_servers, topic_prefix=topic_prefix, partitions=3))
    ensure_topics(conn)
    return conn


@pytest.fixture(scope="session")
def clickhouse_server(tmp_path_factory: pytest.TempPathFactory):
    """A real ClickHouse HTTP server (the chdb engine listening), shared by the session."""
    server = start_clickhouse(tmp_path_factory.mktemp("clickhouse") / "data")
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def chdb_dir(tmp_path: Path) -> Path:
    return tmp_path / "chdb"


@pytest.fixture(scope="module")
def own_kafka_broker(tmp_path_factory: pytest.TempPathFactory):
    """A broker of the module's own, for tests that stop, kill or restart Kafka (never the shared one)."""
    broker = start_kafka(tmp_path_factory.mktemp("own-kafka"))
    try:
        yield broker
    finally:
        try:
            broker.stop()
        except Exception:
            broker.kill()
