"""Turns a DSN into a clickhouse-connect client: creating the database if it is missing (the sink,
`tagtrail migrate`), or opening only one that exists (every read command).

DSNs: `chdb:///abs/dir` or `chdb://rel/dir` (relative to the site config's folder) for the
embedded engine; `http://host:8123` / `https://host:8443` (user and password in the URL or the
settings) for a server.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlparse

import clickhouse_connect
import structlog
from clickhouse_connect.driver.exceptions import OperationalError

from tagtrail.clickhouse.connect_errors import ClickHouseUnreachable, NoTagtrailDatabase
from tagtrail.config import ClickHouseSettings
from tagtrail.config.secrets import resolve_value

log = structlog.get_logger(__name__)

# clickhouse-connect logs this warning right before raising the error it describes; the error is
# reported (with the URL) by whoever called, so the extra line only confuses.
_DRIVER_DUPLICATE = "Unexpected Http Driver Exception"
_HTTP_DRIVER_LOGGERS = ("clickhouse_connect.driver._backend.http_sync", "clickhouse_connect.driver.httpclient")


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
    """A client bound to the site database. With chdb, only one folder can be open per process.

    `create_database=False` is for reads: it never creates a folder or a database, and raises
    NoTagtrailDatabase when the DSN holds none. ClickHouseUnreachable: nothing answers at an http DSN.
    """
    target = parse_dsn(settings.dsn, base_dir=base_dir)
    if target.kind == "chdb":
        if create_database:
            target.path.mkdir(parents=True, exist_ok=True)
        else:
            _require_chdb_folder(target.path)
        client = clickhouse_connect.get_client(interface="chdb", path=str(target.path))
    else:
        _quiet_driver_duplicate()
        try:
            client = clickhouse_connect.get_client(
                host=target.host,
                port=target.port,
                secure=target.secure,
                username=settings.username or target.username or "default",
                # env:NAME / file:PATH keep the password out of the site file (Kubernetes Secrets, Docker secrets).
                password=resolve_value("clickhouse.password", settings.password) if settings.password else target.password or "",
            )
        except OperationalError as exc:
            raise ClickHouseUnreachable(f"nothing answers at {target.describe()}: {_network_reason(exc)}") from exc
    if create_database:
        client.command(f"CREATE DATABASE IF NOT EXISTS `{settings.database}`")
    elif not client.query("SELECT count() FROM system.databases WHERE name = {db:String}",
                          parameters={"db": settings.database}).result_rows[0][0]:
        client.close()
        raise NoTagtrailDatabase(
            f"no tagtrail database at {target.path or target.describe()}: it has no database {settings.database!r} "
            "(the sink or `tagtrail migrate` creates it)",
            chdb_path=target.path,
        )
    client.database = settings.database
    log.debug("clickhouse_connected", target=target.describe(), database=settings.database)
    return client


def _require_chdb_folder(path: Path) -> None:
    """A chdb folder holds ClickHouse's `metadata/`; anything else is not a database to read."""
    if not path.exists():
        raise NoTagtrailDatabase(f"no tagtrail database at {path}: the folder does not exist", chdb_path=path)
    if not (path / "metadata").is_dir():
        raise NoTagtrailDatabase(f"no tagtrail database at {path}: the folder holds no ClickHouse data", chdb_path=path)


class _DropDriverDuplicate(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return record.msg != _DRIVER_DUPLICATE


def _quiet_driver_duplicate() -> None:
    for name in _HTTP_DRIVER_LOGGERS:
        logger = logging.getLogger(name)
        if not any(isinstance(f, _DropDriverDuplicate) for f in logger.filters):
            logger.addFilter(_DropDriverDuplicate())


def _network_reason(exc: BaseException) -> str:
    """The innermost socket error behind a driver error ("Connection refused"), else the error itself."""
    seen: set[int] = set()
    reason: BaseException | None = None
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, TimeoutError):
            return "timed out"
        if isinstance(current, OSError) and current.strerror:
            reason = current
        current = current.__cause__ or current.__context__
    return reason.strerror.lower() if reason is not None else str(exc)
