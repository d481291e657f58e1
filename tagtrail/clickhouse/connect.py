"""Turns a DSN into a clickhouse-connect client, creating the database if it is missing.

DSNs: `chdb:///abs/dir` or `chdb://rel/dir` (relative to the site config's folder) for the
embedded engine; `http://host:8123` / `https://host:8443` (user and password in the URL or the
settings) for a server.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlparse

import clickhouse_connect
import structlog

from tagtrail.config import ClickHouseSettings
from tagtrail.config.secrets import resolve_value

log = structlog.get_logger(__name__)


@dataclass(frozen=True)
class ClickHouseTarget:
    kind: str  # "chdb" or "http"
    path: Path | None = None
    host: str | None = None
    port: int | None = None
    secure: bool = False
    username: str | None = None
    password: str | None = None

    def describe(self) -> str:
        """Safe to log: no password."""
        if self.kind == "chdb":
            return f"chdb (embedded) at {self.path}"
        return f"{'https' if self.secure else 'http'}://{self.host}:{self.port}"


def parse_dsn(dsn: str, *, base_dir: Path | None = None) -> ClickHouseTarget:
    if dsn.startswith("chdb://"):
        rest = dsn[len("chdb://") :]
        if not rest or rest in ("memory", ":memory:"):
            raise ValueError(f"clickhouse.dsn {dsn!r}: tagtrail needs an on-disk chdb folder, e.g. chdb:///var/lib/tagtrail/chdb")
        path = Path(unquote(rest))
        if not path.is_absolute():
            path = (base_dir or Path.cwd()) / path
        return ClickHouseTarget("chdb", path=path)
    parsed = urlparse(dsn)
    if parsed.scheme not in ("http", "https") or not parsed.hostname:
        raise ValueError(f"clickhouse.dsn {dsn!r}: expected chdb:///DIR or http(s)://HOST:PORT")
    secure = parsed.scheme == "https"
    return ClickHouseTarget(
        "http",
        host=parsed.hostname,
        port=parsed.port or (8443 if secure else 8123),
        secure=secure,
        username=unquote(parsed.username) if parsed.username else None,
        password=unquote(parsed.password) if parsed.password else None,
    )


def connect_clickhouse(settings: ClickHouseSettings, *, base_dir: Path | None = None, create_database: bool = True) -> Any:
    """A client bound to the site database. With chdb, only one folder can be open per process."""
    target = parse_dsn(settings.dsn, base_dir=base_dir)
    if target.kind == "chdb":
        target.path.mkdir(parents=True, exist_ok=True)
        client = clickhouse_connect.get_client(interface="chdb", path=str(target.path))
    else:
        client = clickhouse_connect.get_client(
            host=target.host,
            port=target.port,
            secure=target.secure,
            username=settings.username or target.username or "default",
            # env:NAME / file:PATH keep the password out of the site file (Kubernetes Secrets, Docker secrets).
            password=resolve_value("clickhouse.password", settings.password) if settings.password else target.password or "",
        )
    if create_database:
        client.command(f"CREATE DATABASE IF NOT EXISTS `{settings.database}`")
    client.database = settings.database
    log.debug("clickhouse_connected", target=target.describe(), database=settings.database)
    return client
