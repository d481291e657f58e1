"""One scan checked without storing it: what the scanning station shows the operator at once.

It runs the same `ScanAssessor` an upload runs, so the page never needs a second GS1 parser and
"parsed" on the screen means exactly "would be accepted" (at that moment) by `POST /v1/scans`.
"""

from __future__ import annotations

import datetime as dt

import msgspec

from tagtrail_ingest.scans.assess import Clock, Rejection, ScanAssessor
from tagtrail_ingest.scans.upload import ScanIn, Upload

VALIDATION_UPLOAD_ID = "validate"


class ScanCheck(msgspec.Struct, frozen=True, omit_defaults=True):
    """What one scan would become: `parsed` with its identity and GS1 fields, or `rejected` with a reason."""

    status: str  # parsed | rejected
    reason: str | None = None
    error: str | None = None
    item_key: str | None = None
    scheme: str | None = None
    epc_uri: str | None = None
    gtin: str | None = None
    serial: str | None = None
    lot: str | None = None
    expiry: dt.date | None = None
    sscc: str | None = None
    symbology: str | None = None
    location: str | None = None
    read_point: str | None = None


_decoder = msgspec.json.Decoder(ScanIn)
_encoder = msgspec.json.Encoder()


class ValidationError(ValueError):
    """The request body is not one scan."""


def decode_scan(body: bytes) -> ScanIn:
    try:
        return _decoder.decode(body)
    except msgspec.DecodeError as exc:  # ValidationError is a DecodeError
        raise ValidationError(str(exc)) from exc


def check_scan(assessor: ScanAssessor, device_id: str, scan: ScanIn, clock: Clock) -> ScanCheck:
    """A scan without `scanned_at` is checked as if scanned now: the station asks before queueing."""
    now = clock()
    if scan.scanned_at is None:
        when = dt.datetime(1970, 1, 1, tzinfo=dt.UTC) + dt.timedelta(microseconds=now)
        scan = msgspec.structs.replace(scan, scanned_at=when.isoformat())
    outcome = assessor.assess(Upload(device_id, VALIDATION_UPLOAD_ID, [scan]), now)[0]
    if isinstance(outcome, Rejection):
        return ScanCheck("rejected", reason=outcome.reason, error=outcome.error)
    identity = outcome.identity
    return ScanCheck("parsed", item_key=identity.item_key, scheme=identity.scheme, epc_uri=identity.epc_uri,
                     gtin=outcome.gtin, serial=outcome.serial, lot=outcome.lot, expiry=outcome.expiry, sscc=outcome.sscc,
                     symbology=outcome.symbology, location=outcome.location, read_point=outcome.read_point)


def encode_check(check: ScanCheck) -> bytes:
    return _encoder.encode(check)
