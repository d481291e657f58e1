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
    clickhouse.command("DROP TABLE moves_hourly_mv")
    assert migrate(clickhouse) == [last]
    assert "moves_hourly_mv" in tables(clickhouse)


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
