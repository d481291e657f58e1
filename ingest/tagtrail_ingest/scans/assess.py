"""Each scan of an upload to a `Scan` event or a rejection with a reason. Pure: no I/O.

Reasons (the per-scan `reason` in verdicts and dead letters): empty, unparseable, bad_check_digit,
no_item_key, no_serial, too_long, bad_symbology, unknown_action, bad_scanned_at, scanned_in_future,
unknown_read_point, bad_location.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache

from tagtrail.config import ScanServiceSettings, SiteConfig
from tagtrail.events import Scan
from tagtrail.events.scan import ACTIONS
from tagtrail.identity import BarcodeError, BarcodeParser, ParsedBarcode
from tagtrail_ingest.scans.locations import LocationError, LocationResolver
from tagtrail_ingest.scans.upload import ScanIn, Upload

_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.timezone.utc)
_MICRO = dt.timedelta(microseconds=1)
_SYMBOLOGY = re.compile(r"^\][A-Za-z][0-9A-Za-z]$")
_ACTIONS = frozenset(ACTIONS)
MAX_RAW_CHARS = 4096  # a GS1 DataMatrix holds up to 3116 digits or 2335 characters
MAX_ERROR_CHARS = 300


@dataclass(frozen=True)
class Rejection:
    index: int
    reason: str
    error: str
    scan: ScanIn


Outcome = Scan | Rejection


class ScanAssessor:
    """Judges scans. Barcode parsing is cached by raw data, including the rejections: a repeated
    scan costs a dict lookup, a new one a parse (cheap on the GS1 fast path for handheld element
    strings, an order of magnitude dearer when biip has to parse it; see docs/benchmarks.md)."""

    def __init__(self, site: SiteConfig, settings: ScanServiceSettings | None = None) -> None:
        self.settings = settings or site.scans
        separators = ("\x1d", self.settings.gs_substitute) if self.settings.gs_substitute else ("\x1d",)
        self._parser = BarcodeParser(allow_internal=self.settings.allow_internal_barcodes, separator_chars=separators)
        self._parse = lru_cache(maxsize=self.settings.parse_cache_size)(self._parse_uncached)
        self._locations = LocationResolver(site)

    def assess(self, upload: Upload, uploaded_at: int) -> list[Outcome]:
        latest = uploaded_at + int(self.settings.max_clock_skew_s * 1_000_000)
        return [self._one(upload, i, scan, uploaded_at, latest) for i, scan in enumerate(upload.scans)]

    def _one(self, upload: Upload, index: int, scan: ScanIn, uploaded_at: int, latest: int) -> Outcome:
        if scan.action not in _ACTIONS:
            return Rejection(index, "unknown_action", _short(f"action must be one of {', '.join(ACTIONS)}, got {scan.action!r}"), scan)
        scanned_at = _micros(scan.scanned_at)
        if scanned_at is None:
            why = f"scanned_at must be an RFC 3339 time with offset, got {scan.scanned_at!r}"
            return Rejection(index, "bad_scanned_at", _short(why), scan)
        if scanned_at > latest:
            return Rejection(index, "scanned_in_future", f"scanned_at {scan.scanned_at} is after the upload time (device clock?)", scan)
        if scan.symbology is not None and not _SYMBOLOGY.match(scan.symbology):
            return Rejection(index, "bad_symbology", _short(f"symbology must be an AIM identifier like ]C1, got {scan.symbology!r}"), scan)
        raw = scan.raw_data
        if len(raw) > MAX_RAW_CHARS:
            return Rejection(index, "too_long", f"barcode data of {len(raw)} characters; GS1 symbols hold at most {MAX_RAW_CHARS}", scan)
        data = scan.symbology + raw if scan.symbology and not raw.startswith("]") else raw
        parsed = self._parse(data)
        if isinstance(parsed, BarcodeError):
            return Rejection(index, parsed.reason, _short(str(parsed)), scan)
        identity = parsed.identity
        if self.settings.require_serial and identity.scheme == "gtin":
            return Rejection(index, "no_serial", f"GTIN {identity.gtin} without a serial number names a product, not an item", scan)
        try:
            location, read_point = self._locations.resolve(upload.device_id, scan.location, scan.read_point)
        except LocationError as exc:
            return Rejection(index, exc.reason, _short(str(exc)), scan)
        return Scan(
            event_id=f"{upload.device_id}/{upload.upload_id}/{index}",
            device_id=upload.device_id,
            upload_id=upload.upload_id,
            raw_data=raw,
            identity=identity,
            action=scan.action,
            scanned_at=scanned_at,
            uploaded_at=uploaded_at,
            symbology=parsed.symbology or scan.symbology,
            gtin=parsed.gtin,
            serial=parsed.serial,
            lot=parsed.lot,
            expiry=parsed.expiry,
            sscc=parsed.sscc,
            location=location,
            read_point=read_point,
        )

    def _parse_uncached(self, data: str) -> ParsedBarcode | BarcodeError:
        try:
            return self._parser.parse(data)
        except BarcodeError as exc:
            return exc


def _short(message: str) -> str:
    """Error texts often quote the data; keep verdicts (and their Kafka record) small."""
    return message if len(message) <= MAX_ERROR_CHARS else message[: MAX_ERROR_CHARS - 3] + "..."


def _micros(text: str | None) -> int | None:
    if not text:
        return None
    try:
        when = dt.datetime.fromisoformat(text)
    except ValueError:
        return None
    if when.tzinfo is None or when.year < 1971:
        return None
    return (when - _EPOCH) // _MICRO


def wall_clock_micros() -> int:
    """The default clock: the service's receive time, which becomes `uploaded_at`."""
    return (dt.datetime.now(dt.timezone.utc) - _EPOCH) // _MICRO


Clock = Callable[[], int]
