"""Fixtures and helpers for processor tests on the real broker: produce scenario events, run a
processor (in a thread or as a `tagtrail process` subprocess), read the movements back."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from confluent_kafka import Consumer, Producer, TopicPartition

from tagtrail.events import Movement, Scan, TagRead
from tagtrail.kafka import KafkaConnection
from tagtrail.wire import Codec
from tagtrail_processors.stream.processor_service import run_processor
from tests.processors.scenarios import SITE_YAML, T0, S, Script, site
from tests.processors.scenarios import sentinels as scenario_sentinels

REPO = Path(__file__).resolve().parents[2]
PYTHON = sys.executable


def kafka_yaml(conn: KafkaConnection, partitions: int = 3) -> str:
    return (f"\nkafka:\n  bootstrap_servers: {conn.bootstrap_servers}\n  topic_prefix: {conn.topics.prefix}\n"
            f"  partitions: {partitions}\n")


TEST_PROCESSING = "  session_timeout_s: 6\n  commit_every_s: 0.2\n"


@pytest.fixture
def kafka_site(kafka: KafkaConnection):
    return site(TEST_PROCESSING, kafka_yaml(kafka))


@pytest.fixture
def site_file(kafka: KafkaConnection, tmp_path: Path) -> Path:
    path = tmp_path / "site.yaml"
    path.write_text(SITE_YAML + TEST_PROCESSING + kafka_yaml(kafka))
    return path


class EventProducer:
    """Produces scenario events the way the ingest stages do: Avro, keyed by item key."""

    def __init__(self, conn: KafkaConnection) -> None:
        self.conn = conn
        self.producer = Producer(conn.producer_config())
        self.reads = Codec("TagRead")
        self.scans = Codec("Scan")

    def send(self, events: list[TagRead | Scan]) -> None:
        for e in events:
            key = e.identity.item_key.encode()
            if isinstance(e, TagRead):
                topic, value = self.conn.topics.reads, self.reads.encode(e)
            else:
                topic, value = self.conn.topics.scans, self.scans.encode(e)
            self.producer.produce(topic, value, key, partition=self.conn.partition_for(key))
            self.producer.poll(0)
        self.producer.flush(30)

    def send_raw(self, topic: str, key: bytes, value: bytes) -> None:
        self.producer.produce(topic, value, key, partition=self.conn.partition_for(key))
        self.producer.flush(30)


@pytest.fixture
def events_out(kafka: KafkaConnection) -> EventProducer:
    return EventProducer(kafka)


def sentinels(conn: KafkaConnection, at_s: float, script: Script | None = None) -> Script:
    return scenario_sentinels(conn.partitions, at_s, script)


def is_sentinel(m: Movement) -> bool:
    return int(m.identity.serial or 0) >= 1900


def read_topic(conn: KafkaConnection, topic: str, codec_name: str, idle_s: float = 3.0, timeout_s: float = 60.0,
               until=None) -> list[tuple[object, dict[str, bytes]]]:
    """Everything committed on `topic` (read_committed), in partition then offset order."""
    codec = Codec(codec_name)
    consumer = Consumer(conn.consumer_config(f"reader-{time.monotonic_ns()}"))
    md = consumer.list_topics(topic, timeout=10)
    consumer.assign([TopicPartition(topic, p, 0) for p in md.topics[topic].partitions])
    out: list[tuple[int, int, object, dict]] = []
    deadline = time.monotonic() + timeout_s
    last = time.monotonic()
    try:
        while time.monotonic() < deadline:
            msgs = consumer.consume(1000, timeout=0.3)
            for m in msgs:
                if m.error():
                    continue
                out.append((m.partition(), m.offset(), codec.decode(m.value()), dict(m.headers() or [])))
                last = time.monotonic()
            if until is not None and until([e for _, _, e, _ in out]):
                if time.monotonic() - last > 1.0:
                    break
            elif time.monotonic() - last > idle_s:
                break
    finally:
        consumer.close()
    out.sort(key=lambda x: (x[0], x[1]))
    return [(e, h) for _, _, e, h in out]


def movements(conn: KafkaConnection, **kw) -> list[Movement]:
    return [m for m, _ in read_topic(conn, conn.topics.movements, "Movement", **kw)]


def summary(m: Movement) -> tuple:
    """A movement without its processing-time field, comparable across runs."""
    return (m.event_id, m.identity.item_key, m.movement_type, round((m.event_time - T0) / S, 3), m.from_location,
            m.to_location, m.read_point, m.biz_step, m.disposition, m.direction, m.anomaly)


def by_item(ms: list[Movement]) -> dict[str, list[tuple]]:
    """Per item, in topic order (the topic is keyed by item, so this order is the publication order)."""
    out: dict[str, list[tuple]] = {}
    for m in ms:
        out.setdefault(m.identity.item_key, []).append(summary(m))
    return out


class ThreadedProcessor:
    def __init__(self, site_config, conn: KafkaConnection, instance_id: str = "0", clock=None) -> None:
        self.stop = threading.Event()
        self.ready = threading.Event()  # set once partitions are assigned
        kwargs = {"stop": self.stop, "instance_id": instance_id, "ready": self.ready}
        if clock is not None:
            kwargs["clock"] = clock
        self.error: BaseException | None = None

        def body() -> None:
            try:
                run_processor(site_config, conn, **kwargs)
            except BaseException as exc:  # surfaced by close()
                self.error = exc

        self.thread = threading.Thread(target=body, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.stop.set()
        self.thread.join(60)
        assert not self.thread.is_alive(), "processor did not stop"
        if self.error is not None:
            raise self.error


@pytest.fixture
def processor_thread(kafka_site, kafka):
    started: list[ThreadedProcessor] = []

    def start(site_config=None, instance_id: str = "0", clock=None) -> ThreadedProcessor:
        p = ThreadedProcessor(site_config or kafka_site, kafka, instance_id, clock)
        started.append(p)
        return p

    yield start
    for p in started:
        if p.thread.is_alive():
            p.close()


class ProcessorProcess:
    """`python -m tagtrail_cli.main process --site FILE` as a subprocess, for kill -9."""

    def __init__(self, site_path: Path, instance_id: str = "0", log_path: Path | None = None) -> None:
        self.log_path = log_path
        self.log = open(log_path or os.devnull, "ab")
        self._log_start = self.log.tell()
        self.proc = subprocess.Popen(
            [PYTHON, "-m", "tagtrail_cli.main", "--log-level", "info", "process", "--site", str(site_path),
             "--instance-id", instance_id],
            cwd=REPO, stdout=self.log, stderr=subprocess.STDOUT)

    def log_text(self) -> str:
        """What this incarnation logged (the file is shared by restarts of one instance id)."""
        if self.log_path is None:
            return ""
        with open(self.log_path, "rb") as f:
            f.seek(self._log_start)
            return f.read().decode(errors="replace")

    def wait_for_log(self, text: str, timeout_s: float = 60.0) -> None:
        deadline = time.monotonic() + timeout_s
        while text not in self.log_text():
            if self.proc.poll() is not None:
                raise AssertionError(f"processor exited ({self.proc.returncode}) before logging {text!r}:\n{self.log_text()}")
            if time.monotonic() > deadline:
                raise AssertionError(f"processor did not log {text!r} within {timeout_s} s")
            time.sleep(0.05)

    def kill9(self) -> None:
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(30)

    def terminate(self) -> int:
        self.proc.terminate()
        try:
            return self.proc.wait(60)
        finally:
            self.log.close()


@pytest.fixture
def processor_process(site_file: Path, tmp_path: Path):
    started: list[ProcessorProcess] = []

    def start(instance_id: str = "0") -> ProcessorProcess:
        p = ProcessorProcess(site_file, instance_id, tmp_path / f"processor-{instance_id}.log")
        started.append(p)
        return p

    yield start
    for p in started:
        if p.proc.poll() is None:
            p.kill9()
