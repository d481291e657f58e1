"""Where `tagtrail demo` keeps its data by default, so other commands can point a user at it."""

from __future__ import annotations

from pathlib import Path

DEFAULT_WORKDIR = Path(".tagtrail/demo")  # relative to where the demo was started


def chdb_folder(workdir: Path = DEFAULT_WORKDIR) -> Path:
    """The demo's embedded ClickHouse folder (its site's clickhouse.dsn is chdb://<workdir>/chdb)."""
    return workdir / "chdb"
