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
from tests.history.conftest import store
from tests.history.scenario import warehouse_day
from tests.services import REPO


def tagtrail(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "tagtrail.cli.main", "--log-level", "warning", *args],
                          cwd=REPO, capture_output=True, text=True, timeout=120, check=False)


def test_cli_answers_for_an_item_given_as_epc_uri_or_barcode(clickhouse_settings, tmp_path):
    site = tmp_path / "site.yaml"
    site.write_text(yaml.safe_dump({"clickhouse": {"dsn": clickhouse_settings.dsn, "database": clickhouse_settings.database}}))
    migrated = tagtrail("migrate", "--site", str(site))
    assert migrated.returncode == 0, migrated.stderr
    assert f"applied {len(bundled_migrations())} migration(s)" in migrated.stdout
    assert "none (up to date)" in tagtrail("migrate", "--site", str(site)).stdout

    client = connect_clickhouse(clickhouse_settings)  # chdb: one process per folder, so close before the CLI runs
    try:
        store(client, warehouse_day())
    finally:
        client.close()

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
