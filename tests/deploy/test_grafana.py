"""The dashboard: its ClickHouse panels run against the real migrated schema and answer correctly;
its Prometheus panels ask only for metrics tagtrail exports."""

from __future__ import annotations

import json
import re
import uuid
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest
import yaml
from prometheus_client import CollectorRegistry

from tagtrail.clickhouse import connect_clickhouse
from tagtrail.config import ClickHouseSettings
from tagtrail.history.migrations import migrate
from tagtrail.observability import Metrics
from tests.deploy.conftest import DEPLOY

DASHBOARD = json.loads((DEPLOY / "grafana" / "tagtrail-dashboard.json").read_text())
PANELS = [p for p in DASHBOARD["panels"] if p["type"] != "row"]
PROVISIONED = yaml.safe_load((DEPLOY / "grafana" / "provisioning" / "datasources" / "tagtrail.yaml").read_text())["datasources"]


def panel(title: str) -> dict[str, Any]:
    return next(p for p in PANELS if p["title"].startswith(title))


def variables() -> dict[str, dict[str, Any]]:
    return {v["name"]: v for v in DASHBOARD["templating"]["list"]}


def test_datasource_variables_default_to_the_provisioned_sources() -> None:
    provisioned = {d["uid"]: d["type"] for d in PROVISIONED}
    for name in ("clickhouse", "prometheus"):
        var = variables()[name]
        assert provisioned[var["current"]["value"]] == var["query"]
    for p in PANELS:
        for target in p["targets"]:
            uid = target["datasource"]["uid"]
            assert uid in ("${clickhouse}", "${prometheus}"), p["title"]
            assert target["datasource"]["type"] == variables()[uid[2:-1]]["query"], p["title"]


def test_panels_cover_what_operators_watch() -> None:
    titles = {p["title"] for p in PANELS}
    for wanted in ("Items per location now", "Moves per dock door per hour", "Anomalies per hour", "Latest anomalies",
                   "Items not seen for ${stale_hours} hours", "Reads/s per reader", "Reader connection state", "Spool depth",
                   "Scans accepted / rejected", "Consumer lag", "Dedup ratio", "Movements/s", "Sink batch size",
                   "Sink batch latency", "Dead letters by reason"):
        assert wanted in titles


def test_prometheus_panels_use_only_exported_metrics() -> None:
    exported = set()
    for family in Metrics(CollectorRegistry()).registry.collect():
        exported |= {family.name, f"{family.name}_total", f"{family.name}_bucket", f"{family.name}_sum", f"{family.name}_count"}
    for p in PANELS:
        for target in p["targets"]:
            if "expr" in target:
                used = set(re.findall(r"\btagtrail_[a-z_]+", target["expr"]))
                assert used and used <= exported, f"{p['title']}: {used - exported} not exported"


def grafana_macros(sql: str, stale_hours: int) -> str:
    """What the ClickHouse plugin substitutes, for a dashboard range of the last 7 days."""
    sql = re.sub(r"\$__timeFilter\((\w+)\)", r"(\1 >= now() - INTERVAL 7 DAY AND \1 <= now() + INTERVAL 1 HOUR)", sql)
    return sql.replace("${stale_hours}", str(stale_hours))


COLUMNS = ["event_id", "item_key", "scheme", "movement_type", "from_location", "to_location", "read_point", "biz_step",
           "disposition", "direction", "action", "anomaly", "source_event_ids", "event_time", "recorded_at"]


