"""Fixtures for the scan service: a site with two scanners, the service running on a free port."""

from __future__ import annotations

import hashlib
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, replace

import httpx
import pytest
from confluent_kafka import OFFSET_BEGINNING, Consumer, KafkaError, TopicPartition

from tagtrail.config import KafkaSettings, ReadPoint, Scanner, ScanServiceSettings, SiteConfig
from tagtrail.kafka import KafkaConnection, connect, ensure_topics
from tests.services import free_port

TOKENS = {"handheld-01": "token-of-handheld-01", "handheld-02": "token-of-handheld-02"}


def auth(device: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {TOKENS[device]}"}


def make_site(kafka: KafkaConnection, **scans: object) -> SiteConfig:
    return SiteConfig(
        site_id="test-site",
        kafka=KafkaSettings(bootstrap_servers=kafka.bootstrap_servers, topic_prefix=kafka.topics.prefix, partitions=kafka.partitions),
        read_points=(
            ReadPoint(id="pack-1", location="pack-station-1", kind="pack_station"),
            ReadPoint(id="door-1-inner", location="dock-door-1", kind="dock_door_inner"),
        ),
        scanners=tuple(
            Scanner(id=device, token_sha256=hashlib.sha256(token.encode()).hexdigest(), location="dock-door-1")
            for device, token in TOKENS.items()
        ),
        # A generous publish timeout: a shared CI machine may be slow; outage tests pass a short one.
        scans=replace(ScanServiceSettings(), **{"publish_timeout_s": 15.0, "retry_after_s": 3, **scans}),
    )


@dataclass
class RunningService:
    """`tagtrail_ingest.scans.scan_api.run_scan_service` in a thread, as `tagtrail ingest scans` runs it."""

    url: str
    stop: threading.Event
    thread: threading.Thread

    def client(self, **kw: object) -> httpx.Client:
        return httpx.Client(base_url=self.url, **{"timeout": 30, **kw})

    def shutdown(self) -> None:
        self.stop.set()
        self.thread.join(60)
        assert not self.thread.is_alive(), "the scan service did not stop"


def start_service(site: SiteConfig, conn: KafkaConnection, *, ready_timeout_s: float = 60.0) -> RunningService:
    from tagtrail_ingest.scans.scan_api import run_scan_service

    port = free_port()
    stop = threading.Event()
    errors: list[BaseException] = []

    def body() -> None:
        try:
            run_scan_service(site, conn, stop=stop, host="127.0.0.1", port=port)
        except BaseException as exc:  # surfaced by the wait below
            errors.append(exc)

    thread = threading.Thread(target=body, daemon=True)
    thread.start()
    service = RunningService(f"http://127.0.0.1:{port}", stop, thread)
    deadline = time.monotonic() + ready_timeout_s
    while time.monotonic() < deadline:
        if errors:
            raise errors[0]
        try:
            if httpx.get(f"{service.url}/healthz", timeout=1).status_code == 200:
                return service
        except httpx.HTTPError:
            time.sleep(0.1)
    service.shutdown()
    raise RuntimeError("scan service did not come up")


@pytest.fixture
def site(kafka: KafkaConnection) -> SiteConfig:
    return make_site(kafka)


@pytest.fixture
def service(site: SiteConfig, kafka: KafkaConnection) -> Iterator[RunningService]:
    running = start_service(site, kafka)
    try:
        yield running
    finally:
        running.shutdown()


def read_topic(conn: KafkaConnection, topic: str, *, expect: int | None = None, idle_s: float = 1.5, timeout_s: float = 60.0) -> list:
    """Every committed message of `topic` (read_committed, as the processors read it)."""
    consumer = Consumer(conn.consumer_config(f"reader-{uuid.uuid4().hex[:8]}", **{"enable.partition.eof": False}))
    try:
        meta = consumer.list_topics(topic, timeout=10)
        consumer.assign([TopicPartition(topic, p, OFFSET_BEGINNING) for p in meta.topics[topic].partitions])
        messages: list = []
        deadline = time.monotonic() + timeout_s
        last = time.monotonic()
        while time.monotonic() < deadline:
            batch = consumer.consume(1000, timeout=0.2)
            for msg in batch:
                if msg.error() is None:
                    messages.append(msg)
                elif msg.error().code() != KafkaError._PARTITION_EOF:
                    raise RuntimeError(msg.error().str())
            if batch:
                last = time.monotonic()
            if expect is not None and len(messages) >= expect and time.monotonic() - last > 0.3:
                break
            if expect is None and time.monotonic() - last > idle_s:
                break
        return messages
    finally:
        consumer.close()


def kafka_for_broker(bootstrap: str, prefix: str | None = None) -> KafkaConnection:
    conn = connect(KafkaSettings(bootstrap_servers=bootstrap, topic_prefix=prefix or f"t{uuid.uuid4().hex[:10]}", partitions=3))
    ensure_topics(conn)
    return conn
