"""Upload bodies (JSON or CSV) to one `Upload`; a body that cannot be read is a `BodyError`.

Structural problems (wrong JSON types, unknown CSV columns) reject the whole upload with a clear
message, because they are bugs in the device software. Problems in one scan's values (an unknown
action, a bad timestamp) are left to `assess`, so one bad scan cannot block a device's queue.
"""

from __future__ import annotations

import csv
import io
import re

import msgspec

CSV_COLUMNS = ("raw_data", "scanned_at", "action", "symbology", "location", "read_point")
CSV_REQUIRED = ("raw_data", "scanned_at", "action")
UPLOAD_ID = re.compile(r"^[A-Za-z0-9._:\-]{1,128}$")
_BYTE = re.compile(r"\(byte (\d+)\)")


class ScanIn(msgspec.Struct, frozen=True, omit_defaults=True):
    """One scan as the device sent it."""

    raw_data: str
    scanned_at: str | None = None
    action: str | None = None
    symbology: str | None = None
    location: str | None = None
    read_point: str | None = None


class Upload(msgspec.Struct, frozen=True):
    device_id: str
    upload_id: str
    scans: list[ScanIn]


class BodyError(Exception):
    """An upload body that is not read at all: `status` is the HTTP status to answer with."""

    def __init__(self, status: int, error: str, detail: str, **extra: object) -> None:
        super().__init__(detail)
        self.status = status
        self.error = error
        self.detail = detail
        self.extra = extra


_json_decoder = msgspec.json.Decoder(Upload)


def decode_json(body: bytes, *, max_scans: int) -> Upload:
    try:
        upload = _json_decoder.decode(body)
    except msgspec.ValidationError as exc:
        raise BodyError(422, "invalid_upload", str(exc)) from exc
    except msgspec.DecodeError as exc:
        raise BodyError(400, "malformed_json", str(exc), **_position(body, str(exc))) from exc
    return _checked(upload, max_scans)


def decode_csv(body: bytes, *, device_id: str | None, upload_id: str | None, max_scans: int) -> Upload:
    """CSV: a header row naming columns from CSV_COLUMNS (raw_data, scanned_at and action are
    required), one scan per row, UTF-8; device_id and upload_id come as query parameters."""
    if not device_id or not upload_id:
        raise BodyError(422, "invalid_upload", "CSV uploads need the device_id and upload_id query parameters")
    try:
        text = body.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise BodyError(400, "malformed_csv", f"CSV is not UTF-8: {exc.reason} at byte {exc.start}", position=exc.start) from exc
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    try:
        header = next(reader, None)
        if header is None:
            raise BodyError(422, "invalid_upload", "CSV body is empty: a header row is required")
        columns = [h.strip() for h in header]
        unknown = [c for c in columns if c not in CSV_COLUMNS]
        missing = [c for c in CSV_REQUIRED if c not in columns]
        if unknown or missing or len(set(columns)) != len(columns):
            raise BodyError(
                422, "invalid_upload",
                f"CSV header must name distinct columns from {', '.join(CSV_COLUMNS)} and include "
                f"{', '.join(CSV_REQUIRED)} (unknown: {unknown or 'none'}, missing: {missing or 'none'})",
            )
        scans = []
        for row in reader:
            if not row or (len(row) == 1 and not row[0]):
                continue
            if len(row) != len(columns):
                raise BodyError(422, "invalid_upload", f"CSV line {reader.line_num}: {len(row)} fields, header has "
                                f"{len(columns)}", line=reader.line_num)
            values = dict(zip(columns, row, strict=True))
            scans.append(ScanIn(**{k: (v if v != "" or k == "raw_data" else None) for k, v in values.items()}))
    except csv.Error as exc:
        raise BodyError(400, "malformed_csv", f"CSV line {reader.line_num}: {exc}", line=reader.line_num) from exc
    return _checked(Upload(device_id, upload_id, scans), max_scans)


def _checked(upload: Upload, max_scans: int) -> Upload:
    if not UPLOAD_ID.match(upload.upload_id):
        raise BodyError(422, "invalid_upload", "upload_id must be 1-128 characters of A-Z a-z 0-9 . _ : -")
    if not upload.device_id:
        raise BodyError(422, "invalid_upload", "device_id is empty")
    if not upload.scans:
        raise BodyError(422, "invalid_upload", "an upload needs at least one scan")
    if len(upload.scans) > max_scans:
        raise BodyError(413, "too_many_scans", f"{len(upload.scans)} scans in one upload; at most {max_scans}")
    return upload


def _position(body: bytes, message: str) -> dict[str, int]:
    """Byte offset, line and column of a JSON syntax error, so a device developer can find it."""
    found = _BYTE.search(message)
    if not found:
        return {}
    offset = int(found.group(1))
    before = body[:offset]
    line = before.count(b"\n") + 1
    column = offset - (before.rfind(b"\n") + 1) + 1
    return {"position": offset, "line": line, "column": column}
