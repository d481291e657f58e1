"""`tagtrail run`: every service of a site in one process, from a site file, stopped by SIGTERM."""

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

from tagtrail.clickhouse import connect_clickhouse
from tagtrail.config import ClickHouseSettings
from tagtrail_ingest.llrp.emulator import ReaderEmulator, Sighting
from tagtrail_ingest.llrp.emulator.scenarios import sgtin96
from tests.services import free_port

TOKEN = "run-test-token"


@pytest.mark.kafka
@pytest.mark.slow
def test_run_serves_a_site_end_to_end(kafka, tmp_path: Path) -> None:
    emulator = ReaderEmulator(antennas=2, name="door-1")
    reader_port = emulator.start()
    scan_port = free_port()
    site = tmp_path / "site.yaml"
    site.write_text(
        f"site_id: run-test\n"
        f"kafka: {{bootstrap_servers: '{kafka.bootstrap_servers}', topic_prefix: {kafka.topics.prefix}, partitions: 3}}\n"
        f"clickhouse: {{dsn: 'chdb://ch', database: tagtrail}}\n"
        f"llrp: {{spool_dir: spool}}\n"
        f"scans: {{host: 127.0.0.1, port: {scan_port}}}\n"
        f"processing: {{idle_advance_s: 2}}\n"
        "read_points:\n"
        "  - {id: door-1-outer, location: dock-door-1, kind: dock_door_outer, portal: door-1}\n"
        "  - {id: door-1-inner, location: dock-door-1, kind: dock_door_inner, portal: door-1}\n"
        "  - {id: pack-1, location: pack-station-1, kind: pack_station}\n"
        "readers:\n"
        f"  - {{id: door-1, host: 127.0.0.1, port: {reader_port}, report_every_ms: 100, antennas: "
        "[{port: 1, read_point: door-1-outer}, {port: 2, read_point: door-1-inner}]}\n"
        "scanners:\n"
        f"  - {{id: hh-1, token_sha256: {hashlib.sha256(TOKEN.encode()).hexdigest()}, location: pack-station-1}}\n"
    )
    service = subprocess.Popen([sys.executable, "-m", "tagtrail_cli.main", "run", "--site", str(site)],
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    epcs = [sgtin96("0614141", "812345", 500 + i) for i in range(5)]
    try:
        assert emulator.inventorying.wait(60), "tagtrail run never started the reader"
        for antenna in (1, 2):  # outer then inner: inbound through door 1
            for _ in range(4):
                emulator.queue([Sighting(epc_hex=e, antenna=antenna, peak_rssi=-55) for e in epcs])
                time.sleep(0.3)
        scan = {"device_id": "hh-1", "upload_id": "u-1", "scans": [
            {"raw_data": "]d201806141411234582199", "scanned_at": dt.datetime.now(dt.UTC).isoformat(), "action": "pack",
             "location": "pack-1"}]}
        deadline = time.monotonic() + 30
        while True:
            try:
                r = httpx.post(f"http://127.0.0.1:{scan_port}/v1/scans", json=scan,
                               headers={"Authorization": f"Bearer {TOKEN}"}, timeout=10)
                if r.status_code == 202:
                    break
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline, "the scan service never accepted the upload"
            time.sleep(0.5)
        time.sleep(12)  # smoothing window (5 s) + idle advance + a sink batch
    finally:
        service.send_signal(signal.SIGTERM)
        _, err = service.communicate(timeout=60)
        emulator.stop()
    assert service.returncode == 0, err[-2000:]
    client = connect_clickhouse(ClickHouseSettings(dsn=f"chdb://{tmp_path / 'ch'}", database="tagtrail"))
    try:
        rows = client.query(
            "SELECT item_key, argMax(to_location, (event_time, event_id)), argMax(biz_step, (event_time, event_id)) "
            "FROM movement_history GROUP BY item_key ORDER BY item_key"
        ).result_rows
    finally:
        client.close()
    located = {key: (loc, step) for key, loc, step in rows}
    for i in range(5):
        assert located[f"01/80614141123458/21/{500 + i}"] == ("dock-door-1", "receiving")
    assert located["01/80614141123458/21/99"] == ("pack-station-1", "packing")
