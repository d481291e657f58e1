"""The browser side of the scan service: the scanning station (`/`), the item lookup page
(`/items`), and the small JSON API they use (`/v1/station`, `/v1/validate`, `/v1/items/...`,
`/v1/locations/.../inventory`).

The pages are static files shipped in the package (`web/`), no build step: warehouses run them on
rugged Android handhelds and pack-station PCs whose scanners type into the browser (keyboard wedge).
Every endpoint here needs the device token, like uploads: the lookup shows where stock is.
"""

from __future__ import annotations

import asyncio
from importlib import resources
from pathlib import Path
from typing import Any

import msgspec
from fastapi import Depends, FastAPI, Request
from fastapi.responses import FileResponse, Response
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from fastapi.staticfiles import StaticFiles

from tagtrail.events.scan import ACTIONS
from tagtrail_ingest.scans.assess import Clock
from tagtrail_ingest.scans.lookup import HistoryReader, LookupUnavailable, UnknownIdentity
from tagtrail_ingest.scans.service import Answer, ScanService, error_answer
from tagtrail_ingest.scans.validate import ScanCheck, ValidationError, check_scan, decode_scan, encode_check

MAX_VALIDATE_BYTES = 16 * 1024
REF = "#/components/schemas/{name}"
_bearer = HTTPBearer(auto_error=False, description="The device's API token (its SHA-256 is scanners[].token_sha256).")


def web_folder() -> Path:
    return Path(str(resources.files("tagtrail_ingest.scans") / "web"))


class StationSettings(msgspec.Struct, frozen=True):
    """What the station page needs to know about its device and the site."""

    device_id: str
    home_location: str | None
    actions: list[str]
    gs_substitute: str | None
    max_scans_per_upload: int


def components() -> dict[str, Any]:
    _, schemas = msgspec.json.schema_components([ScanCheck, StationSettings], ref_template=REF)
    schemas["ItemAnswer"] = {
        "type": "object", "required": ["query", "identity", "current", "history"],
        "description": "An item: its identity, where it is now (null if never located) and its movements, oldest first.",
        "properties": {
            "query": {"type": "string"},
            "identity": {"type": "object", "required": ["item_key", "scheme"], "additionalProperties": {"type": "string"}},
            "current": {"anyOf": [{"type": "object"}, {"type": "null"}],
                        "description": "Columns of the where_is query (location, disposition, biz_step, since, ...)."},
            "history": {"type": "array", "items": {"type": "object"},
                        "description": "Rows of the history query (event_time, movement_type, from_location, to_location, ...)."},
        },
    }
    schemas["InventoryAnswer"] = {
        "type": "object", "required": ["location", "count", "items"],
        "properties": {"location": {"type": "string"}, "count": {"type": "integer"},
                       "items": {"type": "array", "items": {"type": "object"},
                                 "description": "Rows of the inventory_items query (item_key, epc_uri, disposition, biz_step, last_seen)."}},
    }
    return schemas


def _json(name: str) -> dict[str, Any]:
    return {"application/json": {"schema": {"$ref": REF.format(name=name)}}}


def _error(description: str) -> dict[str, Any]:
    return {"description": description, "content": _json("ErrorBody")}


_UNAUTHORIZED = {401: _error("Missing or unknown device token.")}
_LOOKUP_ERRORS = {**_UNAUTHORIZED, 400: _error("Not an EPC, pure-identity URI, item key, GS1 barcode or location."),
                  503: _error("ClickHouse unreachable (or embedded chdb owned by another process); the reason says which.")}