@pytest.fixture
def history(clickhouse_server) -> Any:
    """A migrated database holding a small, known movement history."""
    client = connect_clickhouse(ClickHouseSettings(dsn=clickhouse_server.url, database=f"dash_{uuid.uuid4().hex[:8]}"))
    migrate(client)
    now = datetime.now(timezone.utc).replace(microsecond=0)
    hour = now.replace(minute=0, second=0) - timedelta(hours=2)

    def move(n, item, kind, src, dst, rp, direction, at, anomaly=None, step="receiving", disposition="in_progress"):
        return [f"e{n}", item, "sgtin", kind, src, dst, rp, step, disposition, direction, "OBSERVE", anomaly, [], at, at]

    rows = [
        move(1, "01/1/21/a", "arrived", None, "dock-door-1", "door-1-outer", "inbound", hour + timedelta(minutes=1)),
        move(2, "01/1/21/a", "moved", "dock-door-1", "storage-a", "aisle-a-storage", "none", hour + timedelta(minutes=20)),
        move(3, "01/1/21/b", "arrived", None, "dock-door-1", "door-1-outer", "inbound", hour + timedelta(minutes=5)),
        move(4, "01/1/21/c", "arrived", None, "dock-door-2", "door-2-outer", "inbound", hour + timedelta(minutes=7)),
        move(5, "01/1/21/c", "departed", "dock-door-2", None, "door-2-inner", "outbound", hour + timedelta(minutes=40),
             anomaly="departed_without_shipping"),
        move(6, "01/1/21/d", "arrived", None, "storage-a", "aisle-a-storage", "none", now - timedelta(hours=30)),
        # e shipped, written by a processor before the one-exit model: the shipping crossing into the door,
        # then 2 s later `departed` for the same exit (movement_history hides it): one outbound move.
        move(7, "01/1/21/e", "arrived", None, "storage-a", "aisle-a-storage", "none", hour + timedelta(minutes=10)),
        move(8, "01/1/21/e", "moved", "storage-a", "dock-door-2", "door-2-inner", "outbound", hour + timedelta(minutes=30),
             step="shipping", disposition="in_transit"),
        move(9, "01/1/21/e", "departed", "dock-door-2", None, "door-2-inner", "outbound", hour + timedelta(minutes=30, seconds=2),
             step="departing", disposition="in_transit"),
    ]
    client.insert("movements", rows, column_names=COLUMNS)
    try:
        yield client
    finally:
        client.command(f"DROP DATABASE IF EXISTS `{client.database}`")
        client.close()


def history_door_moves(client: Any) -> dict[str, int]:
    """Portal moves per door and direction as the item histories tell them (movement_history)."""
    rows = client.query("SELECT concat(coalesce(to_location, from_location, ''), ' ', direction) AS door, count() FROM movement_history"
                        " WHERE direction != 'none' GROUP BY door").result_rows
    return {door: moves for door, moves in rows}


def run(client: Any, title: str, stale_hours: int = 24) -> list[dict[str, Any]]:
    (target,) = panel(title)["targets"]
    result = client.query(grafana_macros(target["rawSql"], stale_hours))
    return [dict(zip(result.column_names, row)) for row in result.result_rows]


@pytest.mark.clickhouse_server
def test_clickhouse_panels_answer_from_the_migrated_schema(history: Any) -> None:
    per_location = {r["location"]: r["items"] for r in run(history, "Items per location now")}
    assert per_location == {"storage-a": 2, "dock-door-1": 1}  # c and e left the site

    door_moves: dict[str, int] = {}
    for r in run(history, "Moves per dock door per hour"):
        door_moves[r["door"]] = door_moves.get(r["door"], 0) + r["moves"]
    # c's departed (no crossing before it) is its exit; e's exit is its shipping crossing, its departed is not a move
    assert door_moves == {"dock-door-1 inbound": 2, "dock-door-2 inbound": 1, "dock-door-2 outbound": 2}
    assert door_moves == history_door_moves(history)

    assert [(r["anomaly"], r["movements"]) for r in run(history, "Anomalies per hour")] == [("departed_without_shipping", 1)]
    assert [r["item_key"] for r in run(history, "Latest anomalies")] == ["01/1/21/c"]

    assert [r["item_key"] for r in run(history, "Items not seen for", stale_hours=24)] == ["01/1/21/d"]
    stale = {r["item_key"] for r in run(history, "Items not seen for", stale_hours=1)}
    assert stale == {"01/1/21/a", "01/1/21/b", "01/1/21/d"}
