"""One story of leaving the building, told the same way by every view, query and export, for histories
the processor writes now (one shipping event) and histories stored before (shipping movement + departed)."""

from __future__ import annotations

import datetime as dt

import pytest

from tagtrail.config import ConfigError, ReadPoint, SiteConfig, load_site
from tagtrail.history import queries
from tagtrail.history.epcis import export_epcis
from tagtrail.history.migrations import bundled_migrations, migrate
from tagtrail.history.site_dimension import ZoneConflict, site_dimension, write_site_dimension
from tests.history.conftest import store
from tests.history.scenario import HOUR, T0, item_key, mv

SITE = SiteConfig(read_points=(
    ReadPoint(id="door-2-inner", location="dock-door-2", kind="dock_door_inner", zone="dock", portal="door-2"),
    ReadPoint(id="door-2-outer", location="dock-door-2", kind="dock_door_outer", zone="dock", portal="door-2"),
    ReadPoint(id="aisle-a-storage", location="storage-a", kind="storage", zone="storage"),
    ReadPoint(id="pick-face-1", location="pick-face-1", kind="pick_face", zone="picking"),
    ReadPoint(id="staging-1", location="staging-1", kind="staging"),
))


def at(us: int) -> dt.datetime:
    return dt.datetime.fromtimestamp(us / 1e6, dt.UTC)


def rows(result) -> list[dict]:
    names, values = result
    return [dict(zip(names, r)) for r in values]


def received_and_staged(item: int, first_event: int) -> list:
    return [
        mv(first_event, item, T0, None, "dock-door-2", step="receiving", disp="in_progress", rp="door-2-inner",
           direction="inbound", action="ADD"),
        mv(first_event + 1, item, T0 + HOUR, "dock-door-2", "staging-1", step="staging_outbound", disp="in_progress",
           rp="staging-1"),
    ]


def shipping_event(n: int, item: int, at_us: int):
    """What the processor publishes for an outbound crossing: the shipping event at the door, nothing after."""
    return mv(n, item, at_us, "staging-1", "dock-door-2", step="shipping", disp="in_transit", rp="door-2-outer",
              direction="outbound")


def stored_exit_pair(n: int, item: int, at_us: int) -> list:
    """What older processors published for the same crossing: the shipping movement, then `departed` 2 s later."""
    return [shipping_event(n, item, at_us),
            mv(n + 1, item, at_us + 2_000_000, "dock-door-2", None, step="departing", disp="in_transit",
               rp="door-2-outer", direction="outbound")]


def one_exit_each(client, item: int) -> None:
    """Every reader sees item `item` leave once, by dock-door-2 at T0 + 2 h, and no longer on site."""
    key = item_key(item)
    history = rows(queries.history(client, key))
    assert [h["biz_step"] for h in history] == ["receiving", "staging_outbound", "shipping"]
    (where,) = rows(queries.where_is(client, key))
    assert (where["location"], where["shipped_via"]) == (None, "dock-door-2")
    assert where["since"].replace(tzinfo=None) == at(T0 + 2 * HOUR).replace(tzinfo=None)  # the shipping event's time
    (live,) = rows(queries.where_live(client, key))  # live mode tells the same story
    assert (live["location"], live["zone"], live["shipped_via"], live["since"]) == (None, None, "dock-door-2", where["since"])
    current = client.query("SELECT * FROM current_items WHERE item_key = {k:String}", parameters={"k": key})
    (state,) = [dict(zip(current.column_names, r)) for r in current.result_rows]
    assert (state["location"], state["zone"], state["shipped_via"]) == (None, None, "dock-door-2")
    live_row = client.query("SELECT location, zone, shipped_via FROM live_items WHERE item_key = {k:String}", parameters={"k": key})
    assert live_row.result_rows == [(None, None, "dock-door-2")]  # the live view, as dashboards read it
    assert all(r["location"] != "dock-door-2" for r in rows(queries.inventory(client)))
    events = export_epcis(client, key)["epcisBody"]["eventList"]
    steps = [e["bizStep"] for e in events]
    assert steps.count("shipping") == 1 and "departing" not in steps  # CBV: never both for one exit
    assert "bizLocation" not in events[-1] and events[-1]["tagtrail:shippedVia"] == "urn:tagtrail:location:dock-door-2"  # the door as a place (no site: no SGLN)
    assert events[-1]["readPoint"] == {"id": "urn:tagtrail:readpoint:door-2-outer"}
    moves = rows(queries.dock_door_moves(client, at(T0), at(T0 + 3 * HOUR)))
    assert [(m["hour"].hour, m["direction"], m["moves"]) for m in moves] == [(0, "inbound", 1), (2, "outbound", 1)]
    flow = {(f["hour"].hour, f["location"]): (f["arrivals"], f["departures"])
            for f in rows(queries.location_flow(client, at(T0), at(T0 + 3 * HOUR)))}
    assert flow[(2, "dock-door-2")] == (1, 1)  # arrives and leaves at its shipping event: not left at the door
    dwell = {d["location"]: d for d in rows(queries.dwell(client))}
    assert dwell["dock-door-2"]["completed_visits"] == 2 and not dwell["dock-door-2"]["items_now"]


