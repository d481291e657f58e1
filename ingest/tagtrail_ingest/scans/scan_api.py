"""The HTTP service (FastAPI on uvicorn): routes, body limits, and running it until `stop`.

Request bodies are read raw and decoded with msgspec rather than through pydantic models: the
upload path must stay cheap at tens of thousands of scans per second, and the OpenAPI document is
generated from the same msgspec types (openapi.py).
"""

from __future__ import annotations

import asyncio
import threading
from contextlib import asynccontextmanager
from typing import Any

import msgspec
import structlog
import uvicorn
from fastapi import Depends, FastAPI, Query, Request
from fastapi.openapi.utils import get_openapi
from fastapi.responses import Response
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from tagtrail.config import SiteConfig
from tagtrail.kafka import KafkaConnection
from tagtrail.observability import Metrics
from tagtrail_ingest.scans import openapi, station, transaction_api
from tagtrail_ingest.scans.assess import Clock, wall_clock_micros
from tagtrail_ingest.scans.ledger import LedgerUnavailable
from tagtrail_ingest.scans.lookup import HistoryReader
from tagtrail_ingest.scans.service import MEDIA_TYPES, Answer, ScanService, error_answer
from tagtrail_ingest.scans.transactions import TransactionDesk

log = structlog.get_logger(__name__)

READY_CHECK_S = 2.0  # how often the metrics port's /readyz flag is brought up to date

_bearer = HTTPBearer(auto_error=False, description="The device's API token (its SHA-256 is scanners[].token_sha256).")


def create_app(site: SiteConfig, conn: KafkaConnection, *, clock: Clock = wall_clock_micros, instance_id: str = "0",
               clickhouse_client: Any = None, metrics: Metrics | None = None) -> FastAPI:
    """The ASGI app. The scan service starts (producer, ledger) in the app's lifespan.

    `clickhouse_client`: an open client for the item lookup (the sink's, in `tagtrail run`); without
    one the lookup connects to site.clickhouse on first use (a server DSN only, see lookup.py).
    `metrics`: where uploads and scans are counted (the service's /metrics), if anywhere.
    """
    service = ScanService(site, conn, clock=clock, instance_id=instance_id, metrics=metrics)
    reader = HistoryReader(site, client=clickhouse_client)
    desk = TransactionDesk(site, conn, service.publisher, clock)
    max_body = site.scans.max_body_bytes

    @asynccontextmanager
    async def lifespan(_app: FastAPI):
        await asyncio.to_thread(service.start)
        try:
            yield
        finally:
            await asyncio.to_thread(service.close)
            await asyncio.to_thread(desk.close)
            await asyncio.to_thread(reader.close)

    app = FastAPI(title="tagtrail scan upload API", version="1", lifespan=lifespan, docs_url=None, redoc_url=None,
                  description="Handheld scanners upload batches of barcode scans; each accepted scan becomes a "
                  "Scan event on Kafka, each rejected one a dead letter. Serve it behind TLS.")
    app.state.scan_service = service
    station.add_station(app, service, reader, clock)
    transaction_api.add_transactions(app, service, desk)

    @app.post("/v1/scans", status_code=202, responses=openapi.upload_responses(), openapi_extra=openapi.upload_operation(),
              summary="Upload a batch of scans from one device")
    async def upload_scans(
        request: Request,
        device_id: str | None = Query(None, description="CSV uploads only: the device id."),
        upload_id: str | None = Query(None, description="CSV uploads only: the upload id (idempotency key)."),
        _credentials: HTTPAuthorizationCredentials | None = Depends(_bearer),
    ) -> Response:
        try:
            answer = await _upload(service, request, max_body, device_id, upload_id)
        except Exception:
            service.meter.answered(500)  # the framework answers 500; count it with the rest
            raise
        service.meter.answered(answer.status)
        return Response(answer.body, answer.status, answer.headers, media_type="application/json")

    @app.get("/healthz", summary="Liveness: the process answers")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    reopening: list[asyncio.Future] = []

    @app.get("/readyz", summary="Readiness: Kafka reachable and the upload ledger loaded",
             responses={503: {"description": "Not ready"}})
    async def readyz() -> Response:
        if not service.ledger.loaded and (not reopening or reopening[-1].done()):
            # Kafka was unreachable at start (or the topic brand new): load the ledger in the background,
            # so the service becomes ready without waiting for an upload and the probe never blocks.
            reopening[:] = [asyncio.ensure_future(asyncio.to_thread(_open_quietly, service))]
        ok, why = await asyncio.to_thread(service.ready)
        body = msgspec.json.encode({"status": "ok" if ok else "unavailable", "detail": why})
        return Response(body, 200 if ok else 503, media_type="application/json")

    def custom_openapi() -> dict:
        if app.openapi_schema is None:
            schema = get_openapi(title=app.title, version=app.version, description=app.description, routes=app.routes)
            schemas = schema.setdefault("components", {}).setdefault("schemas", {})
            schemas.update(openapi.components())
            schemas.update(station.components())
            schemas.update(transaction_api.components())
            app.openapi_schema = schema
        return app.openapi_schema

    app.openapi = custom_openapi
    return app


