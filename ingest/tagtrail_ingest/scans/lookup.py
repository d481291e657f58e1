"""Reads for the item lookup page: where an item is, its history, what is at a location.

Zones are shown as the views give them (the site file's zones, which the sink writes to ClickHouse);
an item that shipped has no current location but `shipped_via`, the door it left by.

The scan service must keep taking uploads whatever ClickHouse does, so the client is opened lazily
on the first lookup, every failure becomes `LookupUnavailable` (answered as 503 with the reason)
and a broken client is dropped so the next lookup reconnects.

chdb lets one process open a data folder, and the sink owns it: with an embedded `chdb://` DSN the
lookups only work when the caller hands in the sink's client (`tagtrail run`, one process);
a standalone scan service opening the sink's folder itself is refused with a reason. With a
ClickHouse server DSN every process can read.
"""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import structlog

from tagtrail.clickhouse import connect_clickhouse, parse_dsn
from tagtrail.config import ClickHouseSettings, SiteConfig
from tagtrail.history import queries
from tagtrail.history.site_dimension import site_dimension
from tagtrail.identity import IdentityError, resolve_any
from tagtrail_ingest.scans.locations import LocationError, LocationResolver

log = structlog.get_logger(__name__)

MAX_REASON_CHARS = 300


class LookupUnavailable(RuntimeError):
    """ClickHouse cannot answer now; the message says why (shown to the user)."""


class UnknownIdentity(ValueError):
    """What was typed names no item (not an EPC, URI, item key or GS1 barcode)."""


class HistoryReader:
    def __init__(self, site: SiteConfig, *, client: Any = None,
                 connect: Callable[[ClickHouseSettings, Path | None], Any] | None = None) -> None:
        self._settings = site.clickhouse
        self._base_dir = site.path.parent if site.path else None
        self._client = client
        self._owned = client is None  # a client handed in belongs to its owner (the sink): never closed here
        self._connect = connect or (lambda settings, base: connect_clickhouse(settings, base_dir=base))
        self._locations = LocationResolver(site)
        self._zones = dict(site_dimension(site).locations)  # location -> zone ('' = none), as the site file says now
        self._lock = threading.Lock()  # clickhouse-connect clients are not safe for concurrent queries

    # -- the questions ---------------------------------------------------------------------
    def item(self, text: str) -> dict[str, Any]:
        """Identity, current place and full history of what `text` names; `current` is None and
        `history` empty when tagtrail never saw the item."""
        try:
            identity = resolve_any(text)
        except IdentityError as exc:
            raise UnknownIdentity(str(exc)) from exc
        key = identity.item_key
        current = self._rows(queries.where_is, key)
        history = self._rows(queries.history, key)
        return {
            "query": text,
            "identity": {f: getattr(identity, f) for f in identity.__struct_fields__ if getattr(identity, f) is not None},
            "current": current[0] if current else None,
            "history": history,
        }

    def inventory(self, text: str) -> dict[str, Any]:
        """Items at a location now. `text` may be the location itself, a read point id or a scanned
        GLN barcode (AI 414), resolved the way scans are."""
        try:
            location = self._locations.resolve("", text, None)[0] or text
        except LocationError as exc:
            raise UnknownIdentity(str(exc)) from exc
        items = self._rows(queries.inventory_items, location)
        return {"location": location, "zone": self._zones.get(location) or None, "count": len(items), "items": items}

    def close(self) -> None:
        with self._lock:
            self._drop()

    # -- plumbing ----------------------------------------------------------------------------
    def _rows(self, query: Callable[[Any, str], tuple[list[str], list[tuple]]], argument: str) -> list[dict[str, Any]]:
        with self._lock:
            client = self._open()
            try:
                columns, rows = query(client, argument)
            except Exception as exc:
                self._drop()
                log.warning("lookup_failed", query=query.__name__, error=str(exc)[:MAX_REASON_CHARS])
                raise LookupUnavailable(_short(f"ClickHouse query failed: {exc}")) from exc
        return [{c: _plain(v) for c, v in zip(columns, row, strict=True)} for row in rows]

    def _open(self) -> Any:
        if self._client is not None:
            return self._client
        try:
            target = parse_dsn(self._settings.dsn, base_dir=self._base_dir)
        except ValueError as exc:
            raise LookupUnavailable(str(exc)) from exc
        if target.kind == "chdb":
            raise LookupUnavailable(
                f"the history is in embedded chdb ({target.path}), which only the sink's process may open: "
                "run `tagtrail run` (one process) or point clickhouse.dsn at a ClickHouse server")
        try:
            self._client = self._connect(self._settings, self._base_dir)
        except Exception as exc:
            raise LookupUnavailable(_short(f"ClickHouse at {target.describe()} unreachable: {exc}")) from exc
        log.info("lookup_connected", clickhouse=target.describe())
        return self._client

    def _drop(self) -> None:
        if self._owned and self._client is not None:
            try:
                self._client.close()
            except Exception as exc:  # noqa: BLE001 - closing a broken client may fail too; it is dropped either way
                log.debug("lookup_client_close_failed", error=str(exc))
            self._client = None


def _plain(value: Any) -> Any:
    """JSON-friendly cell: timestamps as RFC 3339 UTC (ClickHouse's DateTime64(6, 'UTC'))."""
    if isinstance(value, dt.datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=dt.UTC)
        return value.astimezone(dt.UTC).isoformat().replace("+00:00", "Z")
    return value


def _short(message: str) -> str:
    return message if len(message) <= MAX_REASON_CHARS else message[: MAX_REASON_CHARS - 3] + "..."