def test_a_shipping_event_takes_the_item_out_of_inventory_at_once(clickhouse):
    migrate(clickhouse)
    write_site_dimension(clickhouse, SITE)
    store(clickhouse, received_and_staged(1, 1) + [shipping_event(3, 1, T0 + 2 * HOUR)])
    one_exit_each(clickhouse, 1)
    before = rows(queries.inventory_as_of(clickhouse, at(T0 + 2 * HOUR - 1)))
    after = rows(queries.inventory_as_of(clickhouse, at(T0 + 2 * HOUR)))
    assert [(r["location"], r["items"]) for r in before] == [("staging-1", 1)] and after == []


def test_a_history_stored_before_the_upgrade_reads_as_one_exit(clickhouse):
    """Histories written by older processors (shipping movement + departed) and stored before migration 0005
    read exactly like the new single shipping event, everywhere."""
    migrate(clickhouse, bundled_migrations()[:4])
    store(clickhouse, received_and_staged(1, 1) + stored_exit_pair(3, 1, T0 + 2 * HOUR))
    migrate(clickhouse)
    write_site_dimension(clickhouse, SITE)
    one_exit_each(clickhouse, 1)


def test_an_older_processor_still_running_after_the_upgrade_tells_the_same_story(clickhouse):
    """A rolling upgrade: a processor not upgraded yet publishes the old pair into the new schema."""
    migrate(clickhouse)
    write_site_dimension(clickhouse, SITE)
    store(clickhouse, received_and_staged(1, 1) + stored_exit_pair(3, 1, T0 + 2 * HOUR))
    one_exit_each(clickhouse, 1)


def test_zones_from_the_site_file_show_in_where_history_and_inventory(clickhouse):
    migrate(clickhouse)
    write_site_dimension(clickhouse, SITE)
    store(clickhouse, [
        mv(1, 1, T0, None, "dock-door-2", step="receiving", disp="in_progress", rp="door-2-inner", direction="inbound", action="ADD"),
        mv(2, 1, T0 + HOUR, "dock-door-2", "storage-a", step="storing", disp="sellable_not_accessible", rp="aisle-a-storage"),
        mv(3, 2, T0, None, "storage-a", step="storing", disp="sellable_not_accessible", rp="aisle-a-storage", action="ADD"),
        mv(4, 3, T0, None, "pick-face-1", step="picking", disp="sellable_accessible", rp="pick-face-1", action="ADD"),
        mv(5, 4, T0, None, "staging-1", step="staging_outbound", disp="in_progress", rp="staging-1", action="ADD"),
    ])
    (where,) = rows(queries.where_is(clickhouse, item_key(1)))
    assert (where["location"], where["zone"]) == ("storage-a", "storage")
    assert [(h["to_location"], h["zone"]) for h in rows(queries.history(clickhouse, item_key(1)))] == \
        [("dock-door-2", "dock"), ("storage-a", "storage")]
    assert {(r["location"], r["zone"]) for r in rows(queries.inventory(clickhouse))} == \
        {("storage-a", "storage"), ("pick-face-1", "picking"), ("staging-1", None)}
    by_zone = {(r["zone"], r["disposition"]): r["items"] for r in rows(queries.inventory_by_zone(clickhouse))}
    assert by_zone == {("storage", "sellable_not_accessible"): 2, ("picking", "sellable_accessible"): 1, ("", "in_progress"): 1}
    assert rows(queries.inventory_items(clickhouse, "storage-a"))[0]["zone"] == "storage"
    # a zone changed in the site file applies to the whole history the next time the sink starts
    renamed = SiteConfig(read_points=tuple(
        ReadPoint(id=rp.id, location=rp.location, kind=rp.kind, zone="bulk" if rp.zone == "storage" else rp.zone)
        for rp in SITE.read_points))
    write_site_dimension(clickhouse, renamed, clock=lambda: dt.datetime.now(dt.UTC) + dt.timedelta(seconds=1))
    assert rows(queries.where_is(clickhouse, item_key(1)))[0]["zone"] == "bulk"


def test_read_points_of_one_location_must_agree_on_its_zone(tmp_path):
    conflicting = SiteConfig(read_points=(
        ReadPoint(id="a", location="storage-a", kind="storage", zone="storage"),
        ReadPoint(id="b", location="storage-a", kind="storage", zone="picking"),
    ))
    with pytest.raises(ZoneConflict, match=r"read_points\[1\]\.zone: read point 'b'"):
        site_dimension(conflicting)
    site = tmp_path / "site.yaml"
    site.write_text("read_points:\n"
                    "  - {id: a, location: storage-a, kind: storage, zone: storage}\n"
                    "  - {id: b, location: storage-a, kind: storage, zone: picking}\n")
    with pytest.raises(ConfigError, match=r"site.yaml:3: read_points\[1\]\.zone: location 'storage-a' is in zone 'storage'"):
        load_site(site)
