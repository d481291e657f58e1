"""The answer to an upload: one verdict per scan, in the order sent.

The verdict is stored (in the upload ledger) exactly as first answered, so a device retrying an
upload gets the same answer byte for byte, marked `replayed`.
"""

from __future__ import annotations

import msgspec

from tagtrail.events import Scan
from tagtrail_ingest.scans.assess import Outcome, Rejection


class ScanVerdict(msgspec.Struct, frozen=True, omit_defaults=True):
    index: int
    status: str  # accepted | rejected
    event_id: str | None = None
    item_key: str | None = None
    reason: str | None = None
    error: str | None = None


class UploadVerdict(msgspec.Struct, frozen=True):
    device_id: str
    upload_id: str
    accepted: int
    rejected: int
    scans: list[ScanVerdict]
    replayed: bool = False


def verdict_for(device_id: str, upload_id: str, outcomes: list[Outcome]) -> UploadVerdict:
    scans = [
        ScanVerdict(i, "rejected", reason=o.reason, error=o.error) if isinstance(o, Rejection)
        else ScanVerdict(i, "accepted", event_id=o.event_id, item_key=o.identity.item_key)
        for i, o in enumerate(outcomes)
    ]
    rejected = sum(1 for o in outcomes if isinstance(o, Rejection))
    return UploadVerdict(device_id, upload_id, len(outcomes) - rejected, rejected, scans)


_encoder = msgspec.json.Encoder()
_decoder = msgspec.json.Decoder(UploadVerdict)


def encode_verdict(verdict: UploadVerdict) -> bytes:
    return _encoder.encode(verdict)


def decode_verdict(data: bytes) -> UploadVerdict:
    return _decoder.decode(data)


def accepted_scans(outcomes: list[Outcome]) -> list[Scan]:
    return [o for o in outcomes if not isinstance(o, Rejection)]
