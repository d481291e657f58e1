"""`tagtrail ingest scans` as operators run it: its metrics port counts what the API answered.

Scans are counted by verdict once Kafka committed them, each upload by its HTTP status, a device's
retry as a replay (its scans not counted again), and /readyz on the metrics port follows the API's.
"""

from __future__ import annotations

import hashlib
import subprocess
import sys
from collections import Counter
from pathlib import Path

import httpx
import pytest
import yaml

from tagtrail.kafka import KafkaConnection
from tests.observability.conftest import tagtrail_samples
from tests.scans.barcodes import gtin14, wrong_check_digit
from tests.services import REPO, free_port, wait_until_answers

pytestmark = pytest.mark.kafka

DEVICE, TOKEN = "handheld-01", "token-of-handheld-01"
GTIN = gtin14("0061414112345")
AT = "2025-03-04T10:00:00Z"


def scan(raw: str, *, action: str = "pack", scanned_at: str = AT) -> dict[str, str]:
    return {"raw_data": raw, "scanned_at": scanned_at, "action": action}


def write_site(path: Path, kafka: KafkaConnection, api_port: int, metrics_port: int) -> Path:
    path.write_text(yaml.safe_dump({
        "site_id": "metrics",
        "kafka": {"bootstrap_servers": kafka.bootstrap_servers, "topic_prefix": kafka.topics.prefix, "partitions": kafka.partitions},
        "scanners": [{"id": DEVICE, "token_sha256": hashlib.sha256(TOKEN.encode()).hexdigest()}],
        "scans": {"host": "127.0.0.1", "port": api_port, "metrics_port": metrics_port, "publish_timeout_s": 15.0},
    }))
    return path


def test_scan_service_counts_verdicts_uploads_and_replays(kafka: KafkaConnection, tmp_path: Path) -> None:
    api_port, metrics_port = free_port(), free_port()
    api, metrics_url = f"http://127.0.0.1:{api_port}", f"http://127.0.0.1:{metrics_port}"
    site = write_site(tmp_path / "site.yaml", kafka, api_port, metrics_port)
    log = open(tmp_path / "service.log", "ab")  # noqa: SIM115 - the child process keeps it open
    process = subprocess.Popen([sys.executable, "-m", "tagtrail_cli.main", "ingest", "scans", "--site", str(site)],
                               cwd=REPO, stdout=log, stderr=log)
    try:
        wait_until_answers(f"{metrics_url}/readyz", process, what="tagtrail ingest scans")
        assert httpx.get(f"{api}/readyz", timeout=5).status_code == 200  # the same answer as the API's own probe
        assert httpx.get(f"{metrics_url}/healthz", timeout=5).status_code == 200

        scans = ([scan(f"]C101{GTIN}21K{i}") for i in range(6)]
                 + [scan(f"]C101{wrong_check_digit(GTIN)}21K{i}") for i in range(3)]
                 + [scan(f"]C101{GTIN}21X1", action="juggle"), scan(f"]C101{GTIN}21X2", scanned_at="yesterday"), scan("")])
        body = {"device_id": DEVICE, "upload_id": "metrics-1", "scans": scans}
        headers = {"Authorization": f"Bearer {TOKEN}"}
        answer = httpx.post(f"{api}/v1/scans", json=body, headers=headers, timeout=30)
        assert answer.status_code == 202
        verdicts = Counter(s["reason"] if s["status"] == "rejected" else "accepted" for s in answer.json()["scans"])
        assert verdicts == {"accepted": 6, "bad_check_digit": 3, "unknown_action": 1, "bad_scanned_at": 1, "empty": 1}

        replay = httpx.post(f"{api}/v1/scans", json=body, headers=headers, timeout=30)
        assert replay.status_code == 202 and replay.json()["replayed"] is True
        assert httpx.post(f"{api}/v1/scans", json=body, headers={"Authorization": "Bearer wrong"}, timeout=30).status_code == 401
        assert httpx.post(f"{api}/v1/scans", content=b"{", headers={**headers, "Content-Type": "application/json"},
                          timeout=30).status_code == 400

        samples = tagtrail_samples(httpx.get(f"{metrics_url}/metrics", timeout=5).text)
        counted = {dict(labels)["verdict"]: value for (name, labels), value in samples.items()
                   if name == "tagtrail_scans_total" and dict(labels)["device"] == DEVICE}
        assert counted == verdicts  # once, although the upload was answered twice
        dead = {dict(labels)["reason"]: value for (name, labels), value in samples.items()
                if name == "tagtrail_dead_letters_total" and dict(labels)["stage"] == "ingest.scans"}
        assert dead == {reason: n for reason, n in verdicts.items() if reason != "accepted"}
        uploads = {dict(labels)["status"]: value for (name, labels), value in samples.items() if name == "tagtrail_scan_uploads_total"}
        assert uploads == {"202": 2, "401": 1, "400": 1}
        assert samples[("tagtrail_scan_upload_replays_total", frozenset())] == 1
        assert samples[("tagtrail_scan_upload_seconds_count", frozenset())] == 1  # only the upload that was committed
        assert samples[("tagtrail_scan_upload_seconds_sum", frozenset())] > 0
    finally:
        process.terminate()
        assert process.wait(30) == 0
