"""One client API over both ClickHouse backends: chdb in process and a real server over HTTP."""

from __future__ import annotations

import datetime as dt
import urllib.request
from pathlib import Path

import pytest

from tagtrail.clickhouse import connect_clickhouse, parse_dsn
from tagtrail.config import ClickHouseSettings


def roundtrip(client) -> list[tuple]:
    client.command(
        "CREATE TABLE IF NOT EXISTS probe (serial String, ts DateTime64(6, 'UTC'), location LowCardinality(String)) "
        "ENGINE = MergeTree ORDER BY (serial, ts)"
    )
    t = dt.datetime(2026, 11, 25, 12, 0, tzinfo=dt.timezone.utc)
    client.insert("probe", [["s1", t, "dock-door-1"], ["s1", t + dt.timedelta(seconds=5), "storage-a"]],
                  column_names=["serial", "ts", "location"])
    return client.query("SELECT argMax(location, ts) FROM probe WHERE serial = 's1'").result_rows


def test_chdb_embedded_backend(chdb_dir: Path) -> None:
    client = connect_clickhouse(ClickHouseSettings(dsn=f"chdb://{chdb_dir}", database="tagtrail_test"))
    try:
        assert roundtrip(client) == [("storage-a",)]
    finally:
        client.close()
    reopened = connect_clickhouse(ClickHouseSettings(dsn=f"chdb://{chdb_dir}", database="tagtrail_test"))
    try:
        assert reopened.query("SELECT count() FROM probe").result_rows == [(2,)]  # data persisted
    finally:
        reopened.close()


@pytest.mark.clickhouse_server
def test_http_server_backend(clickhouse_server) -> None:
    with urllib.request.urlopen(f"{clickhouse_server.url}/ping", timeout=5) as r:
        assert r.read() == b"Ok.\n"
    client = connect_clickhouse(ClickHouseSettings(dsn=clickhouse_server.url, database="tagtrail_http"))
    try:
        assert roundtrip(client) == [("storage-a",)]
        assert client.query("SELECT version()").result_rows[0][0].startswith("26.")
    finally:
        client.close()


@pytest.mark.clickhouse_server
def test_http_server_keeps_data_across_restart(clickhouse_server) -> None:
    settings = ClickHouseSettings(dsn=clickhouse_server.url, database="tagtrail_restart")
    client = connect_clickhouse(settings)
    roundtrip(client)
    client.close()
    clickhouse_server.stop()
    clickhouse_server.start()
    client = connect_clickhouse(settings)
    try:
        assert client.query("SELECT count() FROM probe").result_rows == [(2,)]
    finally:
        client.close()


def test_dsn_forms(tmp_path: Path) -> None:
    assert parse_dsn("chdb:///var/lib/x").path == Path("/var/lib/x")
    assert parse_dsn("chdb://data/ch", base_dir=tmp_path).path == tmp_path / "data" / "ch"
    target = parse_dsn("https://u:p%40ss@ch.example:8443")
    assert (target.kind, target.host, target.port, target.secure, target.password) == ("http", "ch.example", 8443, True, "p@ss")
    assert "p@ss" not in target.describe()
    with pytest.raises(ValueError, match="expected chdb:///DIR or http"):
        parse_dsn("tcp://ch:9000")
    with pytest.raises(ValueError, match="on-disk chdb folder"):
        parse_dsn("chdb://memory")
