"""The shipments and receipts endpoints of the scan service (`/v1/transactions`), and their OpenAPI parts.

Authorised like uploads: the device token. A station or a dock terminal opens the shipment it is
loading, and the same devices are the ones scanning at that door.
"""

from __future__ import annotations

from typing import Any, Literal

import msgspec
from fastapi import Depends, FastAPI, Header, Query, Request
from fastapi.responses import Response
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from tagtrail_ingest.scans.service import Answer, ScanService, error_answer
from tagtrail_ingest.scans.transaction_answer import TransactionList, TransactionOut
from tagtrail_ingest.scans.transaction_request import BIZ_TRANSACTION_TYPES, TransactionIn
from tagtrail_ingest.scans.transactions import TransactionDesk

REF = "#/components/schemas/{name}"
MAX_BODY = 64 * 1024
_bearer = HTTPBearer(auto_error=False, description="The device's API token (its SHA-256 is scanners[].token_sha256).")


def components() -> dict[str, Any]:
    _, schemas = msgspec.json.schema_components([TransactionIn, TransactionOut, TransactionList], ref_template=REF)
    props = schemas["TransactionIn"]["properties"]
    schemas["TransactionIn"]["description"] = (
        "Open a shipment (outbound) or a receipt (inbound) at a site location. Name the transaction by `type` and "
        "`id` (a URI) or `document_number` (becomes urn:epcglobal:cbv:bt:<issuer_gln, default company.gln>:<number>), "
        "or by `barcode` (a shipment label or PO barcode: AI 400, 401 or 402, with 410 ship-to).")
    props["direction"] = {"enum": ["outbound", "inbound"], "description": "outbound: a shipment leaving; inbound: a receipt."}
    props["location"].update(description="Site location id (or a read point id, or the location's GS1 barcode) of the door.")
    props["type"] = {"anyOf": [{"enum": list(BIZ_TRANSACTION_TYPES)}, {"type": "null"}], "default": None,
                     "description": "CBV 2.0 business transaction type (short name)."}
    props["id"].update(description="The bizTransaction URI, e.g. urn:epcglobal:cbv:bt:0614141000005:DA-1001.")
    props["partner_gln"].update(description="Party GLN (13 digits, check digit checked) or urn:epc:id:pgln: the "
                                "destination of a shipment, the source of a receipt.")
    props["partner_location_gln"].update(description="Location GLN (or urn:epc:id:sgln) of the partner's place.")
    props["partner_location_extension"].update(description="GS1 AI 254 extension of partner_location_gln.")
    props["ssccs"].update(description="SSCCs (18 digits) of the logistic units in it.")
    return schemas


def _json(name: str) -> dict[str, Any]:
    return {"application/json": {"schema": {"$ref": REF.format(name=name)}}}


def _error(description: str) -> dict[str, Any]:
    return {"description": description, "content": _json("ErrorBody")}


_COMMON = {401: _error("Missing or unknown device token."),
           503: _error("Kafka did not answer in time; nothing was recorded. Retry after Retry-After seconds.")}
_KEY_DOC = "Idempotency key: a retry with the same key gets the first answer (replayed) and records nothing new."


def add_transactions(app: FastAPI, service: ScanService, desk: TransactionDesk) -> None:
    def unauthorized() -> Response:
        return _send(error_answer(401, "unauthorized", "missing or unknown device token (Authorization: Bearer <token>)",
                                  {"WWW-Authenticate": "Bearer"}))

    @app.post("/v1/transactions", status_code=201, summary="Open a shipment or receipt at a site location",
              openapi_extra={"requestBody": {"required": True, "content": _json("TransactionIn")}},
              responses={201: {"description": "Opened: recorded on Kafka (<prefix>.transactions).", "content": _json("TransactionOut")},
                         200: {"description": "Already open at the same location and direction: nothing new recorded.",
                               "content": _json("TransactionOut")},
                         400: _error("Malformed JSON."), 409: _error("Open at another location or in the other direction."),
                         413: _error("Body too large."),
                         422: _error("Not a valid transaction; `field` names the part at fault."), **_COMMON})
    async def open_transaction(request: Request, idempotency_key: str | None = Header(None, description=_KEY_DOC),
                               _c: HTTPAuthorizationCredentials | None = Depends(_bearer)) -> Response:
        device = service.authenticate(request.headers.get("authorization"))
        if device is None:
            return unauthorized()
        body = await request.body()
        if len(body) > MAX_BODY:
            return _send(error_answer(413, "body_too_large", f"at most {MAX_BODY} bytes"))
        return _send(await desk.open(device, body, idempotency_key))

    @app.post("/v1/transactions/{transaction_id:path}/close", summary="Close an open shipment or receipt",
              description="`transaction_id`: `<type>:<id>` as the open answered, URL-encoded.",
              responses={200: {"description": "Closed (or already closed: nothing new recorded).", "content": _json("TransactionOut")},
                         404: _error("No such transaction was opened."),
                         422: _error("Bad Idempotency-Key, or one used for another transaction."), **_COMMON})
    async def close_transaction(transaction_id: str, request: Request,
                                idempotency_key: str | None = Header(None, description=_KEY_DOC),
                                _c: HTTPAuthorizationCredentials | None = Depends(_bearer)) -> Response:
        device = service.authenticate(request.headers.get("authorization"))
        if device is None:
            return unauthorized()
        return _send(await desk.close_transaction(device, transaction_id, idempotency_key))

    @app.get("/v1/transactions", summary="Shipments and receipts, latest state, oldest opened first",
             responses={200: {"description": "The transactions", "content": _json("TransactionList")}, **_COMMON})
    async def list_transactions(request: Request, status: Literal["open", "closed"] | None = Query(None),
                                location: str | None = Query(None, description="Only those at this site location."),
                                _c: HTTPAuthorizationCredentials | None = Depends(_bearer)) -> Response:
        if service.authenticate(request.headers.get("authorization")) is None:
            return unauthorized()
        return _send(await desk.listing(status, location))

    @app.get("/v1/transactions/{transaction_id:path}", summary="One shipment or receipt, latest state",
             responses={200: {"description": "The transaction", "content": _json("TransactionOut")},
                        404: _error("No such transaction was opened."), **_COMMON})
    async def one_transaction(transaction_id: str, request: Request,
                              _c: HTTPAuthorizationCredentials | None = Depends(_bearer)) -> Response:
        if service.authenticate(request.headers.get("authorization")) is None:
            return unauthorized()
        return _send(await desk.one(transaction_id))


def _send(answer: Answer) -> Response:
    return Response(answer.body, answer.status, answer.headers, media_type="application/json")
