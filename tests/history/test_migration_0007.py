"""Upgrade to 0007 (event_log, lot/expiry) on a store written by the sink of the release before it:
Movement Avro in that release's schema, into movements_ingest_v2, revised and retracted versions
included. Every answer stays as it was, event_log holds every version, and both the new sink (v3) and a
sink not upgraded yet (v2) feed movements, event_log and item_live afterwards."""

from __future__ import annotations

import datetime as dt
import subprocess
import sys

import msgspec
import yaml

from tagtrail.clickhouse import connect_clickhouse
from tagtrail.events import Movement
from tagtrail.history.migrations import MIGRATIONS_TABLE, bundled_migrations, cluster_ddl, migrate
from tagtrail.wire import Codec
from tagtrail_processors.sink.container import ContainerWriter
from tagtrail_processors.sink.writer import INSERT_SETTINGS
from tagtrail_processors.sink.writer_schemas import earlier_writer_schemas
from tests.history.conftest import store
from tests.history.revisions import clean_day, revised_day
from tests.history.scenario import HOUR, T0, item_key, mv
from tests.services import REPO

# An expiry some way ahead of today, so nothing here ever reads as an expired item.
EXPIRY = (dt.datetime.now(dt.UTC) + dt.timedelta(days=730)).date()

# movement_history's columns as 0005/0006 define them
HISTORY_COLUMNS = ("event_id, item_key, scheme, epc_uri, gtin, serial, sscc, movement_type, from_location, to_location, "
                   "read_point, biz_step, disposition, direction, action, anomaly, source_event_ids, event_time, recorded_at, "
                   "ingested_at")
ORDER = "ORDER BY item_key, event_time, event_id"


def todays_sink_insert(client, movements: list[Movement], first_offset: int) -> None:
    """What the sink of the 0006 release sends: one Avro container of its Movement schema (provisional,
    no lot/expiry) into movements_ingest_v2, with its insert settings and offset-range token."""
    previous = earlier_writer_schemas("Movement")[0]
    messages = [Codec("Movement", writer=previous).encode(m) for m in movements]
    token = f"test.movements-0-{first_offset}-{first_offset + len(movements) - 1}-{len(movements)}"
    client.raw_insert("movements_ingest_v2", None, insert_block=ContainerWriter("Movement", writer=previous).build(messages, token),
                      fmt="Avro", settings={**INSERT_SETTINGS, "insert_deduplication_token": token})


def publications() -> list[Movement]:
    """The revised warehouse day in publication order, a legacy shipping+departed pair (0005 hides the
    departed), and a provisional movement (live mode)."""
    day = [m for m, _retracted in revised_day(clean_day())]
    shipped = mv(20, 6, T0 + 2 * HOUR, "storage-a", "dock-door-1", step="shipping", disp="in_transit", rp="door-1-outer",
                 direction="outbound")
    departed = mv(21, 6, T0 + 2 * HOUR + 2_000_000, "dock-door-1", None, step="departing", disp="in_transit",
                  rp="door-1-outer", direction="outbound")
    received = mv(19, 6, T0, None, "dock-door-1", step="receiving", disp="in_progress", rp="door-1-inner", direction="inbound")
    live = msgspec.structs.replace(mv(22, 2, T0 + 6 * HOUR, "storage-a", "dock-door-2", step="arriving", disp="unknown",
                                      rp="door-2-inner", direction="unknown"), provisional=True)
    return [*day, received, shipped, departed, live]


def snapshot(client) -> dict[str, list[tuple]]:
    return {
        "history": client.query(f"SELECT {HISTORY_COLUMNS} FROM movement_history {ORDER}").result_rows,
        "current": client.query("SELECT * FROM current_items ORDER BY item_key").result_rows,
        "live": client.query("SELECT * FROM live_items ORDER BY item_key").result_rows,
        "inventory": client.query("SELECT location, count() FROM current_items WHERE location IS NOT NULL "
                                  "GROUP BY location ORDER BY location").result_rows,
    }


def stored_at_0006(client) -> list[Movement]:
    """A store at 0006 filled by today's sink, merges stopped so every version stays a physical row."""
    migrate(client, bundled_migrations()[:6])
    client.command("SYSTEM STOP MERGES movements")
    published = publications()
    for start in range(0, len(published), 5):
        todays_sink_insert(client, published[start:start + 5], first_offset=start)
    return published


def versions(movements: list[Movement]) -> list[tuple]:
    return sorted((m.event_id, m.recorded_at, int((m.anomaly or "").startswith("retracted:"))) for m in movements
                  if not m.provisional)


def event_log_versions(client) -> list[tuple]:
    rows = client.query("SELECT event_id, toUnixTimestamp64Micro(recorded_at), retracted FROM event_log").result_rows
    return sorted(rows)


