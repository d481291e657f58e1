"""Where a scan was made: a read point id, a scanned location barcode, or the device's home."""

from __future__ import annotations

from functools import lru_cache

from biip import ParseError
from biip.gs1_messages import GS1Message

from tagtrail.config import SiteConfig
from tagtrail.identity import item_key

MAX_LOCATION_CHARS = 200


class LocationError(ValueError):
    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


class LocationResolver:
    """Turns what a device sent into (location, read point id).

    A read point id (sent as `read_point`, or scanned as `location` from a label carrying it)
    places the scan where the RFID side places items, so both histories agree. A scanned GS1
    location barcode (AI 414 GLN, optional 254 extension) becomes the same `414/<gln>/254/<ext>`
    key SGLN tags produce. Anything else is kept as the location text.
    """

    def __init__(self, site: SiteConfig, cache_size: int = 4096) -> None:
        self._read_points = {rp.id: rp for rp in site.read_points}
        self._homes = {s.id: s.location for s in site.scanners}
        # A device sends the same few locations all day: resolve each once.
        self._cached = lru_cache(maxsize=cache_size)(self._resolve_or_error)

    def resolve(self, device_id: str, location: str | None, read_point: str | None) -> tuple[str | None, str | None]:
        found = self._cached(device_id, location, read_point)
        if isinstance(found, LocationError):
            raise LocationError(found.reason, str(found))  # a fresh one: re-raising the cached one grows its traceback
        return found

    def _resolve_or_error(self, device_id: str, location: str | None, read_point: str | None):
        try:
            return self._resolve(device_id, location, read_point)
        except LocationError as exc:
            return exc

    def _resolve(self, device_id: str, location: str | None, read_point: str | None) -> tuple[str | None, str | None]:
        if read_point is not None:
            rp = self._read_points.get(read_point)
            if rp is None:
                raise LocationError("unknown_read_point", f"read point {read_point!r} is not in the site config")
            return (self._location(location) if location else rp.location), rp.id
        if location:
            rp = self._read_points.get(location)
            if rp is not None:
                return rp.location, rp.id
            return self._location(location), None
        return self._homes.get(device_id), None

    def _location(self, text: str) -> str:
        value = text.strip()
        if not value or len(value) > MAX_LOCATION_CHARS or any(ord(c) < 32 and c != "\x1d" for c in value):
            raise LocationError("bad_location", f"location must be 1-{MAX_LOCATION_CHARS} printable characters")
        return _gln_key(value) or value


def _gln_key(value: str) -> str | None:
    body = value[3:] if value.startswith("]") and len(value) > 3 else value
    if not (body.startswith("(414)") or (body.startswith("414") and body[3:16].isdigit())):
        return None
    try:
        message = GS1Message.parse_hri(body) if body.startswith("(") else GS1Message.parse(body)
    except ParseError:
        return None
    gln = message.element_strings.get(ai="414")
    if gln is None:
        return None
    extension = message.element_strings.get(ai="254")
    return item_key.sgln_key(gln.value, extension.value if extension else None)