def add_station(app: FastAPI, service: ScanService, reader: HistoryReader, clock: Clock) -> None:
    """Mounts the pages and adds their endpoints to the scan service's app."""
    folder = web_folder()
    app.mount("/web", StaticFiles(directory=folder), name="web")

    def device_of(request: Request) -> str | None:
        return service.authenticate(request.headers.get("authorization"))

    def unauthorized() -> Response:
        return _send(error_answer(401, "unauthorized", "missing or unknown device token (Authorization: Bearer <token>)",
                                  {"WWW-Authenticate": "Bearer"}))

    @app.get("/", include_in_schema=False)
    async def station_page() -> FileResponse:
        return FileResponse(folder / "index.html", headers={"Cache-Control": "no-cache"})

    @app.get("/items", include_in_schema=False)
    async def items_page() -> FileResponse:
        return FileResponse(folder / "items.html", headers={"Cache-Control": "no-cache"})

    @app.get("/sw.js", include_in_schema=False)
    async def service_worker() -> FileResponse:
        # Served from the root so its scope covers / and /items (the offline app shell).
        return FileResponse(folder / "sw.js", media_type="text/javascript", headers={"Cache-Control": "no-cache"})

    @app.get("/v1/station", summary="The calling device and the site's scanning settings",
             responses={200: {"description": "Settings", "content": _json("StationSettings")}, **_UNAUTHORIZED})
    async def station(request: Request, _c: HTTPAuthorizationCredentials | None = Depends(_bearer)) -> Response:
        device = device_of(request)
        if device is None:
            return unauthorized()
        scanner = next(s for s in service.site.scanners if s.id == device)
        settings = StationSettings(device, scanner.location, list(ACTIONS), service.settings.gs_substitute,
                                   service.settings.max_scans_per_upload)
        return Response(msgspec.json.encode(settings), media_type="application/json")

    @app.post("/v1/validate", summary="Check one scan as an upload would, without storing it",
              openapi_extra={"requestBody": {"required": True, "content": _json("ScanIn")}},
              responses={200: {"description": "parsed (with GTIN, serial, lot, expiry, ...) or rejected (with the reason "
                               "an upload would give)", "content": _json("ScanCheck")},
                         **_UNAUTHORIZED, 413: _error("Body too large."), 422: _error("Not one scan.")})
    async def validate(request: Request, _c: HTTPAuthorizationCredentials | None = Depends(_bearer)) -> Response:
        device = device_of(request)
        if device is None:
            return unauthorized()
        body = await request.body()
        if len(body) > MAX_VALIDATE_BYTES:
            return _send(error_answer(413, "body_too_large", f"one scan is at most {MAX_VALIDATE_BYTES} bytes"))
        try:
            scan = decode_scan(body)
        except ValidationError as exc:
            return _send(error_answer(422, "invalid_scan", str(exc)))
        check = await asyncio.to_thread(check_scan, service.assessor, device, scan, clock)
        return Response(encode_check(check), media_type="application/json")

    @app.get("/v1/items/{key:path}", summary="Where an item is and its movement history",
             description="`key`: EPC hex, pure-identity URI (urn:epc:id:...), item key (01/<gtin>/21/<serial>) or a GS1 "
             "barcode, URL-encoded.",
             responses={200: {"description": "The item", "content": _json("ItemAnswer")},
                        404: _error("tagtrail has no movement of this item."), **_LOOKUP_ERRORS})
    async def item(key: str, request: Request, _c: HTTPAuthorizationCredentials | None = Depends(_bearer)) -> Response:
        if device_of(request) is None:
            return unauthorized()
        return await _lookup(reader.item, key, not_found="no movement of this item is recorded")

    @app.get("/v1/locations/{location:path}/inventory", summary="Items at a location now",
             description="`location`: the location, a read point id, or a GS1 location barcode (AI 414), URL-encoded.",
             responses={200: {"description": "The items", "content": _json("InventoryAnswer")}, **_LOOKUP_ERRORS})
    async def inventory(location: str, request: Request, _c: HTTPAuthorizationCredentials | None = Depends(_bearer)) -> Response:
        if device_of(request) is None:
            return unauthorized()
        return await _lookup(reader.inventory, location)


async def _lookup(question, text: str, *, not_found: str | None = None) -> Response:
    try:
        answer = await asyncio.to_thread(question, text)
    except UnknownIdentity as exc:
        return _send(error_answer(400, "unknown_identity", str(exc)))
    except LookupUnavailable as exc:
        return _send(error_answer(503, "clickhouse_unavailable", str(exc), {"Retry-After": "5"}))
    if not_found and not answer["history"] and answer["current"] is None:
        return _send(error_answer(404, "not_found", not_found))
    return Response(msgspec.json.encode(answer), media_type="application/json")


def _send(answer: Answer) -> Response:
    return Response(answer.body, answer.status, answer.headers, media_type="application/json")
