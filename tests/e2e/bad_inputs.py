"""Bad input the pipeline must survive and account for: broken LLRP frames, bad EPCs, garbled and
hostile barcodes, uploads the scan API must refuse as a whole.

Each per-item reject must reach the dead-letter topic with its reason; a request-level reject
(413/400/415) must publish nothing at all.
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from dataclasses import dataclass, field

import httpx

from tagtrail_ingest.llrp import frames
from tagtrail_ingest.llrp.emulator import ReaderEmulator, Sighting, encoders, sgtin96
from tests.e2e.devices import post_until_answered


@dataclass(frozen=True)
class BadScan:
    raw_data: str
    reason: str
    action: str = "pick"
    scanned_at: str | None = None  # None: a good time


@dataclass
class Sent:
    """What was sent, to account for afterwards."""

    scans: list[tuple[str, str, int, str]] = field(default_factory=list)  # device, upload_id, index, reason
    frames: list[tuple[str, str, bytes]] = field(default_factory=list)  # reader, reason, payload (prefix)
    requests: list[tuple[str, int, int]] = field(default_factory=list)  # upload_id, expected, got status

    @property
    def total(self) -> int:
        return len(self.scans) + len(self.frames) + len(self.requests)


def garbled(barcode: str) -> str:
    """The same GS1 element string with the GTIN's check digit changed (a misread digit)."""
    at = barcode.index("]d201") + 5 + 13
    wrong = str((int(barcode[at]) + 1) % 10)
    return barcode[:at] + wrong + barcode[at + 1:]


def bad_scans(good_barcode: str) -> list[list[BadScan]]:
    """Uploads of scans each rejected for its own reason (site has allow_internal_barcodes false)."""
    return [
        [BadScan(garbled(good_barcode), "bad_check_digit"),
         BadScan("'; DROP TABLE movements; --", "unparseable"),
         BadScan("<script>alert('x')</script>", "unparseable")],
        [BadScan("]d201\x00\x07\x1b[2J", "unparseable"),
         BadScan("\u202e\ufeff\u0000", "unparseable"),
         BadScan("9" * 5000, "too_long"),
         BadScan(good_barcode, "unknown_action", action="teleport"),
         BadScan(good_barcode, "bad_scanned_at", scanned_at="yesterday")],
    ]


class BadUploader:
    def __init__(self, scan_url: str, device: str, token: str, location: str, sent: Sent) -> None:
        self.url, self.device, self.token, self.location, self.sent = scan_url, device, token, location, sent

    def upload(self, http: httpx.Client, scans: list[BadScan], stop: threading.Event) -> None:
        upload_id = f"bad-{uuid.uuid4()}"
        now = time.time()
        body = {"device_id": self.device, "upload_id": upload_id, "scans": [
            {"raw_data": s.raw_data, "action": s.action, "location": self.location,
             "scanned_at": s.scanned_at or time.strftime("%Y-%m-%dT%H:%M:%S+00:00", time.gmtime(now))}
            for s in scans]}
        verdicts = post_until_answered(http, self.url, self.token, body, stop)
        if verdicts is None:
            return
        for i, (scan, verdict) in enumerate(zip(scans, verdicts, strict=True)):
            assert verdict["status"] == "rejected", verdict
            self.sent.scans.append((self.device, upload_id, i, scan.reason))

    def refused(self, http: httpx.Client, stop: threading.Event) -> None:
        """Uploads refused as a whole: too large, not JSON, not a content type the API takes."""
        auth = {"Authorization": f"Bearer {self.token}"}
        big_id, bad_id, type_id = (f"refused-{uuid.uuid4()}" for _ in range(3))
        big = json.dumps({"device_id": self.device, "upload_id": big_id, "scans": [
            {"raw_data": "9" * 1000, "action": "pick", "location": self.location,
             "scanned_at": "2026-01-01T00:00:00+00:00"}] * 400}).encode()
        attempts = [
            (big_id, 413, big, "application/json"),
            (bad_id, 400, f'{{"device_id": "{self.device}", "upload_id": "{bad_id}", "scans": [{{'.encode(), "application/json"),
            (type_id, 415, json.dumps({"device_id": self.device, "upload_id": type_id, "scans": []}).encode(), "text/plain"),
        ]
        for upload_id, expected, body, ctype in attempts:
            while not stop.is_set():
                try:
                    r = http.post(f"{self.url}/v1/scans", content=body, headers={**auth, "Content-Type": ctype})
                except httpx.HTTPError:
                    stop.wait(0.3)
                    continue
                if r.status_code >= 500:
                    stop.wait(0.3)
                    continue
                self.sent.requests.append((upload_id, expected, r.status_code))
                break


def broken_llrp(emu: ReaderEmulator, reader_id: str, sent: Sent, stop: threading.Event) -> None:
    """One reader sends a malformed report, an EPC of a wrong length, a frame header with no boundary
    left (the link must resynchronise by reconnecting), and a frame cut off by a closing link."""

    def settled(timeout_s: float = 20.0) -> None:
        deadline = time.monotonic() + timeout_s
        while not emu.inventorying.is_set() and time.monotonic() < deadline and not stop.is_set():
            time.sleep(0.05)
        time.sleep(0.5)

    def reconnected(before: int) -> None:
        deadline = time.monotonic() + 20
        while emu.connections <= before and time.monotonic() < deadline and not stop.is_set():
            time.sleep(0.05)
        settled()

    settled()
    body = encoders.tlv(frames.P_TAG_REPORT_DATA, encoders.tv(frames.TV_EPC_96, b"\x30" * 12) + b"\x81\x00")
    malformed = frames.message(frames.RO_ACCESS_REPORT, body, 4242)
    emu.send_raw(malformed)
    sent.frames.append((reader_id, "malformed_frame", malformed))
    emu.queue([Sighting(epc_hex="30" * 13, antenna=1)])  # a 104-bit EPC
    sent.frames.append((reader_id, "bad_epc", b""))
    # (an EPC whose EPCData declares 90 bits is not dead-lettered: see test_llrp_epc_bit_length.py)
    time.sleep(1.0)
    before = emu.connections
    broken_header = b"\x00\x3d\x00\x00\x00\x05\x00\x00\x00\x01garbage"
    emu.send_raw(broken_header)
    sent.frames.append((reader_id, "broken_framing", broken_header[:10]))
    reconnected(before)
    before = emu.connections
    whole = encoders.ro_access_report([encoders.TagReport(epc=bytes.fromhex(sgtin96("0614141", "812345", 99_998)),
                                                          antenna_id=1, peak_rssi=-50)], 4343)
    emu.send_truncated_and_close(whole[: len(whole) // 2])
    sent.frames.append((reader_id, "truncated_frame", whole[: len(whole) // 2]))
    reconnected(before)
