"""The OpenAPI description of the upload API, from the same msgspec types the service decodes."""

from __future__ import annotations

from typing import Any

import msgspec

from tagtrail.events.scan import ACTIONS
from tagtrail_ingest.scans.upload import CSV_COLUMNS, Upload
from tagtrail_ingest.scans.verdict import UploadVerdict

REF = "#/components/schemas/{name}"


class ErrorBody(msgspec.Struct):
    error: str
    detail: str
    position: int | None = None
    line: int | None = None
    column: int | None = None
    field: str | None = None
    transaction_id: str | None = None


def components() -> dict[str, Any]:
    _, schemas = msgspec.json.schema_components([Upload, UploadVerdict, ErrorBody], ref_template=REF)
    scan = schemas["ScanIn"]
    scan["description"] = "One scan as the device recorded it."
    props = scan["properties"]
    props["raw_data"].update(description="Barcode data exactly as scanned (GS separators as \\u001d).", minLength=1)
    props["scanned_at"] = {"anyOf": [{"type": "string", "format": "date-time"}, {"type": "null"}],
                           "description": "RFC 3339 time with offset, device clock.", "default": None}
    props["action"] = {"anyOf": [{"enum": list(ACTIONS)}, {"type": "null"}], "default": None}
    props["symbology"].update(description="AIM symbology identifier (]C1, ]d2, ...) if not already in raw_data.")
    props["location"].update(description="Scanned location barcode (GLN, AI 414) or a read point id.")
    props["read_point"].update(description="Read point id from the site config.")
    upload = schemas["Upload"]
    upload["properties"]["scans"]["minItems"] = 1
    upload["properties"]["upload_id"].update(pattern=r"^[A-Za-z0-9._:\-]{1,128}$",
                                             description="Idempotency key: the same upload sent again gets the first verdict.")
    return schemas


def _json(ref: str) -> dict[str, Any]:
    return {"application/json": {"schema": {"$ref": REF.format(name=ref)}}}


def upload_operation() -> dict[str, Any]:
    """openapi_extra of POST /v1/scans."""
    return {
        "requestBody": {
            "required": True,
            "content": {
                **_json("Upload"),
                "text/csv": {"schema": {"type": "string", "description":
                    f"Header row naming columns from {', '.join(CSV_COLUMNS)} (raw_data, scanned_at, action "
                    "required), one scan per row, UTF-8. device_id and upload_id as query parameters."}},
            },
        },
    }


def upload_responses() -> dict[int | str, dict[str, Any]]:
    def error(description: str) -> dict[str, Any]:
        return {"description": description, "content": _json("ErrorBody")}

    return {
        202: {"description": "Stored on Kafka; a verdict per scan (rejected scans also went to the dead-letter topic).",
              "content": _json("UploadVerdict")},
        400: error("Malformed JSON (with byte position, line, column) or CSV."),
        401: error("Missing or unknown device token."),
        403: error("The token belongs to another device."),
        413: error("Body larger than scans.max_body_bytes, or too many scans."),
        415: error("Content type is neither application/json nor text/csv."),
        422: error("Well-formed body that is not an upload (wrong types, missing fields, bad upload_id)."),
        503: error("Kafka did not confirm in time; nothing of the upload was stored. Retry after Retry-After seconds."),
    }
