"""The dashboard queries answer the questions a warehouse asks, on both backends."""

from __future__ import annotations

import datetime as dt

from tagtrail.history import queries
from tagtrail.history.migrations import migrate
from tests.history.conftest import store
from tests.history.scenario import HOUR, T0, item_key, seen_now, warehouse_day


def at(us: int) -> dt.datetime:
    return dt.datetime.fromtimestamp(us / 1e6, dt.UTC)


def as_dicts(result) -> list[dict]:
    names, rows = result
    return [dict(zip(names, r)) for r in rows]


def loaded(client):
    migrate(client)
    store(client, warehouse_day() + [seen_now(100, 4)])
    return client


def test_where_is_and_history(clickhouse):
    client = loaded(clickhouse)
    (now,) = as_dicts(queries.where_is(client, item_key(1)))
    assert (now["location"], now["disposition"], now["biz_step"], now["last_event_id"]) == \
        ("pick-face-1", "sellable_accessible", "picking", "ev-6")
    assert now["epc_uri"] == "urn:epc:id:sgtin:0614141.012345.1"
    (gone,) = as_dicts(queries.where_is(client, item_key(3)))  # shipped: on no location of the site any more
    assert (gone["location"], gone["zone"], gone["shipped_via"], gone["biz_step"]) == (None, None, "dock-door-2", "shipping")
    assert now["shipped_via"] is None
    steps = as_dicts(queries.history(client, item_key(1)))
    assert [(s["from_location"], s["to_location"]) for s in steps] == \
        [(None, "dock-door-1"), ("dock-door-1", "storage-a"), ("storage-a", "pick-face-1")]
    assert queries.where_is(client, item_key(99))[1] == []


def test_inventory_now_and_as_of(clickhouse):
    client = loaded(clickhouse)
    now = {(r["location"], r["disposition"]): r["items"] for r in as_dicts(queries.inventory(client))}
    assert now == {("pick-face-1", "sellable_accessible"): 1, ("storage-a", "sellable_not_accessible"): 2}
    assert as_dicts(queries.inventory(client, "pick-face-1")) == [
        {"location": "pick-face-1", "zone": None, "disposition": "sellable_accessible", "items": 1}]  # no site zones written
    then = {(r["location"], r["disposition"]): r["items"] for r in as_dicts(queries.inventory_as_of(client, at(T0 + 3 * HOUR // 2)))}
    assert then == {("dock-door-1", "in_progress"): 1, ("dock-door-2", "in_progress"): 1, ("storage-a", "sellable_not_accessible"): 1}
    items = [r["item_key"] for r in as_dicts(queries.inventory_items(client, "storage-a"))]
    assert items == sorted([item_key(2), item_key(4)])


def test_items_not_seen_for_hours(clickhouse):
    client = loaded(clickhouse)
    unseen = [r["item_key"] for r in as_dicts(queries.not_seen(client, hours=1))]
    assert unseen == [item_key(2), item_key(1)]  # oldest first; 3 left the site, 4 was just seen


def test_dwell_per_location(clickhouse):
    client = loaded(clickhouse)
    dwell = {r["location"]: r for r in as_dicts(queries.dwell(client))}
    assert dwell["dock-door-1"]["completed_visits"] == 2
    assert dwell["dock-door-1"]["avg_dwell_s"] == (3600 + 5400) / 2
    assert dwell["dock-door-2"]["avg_dwell_s"] == 3 * 3600
    assert dwell["storage-a"]["completed_visits"] == 1 and dwell["storage-a"]["avg_dwell_s"] == 2 * 3600
    assert dwell["storage-a"]["items_now"] == 2
    assert dwell["pick-face-1"]["items_now"] == 1 and dwell["pick-face-1"]["completed_visits"] == 0


def test_dock_door_moves_per_hour_and_anomalies(clickhouse):
    client = loaded(clickhouse)
    moves = [(r["hour"].hour, r["dock_door"], r["direction"], r["moves"])
             for r in as_dicts(queries.dock_door_moves(client, at(T0), at(T0 + 5 * HOUR)))]
    assert moves == [(0, "dock-door-1", "inbound", 2), (1, "dock-door-2", "inbound", 1), (4, "dock-door-2", "outbound", 1)]
    flagged = as_dicts(queries.anomalies(client, at(T0)))
    assert [(r["item_key"], r["anomaly"]) for r in flagged] == [(item_key(3), "skipped_packing")]
    flow = {(r["hour"].hour, r["location"]): (r["arrivals"], r["departures"])
            for r in as_dicts(queries.location_flow(client, at(T0), at(T0 + 5 * HOUR)))}
    assert flow[(1, "storage-a")] == (1, 0) and flow[(1, "dock-door-1")] == (0, 1)
