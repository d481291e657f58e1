"""Running services expose /metrics, and the counters move with the work they do."""

from __future__ import annotations

import re
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from tagtrail_ingest.llrp.emulator import ReaderEmulator, Sighting
from tagtrail_ingest.llrp.emulator.scenarios import sgtin96
from tests.services import free_port


def scrape(port: int) -> str:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as r:
        return r.read().decode()


def value(text: str, name: str, labels: str = "") -> float | None:
    pattern = re.escape(name) + (r"\{" + re.escape(labels) + r"\}" if labels else r"(?:\{\})?") + r" ([0-9.e+-]+)"
    match = re.search(pattern, text)
    return float(match.group(1)) if match else None


@pytest.mark.kafka
def test_llrp_adapter_metrics_move_with_reads(kafka, tmp_path: Path) -> None:
    emulator = ReaderEmulator(antennas=2, name="door-1")
    reader_port = emulator.start()
    metrics_port = free_port()
    site = tmp_path / "site.yaml"
    site.write_text(
        f"kafka: {{bootstrap_servers: '{kafka.bootstrap_servers}', topic_prefix: {kafka.topics.prefix}, partitions: 3}}\n"
        f"llrp: {{spool_dir: '{tmp_path / 'spool'}', metrics_port: {metrics_port}}}\n"
        "read_points:\n"
        "  - {id: door-1-outer, location: dock-door-1, kind: dock_door_outer, portal: door-1}\n"
        "  - {id: door-1-inner, location: dock-door-1, kind: dock_door_inner, portal: door-1}\n"
        "readers:\n"
        f"  - {{id: door-1, host: 127.0.0.1, port: {reader_port}, report_every_ms: 100, antennas: "
        "[{port: 1, read_point: door-1-outer}, {port: 2, read_point: door-1-inner}]}\n"
    )
    service = subprocess.Popen([sys.executable, "-m", "tagtrail_cli.main", "ingest", "llrp", "--site", str(site)],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        assert emulator.inventorying.wait(30), "the adapter never started the reader"
        emulator.queue([Sighting(epc_hex=sgtin96("0614141", "812345", i), antenna=1 + i % 2) for i in range(40)])
        deadline = time.monotonic() + 30
        text = ""
        while time.monotonic() < deadline:
            text = scrape(metrics_port)
            if (value(text, "tagtrail_reads_total", 'reader="door-1"') or 0) >= 40:
                break
            time.sleep(0.5)
        assert value(text, "tagtrail_reads_total", 'reader="door-1"') == 40
        assert value(text, "tagtrail_reader_connected", 'reader="door-1"') == 1
        with urllib.request.urlopen(f"http://127.0.0.1:{metrics_port}/readyz", timeout=5) as r:
            assert r.status == 200
    finally:
        service.terminate()
        service.wait(30)
        emulator.stop()
