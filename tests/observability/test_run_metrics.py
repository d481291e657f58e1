"""`tagtrail run`: each stage in the one process serves its own metrics port, as it would alone,
and the counts agree along the pipeline (movements the processor published = rows the sink wrote)."""

from __future__ import annotations

import datetime as dt
import hashlib
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from tagtrail.kafka import KafkaConnection
from tests.observability.conftest import tagtrail_samples
from tests.scans.barcodes import gtin14
from tests.services import REPO, free_port

pytestmark = pytest.mark.kafka

TOKEN = "run-metrics-token"
GTIN = gtin14("8061414112345")


def total(samples: dict[tuple[str, frozenset], float], name: str, **labels: str) -> float:
    return sum(v for (n, ls), v in samples.items() if n == name and labels.items() <= dict(ls).items())


def test_run_serves_every_stage_metrics_port(kafka: KafkaConnection, tmp_path: Path) -> None:
    api = free_port()
    ports = {"scans": free_port(), "processing": free_port(), "sink": free_port()}
    site = tmp_path / "site.yaml"
    site.write_text(
        "site_id: run-metrics\n"
        f"kafka: {{bootstrap_servers: '{kafka.bootstrap_servers}', topic_prefix: {kafka.topics.prefix}, partitions: 3}}\n"
        "clickhouse: {dsn: 'chdb://ch', database: tagtrail}\n"
        f"scans: {{host: 127.0.0.1, port: {api}, metrics_port: {ports['scans']}}}\n"
        f"processing: {{idle_advance_s: 1, metrics_port: {ports['processing']}}}\n"
        f"sink: {{batch_seconds: 0.2, metrics_port: {ports['sink']}}}\n"
        "read_points:\n"
        "  - {id: pack-1, location: pack-station-1, kind: pack_station}\n"
        "scanners:\n"
        f"  - {{id: hh-1, token_sha256: {hashlib.sha256(TOKEN.encode()).hexdigest()}, location: pack-station-1}}\n"
    )
    log = open(tmp_path / "run.log", "ab")  # noqa: SIM115 - the child process keeps it open
    service = subprocess.Popen([sys.executable, "-m", "tagtrail_cli.main", "run", "--site", str(site)],
                               cwd=REPO, stdout=log, stderr=log)
    scraped: dict[str, dict[tuple[str, frozenset], float]] = {}

    def scrape(section: str) -> dict[tuple[str, frozenset], float]:
        scraped[section] = tagtrail_samples(httpx.get(f"http://127.0.0.1:{ports[section]}/metrics", timeout=5).text)
        return scraped[section]

    try:
        deadline = time.monotonic() + 90
        waiting = set(ports)
        while waiting:
            assert service.poll() is None, f"tagtrail run exited with {service.returncode}"
            assert time.monotonic() < deadline, f"never ready: {sorted(waiting)}"
            for section in sorted(waiting):
                try:
                    if httpx.get(f"http://127.0.0.1:{ports[section]}/readyz", timeout=2).status_code == 200:
                        waiting.discard(section)
                except httpx.HTTPError:
                    pass
            time.sleep(0.3)

        now = dt.datetime.now(dt.UTC).isoformat()
        scans = [{"raw_data": f"]C101{GTIN}21R{i}", "scanned_at": now, "action": "pack"} for i in range(3)]
        upload = httpx.post(f"http://127.0.0.1:{api}/v1/scans", json={"device_id": "hh-1", "upload_id": "u-1", "scans": scans},
                            headers={"Authorization": f"Bearer {TOKEN}"}, timeout=30)
        assert upload.status_code == 202 and upload.json()["accepted"] == 3

        while time.monotonic() < deadline:
            published = total(scrape("processing"), "tagtrail_movements_total")
            if published and total(scrape("sink"), "tagtrail_sink_rows_total") == published:
                break
            time.sleep(0.5)
        assert total(scrape("scans"), "tagtrail_scans_total", device="hh-1", verdict="accepted") == 3
        assert total(scraped["processing"], "tagtrail_movements_total") >= 3  # one per packed item at least
        assert total(scrape("sink"), "tagtrail_sink_rows_total") == total(scraped["processing"], "tagtrail_movements_total")
        # Each port holds its own stage's families only: no stage reports another's work.
        assert total(scraped["sink"], "tagtrail_scans_total") == 0
        assert total(scraped["scans"], "tagtrail_sink_rows_total") == 0
    finally:
        service.send_signal(signal.SIGTERM)
        assert service.wait(60) == 0
