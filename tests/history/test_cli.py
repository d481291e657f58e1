"""`tagtrail migrate|where|history|epcis` against a real database, by any identity form."""

from __future__ import annotations

import json
import subprocess
import sys

import yaml

from tagtrail.clickhouse import connect_clickhouse
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

    unknown = tagtrail("where", "01/00614141123452/21/999", "--site", str(site))
    assert unknown.returncode == 1 and "no movements recorded" in unknown.stderr
