"""Updated and retracted movements: every answer equals the one for the history without them."""

from __future__ import annotations

import datetime as dt

from tagtrail.history import queries
from tagtrail.history.migrations import migrate
from tests.history.answers import answers, differences
from tests.history.conftest import store
from tests.history.revisions import clean_day, revised_day
from tests.history.scenario import HOUR, T0, item_key

ITEMS = [item_key(n) for n in range(1, 6)]
TIMES = [dt.datetime.fromtimestamp((T0 + k * HOUR // 2) / 1e6, dt.UTC) for k in range(12)]


def in_database(client, name: str):
    client.command(f"CREATE DATABASE IF NOT EXISTS {name}")
    client.database = name
    migrate(client)
    return client


def test_revised_stream_answers_like_the_clean_stream(clickhouse):
    base = clickhouse.database
    clean = clean_day()
    want = answers(_stored(in_database(clickhouse, f"{base}_clean"), [clean]), ITEMS, TIMES)
    revised = [m for m, _ in revised_day(clean)]
    # several inserts (as sink batches are): versions of one movement land in different parts
    client = _stored(in_database(clickhouse, f"{base}_revised"), [revised[:9], revised[9:13], revised[13:]])
    assert differences(answers(client, ITEMS, TIMES), want) == []
    # and the same once ClickHouse has merged the versions away
    for table in ("movements", "item_current"):
        client.command(f"OPTIMIZE TABLE {table} FINAL")
    assert differences(answers(client, ITEMS, TIMES), want) == []


def test_retracted_movements_are_not_history_state_or_anomalies(clickhouse):
    client = _stored(in_database(clickhouse, f"{clickhouse.database}_r"), [[m for m, _ in revised_day(clean_day())]])
    assert queries.history(client, item_key(5))[1] == [] and queries.where_is(client, item_key(5))[1] == []
    names, rows = queries.where_is(client, item_key(2))
    assert dict(zip(names, rows[0]))["location"] == "storage-a"  # its retracted pick never happened
    names, rows = queries.anomalies(client, TIMES[0])
    flagged = [dict(zip(names, r)) for r in rows]
    assert [(a["event_id"], a["anomaly"]) for a in flagged] == [("ev-7", "skipped_packing")]
    # hourly aggregates count published versions, as documented: the ghost pick once, its retraction not
    assert int(client.command("SELECT sum(moves) FROM moves_hourly WHERE hour = toDateTime('2026-01-01 05:00:00', 'UTC')")) == 1


def _stored(client, batches):
    for n, batch in enumerate(batches):
        store(client, batch, first_offset=n * 1000)
    return client
