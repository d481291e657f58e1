"""Migrations create the schema from nothing, are idempotent, and resume after an interruption."""

from __future__ import annotations

import re

from tagtrail.history.migrations import (
    MIGRATIONS_TABLE,
    apply_reads_ttl,
    bundled_migrations,
    cluster_ddl,
    migrate,
)

TABLES = {"movements", "movement_history", "movements_ingest", "reads", "item_current", "item_arrival", "location_flow", "moves_hourly",
          "current_items", "retracted_items", MIGRATIONS_TABLE}


def tables(client) -> set[str]:
    return {r[0] for r in client.query("SELECT name FROM system.tables WHERE database = currentDatabase()").result_rows}


def test_migrate_from_empty_then_again_changes_nothing(clickhouse):
    versions = [m.version for m in bundled_migrations()]
    assert migrate(clickhouse) == versions
    assert TABLES <= tables(clickhouse)
    assert migrate(clickhouse) == []
    recorded = [r[0] for r in clickhouse.query(f"SELECT DISTINCT version FROM {MIGRATIONS_TABLE} ORDER BY version").result_rows]
    assert recorded == versions


def test_migration_interrupted_before_being_recorded_is_applied_again(clickhouse):
    migrate(clickhouse)
    last = bundled_migrations()[-1].version
    clickhouse.command(f"DELETE FROM {MIGRATIONS_TABLE} WHERE version = '{last}'")
    # Its statements ran but the record was lost: running them again must succeed and change nothing.
    assert migrate(clickhouse) == [last]
    assert migrate(clickhouse) == []
    assert {"movements_ingest_v2", "item_live", "live_items"} <= tables(clickhouse)


def test_migration_cut_short_midway_is_completed(clickhouse):
    """A crash between the statements of a migration: the next start applies the rest."""
    migrate(clickhouse, bundled_migrations()[:3])
    partial = bundled_migrations()[3]
    assert partial.version == "0004_provisional_movements"
    for statement in partial.statements()[:2]:
        clickhouse.command(statement)
    assert migrate(clickhouse) == [m.version for m in bundled_migrations()[3:]]
    assert {"item_live_mv", "live_items"} <= tables(clickhouse)


def test_upgrade_keeps_rows_written_before_it_and_the_old_ingest_path_working(clickhouse):
    """Rows stored before live mode existed read as decided movements after the upgrade, and a sink not
    upgraded yet (inserting into movements_ingest) still feeds the history during a rolling upgrade."""
    insert = ("INSERT INTO movements_ingest (event_id, identity, movement_type, to_location, biz_step, disposition, "
              "direction, action, event_time, recorded_at, source_event_ids) VALUES ('{id}', ('epc/{item}', 'epc', "
              "NULL, NULL, NULL, NULL), 'arrived', 'dock-1', 'receiving', 'in_progress', 'inbound', 'OBSERVE', "
              "'2026-01-01 00:00:00', '2026-01-01 00:00:01', [])")
    migrate(clickhouse, bundled_migrations()[:3])
    clickhouse.command(insert.format(id="e1", item="AA"))
    migrate(clickhouse)
    clickhouse.command(insert.format(id="e2", item="BB"))
    assert clickhouse.query("SELECT event_id FROM movement_history ORDER BY event_id").result_rows == [("e1",), ("e2",)]
    assert clickhouse.query("SELECT item_key, location, provisional FROM live_items ORDER BY item_key").result_rows == [
        ("epc/AA", "dock-1", 0), ("epc/BB", "dock-1", 0)]


def test_reads_ttl_follows_the_site_setting(clickhouse):
    migrate(clickhouse)
    apply_reads_ttl(clickhouse, 7)
    ddl = clickhouse.command("SHOW CREATE TABLE reads")
    assert "toIntervalDay(7)" in ddl


def test_cluster_ddl_replicates_every_table():
    ddl = cluster_ddl("warehouse")
    creates = re.findall(r"CREATE (?:TABLE|MATERIALIZED VIEW|VIEW) IF NOT EXISTS (\w+) ON CLUSTER `warehouse`", ddl)
    assert {"movements", "item_current", "movements_all", "item_current_all"} <= set(creates)
    assert "ENGINE = MergeTree" not in ddl and "ENGINE = ReplacingMergeTree(" not in ddl
    assert "ReplicatedReplacingMergeTree('/clickhouse/tables/{shard}/{database}/movements', '{replica}', recorded_at)" in ddl
    assert "ReplicatedReplacingMergeTree('/clickhouse/tables/{shard}/{database}/item_current', '{replica}', version)" in ddl
    assert "non_replicated_deduplication_window" not in ddl
