"""`tagtrail migrate|where|history|epcis` against a real database, by any identity form."""

from __future__ import annotations

import json
import subprocess
import sys

import yaml

from tagtrail.clickhouse import connect_clickhouse
from tagtrail.events import Identity, Movement
from tagtrail.history import queries
from tagtrail.history.migrations import bundled_migrations
from tests.history.conftest import store, store_for_cli
from tests.history.scenario import warehouse_day
from tests.services import REPO


def tagtrail(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "tagtrail_cli.main", "--log-level", "warning", *args],
                          cwd=REPO, capture_output=True, text=True, timeout=120, check=False)


def test_cli_answers_for_an_item_given_as_epc_uri_or_barcode(clickhouse_settings, tmp_path):
    site = tmp_path / "site.yaml"
    site.write_text(yaml.safe_dump({"clickhouse": {"dsn": clickhouse_settings.dsn, "database": clickhouse_settings.database}}))
    migrated = tagtrail("migrate", "--site", str(site))
    assert migrated.returncode == 0, migrated.stderr
    assert f"applied {len(bundled_migrations())} migration(s)" in migrated.stdout
    assert "none (up to date)" in tagtrail("migrate", "--site", str(site)).stdout

    store_for_cli(clickhouse_settings, warehouse_day())

    where = tagtrail("where", "urn:epc:id:sgtin:0614141.012345.1", "--site", str(site))
    assert where.returncode == 0, where.stderr
    assert "pick-face-1" in where.stdout and "sellable_accessible" in where.stdout

    history = tagtrail("history", "(01)00614141123452(21)2", "--site", str(site))
    assert history.returncode == 0, history.stderr
    lines = history.stdout.splitlines()
    assert lines[-1] == "(2 rows)" and "dock-door-1" in lines[2] and "storage-a" in lines[3]

    epcis = tagtrail("epcis", "01/00614141123452/21/1", "--site", str(site))
    assert epcis.returncode == 0, epcis.stderr
    assert len(json.loads(epcis.stdout)["epcisBody"]["eventList"]) == 3

    # live mode: a provisional movement shows in `where --live` (flagged), never in `where` or the history
    client = connect_clickhouse(clickhouse_settings)
    try:
        decided_before = client.query("SELECT count() FROM movement_history").result_rows[0][0]
        names, rows = queries.where_is(client, "01/00614141123452/21/1")
        now = dict(zip(names, rows[0]))
        store(client, [Movement(
            event_id="live-1", identity=Identity(item_key="01/00614141123452/21/1", scheme="sgtin-96"),
            movement_type="moved", biz_step="arriving", disposition="unknown", direction="unknown",
            event_time=int(now["since"].timestamp() * 1e6) + 60_000_000, recorded_at=int(now["since"].timestamp() * 1e6) + 60_000_000,
            from_location=now["location"], to_location="dock-door-2", read_point="door-2-outer", provisional=True)],
            first_offset=10_000)
        assert client.query("SELECT count() FROM movement_history").result_rows[0][0] == decided_before
    finally:
        client.close()
    live = tagtrail("where", "--live", "urn:epc:id:sgtin:0614141.012345.1", "--site", str(site))
    assert live.returncode == 0, live.stderr
    assert "dock-door-2" in live.stdout and "arriving" in live.stdout
    assert live.stdout.splitlines()[2].rstrip().endswith("1")  # provisional
    decided = tagtrail("where", "urn:epc:id:sgtin:0614141.012345.1", "--site", str(site))
    assert "pick-face-1" in decided.stdout and "dock-door-2" not in decided.stdout

    unknown = tagtrail("where", "01/00614141123452/21/999", "--site", str(site))
    assert unknown.returncode == 1 and "no movements recorded" in unknown.stderr


def test_cli_says_which_door_a_shipped_item_left_by_and_answers_in_json(clickhouse_settings, tmp_path):
    site = tmp_path / "site.yaml"
    site.write_text(yaml.safe_dump({
        "clickhouse": {"dsn": clickhouse_settings.dsn, "database": clickhouse_settings.database},
        "read_points": [{"id": "door-2-outer", "location": "dock-door-2", "kind": "dock_door_outer", "zone": "dock", "portal": "door-2"},
                        {"id": "door-2-inner", "location": "dock-door-2", "kind": "dock_door_inner", "zone": "dock", "portal": "door-2"},
                        {"id": "door-1-inner", "location": "dock-door-1", "kind": "dock_door_inner", "zone": "dock", "portal": "door-1"},
                        {"id": "aisle-a-storage", "location": "storage-a", "kind": "storage", "zone": "storage"},
                        {"id": "pick-face-1", "location": "pick-face-1", "kind": "pick_face", "zone": "picking"}]}))
    migrated = tagtrail("migrate", "--site", str(site))  # writes the site's zones too
    assert migrated.returncode == 0, migrated.stderr
    store_for_cli(clickhouse_settings, warehouse_day())

    shipped = tagtrail("where", "01/00614141123452/21/3", "--site", str(site))
    assert shipped.returncode == 0, shipped.stderr
    assert shipped.stdout.startswith("01/00614141123452/21/3 shipped via dock-door-2 at 2026-01-01 04:00:00")
    assert "None" not in shipped.stdout
    live = tagtrail("where", "--live", "01/00614141123452/21/3", "--site", str(site))  # live mode tells the same story
    assert live.returncode == 0, live.stderr
    assert live.stdout == shipped.stdout
    live_json = tagtrail("where", "--live", "01/00614141123452/21/1", "--site", str(site), "--format", "json")
    (live_state,) = [json.loads(line) for line in live_json.stdout.splitlines()]
    assert (live_state["location"], live_state["zone"], live_state["shipped_via"], live_state["provisional"]) == (
        "pick-face-1", "picking", None, 0)

    where = tagtrail("where", "01/00614141123452/21/1", "--site", str(site), "--format", "json")
    assert where.returncode == 0, where.stderr
    (state,) = [json.loads(line) for line in where.stdout.splitlines()]
    assert (state["location"], state["zone"], state["shipped_via"]) == ("pick-face-1", "picking", None)

    history = tagtrail("history", "01/00614141123452/21/1", "--site", str(site), "--format", "json")
    assert history.returncode == 0, history.stderr
    steps = [json.loads(line) for line in history.stdout.splitlines()]
    assert [(s["to_location"], s["zone"]) for s in steps] == [("dock-door-1", "dock"), ("storage-a", "storage"), ("pick-face-1", "picking")]
    assert "zone" in tagtrail("history", "01/00614141123452/21/1", "--site", str(site)).stdout.splitlines()[0]

    unknown = tagtrail("epcis", "01/00614141123452/21/999", "--site", str(site))
    assert unknown.returncode == 1 and unknown.stdout == ""
    assert "no movements recorded for 01/00614141123452/21/999" in unknown.stderr
