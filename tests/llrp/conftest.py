"""Fixtures for the LLRP adapter: emulated readers over TCP, the adapter in a thread, a topic reader."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from confluent_kafka import Consumer, TopicPartition

from tagtrail.config import (
    Antenna,
    KafkaSettings,
    LlrpSettings,
    Reader,
    ReadPoint,
    SiteConfig,
)
from tagtrail.kafka import KafkaConnection
from tagtrail.wire import Codec
from tagtrail_ingest.llrp.adapter_metrics import AdapterMetrics
from tagtrail_ingest.llrp.adapter_service import run_adapter
from tagtrail_ingest.llrp.emulator import ReaderEmulator


def dock_reader(reader_id: str, port: int, door: str, **overrides) -> Reader:
    """A dock-door reader: antenna 1 watches the outer read point, antenna 2 the inner one."""
    settings = {"report_every_ms": 100, "keepalive_s": 1.0, **overrides}
    return Reader(id=reader_id, host="127.0.0.1", port=port,
                  antennas=(Antenna(port=1, read_point=f"{door}-outer"), Antenna(port=2, read_point=f"{door}-inner")),
                  **settings)


def dock_points(doors: list[str]) -> tuple[ReadPoint, ...]:
    return tuple(ReadPoint(id=f"{d}-{side}", location=f"dock {d}", kind=f"dock_door_{side}", portal=d)
                 for d in doors for side in ("outer", "inner"))


@dataclass
class RunningAdapter:
    site: SiteConfig
    metrics: AdapterMetrics
    stop: threading.Event
    thread: threading.Thread
    errors: list[BaseException] = field(default_factory=list)

    def wait(self, condition: Callable[[], bool], timeout_s: float, what: str) -> float:
        start = time.monotonic()
        while not condition():
            if time.monotonic() - start > timeout_s:
                raise AssertionError(f"timed out after {timeout_s} s waiting for {what}; metrics: {self.metrics.snapshot()}")
            if self.errors:
                raise AssertionError(f"adapter failed: {self.errors[0]!r}")
            time.sleep(0.05)
        return time.monotonic() - start

    def reader(self, reader_id: str):
        return self.metrics.reader(reader_id)

    def close(self) -> None:
        self.stop.set()
        self.thread.join(60)
        assert not self.thread.is_alive(), "adapter did not stop within 60 s"


@pytest.fixture
def emulators() -> Iterator[Callable[..., ReaderEmulator]]:
    started: list[ReaderEmulator] = []

    def make(**kwargs) -> ReaderEmulator:
        emu = ReaderEmulator(**kwargs)
        emu.start()
        started.append(emu)
        return emu

    yield make
    for emu in started:
        emu.stop()


@pytest.fixture
def start_adapter(tmp_path: Path) -> Iterator[Callable[..., RunningAdapter]]:
    running: list[RunningAdapter] = []

    def start(conn: KafkaConnection, readers: list[Reader], *, kafka: KafkaSettings | None = None,
              llrp: LlrpSettings | None = None) -> RunningAdapter:
        doors = sorted({a.read_point.rsplit("-", 1)[0] for r in readers for a in r.antennas})
        site = SiteConfig(
            kafka=kafka or KafkaSettings(bootstrap_servers=conn.bootstrap_servers, topic_prefix=conn.topics.prefix),
            read_points=dock_points(doors), readers=tuple(readers),
            llrp=llrp or LlrpSettings(spool_dir=str(tmp_path / f"spool-{uuid.uuid4().hex[:6]}")),
        )
        metrics = AdapterMetrics()
        stop = threading.Event()
        handle = RunningAdapter(site, metrics, stop, threading.Thread())

        def body() -> None:
            try:
                run_adapter(site, conn, stop=stop, metrics=metrics)
            except BaseException as exc:  # noqa: BLE001 - the test reports it
                handle.errors.append(exc)

        handle.thread = threading.Thread(target=body, name="adapter-under-test", daemon=True)
        handle.thread.start()
        running.append(handle)
        return handle

    yield start
    for handle in running:
        handle.close()


def read_topic(bootstrap: str, topic: str, *, expect: int, timeout_s: float = 30.0, settle_s: float = 1.0) -> list:
    """Every message on the topic (all partitions, from the start): waits for `expect`, then a
    little longer so duplicates beyond it would be seen too."""
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": f"test-{uuid.uuid4().hex}",
                         "auto.offset.reset": "earliest", "enable.auto.commit": False,
                         "isolation.level": "read_committed"})
    meta = consumer.list_topics(topic, timeout=10)
    consumer.assign([TopicPartition(topic, p, 0) for p in meta.topics[topic].partitions])
    out: list = []
    deadline = time.monotonic() + timeout_s
    settle_until = None
    try:
        while time.monotonic() < deadline:
            for msg in consumer.consume(1000, timeout=0.2):
                if msg.error() is None:
                    out.append(msg)
            if len(out) >= expect:
                settle_until = settle_until or time.monotonic() + settle_s
                if time.monotonic() >= settle_until:
                    break
    finally:
        consumer.close()
    return out


@pytest.fixture(scope="session")
def read_codec() -> Codec:
    return Codec("TagRead")


@pytest.fixture(scope="session")
def dead_letter_codec() -> Codec:
    return Codec("DeadLetter")
