"""Updated and retracted movements: every answer equals the one for the history without them."""

from __future__ import annotations

import datetime as dt

from tagtrail.history import queries
from tagtrail.history.epcis import _time, export_epcis
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


def test_revised_stream_exports_the_clean_events_and_declares_each_one_it_superseded(clickhouse):
    base = clickhouse.database
    clean = clean_day()
    clean_client = _stored(in_database(clickhouse, f"{base}_clean"), [clean])
    want = {key: export_epcis(clean_client, key)["epcisBody"]["eventList"] for key in ITEMS}
    client = _stored(in_database(clickhouse, f"{base}_revised"), [[m for m, _ in revised_day(clean)]])
    for table in (None, "movements", "event_log"):  # the declarations come from event_log, which merges keep whole
        if table:
            client.command(f"OPTIMIZE TABLE {table} FINAL")
        exported = {key: export_epcis(client, key)["epcisBody"]["eventList"] for key in ITEMS}
        assert {key: [e for e in events if "errorDeclaration" not in e] for key, events in exported.items()} == want
        reasons = {}
        for key, events in exported.items():
            for n, event in enumerate(events):
                if "errorDeclaration" in event and event["errorDeclaration"]["reason"] == "incorrect_data":
                    # the original right before its correction, which it names
                    assert event["errorDeclaration"]["correctiveEventIDs"] == [events[n + 1]["eventID"]]
                    assert events[n + 1]["eventTime"] == event["eventTime"] and "errorDeclaration" not in events[n + 1]
            reasons[key] = [e["errorDeclaration"]["reason"] for e in events if "errorDeclaration" in e]
        # ev-4, the detour, ev-6 (item 1); the ghost pick, not ev-5 restored unchanged (2); ev-7 (3); the ghost item (5)
        assert reasons == {item_key(1): ["incorrect_data", "did_not_occur", "incorrect_data"],
                           item_key(2): ["did_not_occur"], item_key(3): ["incorrect_data"], item_key(4): [],
                           item_key(5): ["did_not_occur"]}
        ev4 = next(m for m in clean if m.event_id == "ev-4")
        assert exported[item_key(1)][1]["errorDeclaration"]["declarationTime"] == _time(
            dt.datetime.fromtimestamp(ev4.recorded_at / 1e6, dt.UTC))


def _stored(client, batches):
    for n, batch in enumerate(batches):
        store(client, batch, first_offset=n * 1000)
    return client
