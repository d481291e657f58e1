"""`tagtrail sink` as operators run it: its metrics port counts the rows ClickHouse acknowledged,
the inserts, the dead letters by reason and its consumer lag, and says ready once it consumes."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
import yaml

from tagtrail.kafka import KafkaConnection
from tests.observability.conftest import tagtrail_samples
from tests.services import REPO, free_port, wait_until_answers
from tests.sink.helpers import MOVEMENTS, movement, produce

pytestmark = pytest.mark.kafka

MOVED = 1_500
UNDECODABLE = 2


def write_site(path: Path, kafka: KafkaConnection, metrics_port: int) -> Path:
    path.write_text(yaml.safe_dump({
        "site_id": "sink-metrics",
        "kafka": {"bootstrap_servers": kafka.bootstrap_servers, "topic_prefix": kafka.topics.prefix, "partitions": kafka.partitions},
        "clickhouse": {"dsn": f"chdb://{path.parent / 'chdb'}", "database": "tagtrail"},
        "sink": {"batch_rows": 400, "catch_up_batch_rows": 800, "batch_seconds": 0.2, "retry_max_backoff_s": 1.0,
                 "metrics_port": metrics_port},
    }))
    return path


def scrape(url: str) -> dict[tuple[str, frozenset], float]:
    return tagtrail_samples(httpx.get(f"{url}/metrics", timeout=5).text)


def sink_lags(samples: dict[tuple[str, frozenset], float], topic: str) -> dict[str, float]:
    return {dict(labels)["partition"]: value for (name, labels), value in samples.items()
            if name == "tagtrail_consumer_lag" and dict(labels)["stage"] == "sink" and dict(labels)["topic"] == topic}


def test_sink_counts_rows_batches_dead_letters_and_lag(kafka: KafkaConnection, tmp_path: Path) -> None:
    records = [(m.identity.item_key.encode(), MOVEMENTS.encode(m)) for m in (movement(i) for i in range(MOVED))]
    records += [(f"junk-{i}".encode(), b"not a movement") for i in range(UNDECODABLE)]
    produce(kafka, records)
    metrics_port = free_port()
    url = f"http://127.0.0.1:{metrics_port}"
    site = write_site(tmp_path / "site.yaml", kafka, metrics_port)
    log = open(tmp_path / "sink.log", "ab")  # noqa: SIM115 - the child process keeps it open
    process = subprocess.Popen([sys.executable, "-m", "tagtrail_cli.main", "sink", "--site", str(site)],
                               cwd=REPO, stdout=log, stderr=log)
    try:
        samples: dict[tuple[str, frozenset], float] = {}
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            assert process.poll() is None, f"the sink exited with {process.returncode}"
            try:
                samples = scrape(url)
            except httpx.HTTPError:
                samples = {}
            lags = sink_lags(samples, kafka.topics.movements)
            if (samples.get(("tagtrail_sink_rows_total", frozenset())) == MOVED
                    and len(lags) == kafka.partitions and not any(lags.values())):
                break
            time.sleep(0.5)
        assert samples.get(("tagtrail_sink_rows_total", frozenset())) == MOVED
        assert samples[("tagtrail_sink_batch_rows_sum", frozenset())] == MOVED
        inserts = samples[("tagtrail_sink_batch_rows_count", frozenset())]
        assert inserts >= MOVED / 800  # no insert holds more than catch_up_batch_rows
        assert samples[("tagtrail_sink_batch_seconds_count", frozenset())] == inserts
        assert samples[("tagtrail_dead_letters_total", frozenset({("stage", "sink"), ("reason", "undecodable")}))] == UNDECODABLE
        assert sink_lags(samples, kafka.topics.movements) == {str(p): 0 for p in range(kafka.partitions)}
        assert httpx.get(f"{url}/readyz", timeout=5).status_code == 200
        assert httpx.get(f"{url}/healthz", timeout=5).status_code == 200
    finally:
        process.terminate()
        assert process.wait(60) == 0


def test_sink_waiting_for_clickhouse_is_alive_but_not_ready(kafka: KafkaConnection, tmp_path: Path) -> None:
    """Kubernetes must not restart a sink that waits out a ClickHouse outage, nor count it as serving."""
    metrics_port = free_port()
    url = f"http://127.0.0.1:{metrics_port}"
    site = write_site(tmp_path / "site.yaml", kafka, metrics_port)
    doc = yaml.safe_load(site.read_text())
    doc["clickhouse"] = {"dsn": f"http://127.0.0.1:{free_port()}", "database": "tagtrail"}  # nothing listens there
    site.write_text(yaml.safe_dump(doc))
    log = open(tmp_path / "sink.log", "ab")  # noqa: SIM115 - the child process keeps it open
    process = subprocess.Popen([sys.executable, "-m", "tagtrail_cli.main", "sink", "--site", str(site)],
                               cwd=REPO, stdout=log, stderr=log)
    try:
        wait_until_answers(f"{url}/healthz", process, timeout_s=30, what="tagtrail sink")
        time.sleep(2)  # a few connection attempts later
        assert httpx.get(f"{url}/readyz", timeout=5).status_code == 503
    finally:
        process.terminate()
        process.wait(30)
