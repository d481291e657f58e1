"""`tagtrail demo`, the README's first command: a whole simulated warehouse on embedded defaults."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest


@pytest.mark.slow
def test_demo_runs_the_real_pipeline_and_matches_its_ground_truth(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "tagtrail_cli.main", "demo", "--items", "16", "--doors", "2", "--minutes", "0.5",
         "--workdir", str(tmp_path / "demo")],
        capture_output=True, text=True, timeout=400, cwd=tmp_path,
    )
    assert result.returncode == 0, result.stdout + result.stderr[-3000:]
    out = result.stdout
    # Every simulated item ends where the simulation put it, read back from ClickHouse.
    assert "Ground truth check: 16/16 items are where the simulation put them." in out
    tracked = int(re.search(r"movements of (\d+) items", out).group(1))
    assert tracked == 16
    assert "Inventory per location now:" in out and "storage-a" in out
    assert "NOT durable" in result.stderr  # the embedded Kafka says what it is
    assert "Traceback" not in result.stderr
    # Live progress was shown while it ran.
    assert len(re.findall(r"^\s+reads\s+[\d,]+", result.stderr, re.M)) >= 5
    # The report is demo output: in the workdir, not in the folder the demo was started from (a checkout).
    assert sorted(p.name for p in tmp_path.iterdir()) == ["demo"]
    html = (tmp_path / "demo" / "report.html").read_text()
    assert html.count("<svg") >= 1 and "Flows per dock door" in html and "Inventory per location now" in html
    # Each door's receipt and shipment was opened through the scan service and holds the items the plan put
    # through that door while it was open, as the history's transaction context (event_transactions) says.
    lines = re.findall(r"^  (inbound|outbound) +(po|desadv) +(\S+)  at (dock-door-\d), closed: (\d+) items \(planned (\d+)\)$",
                       out, re.M)
    assert {(d, k) for d, k, *_ in lines} == {("inbound", "po"), ("outbound", "desadv")}, out
    assert all(found == planned for *_, found, planned in lines), out
    assert sum(int(found) for d, *_, found, _ in lines if d == "inbound") == 16
    assert re.search(r"tagtrail epcis --since \S+Z --until \S+Z --site \S+site\.yaml", out)


def test_summary_and_report_tell_the_views_story_of_shipped_items(tmp_path: Path) -> None:
    """Shipped items are not stock at the dock doors (the summary's inventory is current_items'), and each
    shipped item is one outbound bar unit in the report, for histories the processor writes now and for
    histories stored before migration 0005 (shipping movement + departed)."""
    from types import SimpleNamespace

    from tagtrail.clickhouse import connect_clickhouse
    from tagtrail.config import ClickHouseSettings, ReadPoint, SiteConfig
    from tagtrail.history.migrations import bundled_migrations, migrate
    from tagtrail.history.site_dimension import write_site_dimension
    from tagtrail_cli.demo import report
    from tagtrail_cli.demo.summary import summarize
    from tests.history.conftest import store
    from tests.history.scenario import HOUR, T0, item_key, mv

    def received(item: int, door: int, n: int) -> list:
        return [mv(n, item, T0 + item, None, f"dock-door-{door}", step="receiving", disp="in_progress",
                   rp=f"door-{door}-inner", direction="inbound", action="ADD"),
                mv(n + 1, item, T0 + HOUR + item, f"dock-door-{door}", "storage-a", step="storing",
                   disp="sellable_not_accessible", rp="storage-a")]

    def shipping(item: int, door: int, n: int):
        return mv(n, item, T0 + 2 * HOUR + item, "storage-a", f"dock-door-{door}", step="shipping", disp="in_transit",
                  rp=f"door-{door}-outer", direction="outbound")

    def departed(item: int, door: int, n: int):  # what older processors published 2 s after the shipping movement
        return mv(n, item, T0 + 2 * HOUR + item + 2_000_000, f"dock-door-{door}", None, step="departing",
                  disp="in_transit", rp=f"door-{door}-outer", direction="outbound")

    client = connect_clickhouse(ClickHouseSettings(dsn=f"chdb://{tmp_path / 'chdb'}", database="tagtrail"))
    try:
        migrate(client, bundled_migrations()[:4])
        store(client, received(1, 1, 10) + [shipping(1, 1, 12), departed(1, 1, 13)]  # stored before the upgrade
              + received(2, 2, 20) + [shipping(2, 2, 22), departed(2, 2, 23)])
        migrate(client)
        write_site_dimension(client, SiteConfig(read_points=(  # the demo site's zones
            *(ReadPoint(id=f"door-{d}-{side}", location=f"dock-door-{d}", kind=f"dock_door_{side}", zone="dock", portal=f"door-{d}")
              for d in (1, 2) for side in ("inner", "outer")),
            ReadPoint(id="storage-a", location="storage-a", kind="storage", zone="storage"))))
        store(client, received(3, 1, 30) + [shipping(3, 1, 32)] + received(4, 2, 40), first_offset=100)
        plan = SimpleNamespace(
            items=[SimpleNamespace(item_key=item_key(i)) for i in (1, 2, 3, 4)],
            expected_final_location=lambda item: {item_key(1): "dock-door-1", item_key(2): "dock-door-2",
                                                  item_key(3): "dock-door-1", item_key(4): "storage-a"}[item.item_key])
        summary = summarize(client, plan, bucket_seconds=3600)
        on_site = client.query("SELECT location, disposition, count() FROM current_items WHERE location IS NOT NULL "
                               "GROUP BY location, disposition ORDER BY location, disposition").result_rows
    finally:
        client.close()
    assert summary.inventory == [(loc, disp, n) for loc, disp, n in on_site] == [("storage-a", "sellable_not_accessible", 1)]
    assert summary.in_transit == 3 and summary.mismatches == [] and summary.where_expected == 4
    assert summary.zones == (("storage", "sellable_not_accessible", 1),)
    outbound = {}
    for f in summary.flows:
        if f.direction == "outbound":
            outbound[f.door] = outbound.get(f.door, 0) + f.items
    assert outbound == {"dock-door-1": 2, "dock-door-2": 1}  # one bar unit per shipped item
    assert summary.movements == 4 * 2 + 3  # received + stored for all, one shipping event per shipped item
    html = report.render(report.ReportData(title="t", generated_at=summary.flows[0].bucket, headline=[],
                                           inventory=summary.inventory, zones=summary.zones, flows=summary.flows,
                                           anomalies=[], bucket_seconds=3600))
    assert re.findall(r"outbound: (\d+)</title>", html) == ["2", "1"]
    assert "dock-door-1</td><td>in_transit" not in html and "Inventory per zone now" in html


def test_the_plan_opens_each_doors_receipt_and_shipment_around_its_crossings_with_lots_on_the_scans() -> None:
    """What the demo feeds: a receipt per receiving door and a shipment per shipping door, open from before the
    first crossing there until after the last; handheld scans carry the item's lot and expiry as AI 10/17."""
    import datetime as dt

    from tagtrail.identity.barcode import BarcodeParser
    from tagtrail_cli.demo import flow
    from tagtrail_cli.demo.warehouse import CUSTOMER, SUPPLIER, DemoWarehouse

    today = dt.datetime.now(dt.UTC).date()
    plan = flow.plan(items=60, doors=2, minutes=1.0, today=today)
    door_reads: dict[tuple[str, int], list[float]] = {}
    for read in plan.reads:
        if read.reader_id.startswith("door-") and read.rssi_dbm > -70:  # not the neighbour's faint cross-read
            door_reads.setdefault((read.epc_hex, int(read.reader_id.split("-")[1])), []).append(read.at_s)
    by_key = {item.item_key: item for item in plan.items}
    assert {(t.direction, t.location) for t in plan.transactions} == {
        (d, f"dock-door-{n}") for d in ("inbound", "outbound") for n in (1, 2)}
    for t in plan.transactions:
        door = int(t.location.rsplit("-", 1)[1])
        expected = [i.item_key for i in plan.items
                    if (i.door_in if t.direction == "inbound" else i.door_out if i.fate == "shipped" else None) == door]
        assert sorted(t.items) == sorted(expected)
        for key in t.items:
            reads = sorted(door_reads[(by_key[key].epc_hex, door)])
            crossing = reads[:2] if t.direction == "inbound" else reads[-2:]  # arrival first, exit last
            assert t.open_at_s < crossing[0] and crossing[-1] < t.close_at_s, (t.id, key)
        assert t.partner == (SUPPLIER if t.direction == "inbound" else CUSTOMER)
        assert t.id.startswith("urn:epcglobal:cbv:bt:0614141000005:") and t.type == ("po" if t.direction == "inbound" else "desadv")
    parser = BarcodeParser()
    for scan in plan.scans:
        parsed = parser.parse(scan.barcode)
        item = next(i for i in plan.items if i.barcode == scan.barcode)
        assert (parsed.identity.item_key, parsed.lot, parsed.expiry) == (item.item_key, item.lot, today + dt.timedelta(days=730))
    assert len({i.lot for i in plan.items}) == 3 and DemoWarehouse.door_location(1) == "dock-door-1"
    assert flow.plan(items=60, doors=2, minutes=1.0).items[0].expiry is None  # no date given, none made up


def test_the_demo_site_file_names_its_trading_partners_sites_with_gs1_master_data(tmp_path: Path) -> None:
    from tagtrail.config import parse_site
    from tagtrail.config.gs1_locations import gs1_locations
    from tagtrail_cli.demo.warehouse import TRADING_PARTNERS, DemoWarehouse, site_file_text

    site = parse_site(site_file_text(DemoWarehouse(2, {"door-1": 1, "door-2": 2, "zone-reader": 3}, 4, tmp_path).site()))
    sglns = gs1_locations(site).locations
    for partner in TRADING_PARTNERS:
        location = site.location(partner.site_id)
        assert location is not None and location.name == partner.site_name and location.address.city
        assert sglns[partner.site_id].epc_uri() == partner.site_uri()
        assert not any(rp.location == partner.site_id for rp in site.read_points)  # not a place of this site
