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
         "--workdir", str(tmp_path / "demo"), "--report", str(tmp_path / "report.html")],
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
    html = (tmp_path / "report.html").read_text()
    assert html.count("<svg") >= 1 and "Flows per dock door" in html and "Inventory per location now" in html


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