async def _upload(service: ScanService, request: Request, max_body: int, device_id: str | None, upload_id: str | None) -> Answer:
    length = request.headers.get("content-length")
    if length is not None and length.isdigit() and int(length) > max_body:
        return error_answer(413, "body_too_large", f"body of {length} bytes; at most {max_body}")
    device = service.authenticate(request.headers.get("authorization"))
    if device is None:
        return error_answer(401, "unauthorized", "missing or unknown device token (Authorization: Bearer <token>)",
                            {"WWW-Authenticate": "Bearer"})
    media_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if media_type not in MEDIA_TYPES:
        return error_answer(415, "unsupported_media_type", f"content type must be one of {', '.join(MEDIA_TYPES)}")
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > max_body:
            return error_answer(413, "body_too_large", f"body exceeds {max_body} bytes")
        chunks.append(chunk)
    return await service.handle(device, media_type, b"".join(chunks), device_id, upload_id)


def _keep_readiness(service: ScanService, server: uvicorn.Server, ready: threading.Event, stop: threading.Event) -> None:
    """Mirrors the API's /readyz into `ready`, so the metrics port answers the same. Waits for the
    lifespan start: loading the ledger before the producer fenced an older instance could miss
    that instance's last commit."""
    while not stop.is_set():
        if server.started:
            if not service.ledger.loaded:
                _open_quietly(service)
            try:
                ok, why = service.ready()
            except Exception as exc:  # noqa: BLE001 - a failed check means "not ready", never a dead thread
                ok, why = False, type(exc).__name__
            if ok != ready.is_set():
                log.info("scan_service_readiness", ready=ok, detail=why)
            if ok:
                ready.set()
            else:
                ready.clear()
        if stop.wait(READY_CHECK_S if server.started else 0.2):
            break
    ready.clear()


def _open_quietly(service: ScanService) -> None:
    try:
        service.ledger.open()
    except LedgerUnavailable as exc:
        log.info("upload_ledger_still_unavailable", error=str(exc))


def run_scan_service(site: SiteConfig, conn: KafkaConnection, *, stop: threading.Event, host: str | None = None,
                     port: int | None = None, clickhouse_client: Any = None, metrics: Metrics | None = None,
                     ready: threading.Event | None = None) -> None:
    """Serves until `stop` is set, then finishes in-flight uploads and returns.

    uvicorn runs in its own thread so it installs no signal handlers: the caller owns SIGTERM
    (it sets `stop`), whether this runs alone (`tagtrail ingest scans`) or beside other stages.
    `metrics` counts uploads; `ready` (the metrics port's /readyz) is kept set while the service
    could answer an upload: started, upload ledger loaded, Kafka reachable.
    """
    app = create_app(site, conn, clickhouse_client=clickhouse_client, metrics=metrics)
    config = uvicorn.Config(app, host=host or site.scans.host, port=port or site.scans.port, log_config=None,
                            access_log=False, lifespan="on", timeout_graceful_shutdown=int(site.scans.publish_timeout_s) + 5)
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name="scan-http", daemon=True)
    thread.start()
    log.info("scan_service_starting", host=config.host, port=config.port)
    if ready is not None:
        threading.Thread(target=_keep_readiness, args=(app.state.scan_service, server, ready, stop),
                         name="scan-readiness", daemon=True).start()
    while thread.is_alive() and not stop.wait(0.2):
        pass
    server.should_exit = True
    thread.join(site.scans.publish_timeout_s + 30)
    if not server.started and not stop.is_set():
        raise RuntimeError(f"the scan service could not start on {config.host}:{config.port} (port in use?)")
