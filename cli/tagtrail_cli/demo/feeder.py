"""Plays the plan in real time: tag sightings go to the reader emulators, scans are uploaded over HTTP, and
the dock terminal opens and closes each door's shipment or receipt through the scan service's
transactions API (POST /v1/transactions, .../close), as a dock office would around the loading."""

from __future__ import annotations

import datetime as dt
import threading
import time
import uuid
from collections.abc import Callable
from itertools import groupby
from urllib.parse import quote

import httpx
import structlog

from tagtrail_cli.demo.flow import DemoPlan, PlannedScan, PlannedTransaction
from tagtrail_cli.demo.warehouse import DOCK_TERMINAL
from tagtrail_ingest.llrp.emulator import ReaderEmulator, Sighting

log = structlog.get_logger(__name__)


class Feeder:
    """Feeds one plan; `reads_sent`/`scans_acknowledged` count what the devices handed over."""

    def __init__(self, plan: DemoPlan, emulators: dict[str, ReaderEmulator], scan_url: str,
                 tokens: dict[str, str], *, clock: Callable[[], float] = time.monotonic) -> None:
        self.plan = plan
        self.emulators = emulators
        self.scan_url = scan_url
        self.tokens = tokens
        self.clock = clock
        self.reads_sent = 0
        self.scans_acknowledged = 0
        self.scans_rejected = 0
        self.transactions_recorded = 0  # opens and closes the scan service recorded
        self.started_wall: dt.datetime | None = None

    def run(self, stop: threading.Event) -> None:
        start = self.clock()
        wall0 = time.time()
        self.started_wall = dt.datetime.now(dt.UTC)
        reads = list(self.plan.reads)
        uploads = [list(g) for _, g in groupby(self.plan.scans, key=lambda s: (s.upload_at_s, s.device_id))]
        dock = sorted([(t.open_at_s, "open", t) for t in self.plan.transactions]
                      + [(t.close_at_s, "close", t) for t in self.plan.transactions], key=lambda a: a[0])
        ri = ui = ti = 0
        with httpx.Client(timeout=30) as http:
            while (ri < len(reads) or ui < len(uploads) or ti < len(dock)) and not stop.is_set():
                now = self.clock() - start
                while ti < len(dock) and dock[ti][0] <= now:  # before the reads: a door opens before its first crossing
                    self._transaction(http, dock[ti][1], dock[ti][2], stop)
                    ti += 1
                batch: dict[str, list[Sighting]] = {}
                while ri < len(reads) and reads[ri].at_s <= now:
                    r = reads[ri]
                    batch.setdefault(r.reader_id, []).append(Sighting(epc_hex=r.epc_hex, antenna=r.antenna, peak_rssi=r.rssi_dbm))
                    ri += 1
                for reader_id, sightings in batch.items():
                    self.emulators[reader_id].queue(sightings)
                    self.reads_sent += len(sightings)
                while ui < len(uploads) and uploads[ui][0].upload_at_s <= now:
                    self._upload(http, uploads[ui], wall0, stop)
                    ui += 1
                stop.wait(0.05)

    def _upload(self, http: httpx.Client, scans: list[PlannedScan], wall0: float, stop: threading.Event) -> None:
        """One device batch, retried until acknowledged, as a handheld's upload queue would."""
        device = scans[0].device_id
        body = {
            "device_id": device,
            "upload_id": f"demo-{uuid.uuid4()}",
            "scans": [
                {
                    "raw_data": s.barcode,
                    "scanned_at": dt.datetime.fromtimestamp(wall0 + s.at_s, dt.UTC).isoformat(),
                    "action": s.action,
                    "location": s.location,
                }
                for s in scans
            ],
        }
        headers = {"Authorization": f"Bearer {self.tokens[device]}"}
        delay = 0.2
        while not stop.is_set():
            try:
                response = http.post(f"{self.scan_url}/v1/scans", json=body, headers=headers)
            except httpx.HTTPError as exc:
                log.warning("scan_upload_retry", device=device, error=str(exc))
            else:
                if response.status_code == 202:
                    verdicts = response.json().get("scans", [])
                    accepted = sum(1 for v in verdicts if v.get("accepted", v.get("status") == "accepted"))
                    self.scans_acknowledged += accepted
                    self.scans_rejected += len(verdicts) - accepted
                    return
                if response.status_code < 500:
                    log.error("scan_upload_refused", device=device, status=response.status_code, body=response.text[:300])
                    return
                log.warning("scan_upload_retry", device=device, status=response.status_code)
            stop.wait(delay)
            delay = min(delay * 2, 5.0)

    def _transaction(self, http: httpx.Client, step: str, planned: PlannedTransaction, stop: threading.Event) -> None:
        """Opens or closes one shipment or receipt, retried (same Idempotency-Key) until the service answers."""
        if step == "open":
            url = f"{self.scan_url}/v1/transactions"
            body: dict | None = {"direction": planned.direction, "location": planned.location, "type": planned.type,
                                 "id": planned.id, "partner_gln": planned.partner.gln,
                                 "partner_location_gln": planned.partner.site_uri()}
        else:
            url = f"{self.scan_url}/v1/transactions/{quote(planned.transaction_id, safe='')}/close"
            body = None
        headers = {"Authorization": f"Bearer {self.tokens[DOCK_TERMINAL]}", "Idempotency-Key": f"demo-{uuid.uuid4()}"}
        delay = 0.2
        while not stop.is_set():
            try:
                response = http.post(url, json=body, headers=headers)
            except httpx.HTTPError as exc:
                log.warning("transaction_retry", step=step, transaction=planned.transaction_id, error=str(exc))
            else:
                if response.status_code in (200, 201):
                    self.transactions_recorded += 1
                    return
                if response.status_code < 500:
                    log.error("transaction_refused", step=step, transaction=planned.transaction_id,
                              status=response.status_code, body=response.text[:300])
                    return
                log.warning("transaction_retry", step=step, transaction=planned.transaction_id, status=response.status_code)
            stop.wait(delay)
            delay = min(delay * 2, 5.0)