def test_upgrade_keeps_every_answer_and_logs_every_version(clickhouse):
    published = stored_at_0006(clickhouse)
    before = snapshot(clickhouse)
    assert len(before["history"]) == 10 and before["live"]  # 8 of the day, 2 of item 6 (its departed hidden)

    assert migrate(clickhouse, bundled_migrations()[:7]) == ["0007_event_log"]

    assert snapshot(clickhouse) == before
    assert clickhouse.query(f"SELECT lot, expiry FROM movement_history {ORDER}").result_rows == [(None, None)] * 10
    assert event_log_versions(clickhouse) == versions(published)
    assert clickhouse.query("SELECT DISTINCT event_type FROM event_log").result_rows == [("ObjectEvent",)]
    # the latest version of each event tells which still hold: the history's events (plus the departed it hides)
    holding = {r[0] for r in clickhouse.query(
        "SELECT event_id FROM event_log GROUP BY event_id HAVING argMax(retracted, recorded_at) = 0").result_rows}
    assert holding == {r[0] for r in before["history"]} | {"ev-21"}


def test_backfill_run_again_adds_nothing(clickhouse):
    """A migration cut short before it was recorded runs again: the backfill skips the versions it wrote."""
    published = stored_at_0006(clickhouse)
    migrate(clickhouse, bundled_migrations()[:7])
    clickhouse.command(f"DELETE FROM {MIGRATIONS_TABLE} WHERE version = '0007_event_log'")
    assert migrate(clickhouse, bundled_migrations()[:7]) == ["0007_event_log"]
    assert event_log_versions(clickhouse) == versions(published)


def test_after_the_upgrade_new_and_old_sinks_feed_movements_event_log_and_live_items(clickhouse):
    published = stored_at_0006(clickhouse)
    migrate(clickhouse, bundled_migrations()[:7])
    lot = mv(30, 3, T0 + 5 * HOUR, "dock-door-2", "storage-a", step="storing", disp="sellable_not_accessible",
             rp="aisle-a-storage")
    lot = msgspec.structs.replace(lot, lot="LOT-42", expiry=EXPIRY)
    live = msgspec.structs.replace(mv(31, 7, T0 + 7 * HOUR, None, "dock-door-1", step="arriving", disp="unknown",
                                      rp="door-1-inner", direction="unknown"), provisional=True)
    store(clickhouse, [lot, live], first_offset=1_000)  # the sink of this release: movements_ingest_v3
    not_upgraded = mv(32, 1, T0 + 8 * HOUR, "pick-face-1", "pack-station-1", step="packing", disp="in_progress",
                      rp="pack-station-1")
    todays_sink_insert(clickhouse, [not_upgraded], first_offset=2_000)  # a sink not upgraded yet: v2

    assert clickhouse.query("SELECT event_id, lot, expiry FROM movement_history WHERE event_id IN ('ev-30', 'ev-32') "
                            "ORDER BY event_id").result_rows == [("ev-30", "LOT-42", EXPIRY), ("ev-32", None, None)]
    assert event_log_versions(clickhouse) == versions([*published, lot, not_upgraded])
    assert clickhouse.query("SELECT lot FROM event_log WHERE event_id = 'ev-30'").result_rows == [("LOT-42",)]
    live_row = clickhouse.query(f"SELECT location, provisional FROM live_items WHERE item_key = '{item_key(7)}'").result_rows
    assert live_row == [("dock-door-1", 1)]
    assert clickhouse.query("SELECT count() FROM event_log WHERE event_id = 'ev-31'").result_rows == [(0,)]


def tagtrail(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "tagtrail_cli.main", "--log-level", "warning", *args],
                          cwd=REPO, capture_output=True, text=True, timeout=120, check=False)


def test_where_and_history_answer_on_an_upgraded_store(clickhouse_settings, tmp_path):
    client = connect_clickhouse(clickhouse_settings)
    try:
        stored_at_0006(client)
        history_before = client.query(
            f"SELECT to_location FROM movement_history WHERE item_key = '{item_key(1)}' {ORDER}").result_rows
        migrate(client)  # 0007 and whatever follows it
    finally:
        client.close()
    site = tmp_path / "site.yaml"
    site.write_text(yaml.safe_dump({"clickhouse": {"dsn": clickhouse_settings.dsn, "database": clickhouse_settings.database}}))

    where = tagtrail("where", item_key(1), "--site", str(site))
    assert where.returncode == 0, where.stderr
    assert "pick-face-1" in where.stdout
    history = tagtrail("history", item_key(1), "--site", str(site))
    assert history.returncode == 0, history.stderr
    assert history.stdout.splitlines()[-1] == f"({len(history_before)} rows)"
    assert [loc for (loc,) in history_before] == ["dock-door-1", "storage-a", "pick-face-1"]
    shipped = tagtrail("where", item_key(6), "--site", str(site))
    assert shipped.returncode == 0, shipped.stderr
    assert "dock-door-1" in shipped.stdout


def test_cluster_schema_adds_the_columns_on_every_node_and_reads_event_log_across_shards():
    ddl = cluster_ddl("warehouse")
    assert "ALTER TABLE movements ON CLUSTER `warehouse` ADD COLUMN IF NOT EXISTS lot Nullable(String);" in ddl
    assert "ReplicatedMergeTree('/clickhouse/tables/{shard}/{database}/event_log', '{replica}')" in ddl
    assert ("CREATE TABLE IF NOT EXISTS event_log_all ON CLUSTER `warehouse` AS event_log\n"
            "ENGINE = Distributed(`warehouse`, currentDatabase(), event_log, cityHash64(item_key));") in ddl
