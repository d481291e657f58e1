"""The devices of the scenario: reader emulators given every read up front, handhelds uploading scans."""

from __future__ import annotations

import datetime as dt
import threading
import time
import uuid

import httpx
import structlog

from tagtrail_ingest.llrp.emulator import ReaderEmulator, Sighting
from tests.e2e.scenario import HandheldScan, Scenario

log = structlog.get_logger(__name__)


def queue_reads(scenario: Scenario, emulators: dict[str, ReaderEmulator], wall0_us: int) -> int:
    """Every read with its true time: the emulator reports it once due, and keeps it while no adapter
    listens, so a read is late (never lost, never mis-timed) when the adapter or the link is down."""
    per_reader: dict[str, list[Sighting]] = {}
    for r in scenario.reads:
        at = wall0_us + int(r.at_s * 1_000_000)
        per_reader.setdefault(r.reader_id, []).append(
            Sighting(epc_hex=r.epc_hex, antenna=r.antenna, peak_rssi=r.rssi_dbm, first_seen_us=at, last_seen_us=at))
    for reader_id, sightings in per_reader.items():
        emulators[reader_id].queue(sightings)
    return len(scenario.reads)


def scanned_at(wall0_s: float, at_s: float) -> str:
    return dt.datetime.fromtimestamp(wall0_s + at_s, dt.UTC).isoformat()


class Handhelds:
    """Uploads each scan when due, retrying an upload (same upload_id) until the service answers 202,
    as a handheld's upload queue does; counts what was acknowledged."""

    def __init__(self, scenario: Scenario, scan_url: str, tokens: dict[str, str], wall0_s: float) -> None:
        self.scenario = scenario
        self.scan_url = scan_url
        self.tokens = tokens
        self.wall0_s = wall0_s
        self.acknowledged = 0
        self.acknowledged_ids: list[str] = []
        self.rejected: list[dict] = []
        self.retries = 0
        self.done = threading.Event()

    def run(self, stop: threading.Event) -> None:
        try:
            with httpx.Client(timeout=15) as http:
                for scan in self.scenario.scans:
                    while not stop.is_set() and time.time() < self.wall0_s + scan.upload_at_s:
                        stop.wait(0.05)
                    if stop.is_set():
                        return
                    self._upload(http, scan, stop)
        finally:
            self.done.set()

    def _upload(self, http: httpx.Client, scan: HandheldScan, stop: threading.Event) -> None:
        body = {"device_id": scan.device_id, "upload_id": f"e2e-{uuid.uuid4()}",
                "scans": [{"raw_data": scan.barcode, "scanned_at": scanned_at(self.wall0_s, scan.at_s),
                           "action": scan.action, "location": scan.location}]}
        verdicts = post_until_answered(http, self.scan_url, self.tokens[scan.device_id], body, stop, self)
        if verdicts is None:
            return
        for v in verdicts:
            if v.get("status") == "accepted":
                self.acknowledged += 1
                self.acknowledged_ids.append(v["event_id"])
            else:
                self.rejected.append(v)


def post_until_answered(http: httpx.Client, url: str, token: str, body: dict, stop: threading.Event,
                        counter=None) -> list[dict] | None:
    """POST until a 202 (None if stopped); 5xx and connection errors are retried, 4xx are a test error."""
    delay = 0.2
    while not stop.is_set():
        try:
            response = http.post(f"{url}/v1/scans", json=body, headers={"Authorization": f"Bearer {token}"})
        except httpx.HTTPError as exc:
            log.info("e2e_upload_retry", error=str(exc))
        else:
            if response.status_code == 202:
                return response.json().get("scans", [])
            if response.status_code < 500:
                raise AssertionError(f"upload refused with {response.status_code}: {response.text[:300]}")
        if counter is not None:
            counter.retries += 1
        stop.wait(delay)
        delay = min(delay * 2, 2.0)
    return None
