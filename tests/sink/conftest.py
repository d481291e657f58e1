"""Fixtures for the sink tests: a ClickHouse database on either backend, movements to feed it."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest

from tagtrail.clickhouse import connect_clickhouse
from tagtrail.config import ClickHouseSettings
from tests.sink.helpers import ClickHouseTarget


@pytest.fixture(params=["chdb", "http"])
def clickhouse_target(request, tmp_path: Path) -> ClickHouseTarget:
    """A fresh database on the embedded engine (chdb folder) or on the HTTP server fixture."""
    if request.param == "chdb":
        settings = ClickHouseSettings(dsn=f"chdb://{tmp_path / 'chdb'}", database="tagtrail")
        return ClickHouseTarget("chdb", settings, None)
    server = request.getfixturevalue("clickhouse_server")
    settings = ClickHouseSettings(dsn=server.url, database=f"t{uuid.uuid4().hex[:10]}")
    return ClickHouseTarget("http", settings, server)


@pytest.fixture
def clickhouse(clickhouse_target: ClickHouseTarget):
    client = connect_clickhouse(clickhouse_target.settings)
    try:
        yield client
    finally:
        client.close()
