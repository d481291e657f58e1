"""One handheld barcode scan (schema tagtrail.events.Scan)."""

from __future__ import annotations

import datetime as dt

import msgspec

from tagtrail.events.identity import Identity

ACTIONS = ("receive", "putaway", "pick", "pack", "ship", "count")


class Scan(msgspec.Struct, frozen=True, kw_only=True):
    """A scan accepted from a device upload; `scanned_at` may be hours before `uploaded_at`."""

    event_id: str
    device_id: str
    upload_id: str
    raw_data: str
    identity: Identity
    action: str
    scanned_at: int
    uploaded_at: int
    symbology: str | None = None
    gtin: str | None = None
    serial: str | None = None
    lot: str | None = None
    expiry: dt.date | None = None
    sscc: str | None = None
    location: str | None = None
    read_point: str | None = None
