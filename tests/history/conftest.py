"""Fixtures for the history tests: a migrated database on either backend, and storing movements in it."""

from __future__ import annotations

import uuid
from dataclasses import replace
from pathlib import Path

import pytest

from tagtrail.clickhouse import connect_clickhouse
from tagtrail.config import ClickHouseSettings
from tagtrail.events import Movement
from tagtrail.wire import Codec
from tagtrail_processors.sink.batches import PartitionBatch, Record
from tagtrail_processors.sink.streams import MOVEMENTS
from tagtrail_processors.sink.writer import MovementWriter


@pytest.fixture(params=["chdb", "http"])
def clickhouse_settings(request, tmp_path: Path) -> ClickHouseSettings:
    if request.param == "chdb":
        return ClickHouseSettings(dsn=f"chdb://{tmp_path / 'chdb'}", database="tagtrail")
    server = request.getfixturevalue("clickhouse_server")
    return ClickHouseSettings(dsn=server.url, database=f"t{uuid.uuid4().hex[:10]}")


@pytest.fixture
def clickhouse(clickhouse_settings: ClickHouseSettings):
    client = connect_clickhouse(clickhouse_settings)
    try:
        yield client
    finally:
        client.close()


def store(client, movements: list[Movement], *, first_offset: int = 0) -> None:
    """Writes movements the way the sink does (Avro into its ingest table, views fed on insert). A store
    migrated only part way (upgrade tests, before 0007) gets them in movements_ingest_v2, as the sinks of
    those releases wrote them (ClickHouse skips the Avro fields that table does not have)."""
    codec = Codec("Movement")
    records = [Record(first_offset + i, m.identity.item_key.encode(), codec.encode(m)) for i, m in enumerate(movements)]
    upgraded = client.command(f"EXISTS TABLE {MOVEMENTS.ingest_table}")
    stream = MOVEMENTS if int(upgraded) else replace(MOVEMENTS, ingest_table="movements_ingest_v2")
    writer = MovementWriter(client, wait=lambda s: True, backoff=lambda a: 0.1, stream=stream)
    rejected = writer.write(PartitionBatch("test.movements", 0, records))
    assert rejected == []


def store_for_cli(settings: ClickHouseSettings, movements: list[Movement]) -> None:
    """Stores movements through a client of its own and closes it before a `tagtrail` command runs
    (embedded chdb opens a data folder in one process at a time)."""
    client = connect_clickhouse(settings)
    try:
        store(client, movements)
    finally:
        client.close()
