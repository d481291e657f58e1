"""Read commands against the wrong ClickHouse: they create nothing and say what is wrong, where.

Each command runs in its own process (chdb opens one folder per process), from a scratch working
directory, the way a user types them.
"""

from __future__ import annotations

import socket
import subprocess
import sys
import urllib.parse
import urllib.request
import uuid
from pathlib import Path

import pytest

TDS_HEX = "3074257BF7194E4000001A85"
READS = [["where", TDS_HEX], ["history", TDS_HEX], ["epcis", TDS_HEX], ["sql", "SELECT count() FROM movements"]]


def tagtrail(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "tagtrail_cli.main", *args],
                          capture_output=True, text=True, cwd=cwd, timeout=120)


@pytest.fixture(scope="module")
def demo_here(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A folder with a tagtrail database where `tagtrail demo` keeps its own, as if the demo had run
    there: (the folder, the demo's database). Shared by the tests that only read."""
    cwd = tmp_path_factory.mktemp("demo-was-here")
    result = tagtrail("migrate", "--clickhouse", "chdb://.tagtrail/demo/chdb", cwd=cwd)
    assert result.returncode == 0, result.stderr
    return cwd, cwd / ".tagtrail" / "demo" / "chdb"


@pytest.mark.parametrize("read", READS, ids=lambda r: r[0])
def test_a_mistyped_chdb_path_creates_nothing_and_names_the_demo_database(demo_here, read: list[str]) -> None:
    cwd, demo = demo_here
    typo = cwd / ".tagtrail" / "demo" / "chbd"
    result = tagtrail(*read, "--clickhouse", f"chdb://{typo}", cwd=cwd)
    assert result.returncode == 2
    assert f"no tagtrail database at {typo}: the folder does not exist" in result.stderr
    assert f"the demo's database is at {demo}" in result.stderr
    assert not typo.exists()
    assert "run the sink" not in result.stderr and "Traceback" not in result.stderr


def test_no_dsn_at_all_says_the_default_was_used_and_creates_nothing(tmp_path: Path) -> None:
    result = tagtrail("where", TDS_HEX, cwd=tmp_path)
    assert result.returncode == 2
    assert f"no tagtrail database at {tmp_path / '.tagtrail' / 'chdb'}" in result.stderr
    assert "no --clickhouse or --site given" in result.stderr
    assert "demo" not in result.stderr  # no demo database here to point at
    assert not (tmp_path / ".tagtrail").exists()


def test_a_folder_that_is_no_clickhouse_data_is_not_turned_into_one(demo_here) -> None:
    cwd, demo = demo_here
    folder = demo.parent  # the demo's folder, one level above its database
    before = sorted(p.name for p in folder.iterdir())
    result = tagtrail("sql", "SELECT 1", "--clickhouse", f"chdb://{folder}", cwd=cwd)
    assert result.returncode == 2
    assert f"no tagtrail database at {folder}: the folder holds no ClickHouse data" in result.stderr
    assert sorted(p.name for p in folder.iterdir()) == before


def test_a_chdb_folder_without_the_site_database_is_named(demo_here, tmp_path: Path) -> None:
    cwd, demo = demo_here
    site = tmp_path / "site.yaml"
    site.write_text(f"clickhouse: {{dsn: 'chdb://{demo}', database: other}}\n")
    result = tagtrail("sql", "SELECT 1", "--site", str(site), cwd=cwd)
    assert result.returncode == 2
    assert f"no tagtrail database at {demo}: it has no database 'other'" in result.stderr
    assert "other" not in tagtrail("sql", "SELECT name FROM system.databases", "--clickhouse", f"chdb://{demo}",
                                   cwd=cwd).stdout


def test_migrate_still_creates_the_database(tmp_path: Path) -> None:
    result = tagtrail("migrate", "--clickhouse", "chdb://fresh", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert tagtrail("sql", "SELECT count() FROM movements", "--clickhouse", "chdb://fresh", cwd=tmp_path).returncode == 0


def test_an_http_database_that_does_not_exist_is_not_created(tmp_path: Path, clickhouse_server) -> None:
    database = f"missing_{uuid.uuid4().hex[:8]}"
    site = tmp_path / "site.yaml"
    site.write_text(f"clickhouse: {{dsn: '{clickhouse_server.url}', database: {database}}}\n")
    result = tagtrail("where", TDS_HEX, "--site", str(site), cwd=tmp_path)
    assert result.returncode == 2
    assert f"it has no database '{database}'" in result.stderr
    query = urllib.parse.urlencode({"query": "SELECT name FROM system.databases FORMAT TabSeparated"})
    with urllib.request.urlopen(f"{clickhouse_server.url}/?{query}", timeout=10) as answer:
        assert database not in answer.read().decode().split()


def test_nothing_listening_at_an_http_dsn_is_one_clear_line(tmp_path: Path) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed once the block ends: nothing listens there
    result = tagtrail("sql", "SELECT 1", "--clickhouse", f"http://127.0.0.1:{port}", cwd=tmp_path)
    assert result.returncode == 2
    assert result.stderr.splitlines() == [
        f"tagtrail: error: cannot open ClickHouse: nothing answers at http://127.0.0.1:{port}: connection refused"
    ]
