"""`tagtrail ingest scans` as a process: killed with SIGKILL it loses no answered upload, and on
SIGTERM it stops promptly with exit code 0."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import yaml

from tagtrail.kafka import KafkaConnection
from tests.scans.barcodes import gtin14
from tests.scans.conftest import TOKENS, auth, read_topic
from tests.services import REPO, free_port, wait_until_answers

GTIN = gtin14("0061414112345")


def write_site(path: Path, kafka: KafkaConnection, port: int) -> Path:
    import hashlib

    path.write_text(yaml.safe_dump({
        "site_id": "proc",
        "kafka": {"bootstrap_servers": kafka.bootstrap_servers, "topic_prefix": kafka.topics.prefix, "partitions": kafka.partitions},
        "scanners": [{"id": d, "token_sha256": hashlib.sha256(t.encode()).hexdigest()} for d, t in TOKENS.items()],
        "scans": {"host": "127.0.0.1", "port": port, "publish_timeout_s": 15.0},
    }))
    return path


def start(site: Path, log: Path) -> subprocess.Popen:
    process = subprocess.Popen([sys.executable, "-m", "tagtrail_cli.main", "ingest", "scans", "--site", str(site)],
                               cwd=REPO, stdout=subprocess.DEVNULL, stderr=open(log, "ab"))
    return process


def test_killed_service_keeps_its_answers_and_sigterm_stops_it(tmp_path: Path, kafka: KafkaConnection) -> None:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    site = write_site(tmp_path / "site.yaml", kafka, port)
    body = {"device_id": "handheld-01", "upload_id": "before-kill",
            "scans": [{"raw_data": f"]C101{GTIN}21K{i}", "scanned_at": "2025-03-04T10:00:00Z", "action": "pack"} for i in range(50)]}

    first = start(site, tmp_path / "service.log")
    try:
        wait_until_answers(f"{url}/readyz", first, what="the scan service")
        answer = httpx.post(f"{url}/v1/scans", json=body, headers=auth("handheld-01"), timeout=30)
        assert answer.status_code == 202
    finally:
        first.send_signal(signal.SIGKILL)
        first.wait(30)

    second = start(site, tmp_path / "service.log")
    try:
        wait_until_answers(f"{url}/readyz", second, what="the restarted scan service")
        replay = httpx.post(f"{url}/v1/scans", json=body, headers=auth("handheld-01"), timeout=30)
        assert replay.status_code == 202 and replay.json() == {**answer.json(), "replayed": True}
        stopped_at = time.monotonic()
        second.send_signal(signal.SIGTERM)
        assert second.wait(30) == 0
        assert time.monotonic() - stopped_at < 15
    finally:
        if second.poll() is None:
            second.kill()
    assert len(read_topic(kafka, kafka.topics.scans, expect=50)) == 50


def test_cli_help() -> None:
    out = subprocess.run([sys.executable, "-m", "tagtrail_cli.main", "ingest", "scans", "--help"], cwd=REPO,
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 0 and "--port" in out.stdout
